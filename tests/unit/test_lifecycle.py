"""Interrupts (graceful, immediate, timeout, budget, from a parent), checkpoints after each ReAct cycle, and resume
in a fresh agent giving the same result as a run that was never interrupted."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from kaizen_lab import (
    LLM,
    AgentInterrupted,
    BaseAgent,
    Completion,
    ExecutionContext,
    FunctionProvider,
    HeadlessPolicy,
    HookEvent,
    HookManager,
    HookResult,
    InterruptMode,
    InterruptSource,
    ReActAgent,
    tool,
)
from kaizen_lab.llm._types import ToolCall, Usage

CALLS: list[str] = []


@tool(danger="safe")
def count(word: str) -> int:
    """Count the letters of a word."""
    CALLS.append(word)
    return len(word)


@tool(danger="safe")
async def slow(seconds: float) -> str:
    """Wait, then answer."""
    await asyncio.sleep(seconds)
    return "waited"


WORDS = ["kaizen", "lean", "gemba", "muda"]


def script() -> list:
    steps = [{"thought": f"count {w}", "action": "count", "action_input": {"word": w}} for w in WORDS]
    return [*steps, {"thought": "done", "action": "finish", "action_input": {"answer": "6, 4, 5, 4"}}]


def agent(replies, tmp_path=None, **kw) -> ReActAgent:
    provider = FunctionProvider(replies, structured="json_schema")
    return ReActAgent(
        llm=LLM(provider),
        tools=[count, slow],
        control=HeadlessPolicy(),
        max_cycles=kw.pop("max_cycles", 8),
        **({"checkpoints": tmp_path / "ckpt"} if tmp_path else {}),
        **kw,
    )


def stop_after_cycle(hooks: HookManager, a: ReActAgent, n: int) -> None:
    seen = []

    def maybe_stop(ctx) -> None:
        seen.append(1)
        if len(seen) == n:
            a.interrupts.request_interrupt(message=f"stop after {n}")

    hooks.register(HookEvent.POST_TOOL_USE, maybe_stop)


def test_graceful_interrupt_finishes_the_cycle_saves_a_checkpoint_and_says_how_to_resume(tmp_path) -> None:
    hooks = HookManager()
    a = agent(script(), tmp_path, hooks=hooks, agent_id="counter")
    stop_after_cycle(hooks, a, 2)
    with pytest.raises(AgentInterrupted) as e:
        a.run(task="count the words")
    err = e.value
    assert "stopped after 2 of 8 cycles: code asked it to stop: stop after 2 (graceful)" in str(err)
    assert err.checkpoint_id and f"agent.resume({err.checkpoint_id!r})" in str(err)
    assert [s.action for s in err.partial] == ["count", "count"]
    assert err.reason.source is InterruptSource.PROGRAMMATIC
    assert err._render_traceback_() == [f"⏹ {err}"]


def test_an_interrupt_during_the_last_cycle_stops_before_the_final_answer_call(tmp_path) -> None:
    hooks = HookManager()
    a = agent(script(), tmp_path, hooks=hooks, agent_id="last-cycle", max_cycles=2)
    stop_after_cycle(hooks, a, 2)
    calls_before = len(a.usage)
    with pytest.raises(AgentInterrupted, match="stopped after 2 of 2 cycles") as e:
        a.run(task="count the words")
    assert len(a.usage) - calls_before == 2  # the two cycles; no third call to answer from the transcript
    assert e.value.checkpoint_id


def test_resume_in_a_fresh_agent_gives_the_same_result_as_an_uninterrupted_run(tmp_path) -> None:
    CALLS.clear()
    whole = agent(script()).run(task="count the words")
    uninterrupted_calls = list(CALLS)

    CALLS.clear()
    hooks = HookManager()
    first = agent(script(), tmp_path, hooks=hooks, agent_id="counter")
    stop_after_cycle(hooks, first, 2)
    with pytest.raises(AgentInterrupted) as e:
        first.run(task="count the words")
    used = len(first.llm.provider.calls)

    # A new kernel: a new agent object, the same checkpoint folder, the model answering the rest of the script.
    second = agent(script()[used:], tmp_path, agent_id="another-id")
    resumed = second.resume(e.value.checkpoint_id)
    assert dict(resumed) == dict(whole)
    assert [(s.action, s.observation) for s in resumed.transcript] == [
        (s.action, s.observation) for s in whole.transcript
    ]
    assert uninterrupted_calls == CALLS  # no tool ran twice, none was skipped
    assert resumed.usage == whole.usage  # the completions before the pause are accounted for


def test_resume_latest_by_agent_id_and_clear_errors(tmp_path) -> None:
    hooks = HookManager()
    first = agent(script(), tmp_path, hooks=hooks, agent_id="counter")
    stop_after_cycle(hooks, first, 1)
    with pytest.raises(AgentInterrupted):
        first.run(task="count the words")
    second = agent(script()[len(first.llm.provider.calls) :], tmp_path, agent_id="counter")
    assert second.resume()["answer"] == "6, 4, 5, 4"
    with pytest.raises(Exception, match="No checkpoint for agent_id 'nobody'"):
        agent(script(), tmp_path, agent_id="nobody").resume()
    with pytest.raises(Exception, match="keeps no checkpoints"):
        agent(script()).resume()


async def test_immediate_interrupt_from_another_thread_cancels_the_step_in_flight() -> None:
    a = agent([{"thought": "wait", "action": "slow", "action_input": {"seconds": 30}}])
    threading.Timer(0.2, a.interrupts.request_interrupt, args=("immediate", "user", "Stop button")).start()
    started = time.perf_counter()
    with pytest.raises(AgentInterrupted, match="stopped mid-step: you stopped it: Stop button"):
        await a.arun(task="wait")
    assert time.perf_counter() - started < 5


async def test_a_second_immediate_request_escalates_a_graceful_one() -> None:
    a = agent([{"thought": "wait", "action": "slow", "action_input": {"seconds": 30}}])
    loop = asyncio.get_running_loop()
    loop.call_later(0.1, a.interrupts.request_interrupt, InterruptMode.GRACEFUL, InterruptSource.SIGNAL)
    loop.call_later(0.3, a.interrupts.request_interrupt, InterruptMode.IMMEDIATE, InterruptSource.SIGNAL)
    with pytest.raises(AgentInterrupted, match="immediate"):
        await asyncio.wait_for(a.arun(task="wait"), 5)


async def test_time_limit_stops_gracefully_without_blocking() -> None:
    steps = [{"thought": "w", "action": "slow", "action_input": {"seconds": 0.3}}]
    a = agent(steps + [{"thought": "w", "action": "slow", "action_input": {"seconds": 0.31}}] * 5)
    a.interrupts.time_limit = 0.5
    started = time.perf_counter()
    with pytest.raises(AgentInterrupted, match=r"its time limit ran out: no result within 0\.5 s"):
        await a.arun(task="wait")
    assert time.perf_counter() - started < 1.5  # stopped at the next cycle boundary, not after all cycles


async def test_soft_budget_stops_gracefully_before_the_hard_limit() -> None:
    def paid(i: int) -> Completion:
        return Completion("", "fn", "m", Usage(1, 1), cost=0.1, tool_calls=[ToolCall(f"c{i}", "count", {"word": "x"})])

    provider = FunctionProvider([paid(i) for i in range(10)], tools=True)
    context = ExecutionContext(budget_limit=1.0)
    a = ReActAgent(llm=LLM(provider), tools=[count], control=HeadlessPolicy(), context=context, max_cycles=10)
    a.interrupts.watch_budget(context, soft_limit=0.25)
    with pytest.raises(AgentInterrupted, match="its budget ran out"):
        await a.arun(task="spend")
    assert len(provider.calls) == 3 and context.spent == pytest.approx(0.3)


async def test_interrupting_a_parent_interrupts_the_specialist_it_invoked() -> None:
    child = agent([{"thought": "wait", "action": "slow", "action_input": {"seconds": 0.2}}] * 5)
    parent = BaseAgent(signature="q -> a", llm=LLM(FunctionProvider([{"a": "x"}])))
    asyncio.get_running_loop().call_later(0.1, parent.interrupts.request_interrupt)
    with pytest.raises(AgentInterrupted, match="the parent agent stopped") as e:
        await parent.invoke_specialist(child, task="wait")
    assert e.value.reason.source is InterruptSource.PROGRAMMATIC
    assert not child.interrupts.is_interrupted  # handled: its next run starts clean


async def test_a_specialist_invoked_by_a_stopped_parent_does_not_start_working() -> None:
    CALLS.clear()
    child = agent(script())
    parent = BaseAgent(signature="q -> a", llm=LLM(FunctionProvider([])))
    token = parent.interrupts.run_started(lambda: None)  # the parent is mid-run...
    parent.interrupts.request_interrupt(message="user left")  # ...and has been asked to stop
    with pytest.raises(AgentInterrupted, match="stopped after 0 of 8 cycles"):
        await parent.invoke_specialist(child, task="count")
    parent.interrupts.run_ended(token)
    assert CALLS == []


async def test_a_late_immediate_stop_never_cancels_the_callers_code() -> None:
    a = agent(script())
    await a.arun(task="count")
    a.interrupts.request_interrupt("immediate", "user")  # the run is over: nothing to cancel
    await asyncio.sleep(0.05)  # the caller's next await is not cancelled
    assert a.interrupts.is_interrupted  # still pending: the next run would stop at once


def test_a_pre_interrupt_hook_can_refuse_and_post_interrupt_fires() -> None:
    hooks = HookManager()
    events = []
    hooks.register(HookEvent.PRE_INTERRUPT, lambda ctx: HookResult.block("mid-transaction") if not events else None)
    hooks.register(HookEvent.POST_INTERRUPT, lambda ctx: events.append(ctx.data["source"]))
    a = BaseAgent(signature="q -> a", llm=LLM(FunctionProvider([])), hooks=hooks)
    a.interrupts.request_interrupt(source="user")
    assert not a.interrupts.is_interrupted and events == []
    events.append("armed")
    a.interrupts.request_interrupt(source="user")
    assert a.interrupts.is_interrupted and events == ["armed", "user"]


def test_a_completed_checkpoint_is_not_resumed_and_interrupted_ones_survive_retention(tmp_path) -> None:
    from kaizen_lab import StateManager
    from kaizen_lab.state import FilesystemStorage

    manager = StateManager(FilesystemStorage(tmp_path / "ckpt"), retention_count=2)
    hooks = HookManager()
    first = agent(script(), hooks=hooks, agent_id="counter", checkpoints=manager)
    stop_after_cycle(hooks, first, 1)
    with pytest.raises(AgentInterrupted) as e:
        first.run(task="count")
    for _ in range(3):  # later, complete runs of the same agent produce many newer checkpoints
        agent(script(), agent_id="counter", checkpoints=manager).run(task="count")
    with pytest.raises(Exception, match="completed; there is nothing to resume"):
        agent(script(), agent_id="counter", checkpoints=manager).resume()
    rest = script()[len(first.llm.provider.calls) :]
    resumed = agent(rest, agent_id="counter", checkpoints=manager).resume(e.value.checkpoint_id)
    assert resumed["answer"] == "6, 4, 5, 4"
