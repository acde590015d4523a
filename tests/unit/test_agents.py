"""BaseAgent and the first agents, on the offline fakes (logic only; the real model is in tests/integration)."""

from __future__ import annotations

import asyncio
import contextvars
import dataclasses

import pydantic
import pytest

from kaizen_lab import (
    LLM,
    BaseAgent,
    ChainOfThoughtAgent,
    ConfigurationError,
    FunctionProvider,
    InputField,
    MultiCycleStrategy,
    OutputField,
    OutputParseError,
    QAConfig,
    Signature,
    SimpleQAAgent,
    global_usage,
)


class QA(Signature):
    """Answer the question."""

    question: str = InputField(desc="The question")
    answer: str = OutputField(desc="The answer")
    confidence: float = OutputField(desc="0-1")


def fn_agent(replies, cls=BaseAgent, structured="prompt", **kw):
    provider = FunctionProvider(replies, structured=structured)
    agent = cls(signature=kw.pop("signature", QA), llm=LLM(provider), **kw)
    return agent, provider


def test_mock_provider_gives_schema_valid_outputs_with_metadata():
    agent = BaseAgent(signature=QA, llm_provider="mock")
    r = agent.run(question="What is 2+2?")
    assert set(r) == {"answer", "confidence"}
    assert isinstance(r["confidence"], float)
    assert r.provider == "mock" and r.model == "mock-model"
    assert r.usage.prompt_tokens > 0 and r.usage.completion_tokens > 0
    assert r.latency > 0 and r.cost == 0.0 and r.cache_hit is False


def test_prompt_uses_instructions_descriptions_and_inputs():
    agent, provider = fn_agent([{"answer": "4", "confidence": 0.9}])
    agent.run(question="What is 2+2?")
    system, user = provider.calls[0].messages
    assert "Answer the question." in system["content"]
    assert "question (str): The question" in system["content"]
    assert "confidence (float): 0-1" in system["content"]
    assert '"answer"' in system["content"] and "JSON schema" in system["content"]  # prompt mode carries the schema
    assert user["content"] == "question: What is 2+2?"


def test_invalid_output_is_re_asked_with_the_validation_error():
    agent, provider = fn_agent(
        ["I think it is four.", '{"answer": "4", "confidence": "high"}', '{"answer": "4", "confidence": 0.8}']
    )
    r = agent.run(question="2+2?")
    assert r["answer"] == "4" and r.attempts == 3
    second, third = provider.calls[1].messages, provider.calls[2].messages
    assert "no JSON object" in second[-1]["content"]
    assert second[-2] == {"role": "assistant", "content": "I think it is four."}
    assert "confidence" in third[-1]["content"]


def test_a_reply_cut_off_at_max_tokens_is_not_fed_back_and_the_re_ask_discourages_loops():
    class CutOff(FunctionProvider):
        async def acomplete(self, request, model):
            completion = await super().acomplete(request, model)
            if len(self.calls) == 1:
                completion.finish_reason = "length"
            return completion

    provider = CutOff(['{"answer": "1.1.1.1.1.1', '{"answer": "4", "confidence": 1}'])
    agent = BaseAgent(signature=QA, llm=LLM(provider, max_tokens=50))
    r = agent.run(question="2+2?")
    assert r["answer"] == "4"
    retry = provider.calls[1]
    assert [m["role"] for m in retry.messages] == ["system", "user", "user"]  # no truncated reply shown back
    assert "cut off at max_tokens=50" in retry.messages[-1]["content"]
    assert provider.calls[0].repetition_penalty is None and retry.repetition_penalty == 1.15


def test_result_exposes_the_prompt_sent():
    r = BaseAgent(signature=QA, llm_provider="mock").run(question="What?")
    assert r.messages[-1] == {"role": "user", "content": "question: What?"}


def test_memory_keeps_what_the_user_saw_after_postprocessing():
    agent, provider = fn_agent(
        [{"answer": "a", "confidence": 90, "reasoning": "r"}, {"answer": "b", "confidence": 0.9, "reasoning": "r"}],
        cls=SimpleQAAgent,
        signature=None,
    )
    agent.ask("q1", session_id="s")
    assert agent.get_history("s")[0]["outputs"]["confidence"] == 0.9
    agent.ask("q2", session_id="s")
    assert '"confidence": 0.9' in provider.calls[1].messages[2]["content"]


def test_output_parse_error_keeps_raw_output_and_expected_fields():
    agent, _ = fn_agent(["nope"] * 3, retry_attempts=2)
    with pytest.raises(OutputParseError) as err:
        agent.run(question="?")
    assert err.value.raw == "nope"
    assert err.value.expected_fields == ["answer", "confidence"]
    assert err.value.attempts == 3
    assert "retry_attempts" in str(err.value)


def test_failed_attempts_are_still_accounted():
    agent, _ = fn_agent(["nope"] * 2, retry_attempts=1)
    with pytest.raises(OutputParseError):
        agent.run(question="?")
    assert len(agent.usage) == 2


def test_missing_input_is_a_clear_error():
    agent, _ = fn_agent([])
    with pytest.raises(ConfigurationError, match=r"needs input\(s\) \['question'\]"):
        agent.run()


def test_memory_per_session_goes_into_the_prompt_and_sessions_are_isolated():
    replies = [
        {"answer": "Hello Alice", "confidence": 1},
        {"answer": "Alice", "confidence": 1},
        {"answer": "?", "confidence": 0},
    ]
    agent, provider = fn_agent(replies, max_turns=5)
    agent.run(session_id="u1", question="My name is Alice")
    agent.run(session_id="u1", question="What is my name?")
    agent.run(session_id="u2", question="What is my name?")
    u1 = provider.calls[1].messages
    assert [m["role"] for m in u1] == ["system", "user", "assistant", "user"]
    assert u1[1]["content"] == "question: My name is Alice" and "Hello Alice" in u1[2]["content"]
    assert len(provider.calls[2].messages) == 2  # u2 sees nothing of u1
    assert [t["inputs"]["question"] for t in agent.get_history("u1")] == [
        "My name is Alice",
        "What is my name?",
    ]


def test_memory_is_bounded_by_max_turns():
    agent, provider = fn_agent([{"answer": str(i), "confidence": 1} for i in range(4)], max_turns=2)
    for i in range(4):
        agent.run(session_id="s", question=f"q{i}")
    assert len(agent.get_history("s")) == 2
    assert len(provider.calls[3].messages) == 1 + 2 * 2 + 1


def test_no_memory_when_max_turns_is_zero():
    agent, _ = fn_agent([{"answer": "a", "confidence": 1}])
    agent.run(session_id="s", question="q")
    assert agent.memory is None and agent.get_history("s") == []


def test_config_extraction_from_dataclass_pydantic_dict_and_overrides():
    @dataclasses.dataclass
    class MyConfig:
        llm_provider: str = "mock"
        model: str = "m1"
        temperature: float = 0.3
        max_turns: int = 3
        unrelated: str = "ignored"

    class PConfig(pydantic.BaseModel):
        provider: str = "mock"
        max_retries: int = 7

    a = BaseAgent(MyConfig(), signature=QA)
    assert (a.llm.provider_name, a.llm.model, a.llm.temperature, a.memory.max_turns) == ("mock", "m1", 0.3, 3)
    b = BaseAgent(PConfig(), signature=QA)
    assert b.config.llm_provider == "mock" and b.config.retry_attempts == 7
    c = BaseAgent({"llm_provider": "mock", "model": "x"}, signature=QA, model="y")
    assert c.llm.model == "y"


def test_unknown_provider_is_a_configuration_error():
    with pytest.raises(ConfigurationError, match="Unknown provider 'nope'"):
        BaseAgent(signature=QA, llm_provider="nope")


async def test_run_works_inside_a_running_event_loop_and_keeps_contextvars():
    var = contextvars.ContextVar("v", default="unset")
    var.set("from-caller")
    seen = []

    def reply(messages, request):
        seen.append(var.get())
        return {"answer": "ok", "confidence": 1}

    agent = BaseAgent(signature=QA, llm=LLM(FunctionProvider(reply)))
    r = agent.run(question="inside a loop")  # like a Jupyter cell: sync call with a loop running
    assert r["answer"] == "ok" and seen == ["from-caller"]
    r2 = await agent.arun(question="awaited")
    assert r2["answer"] == "ok"


def test_batch_keeps_order_bounds_concurrency_and_can_keep_errors():
    in_flight, peak = 0, 0

    class Slow(FunctionProvider):
        async def acomplete(self, request, model):
            nonlocal in_flight, peak
            in_flight += 1
            peak = max(peak, in_flight)
            await asyncio.sleep(0.01)
            in_flight -= 1
            return await super().acomplete(request, model)

    def reply(messages, request):
        q = messages[-1]["content"].split(": ", 1)[1]
        return "garbage" if q == "q3" else {"answer": q.upper(), "confidence": 1}

    agent = BaseAgent(signature=QA, llm=LLM(Slow(reply)), retry_attempts=0)
    results = agent.run_batch([{"question": f"q{i}"} for i in range(8)], concurrency=3, return_exceptions=True)
    assert [r["answer"] if isinstance(r, dict) else "ERR" for r in results] == [
        "Q0",
        "Q1",
        "Q2",
        "ERR",
        "Q4",
        "Q5",
        "Q6",
        "Q7",
    ]
    assert isinstance(results[3], OutputParseError)
    assert peak == 3
    with pytest.raises(OutputParseError):
        agent.run_batch([{"question": "q3"}])


def test_usage_is_accumulated_per_agent_and_globally_as_a_dataframe():
    before = len(global_usage())
    agent = BaseAgent(signature=QA, llm_provider="mock")
    agent.run(question="a")
    agent.run(question="b")
    frame = agent.usage.to_dataframe()
    assert list(frame["provider"]) == ["mock", "mock"]
    assert {"prompt_tokens", "completion_tokens", "cost", "latency", "cache_hit", "agent"} <= set(frame.columns)
    assert len(global_usage()) == before + 2
    assert agent.usage.totals()["calls"] == 2


def test_simple_qa_bounds_confidence_and_flags_low_confidence():
    agent, _ = fn_agent(
        [
            {"answer": "Paris", "confidence": 95, "reasoning": "r"},
            {"answer": "?", "confidence": 0.2, "reasoning": "r"},
        ],
        cls=SimpleQAAgent,
        signature=None,
    )
    r = agent.ask("Capital of France?")
    assert r["confidence"] == pytest.approx(0.95) and not r.low_confidence
    assert "brought into [0, 1]" in r.warnings[0]
    low = agent.ask("Unknowable?")
    assert low.low_confidence and "below min_confidence_threshold" in low.warnings[0]


def test_simple_qa_defaults_and_a2a_card():
    agent = SimpleQAAgent(QAConfig(llm_provider="mock"))
    card = agent.to_a2a_card()
    assert card["name"] == "SimpleQAAgent"
    assert card["skills"][0]["outputSchema"]["required"] == ["answer", "confidence", "reasoning"]
    assert {"question", "answer", "confidence"} <= set(card["skills"][0]["tags"])
    assert card["metadata"] == {"llm_provider": "mock", "model": "mock-model", "description_source": "agent"}


def test_chain_of_thought_returns_steps_and_final_answer():
    agent, provider = fn_agent(
        [{"reasoning_steps": ["3 apples", "eat 1", "2 left"], "final_answer": "2", "confidence": 0.9}],
        cls=ChainOfThoughtAgent,
        signature=None,
    )
    r = agent.think("I have 3 apples and eat one. How many are left?")
    assert r["reasoning_steps"] == ["3 apples", "eat 1", "2 left"] and r["final_answer"] == "2"
    schema = provider.calls[0].messages[0]["content"]
    assert '"maxItems":5' in schema


def test_multi_cycle_strategy_feeds_earlier_cycles_and_stops_when_done():
    sig = Signature.parse("task -> thought, done: bool")
    replies = [
        {"thought": "step one", "done": False},
        {"thought": "step two", "done": False},
        {"thought": "fin", "done": True},
    ]
    observations = []

    async def observe(outputs):
        observations.append(outputs["thought"])
        return f"saw {outputs['thought']}"

    provider = FunctionProvider(replies)
    agent = BaseAgent(signature=sig, llm=LLM(provider), strategy=MultiCycleStrategy(max_cycles=5, observe=observe))
    r = agent.run(task="t")
    assert r["thought"] == "fin" and len(r.cycles) == 3 and r.attempts == 3
    assert "Observation 1: saw step one" in provider.calls[1].messages[0]["content"]
    assert observations == ["step one", "step two"]


def test_result_renders_html_with_metadata():
    r = BaseAgent(signature=QA, llm_provider="mock").run(question="<b>")
    html = r._repr_html_()
    assert "mock/mock-model" in html and "<th" in html and "tokens" in html


async def test_a_blocking_run_on_the_engines_own_loop_fails_fast_instead_of_hanging():
    inner = BaseAgent(signature=QA, llm_provider="mock")
    seen = []

    def reply(messages, request):
        try:
            inner.run(question="nested")
        except ConfigurationError as e:
            seen.append(str(e))
        return {"answer": "outer", "confidence": 1}

    outer = BaseAgent(signature=QA, llm=LLM(FunctionProvider(reply)))
    assert outer.run(question="q")["answer"] == "outer"  # inside a running loop: goes to the background loop
    assert "await agent.arun" in seen[0]
    assert inner.run(question="still works")["answer"]  # the background loop is not stuck


def test_a_failing_batch_row_stops_the_others():
    calls = []

    class Slow(FunctionProvider):
        async def acomplete(self, request, model):
            calls.append(1)
            await asyncio.sleep(0.05 if len(calls) > 1 else 0)
            return await super().acomplete(request, model)

    def reply(messages, request):
        return "garbage" if messages[-1]["content"].endswith("q0") else {"answer": "a", "confidence": 1}

    agent = BaseAgent(signature=QA, llm=LLM(Slow(reply)), retry_attempts=0)
    with pytest.raises(OutputParseError):
        agent.run_batch([{"question": f"q{i}"} for i in range(20)], concurrency=2)
    import time

    time.sleep(0.3)
    assert len(calls) < 5  # the rest were cancelled, not left running


def test_asking_the_local_model_for_another_models_name_is_an_error(no_provider_env):
    from kaizen_lab.llm.local import local_model_available

    if not local_model_available():
        pytest.skip("embedded model not installed")
    with pytest.raises(ConfigurationError, match="'gpt-4o-mini' was asked for"):
        LLM(model="gpt-4o-mini")


def test_an_explicit_provider_keeps_a_slashed_model_id():
    llm = LLM("openai", "google/gemma-2-9b-it", provider_config={"api_base": "http://127.0.0.1:9/v1"})
    assert (llm.provider_name, llm.model) == ("openai", "google/gemma-2-9b-it")
    assert llm.provider.litellm_model(llm.model) == "openai/google/gemma-2-9b-it"


def test_config_repr_hides_provider_config():
    agent = BaseAgent(signature=QA, llm_provider="mock", provider_config={"api_key": "mysecretvalue123"})
    assert "mysecretvalue123" not in repr(agent.config)


async def test_guided_adds_guidelines_to_one_call_of_one_agent_only() -> None:
    import asyncio

    from kaizen_lab import LLM, BaseAgent, FunctionProvider

    provider = FunctionProvider(lambda m, r: {"a": "x"})
    agent = BaseAgent(signature="q -> a", llm=LLM(provider))

    async def call(extra: list[str]) -> str:
        with agent.guided(extra):
            await asyncio.sleep(0.01)  # interleave with the other caller
            await agent.arun(q="hi")
        return provider.calls[-1].messages[0]["content"]

    await asyncio.gather(call(["Be formal"]), call(["Be brief"]))
    prompts = [c.messages[0]["content"] for c in provider.calls]
    assert sum("Be formal" in p for p in prompts) == 1 and sum("Be brief" in p for p in prompts) == 1
    assert not any("Be formal" in p and "Be brief" in p for p in prompts)
    await agent.arun(q="later")
    assert "Be formal" not in provider.calls[-1].messages[0]["content"] and agent.guidelines == []
