"""Multi-agent patterns driven by scripted models (deterministic votes, stances, failures), routing by the bundled
embedding model."""

from __future__ import annotations

import asyncio

import pytest

from kaizen_lab import (
    LLM,
    BaseAgent,
    BudgetExceededError,
    ConfigurationError,
    FunctionProvider,
    InputField,
    OutputField,
    Signature,
)
from kaizen_lab.exceptions import PatternError
from kaizen_lab.orchestration import (
    ConsensusPattern,
    DebatePattern,
    HandoffPattern,
    PatternBudget,
    PatternRun,
    SequentialPattern,
    SharedMemoryPool,
    SupervisorAgent,
    SupervisorWorkerPattern,
)


def scripted(name, replies, signature="question -> answer", **kw):
    provider = FunctionProvider(replies)
    return BaseAgent(signature=signature, llm=LLM(provider), name=name, **kw), provider


def routed(name, capabilities, reply="done"):
    agent, provider = scripted(name, lambda m, r: {"answer": f"{name}: {reply}"}, capabilities=capabilities)
    return agent, provider


CODER = ["Write, debug and review Python code", "Fix a traceback or a failing unit test"]
WRITER = ["Write and edit prose: emails, summaries, blog posts", "Translate text between languages"]
ANALYST = ["Analyse data with statistics and charts", "Compute averages, trends and correlations in a table"]


# -- supervisor-worker -------------------------------------------------------------------------------------------
def test_supervisor_routes_subtasks_by_meaning_and_synthesises():
    coder, _ = routed("coder", CODER)
    writer, writer_calls = routed("writer", WRITER)
    analyst, _ = routed("analyst", ANALYST)
    plan = {"subtasks": ["Fix the IndexError in parse_rows()", "Compute the monthly sales trend from the CSV"]}

    def supervisor_reply(messages, request):
        return plan if "subtasks" in request.messages[0]["content"] else {"answer": "fixed the bug; sales rise 4%"}

    supervisor = SupervisorAgent(llm=LLM(FunctionProvider(supervisor_reply)), name="lead")
    pattern = SupervisorWorkerPattern(supervisor, [coder, writer, analyst])
    result = pattern.execute_task("Fix the parser bug, then tell me how sales are trending")

    assert [(s["task"], s["worker"]) for s in result["subtasks"]] == [
        (plan["subtasks"][0], "coder"),
        (plan["subtasks"][1], "analyst"),
    ]
    assert all(0 < s["score"] <= 1 for s in result["subtasks"])
    assert result["answer"] == "fixed the bug; sales rise 4%"
    assert writer_calls.calls == []
    synth_prompt = supervisor.llm.provider.calls[-1].messages[-1]["content"]
    assert "coder: done" in synth_prompt and "analyst: done" in synth_prompt
    roles = [(c.round, c.role, c.speaker) for c in result.transcript]
    assert roles[0] == (0, "supervisor", "lead") and roles[-1] == (2, "supervisor", "lead")
    assert sorted(r for r in roles if r[1] == "worker") == [(1, "worker", "analyst"), (1, "worker", "coder")]


def test_select_worker_for_task_returns_the_match_and_its_score():
    coder, _ = routed("coder", CODER)
    writer, _ = routed("writer", WRITER)
    supervisor = SupervisorAgent(llm=LLM(FunctionProvider([])))
    picked = supervisor.select_worker_for_task("Translate this email into German", [coder, writer], return_score=True)
    assert picked["worker"] is writer and 0 < picked["score"] <= 1
    assert supervisor.select_worker_for_task("Why does my pytest fail?", [coder, writer]) is coder


def test_a_failing_worker_is_retried_then_replaced_and_the_result_says_so():
    broken, broken_calls = scripted("coder", [RuntimeError("model crashed")] * 2, capabilities=CODER)
    backup, _ = routed("backup-coder", ["Python programming and debugging help"])
    supervisor = SupervisorAgent(
        llm=LLM(FunctionProvider([{"subtasks": ["Fix the failing unit test"]}, {"answer": "ok"}])), name="lead"
    )
    result = SupervisorWorkerPattern(supervisor, [broken, backup], retries=1).execute_task("Fix the test")
    assert result["subtasks"][0]["worker"] == "backup-coder"
    assert len(broken_calls.calls) == 2  # one try + one retry
    failed = [c for c in result.transcript if c.error]
    assert [(c.speaker, c.attempt) for c in failed] == [("coder", 1), ("coder", 2)]
    assert result.warnings == ["coder failed as worker on 'Fix the failing unit test'; replaced by backup-coder."]


def test_workers_run_concurrently_up_to_the_limit():
    running, peak = 0, 0

    class Slow(FunctionProvider):
        async def acomplete(self, request, model):
            nonlocal running, peak
            running += 1
            peak = max(peak, running)
            await asyncio.sleep(0.05)
            running -= 1
            return await super().acomplete(request, model)

    workers = [
        BaseAgent(signature="question -> answer", llm=LLM(Slow(lambda m, r: {"answer": "x"})), name=f"w{i}")
        for i in range(6)
    ]
    subtasks = {"subtasks": [f"subtask number {i}" for i in range(6)]}
    supervisor = SupervisorAgent(llm=LLM(FunctionProvider([subtasks, {"answer": "all"}])), max_subtasks=6)
    SupervisorWorkerPattern(supervisor, workers, concurrency=2).execute_task("six things")
    assert peak == 2


def test_the_budget_covers_the_whole_pattern():
    workers = [routed(f"w{i}", [f"skill {i}"])[0] for i in range(3)]
    supervisor = SupervisorAgent(
        llm=LLM(FunctionProvider([{"subtasks": ["a", "b", "c"]}, {"answer": "x"}])), name="lead"
    )
    pattern = SupervisorWorkerPattern(supervisor, workers, budget=PatternBudget(max_tokens=1), concurrency=1)
    with pytest.raises(BudgetExceededError, match="budget of 1 tokens is spent"):
        pattern.execute_task("do it")


def test_the_shared_pool_records_who_wrote_and_read():
    pool = SharedMemoryPool()
    coder, _ = routed("coder", CODER)
    supervisor = SupervisorAgent(llm=LLM(FunctionProvider([{"subtasks": ["Fix the bug"]}, {"answer": "x"}])))
    SupervisorWorkerPattern(supervisor, [coder], shared_pool=pool).execute_task("Fix the bug")
    assert pool.to_frame()[["author", "content"]].values.tolist() == [
        ["coder", "task: Fix the bug; finding: coder: done"]
    ]
    pool.write("reviewer", "Looks good", tags=("review",))
    assert [e.agent_id for e in pool.read("coder", tags=("review",))] == ["reviewer"]
    assert [e.agent_id for e in pool.read("coder")] == ["reviewer"]  # others' entries, not its own
    assert [(a.agent, a.action) for a in pool.log][-2:] == [("coder", "read"), ("coder", "read")]


# -- debate --------------------------------------------------------------------------------------------------------
def test_debate_runs_rounds_and_the_judge_decides():
    pro, pro_calls = scripted(
        "pro", [{"argument": f"pro point {i}", "confidence": c} for i, c in enumerate([0.7, 0.8, 0.9])]
    )
    con, _ = scripted("con", [{"argument": f"con point {i}", "confidence": c} for i, c in enumerate([0.6, 0.5, 0.3])])
    judge, judge_calls = scripted(
        "judge", [{"decision": "for", "confidence": 0.8, "reasoning": "pro answered every point"}]
    )
    result = DebatePattern(pro, con, judge, rounds=3).debate("Tabs are better than spaces")
    assert (result["verdict"], result["winner"], result["confidence"]) == ("for", "pro", 0.8)
    frame = result.transcript.to_frame()
    assert frame[frame.role == "proponent"]["confidence"].tolist() == [0.7, 0.8, 0.9]
    assert frame[frame.role == "opponent"]["stance"].unique().tolist() == ["against"]
    assert frame.iloc[-1][["role", "stance", "round"]].tolist() == ["judge", "for", 4]
    assert "pro point 2" in judge_calls.calls[0].messages[-1]["content"]
    assert "con point 0" in pro_calls.calls[1].messages[-1]["content"]  # round 2 answers round 1's opponent


# -- consensus ---------------------------------------------------------------------------------------------------------
def test_consensus_votes_until_the_threshold_and_shows_who_changed_their_mind():
    answers = {"a": "Use PostgreSQL", "b": "Use SQLite", "c": "Use PostgreSQL"}
    votes = {"a": [1, 1], "b": [2, 1], "c": [1, 1]}

    def voter(name):
        def reply(messages, request):
            if "proposal" in request.messages[0]["content"] and "proposals" not in request.messages[0]["content"]:
                return {"proposal": answers[name], "confidence": 0.7}
            return {"choice": votes[name].pop(0), "confidence": 0.6, "reasoning": f"{name} thinks so"}

        return scripted(name, reply)[0]

    result = ConsensusPattern([voter("a"), voter("b"), voter("c")], threshold=1.0, max_rounds=3).decide("Which DB?")
    assert result["proposals"] == ["Use PostgreSQL", "Use SQLite"]  # identical proposals merged
    assert result["votes"] == [{"a": 1, "b": 2, "c": 1}, {"a": 1, "b": 1, "c": 1}]
    assert (result["decision"], result["consensus"], result["support"], result["rounds"]) == (
        "Use PostgreSQL",
        True,
        1.0,
        2,
    )


def test_consensus_without_agreement_says_so():
    def stubborn(name, choice):
        def reply(messages, request):
            if "proposals" in request.messages[0]["content"]:
                return {"choice": choice, "confidence": 0.9, "reasoning": "no"}
            return {"proposal": f"plan {name}", "confidence": 0.9}

        return scripted(name, reply)[0]

    result = ConsensusPattern([stubborn("a", 1), stubborn("b", 2)], threshold=0.75, max_rounds=2).decide("Plan?")
    assert (result["consensus"], result["decision"], result["rounds"], result["support"]) == (False, None, 2, 0.5)


# -- sequential -----------------------------------------------------------------------------------------------------
class Extract(Signature):
    """Extract the key facts."""

    document: str = InputField()
    facts: list[str] = OutputField()


class Summarise(Signature):
    """Summarise the facts."""

    facts: list[str] = InputField()
    summary: str = OutputField()


def test_sequential_hands_typed_outputs_to_the_next_stage():
    extract, _ = scripted("extract", [{"facts": ["sales up 4%", "costs flat"]}], signature=Extract)
    summarise, calls = scripted("summarise", [{"summary": "Profit grows."}], signature=Summarise)
    result = SequentialPattern([extract, summarise]).run(document="Q3 report ...")
    assert result["summary"] == "Profit grows."
    assert result["stages"][1]["inputs"] == {"facts": ["sales up 4%", "costs flat"]}
    assert "sales up 4%" in calls.calls[0].messages[-1]["content"]


def test_sequential_checks_the_hand_over_when_built():
    extract, _ = scripted("extract", [], signature=Extract)
    summarise, _ = scripted("summarise", [], signature=Summarise)
    qa, _ = scripted("qa", [], signature="question -> answer")
    with pytest.raises(ConfigurationError, match=r"needs 'question', but no earlier stage outputs 'question'"):
        SequentialPattern([extract, qa])
    SequentialPattern([extract, (qa, {"question": "facts"})])  # renamed: list -> str reads as text
    counts, _ = scripted("counts", [], signature="facts: int -> answer")
    with pytest.raises(
        ConfigurationError, match=r"takes 'facts' as int, but stage 1 \(extract\) gives 'facts' as list"
    ):
        SequentialPattern([extract, counts])
    with pytest.raises(ConfigurationError, match="distinct names"):
        SequentialPattern([extract, summarise, summarise])


# -- handoff --------------------------------------------------------------------------------------------------------
def test_handoff_passes_the_conversation_by_capability_and_keeps_a_trace():
    def support_reply(messages, request):
        return {"answer": "Let me get billing.", "handoff_to": "refunds, invoices and payment problems"}

    support, _ = scripted("support", support_reply, capabilities=["General product questions and troubleshooting"])
    billing, billing_calls = scripted(
        "billing",
        lambda m, r: {"answer": "Your refund is on its way.", "handoff_to": ""},
        capabilities=["Billing: refunds, invoices, payment failures"],
    )
    tech, _ = scripted("tech", [], capabilities=["Debugging crashes and error messages in the app"])
    pattern = HandoffPattern([support, billing, tech], entry=support)
    result = pattern.send("I was charged twice, can I get my money back?")
    assert (result["holder"], result["answer"], result["held_by"]) == (
        "billing",
        "Your refund is on its way.",
        ["support", "billing"],
    )
    assert [(h.from_agent, h.to_agent) for h in pattern.trace] == [("support", "billing")]
    again = pattern.send("And when will it arrive?")
    assert again["holder"] == "billing" and len(billing_calls.calls) == 2
    history = billing_calls.calls[1].messages
    assert any("charged twice" in m["content"] for m in history)  # the new holder sees the conversation
    assert pattern.trace_frame()["to_agent"].tolist() == ["billing"]


def test_first_holder_is_chosen_by_capability():
    billing, _ = scripted("billing", lambda m, r: {"answer": "ok"}, capabilities=["refunds and invoices"])
    tech, _ = scripted("tech", [], capabilities=["app crashes and error messages"])
    pattern = HandoffPattern([tech, billing])
    assert pattern.send("Please refund my last invoice")["holder"] == "billing"
    assert pattern.trace[0].from_agent is None


def test_patterns_refuse_bad_setups():
    a, _ = scripted("a", [])
    with pytest.raises(ConfigurationError, match="at least two"):
        ConsensusPattern([a])
    with pytest.raises(ConfigurationError, match="at least one round"):
        DebatePattern(a, scripted("b", [])[0], scripted("c", [])[0], rounds=0)
    workers = [scripted("w", [])[0], scripted("w", [])[0]]
    with pytest.raises(ConfigurationError, match="distinct names"):
        SupervisorWorkerPattern(SupervisorAgent(llm=LLM(FunctionProvider([]))), workers)


def test_a_step_nobody_can_do_is_a_pattern_error_listing_every_attempt():
    broken, _ = scripted("broken", [RuntimeError("down")] * 4)
    other, _ = scripted("other", [RuntimeError("also down")] * 4)
    judge, _ = scripted("judge", [])
    with pytest.raises(PatternError) as caught:
        DebatePattern(broken, other, judge, rounds=1, retries=1).debate("x")
    assert caught.value.attempts == ["broken (attempt 1): RuntimeError: down", "broken (attempt 2): RuntimeError: down"]


def test_given_subtasks_skip_the_decomposition():
    coder, _ = routed("coder", CODER)
    writer, _ = routed("writer", WRITER)
    supervisor = SupervisorAgent(llm=LLM(FunctionProvider([{"answer": "both done"}])), name="lead")
    result = SupervisorWorkerPattern(supervisor, [coder, writer]).execute_task(
        "Ship the fix", subtasks=["Fix the failing unit test", "Write the release announcement email", " "]
    )
    assert [s["worker"] for s in result["subtasks"]] == ["coder", "writer"]
    assert [c.role for c in result.transcript if c.speaker == "lead"] == ["supervisor"]  # synthesis only


# -- what review found -----------------------------------------------------------------------------------------------
def slow_agent(name, seconds, reply=None, record=None):
    class Slow(FunctionProvider):
        async def acomplete(self, request, model):
            await asyncio.sleep(seconds)
            if record is not None:
                record.append(name)
            return await super().acomplete(request, model)

    return BaseAgent(signature="question -> answer", llm=LLM(Slow(lambda m, r: reply or {"answer": name})), name=name)


def test_a_failing_fan_out_cancels_its_siblings():
    from kaizen_lab import AgentInterrupted

    finished: list[str] = []

    class Stop(FunctionProvider):
        async def acomplete(self, request, model):
            await asyncio.sleep(0.05)
            raise AgentInterrupted("stopped by user")

    stopper = BaseAgent(signature="question -> answer", llm=LLM(Stop([])), name="stopper")
    others = [slow_agent(n, 0.5, record=finished) for n in ("beta", "gamma")]

    async def scenario():
        run = PatternRun("fan-out")
        jobs = [run.ask(a, {"question": "q"}, round=1, role="worker") for a in (stopper, *others)]
        with pytest.raises(AgentInterrupted):
            await run.gather(jobs)
        await asyncio.sleep(0.7)  # long enough for a leaked worker to finish

    asyncio.run(scenario())
    assert finished == []  # nothing kept running (or paying) after the pattern stopped


def test_parallel_workers_overspend_the_budget_by_at_most_the_concurrency():
    from kaizen_lab import Completion, Usage

    def paid(messages, request):
        return Completion(content='{"answer": "x"}', provider="p", model="m", usage=Usage(10, 10), cost=0.10)

    workers = [
        BaseAgent(signature="question -> answer", llm=LLM(FunctionProvider(paid)), name=f"w{i}") for i in range(6)
    ]
    supervisor = SupervisorAgent(llm=LLM(FunctionProvider([{"answer": "x"}])), name="lead")
    budget = PatternBudget(max_cost=0.15)
    pattern = SupervisorWorkerPattern(supervisor, workers, concurrency=2, budget=budget)
    with pytest.raises(BudgetExceededError):
        pattern.execute_task("t", subtasks=[f"subtask {i}" for i in range(6)])
    assert budget.cost <= 0.15 + 2 * 0.10 + 1e-9  # at most `concurrency` calls in flight when it ran out


def test_failed_attempts_are_charged_what_they_cost():
    from kaizen_lab import Completion, Usage

    def not_json(messages, request):
        return Completion(content="no json here", provider="p", model="m", usage=Usage(5, 5), cost=0.01)

    bad = BaseAgent(
        signature="question -> answer",
        llm=LLM(FunctionProvider(not_json)),
        name="bad",
        retry_attempts=2,
        capabilities=["do it"],  # the best match for the subtask: it is tried first
    )
    good, _ = routed("good", ["anything"])
    supervisor = SupervisorAgent(llm=LLM(FunctionProvider([{"answer": "x"}])), name="lead")
    result = SupervisorWorkerPattern(supervisor, [bad, good], retries=0).execute_task("t", subtasks=["do it"])
    failed = [c for c in result.transcript if c.error]
    assert failed and failed[0].cost == pytest.approx(0.01 * len(bad.llm.provider.calls))
    assert result.cost >= failed[0].cost > 0


def test_interrupting_a_participant_stops_its_roles():
    from kaizen_lab import AgentInterrupted, InterruptMode

    pro = slow_agent("pro", 0.3, {"argument": "a", "confidence": 0.5})
    con = slow_agent("con", 0.3, {"argument": "b", "confidence": 0.5})
    judge, _ = scripted("judge", [])
    pattern = DebatePattern(pro, con, judge, rounds=3)

    async def scenario():
        task = asyncio.ensure_future(pattern.adebate("x"))
        await asyncio.sleep(0.1)
        pro.interrupts.request_interrupt(InterruptMode.IMMEDIATE, message="stop!")
        with pytest.raises(AgentInterrupted):
            await task

    asyncio.run(scenario())


def test_handoff_history_reads_as_a_conversation_across_signatures():
    support, _ = scripted(
        "support",
        lambda m, r: {"answer": "Let me get billing.", "handoff_to": "refunds"},
        capabilities=["General questions"],
    )
    billing, billing_calls = scripted(
        "billing",
        lambda m, r: {"reply": "Refund sent.", "handoff_to": ""},
        signature="customer_message -> reply",
        capabilities=["Refunds and invoices"],
    )
    pattern = HandoffPattern([support, billing], entry=support)
    pattern.send("I was charged twice")
    pattern.send("Thanks! When will it arrive?")
    prompt = billing_calls.calls[-1].messages
    assert [m["role"] for m in prompt] == ["system", "user"]  # no foreign-schema turns
    assert "User: I was charged twice\nbilling: Refund sent." in prompt[-1]["content"]
    assert "null" not in prompt[-1]["content"]


def test_a_handoff_nobody_can_take_is_a_warning_and_the_holder_does_not_move():
    a, _ = scripted("a", lambda m, r: {"answer": "pass", "handoff_to": "something"}, capabilities=["x"])
    b, _ = scripted("b", [RuntimeError("down")] * 2, capabilities=["y"])
    pattern = HandoffPattern([a, b], entry=a, retries=1)
    result = pattern.send("hello")
    assert (result["holder"], pattern.holder.name) == ("a", "a")
    assert "b could not take over from a" in result.warnings[0]
    assert [(h.from_agent, h.to_agent) for h in pattern.trace] == []


def test_sequential_gives_text_inputs_structures_as_json_and_refuses_optional_to_required():
    extract, _ = scripted("extract", [{"facts": ["a", "b"]}], signature=Extract)
    qa, _ = scripted("qa", [{"answer": "ok"}], signature="question -> answer")
    result = SequentialPattern([extract, (qa, {"question": "facts"})]).run(document="d")
    assert result["stages"][1]["inputs"] == {"question": '["a", "b"]'} and result["answer"] == "ok"

    class Maybe(Signature):
        """Maybe."""

        document: str = InputField()
        note: str | None = OutputField()

    maybe, _ = scripted("maybe", [], signature=Maybe)
    needs, _ = scripted("needs", [], signature="note -> answer")
    with pytest.raises(ConfigurationError, match=r"takes 'note' as str, but stage 1 \(maybe\) gives 'note' as"):
        SequentialPattern([maybe, needs])
    ints, _ = scripted("ints", [], signature="facts: list[int] -> answer")
    with pytest.raises(ConfigurationError, match=r"as list\[int\].*as list\[str\]"):
        SequentialPattern([extract, ints])


def test_consensus_needs_a_strict_majority_of_everyone():
    def voter(name, choice):
        def reply(messages, request):
            if "proposals" in request.messages[0]["content"]:
                if isinstance(choice, Exception):
                    raise choice
                return {"choice": choice, "confidence": 0.9, "reasoning": "r"}
            return {"proposal": f"plan {name}", "confidence": 0.9}

        return scripted(name, reply)[0]

    tie = ConsensusPattern([voter("a", 1), voter("b", 2)], threshold=0.5, max_rounds=1).decide("q")
    assert tie["consensus"] is False  # 1-1 is not a decision
    absent = ConsensusPattern(
        [voter("a", 1), voter("b", RuntimeError("x")), voter("c", RuntimeError("y"))], threshold=0.66, max_rounds=1
    ).decide("q")
    assert (absent["consensus"], absent["support"]) == (False, 0.3333)  # one vote of three is not two thirds
    assert len(absent.warnings) == 2


def test_error_text_in_transcripts_is_redacted(monkeypatch):
    monkeypatch.setenv("MYSERVICE_API_KEY", "sk-live-1234567890abcdef")
    leaky, _ = scripted(
        "leaky", [RuntimeError("auth failed for key sk-live-1234567890abcdef")] * 2, capabilities=["do it"]
    )
    good, _ = routed("good", ["anything"])
    supervisor = SupervisorAgent(llm=LLM(FunctionProvider([{"answer": "x"}])), name="lead")
    result = SupervisorWorkerPattern(supervisor, [leaky, good]).execute_task("t", subtasks=["do it"])
    shown = " ".join(c.error or "" for c in result.transcript) + " ".join(result.warnings)
    assert "leaky" in shown and "sk-live-1234567890abcdef" not in shown


def test_pool_tag_filter_finds_older_entries_of_others():
    pool = SharedMemoryPool()
    pool.write("reviewer", "Looks good", tags=("review",))
    for i in range(40):
        pool.write("coder", f"note {i}")
    assert [e.agent_id for e in pool.read("coder", tags=("review",))] == ["reviewer"]


def test_a_coordinator_sees_the_task_and_string_subtasks_are_refused():
    coder, _ = routed("coder", CODER)
    coordinator, coordinator_calls = scripted("coordinator", [{"answer": "fini"}])
    supervisor = SupervisorAgent(llm=LLM(FunctionProvider([])), name="lead")
    pattern = SupervisorWorkerPattern(supervisor, [coder], coordinator=coordinator)
    result = pattern.execute_task("Fix it. Reply in French.", subtasks=["Fix the bug"])
    assert "Reply in French." in coordinator_calls.calls[0].messages[-1]["content"] and result["answer"] == "fini"
    with pytest.raises(ConfigurationError, match="list of strings"):
        pattern.execute_task("t", subtasks="Fix the bug")


def test_a_pattern_result_reads_in_a_terminal_too():
    from IPython.core.interactiveshell import InteractiveShell

    pro, _ = scripted("pro", [{"argument": "a", "confidence": 0.6}])
    con, _ = scripted("con", [{"argument": "b", "confidence": 0.4}])
    judge, _ = scripted("judge", [{"decision": "for", "confidence": 0.7, "reasoning": "clearer"}])
    result = DebatePattern(pro, con, judge, rounds=1).debate("x")
    shell = InteractiveShell.instance()
    shown: list[dict] = []
    shell.display_pub.publish = lambda data, **kw: shown.append(data)
    result._ipython_display_()
    assert "'verdict': 'for'" in shown[0]["text/plain"]
    assert "application/vnd.plotly.v1+json" in shown[1]
    assert "judge" in shown[-1]["text/plain"]


def test_card_texts_leave_out_a_description_that_is_only_the_signatures():
    from kaizen_lab.orchestration import card_texts

    plain = BaseAgent(signature=HelpfulQA, llm=LLM(FunctionProvider([])), name="p", capabilities=["Fix bugs"])
    described = BaseAgent(
        signature=HelpfulQA,
        llm=LLM(FunctionProvider([])),
        name="d",
        description="Python expert",
        capabilities=["Fix bugs"],
    )
    assert card_texts(plain.to_a2a_card()) == ["Fix bugs"]
    assert card_texts(described.to_a2a_card()) == ["Python expert", "Fix bugs"]


class HelpfulQA(Signature):
    """Answer the user's question helpfully."""

    question: str = InputField()
    answer: str = OutputField()


def test_routing_builds_each_card_once_and_embeds_a_plan_in_one_batch():
    from kaizen_lab.orchestration import CapabilityMatcher

    class CountingEmbedder:
        name, dimension, max_tokens = "counting", 3, 100

        def __init__(self):
            self.batches: list[int] = []

        def embed(self, texts):
            self.batches.append(len(texts))
            return [[1.0, float(len(t) % 7), 0.5] for t in texts]

    embedder = CountingEmbedder()
    matcher = CapabilityMatcher(embedder)
    coder, _ = routed("coder", CODER)
    cards = []
    original = coder.to_a2a_card
    coder.to_a2a_card = lambda: cards.append(1) or original()
    plan = [f"subtask {i}" for i in range(5)]
    matcher.prepare(plan)
    for task in plan:
        matcher.rank(task, [coder])
    assert len(cards) == 1  # the card is built once, not once per subtask
    assert embedder.batches[0] == 5  # the whole plan in one batch
