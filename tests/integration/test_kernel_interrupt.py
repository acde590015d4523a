"""A real SIGINT (Jupyter's ■ / Ctrl+C) delivered to a real kernel running an agent ends the run gracefully:
the current cycle finishes, a checkpoint is on disk, and the cell says it was interrupted and how to resume."""

from __future__ import annotations

import json
import queue
import time
from pathlib import Path

import pytest
from jupyter_client.manager import start_new_kernel

CELL = """
import time
from kaizen_lab import LLM, FunctionProvider, HeadlessPolicy, ReActAgent, tool

@tool(danger="safe")
def tick(n: int) -> int:
    \"\"\"Wait a moment and return n.\"\"\"
    time.sleep(0.3)
    return n

steps = [{"thought": "t", "action": "tick", "action_input": {"n": i}} for i in range(60)]
agent = ReActAgent(llm=LLM(FunctionProvider(steps, structured="json_schema")), tools=[tick],
                   control=HeadlessPolicy(), max_cycles=60, checkpoints=CKPT, agent_id="sigint-demo")
print("started", flush=True)
agent.run(task="tick until stopped")
"""


def run_until_idle(kc, msg_id: str, deadline: float) -> list[dict]:
    messages = []
    while time.monotonic() < deadline:
        try:
            msg = kc.get_iopub_msg(timeout=1)
        except queue.Empty:
            continue
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        messages.append(msg)
        if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
            return messages
    raise AssertionError(f"the kernel did not finish the cell: {[m['msg_type'] for m in messages]}")


@pytest.mark.timeout(120)
def test_sigint_to_a_kernel_stops_the_agent_gracefully_with_a_checkpoint(tmp_path: Path) -> None:
    ckpt = tmp_path / "checkpoints"
    km, kc = start_new_kernel(kernel_name="python3")
    try:
        msg_id = kc.execute(f"CKPT = {str(ckpt)!r}\n" + CELL)
        started = time.monotonic()
        while time.monotonic() - started < 30:  # wait until the run is under way
            msg = kc.get_iopub_msg(timeout=10)
            if msg["msg_type"] == "stream" and "started" in msg["content"]["text"]:
                break
        time.sleep(1.5)  # a few cycles
        km.interrupt_kernel()  # SIGINT, as the ■ button sends
        messages = run_until_idle(kc, msg_id, time.monotonic() + 60)
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    errors = [m["content"] for m in messages if m["msg_type"] == "error"]
    assert errors, f"expected the cell to end with AgentInterrupted, got {[m['msg_type'] for m in messages]}"
    error = errors[0]
    shown = "\n".join(error["traceback"])
    assert error["ename"] == "AgentInterrupted", shown
    assert shown.startswith("⏹ ReActAgent stopped after") and "Ctrl+C" in shown and "agent.resume(" in shown
    files = sorted((ckpt / "sigint-demo").glob("*.json*"))
    assert files, "no checkpoint on disk"
    latest = max(files, key=lambda p: p.stat().st_mtime)
    state = json.loads(latest.read_text())
    assert state["status"] == "interrupted" and 1 <= state["step"] < 60
