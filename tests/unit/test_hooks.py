"""Hooks fire at every step, in priority order, isolated from failures, and PRE hooks can veto or modify."""

from __future__ import annotations

import asyncio

import pytest

from kaizen_lab import (
    LLM,
    BaseAgent,
    BufferMemory,
    ExecutionContext,
    FunctionProvider,
    HeadlessPolicy,
    HookEvent,
    HookManager,
    HookResult,
    HookVetoError,
    ReActAgent,
    tool,
)
from kaizen_lab.hooks import HookContext

# Journey events are proven in tests/unit/test_journey.py::test_every_journey_hook_event_fires_with_its_data.
JOURNEY_EVENTS = {
    HookEvent.JOURNEY_SESSION_START,
    HookEvent.JOURNEY_SESSION_RESTORE,
    HookEvent.PRE_MESSAGE_PROCESS,
    HookEvent.POST_MESSAGE_PROCESS,
    HookEvent.PRE_PATHWAY_EXECUTE,
    HookEvent.POST_PATHWAY_EXECUTE,
    HookEvent.PATHWAY_TRANSITION,
}


@tool(danger="low")
def lookup(name: str) -> str:
    """Look a name up."""
    return f"found {name}"


def step(action: str, **args) -> dict:
    return {"thought": "t", "action": action, "action_input": args}


def react(replies, hooks: HookManager, **kw) -> ReActAgent:
    provider = FunctionProvider(replies, structured="json_schema")
    return ReActAgent(llm=LLM(provider), tools=[lookup], control=HeadlessPolicy("low"), hooks=hooks, **kw)


def recorder(hooks: HookManager) -> list[HookContext]:
    seen: list[HookContext] = []
    for event in HookEvent:
        hooks.register(event, seen.append)
    return seen


async def test_every_agent_event_fires(tmp_path) -> None:
    hooks = HookManager()
    seen = recorder(hooks)
    agent = react(
        [step("lookup", name="ada"), step("finish", answer="ada found")],
        hooks,
        memory=BufferMemory(5),
        checkpoints=tmp_path / "ckpt",
    )
    await agent.arun(session_id="s1", task="find ada")
    helper = BaseAgent(signature="q -> a", llm=LLM(FunctionProvider([{"a": "x"}])))
    await agent.invoke_specialist(helper, q="sub-task")
    agent.interrupts.request_interrupt()
    fired = {c.event_type for c in seen}
    missing = set(HookEvent) - JOURNEY_EVENTS - fired
    assert not missing, f"these events never fired: {sorted(e.value for e in missing)}"
    run_events = [c for c in seen if c.event_type in (HookEvent.PRE_AGENT_LOOP, HookEvent.POST_LLM_CALL)]
    assert len({c.trace_id for c in run_events}) == 1 and run_events[0].trace_id  # one trace per run


async def test_pre_llm_call_can_veto_and_the_error_says_who_and_why() -> None:
    hooks = HookManager()
    hooks.register(HookEvent.PRE_LLM_CALL, lambda ctx: HookResult.block("outside office hours"), name="office")
    agent = BaseAgent(signature="q -> a", llm=LLM(FunctionProvider([{"a": "x"}])), hooks=hooks)
    with pytest.raises(HookVetoError, match="blocked by hook 'office': outside office hours") as e:
        await agent.arun(q="hi")
    assert (e.value.hook, e.value.event) == ("office", "pre_llm_call")
    assert len(agent.usage) == 0  # vetoed before anything was paid for


async def test_pre_llm_call_can_change_the_request() -> None:
    provider = FunctionProvider([{"a": "x"}])

    def shout(ctx: HookContext) -> None:
        ctx.data["request"].messages[-1]["content"] += " (be brief)"

    hooks = HookManager()
    hooks.register(HookEvent.PRE_LLM_CALL, shout)
    await BaseAgent(signature="q -> a", llm=LLM(provider), hooks=hooks).arun(q="hi")
    assert provider.calls[0].messages[-1]["content"].endswith("(be brief)")


async def test_pre_tool_use_veto_becomes_a_denied_observation_and_modification_is_revalidated() -> None:
    hooks = HookManager()
    hooks.register(
        HookEvent.PRE_TOOL_USE,
        lambda ctx: HookResult.block("no lookups of bob") if ctx.data["params"]["name"] == "bob" else None,
        name="guard",
    )
    hooks.register(HookEvent.PRE_TOOL_USE, lambda ctx: HookResult(data={"params": {"name": "ADA"}}), priority=-1)
    agent = react([step("lookup", name="bob"), step("lookup", name="ada"), step("finish", answer="done")], hooks)
    r = await agent.arun(task="t")
    first, second = r.transcript[0], r.transcript[1]
    assert first.outcome == "denied" and "hook:guard (no lookups of bob)" in first.observation
    assert second.observation == "found ADA"  # the lower-priority hook rewrote the arguments


async def test_permission_check_hook_can_deny() -> None:
    hooks = HookManager()
    hooks.register(HookEvent.PRE_PERMISSION_CHECK, lambda ctx: HookResult.block("read-only day"), name="policy")
    agent = react(
        [step("lookup", name="a"), step("finish", answer="x")], hooks, context=ExecutionContext(mode="bypass")
    )
    r = await agent.arun(task="t")
    assert r.transcript[0].outcome == "denied" and r.transcript[0].decided_by.startswith("hook:policy")


async def test_priority_order_isolation_and_timeouts() -> None:
    hooks = HookManager()
    order: list[str] = []

    def boom(ctx: HookContext) -> None:
        order.append("boom")
        raise RuntimeError("broken hook")

    async def slow(ctx: HookContext) -> None:
        await asyncio.sleep(5)

    hooks.register(HookEvent.POST_AGENT_LOOP, lambda ctx: order.append("low"), priority=-5)
    hooks.register(HookEvent.POST_AGENT_LOOP, boom, priority=10)
    hooks.register(HookEvent.POST_AGENT_LOOP, slow, priority=0, timeout=0.05, name="slow")
    agent = BaseAgent(signature="q -> a", llm=LLM(FunctionProvider([{"a": "x"}])), hooks=hooks)
    r = await asyncio.wait_for(agent.arun(q="hi"), 2)  # a slow hook does not hold the run for 5 s
    assert r["a"] == "x" and order == ["boom", "low"]
    problems = {name: error for name, _, error in hooks.errors}
    assert problems["slow"] == "timed out after 0.05 s" and "RuntimeError: broken hook" in problems.values()


async def test_async_handlers_and_unregister() -> None:
    hooks = HookManager()
    seen: list[str] = []

    async def note(ctx: HookContext) -> None:
        seen.append(ctx.event_type.value)

    hooks.register(HookEvent.PRE_AGENT_LOOP, note)
    agent = BaseAgent(signature="q -> a", llm=LLM(FunctionProvider([{"a": "x"}] * 2)), hooks=hooks)
    await agent.arun(q="1")
    assert hooks.unregister(note) == 1 and not hooks.active(HookEvent.PRE_AGENT_LOOP)
    await agent.arun(q="2")
    assert seen == ["pre_agent_loop"]
    assert agent._hook_manager is agent.hooks


def test_memory_save_veto_keeps_a_turn_out_of_memory() -> None:
    hooks = HookManager()
    hooks.register(HookEvent.PRE_MEMORY_SAVE, lambda ctx: HookResult.block("contains a phone number"))
    agent = BaseAgent(signature="q -> a", llm=LLM(FunctionProvider([{"a": "x"}])), hooks=hooks, max_turns=5)
    agent.run(session_id="s", q="call me at 555-0100")
    assert agent.get_history("s") == []


async def test_memory_hooks_may_be_async_and_may_mask_what_is_saved() -> None:
    hooks = HookManager()

    async def mask(ctx: HookContext) -> HookResult:
        return HookResult(data={"inputs": {"q": ctx.data["inputs"]["q"].replace("123-45-6789", "***")}})

    hooks.register(HookEvent.PRE_MEMORY_SAVE, mask)
    agent = BaseAgent(signature="q -> a", llm=LLM(FunctionProvider([{"a": "ok"}])), hooks=hooks, max_turns=5)
    await agent.arun(session_id="s", q="my ssn is 123-45-6789")
    assert agent.get_history("s")[0]["inputs"] == {"q": "my ssn is ***"}


async def test_pre_agent_loop_and_specialist_hooks_can_change_inputs() -> None:
    provider = FunctionProvider([{"a": "x"}, {"a": "y"}])
    hooks = HookManager()
    hooks.register(HookEvent.PRE_AGENT_LOOP, lambda ctx: HookResult(data={"inputs": {"q": "rewritten"}}))
    agent = BaseAgent(signature="q -> a", llm=LLM(provider), hooks=hooks)
    await agent.arun(q="original")
    assert "q: rewritten" in provider.calls[0].messages[-1]["content"]
    helper_provider = FunctionProvider([{"a": "z"}])
    helper = BaseAgent(signature="q -> a", llm=LLM(helper_provider))
    agent.hooks.register(HookEvent.PRE_SPECIALIST_INVOKE, lambda ctx: HookResult(data={"inputs": {"q": "narrowed"}}))
    await agent.invoke_specialist(helper, q="broad")
    assert "q: narrowed" in helper_provider.calls[0].messages[-1]["content"]
