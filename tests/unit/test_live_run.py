"""LiveRun: a run that waits for a person is a task on the running loop; the caller gets control back at once."""

from __future__ import annotations

import asyncio
import threading

import pytest

from kaizen_lab import LLM, FunctionProvider, LiveRun, MemoryTransport, ReActAgent, RunPending, tool


@tool(danger="high")
def launch(target: str) -> str:
    """Launch something irreversible."""
    return f"launched {target}"


def agent(transport: MemoryTransport) -> ReActAgent:
    replies = [
        {"thought": "go", "action": "launch", "action_input": {"target": "probe"}},
        {"thought": "done", "action": "finish", "action_input": {"answer": "launched"}},
    ]
    return ReActAgent(llm=LLM(FunctionProvider(replies, structured="json_schema")), tools=[launch], control=transport)


async def test_returns_before_the_answer_and_finishes_after_a_click_from_another_thread() -> None:
    transport = MemoryTransport()
    a = agent(transport)
    live = LiveRun.start(a, a.arun(task="launch the probe"))
    assert not live.done
    with pytest.raises(RunPending, match="waiting for your approval"):
        live.result  # noqa: B018
    while not transport.pending:
        await asyncio.sleep(0.01)
    request = transport.pending[0]
    assert request.payload["action"] == "launch" and request.payload["danger"] == "HIGH"
    clicker = threading.Thread(target=transport.respond, args=(request.id, {"approved": True}))
    clicker.start()
    result = await asyncio.wait_for(asyncio.ensure_future(_await(live)), 5)
    clicker.join()
    assert result["answer"] == "launched"
    assert live["answer"] == "launched" and live.transcript[0].decided_by == "user"  # reads like the result
    assert live._repr_mimebundle_()[0]["text/html"].startswith("<div class='kaizen-result'>")


async def _await(live: LiveRun):
    return await live


async def test_cancel_stops_the_run_and_marks_the_request() -> None:
    transport = MemoryTransport()
    a = agent(transport)
    live = LiveRun.start(a, a.arun(task="launch"))
    while not transport.pending:
        await asyncio.sleep(0.01)
    live.cancel()
    with pytest.raises(asyncio.CancelledError):
        await _await(live)
    assert transport.responses[-1].decided_by == "cancelled"
    assert "cancelled" in repr(live)


def test_run_blocks_normally_outside_a_notebook() -> None:
    a = agent(MemoryTransport(responder=lambda req: {"approved": True}))
    assert not a._needs_live_run()
    assert a.run(task="launch")["answer"] == "launched"


async def test_the_stop_button_ends_the_run_gracefully_and_says_so() -> None:
    from kaizen_lab import AgentInterrupted

    @tool(danger="safe")
    async def wait(seconds: float) -> str:
        """Wait."""
        await asyncio.sleep(seconds)
        return "ok"

    steps = [{"thought": "w", "action": "wait", "action_input": {"seconds": 0.2}}] * 10
    a = ReActAgent(llm=LLM(FunctionProvider(steps, structured="json_schema")), tools=[wait], control=MemoryTransport())
    live = LiveRun.start(a, a.arun(task="wait"))
    await asyncio.sleep(0.1)
    live._stop.click()  # the Stop button beside the status line
    assert not live._stop.disabled and live._stop.description == "Stop now"  # a second click stops mid-step
    with pytest.raises(AgentInterrupted, match="you stopped it: Stop button"):
        await asyncio.wait_for(_await(live), 5)
    assert live._status.value.startswith("⏹ ReActAgent stopped after 1 of")
    assert live._stop.layout.display == "none"


async def test_a_second_stop_click_ends_a_wait_for_approval() -> None:
    from kaizen_lab import AgentInterrupted

    transport = MemoryTransport()  # nobody answers
    a = agent(transport)
    live = LiveRun.start(a, a.arun(task="launch"))
    while not transport.pending:
        await asyncio.sleep(0.01)
    live._stop.click()
    live._stop.click()
    assert live._stop.disabled and live._stop.description == "Stopping now…"
    with pytest.raises(AgentInterrupted, match="stopped mid-step: you stopped it: Stop button"):
        await asyncio.wait_for(_await(live), 5)
    assert transport.responses[-1].decided_by == "cancelled"
