"""ReAct end to end: the embedded model with constrained JSON actions, and native tool calls through litellm
against a real OpenAI-compatible server on 127.0.0.1, with real builtin tools in a real workspace."""

from __future__ import annotations

import json

import pytest

from kaizen_lab import ExecutionContext, HeadlessPolicy, MemoryTransport, ReActAgent
from kaizen_lab.llm.local import local_model_available
from tests.servers import OpenAICompatibleServer, Text, ToolCalls


def http_agent(url: str, workspace, control, **kw) -> ReActAgent:
    # gpt-4o-mini: litellm knows it takes tools, so the native path is used (the server is ours, on loopback)
    config = {"api_base": url, "api_key": "test-key-not-secret"}
    return ReActAgent(
        llm_provider="openai",
        model="gpt-4o-mini",
        provider_config=config,
        tools=["write_file", "read_file"],
        workspace=workspace,
        control=control,
        max_cycles=3,
        retry_attempts=0,
        **kw,
    )


@pytest.mark.network_loopback
def test_native_tool_calls_write_a_file_after_approval(tmp_path):
    approvals = MemoryTransport(responder=lambda req: {"approved": True})
    with OpenAICompatibleServer() as server:
        server.script = [
            ToolCalls([("write_file", {"path": "out/hello.txt", "content": "hi there"})], content="Saving it."),
            ToolCalls([("finish", {"answer": "saved"})]),
        ]
        r = http_agent(server.url, tmp_path, approvals).run(task="Save 'hi there' to out/hello.txt")
        first, second = server.requests
    assert (tmp_path / "out" / "hello.txt").read_text() == "hi there"
    assert r["answer"] == "saved" and r.provider == "openai"
    assert [t["function"]["name"] for t in first["tools"]] == ["write_file", "read_file", "finish"]
    assert first["tools"][0]["function"]["parameters"]["required"] == ["path", "content"]
    tool_message = second["messages"][-1]
    assert tool_message["role"] == "tool" and tool_message["tool_call_id"] == "call_0"
    assert "hello.txt" in tool_message["content"]
    asked = approvals.sent[[r.kind for r in approvals.sent].index("approval")].payload
    assert asked["action"] == "write_file" and asked["danger"] == "MEDIUM" and "+hi there" in asked["preview"]
    assert r.transcript[0].decided_by == "user" and r.transcript[0].thought == "Saving it."
    assert r.cost > 0  # litellm priced the (scripted) gpt-4o-mini usage


@pytest.mark.network_loopback
def test_denied_write_leaves_no_file_and_the_model_is_told(tmp_path):
    with OpenAICompatibleServer() as server:
        server.script = [
            ToolCalls([("write_file", {"path": "x.txt", "content": "nope"})]),
            Text('{"answer": "I was not allowed to write the file."}'),
        ]
        r = http_agent(server.url, tmp_path, HeadlessPolicy("low")).run(task="write x.txt")
        told = server.requests[1]["messages"][-1]["content"]
    assert not (tmp_path / "x.txt").exists()
    assert told.startswith("DENIED") and "MEDIUM > LOW" in told
    assert r["answer"].startswith("I was not allowed")
    assert r.warnings == ["1 tool call(s) were decided by policy:approve-up-to-low, not by a person."]


@pytest.mark.network_loopback
def test_plan_mode_shows_what_would_run_without_running_it(tmp_path):
    with OpenAICompatibleServer() as server:
        server.script = [
            ToolCalls([("write_file", {"path": "plan.txt", "content": "c"})]),
            ToolCalls([("finish", {"answer": "planned"})]),
        ]
        agent = http_agent(server.url, tmp_path, HeadlessPolicy("high"), context=ExecutionContext("plan"))
        r = agent.run(task="t")
    assert not (tmp_path / "plan.txt").exists()
    assert r.transcript[0].outcome == "planned"
    assert list(agent.context.audit_frame()["outcome"]) == ["planned"]


@pytest.mark.local_model
@pytest.mark.skipif(not local_model_available(), reason="embedded model not installed (make install)")
def test_embedded_model_acts_through_constrained_json_steps(tmp_path):
    (tmp_path / "notes.txt").write_text("The secret word is PINEAPPLE.")
    agent = ReActAgent(
        llm_provider="local",
        tools=["list_directory", "read_file"],
        workspace=tmp_path,
        control=HeadlessPolicy("low"),
        max_cycles=3,
        act_first=True,
    )
    assert not agent.strategy.uses_native_tools(agent)
    r = agent.run(task="Read the file notes.txt and tell me the secret word.")
    assert r.provider == "local" and isinstance(r["answer"], str)
    steps = r.transcript
    # The grammar allows only real tools with typed inputs: no step of a 135M model is unreadable.
    assert steps and all(s.action in {"list_directory", "read_file", "finish"} for s in steps)
    assert steps[0].action != "finish"  # act_first
    assert steps[-1].action == "finish" and len(steps) <= 4
    for s in steps[:-1]:  # observations are what the real tools returned
        result = s.tool_result
        # SAFE list_directory runs unasked; LOW read_file is approved by the headless policy, and says so
        assert result is not None and result.decided_by in {"danger", "policy:approve-up-to-low"}
        if result.success and s.action == "read_file" and s.action_input.get("path") == "notes.txt":
            assert "PINEAPPLE" in s.observation
    sent = json.dumps(r.messages)
    assert "Observation:" in sent
