"""ReAct's loop logic with scripted model replies: JSON actions, native tool calls, limits, approvals."""

from __future__ import annotations

import json

import pytest

from kaizen_lab import (
    LLM,
    BudgetExceededError,
    Completion,
    ExecutionContext,
    FunctionProvider,
    HeadlessPolicy,
    MemoryTransport,
    ReActAgent,
    tool,
)
from kaizen_lab.agents.specialized.react import parse_step, step_schema
from kaizen_lab.llm._types import ToolCall, Usage

NOTES = {"todo.txt": "buy milk"}


@tool(danger="safe")
def lookup(name: str) -> str:
    """Read a note by name."""
    return NOTES.get(name, f"no note {name}")


@tool(danger="high")
def erase(name: str) -> str:
    """Erase a note."""
    NOTES.pop(name, None)
    return f"erased {name}"


def agent(replies, *, native: bool = False, transport=None, **kw) -> tuple[ReActAgent, FunctionProvider]:
    provider = FunctionProvider(replies, structured="json_schema", tools=native)
    a = ReActAgent(llm=LLM(provider), tools=[lookup, erase], control=transport or HeadlessPolicy(), max_cycles=3, **kw)
    return a, provider


def step(action: str, thought: str = "t", **args) -> dict:
    return {"thought": thought, "action": action, "action_input": args}


def test_json_actions_act_observe_and_finish() -> None:
    a, provider = agent([step("lookup", name="todo.txt"), step("finish", answer="buy milk")])
    r = a.run(task="What is on my todo list?")
    assert r["answer"] == "buy milk"
    assert [s.action for s in r.transcript] == ["lookup", "finish"]
    assert r.transcript[0].observation == "buy milk"
    second_prompt = provider.calls[1].messages
    assert second_prompt[-1] == {"role": "user", "content": "Observation: buy milk"}
    # decoding is constrained to real tools with typed inputs, plus finish with the signature's outputs
    branches = provider.calls[0].schema["anyOf"]
    assert [b["properties"]["action"]["const"] for b in branches] == ["lookup", "erase", "finish"]
    assert branches[2]["properties"]["action_input"]["required"] == ["answer"]
    assert r.attempts == 2 and r.transcript.to_frame()["outcome"].tolist() == ["executed", "finish"]


def test_denied_tool_becomes_an_observation_and_output_says_a_policy_decided() -> None:
    NOTES["x"] = "keep"
    a, _ = agent([step("erase", name="x"), step("finish", answer="could not erase")])
    r = a.run(task="erase x")
    assert NOTES["x"] == "keep"
    assert r.transcript[0].outcome == "denied" and r.transcript[0].observation.startswith("DENIED")
    assert "decided by policy:deny" in r.warnings[0]
    assert "not by a person" in r._repr_html_()


def test_invalid_step_is_shown_to_the_model_and_the_run_continues() -> None:
    a, provider = agent(["not json at all", step("teleport"), step("finish", answer="ok")])
    r = a.run(task="t")
    assert r["answer"] == "ok"
    assert [s.action for s in r.transcript] == ["(invalid)", "(invalid)", "finish"]
    assert "'teleport' is not a tool" in provider.calls[2].messages[-1]["content"]


def test_out_of_cycles_answers_from_the_transcript() -> None:
    loop = [step("lookup", name="todo.txt")] * 3
    a, provider = agent([*loop, {"answer": "buy milk, found after 3 lookups"}])
    r = a.run(task="todo?")
    assert r["answer"].startswith("buy milk")
    final_prompt = provider.calls[-1].messages[0]["content"]
    assert "Cycle 1 observation: buy milk" in final_prompt
    # a repeated call is neither run nor asked again: the model is told, and sees the earlier result
    assert "Cycle 3 observation: (You just called lookup with these arguments in cycle 2" in final_prompt
    assert r.transcript[-1].action == "finish" and len(r.transcript) == 4


def call(tool_name: str, i: int = 0, **args) -> ToolCall:
    return ToolCall(f"call_{i}", tool_name, args)


def tool_reply(*calls: ToolCall, content: str = "", cost: float = 0.0) -> Completion:
    return Completion(content, "function", "fn", Usage(5, 5), cost=cost, tool_calls=list(calls))


def test_native_tool_calls_round_trip_with_tool_messages() -> None:
    a, provider = agent(
        [tool_reply(call("lookup", 1, name="todo.txt")), tool_reply(call("finish", 2, answer="milk"))], native=True
    )
    r = a.run(task="todo?")
    assert r["answer"] == "milk"
    first = provider.calls[0]
    assert [t["function"]["name"] for t in first.tools] == ["lookup", "erase", "finish"]
    assert first.schema is None
    sent = provider.calls[1].messages
    assert sent[-2]["tool_calls"][0]["function"] == {"name": "lookup", "arguments": json.dumps({"name": "todo.txt"})}
    assert sent[-1] == {"role": "tool", "tool_call_id": "call_1", "content": "buy milk"}


def test_native_plain_text_answer_is_accepted_when_it_matches_the_outputs() -> None:
    a, _ = agent([tool_reply(content='{"answer": "42"}')], native=True)
    assert a.run(task="q")["answer"] == "42"


def test_native_invalid_finish_is_re_asked() -> None:
    a, provider = agent(
        [tool_reply(call("finish", 1, wrong=1)), tool_reply(call("finish", 2, answer="fine"))], native=True
    )
    assert a.run(task="q")["answer"] == "fine"
    assert "final answer is not valid" in provider.calls[1].messages[-1]["content"]


def test_model_cost_counts_against_the_budget() -> None:
    replies = [tool_reply(call("lookup", i, name="todo.txt"), cost=0.3) for i in range(3)]
    a, _ = agent(replies, native=True, context=ExecutionContext(budget_limit=0.5))
    with pytest.raises(BudgetExceededError, match="Budget exceeded"):
        a.run(task="q")


def test_progress_is_reported_each_cycle() -> None:
    transport = MemoryTransport(responder=lambda req: {"approved": True})
    a, _ = agent([step("lookup", name="todo.txt"), step("finish", answer="a")], transport=transport)
    a.run(task="q")
    progress = [r.payload["message"] for r in transport.sent if r.kind == "progress"]
    assert progress == ["Cycle 1/3: thinking", "Cycle 1/3: calling lookup", "Cycle 2/3: thinking", "Done: 2 step(s)"]


def test_parse_step_errors_are_specific() -> None:
    with pytest.raises(ValueError, match='no "action"'):
        parse_step('{"thought": "x"}', {"a"})
    with pytest.raises(ValueError, match="must be a JSON object"):
        parse_step('{"action": "a", "action_input": [1]}', {"a"})
    assert parse_step('{"action": "a"}', {"a"}) == ("", "a", {})


def test_step_schema_without_tools_still_allows_finishing() -> None:
    from kaizen_lab.agents.specialized.react import ReActSignature

    schema = step_schema([], ReActSignature)
    assert [b["properties"]["action"]["const"] for b in schema["anyOf"]] == ["finish"]


def test_a_call_repeated_after_a_change_runs_again() -> None:
    NOTES["todo.txt"] = "buy milk"
    replies = [step("lookup", name="todo.txt"), step("erase", name="todo.txt"), step("lookup", name="todo.txt")]
    a, _ = agent([*replies, {"answer": "gone"}], transport=HeadlessPolicy("high"))
    r = a.run(task="erase my todo and check")
    assert [s.observation for s in r.transcript[:3]] == ["buy milk", "erased todo.txt", "no note todo.txt"]


def test_a_spent_budget_stops_the_next_run_before_it_pays() -> None:
    replies = [tool_reply(call("lookup", 0, name="todo.txt"), cost=0.3), tool_reply(call("finish", 1, answer="x"))]
    a, provider = agent(replies * 3, native=True, context=ExecutionContext(budget_limit=0.5))
    a.run(task="q")
    with pytest.raises(BudgetExceededError):
        a.run(task="q")
    calls = len(provider.calls)
    with pytest.raises(BudgetExceededError, match="this run"):
        a.run(task="q")
    assert len(provider.calls) == calls  # no third paid call


def test_native_arguments_that_are_not_an_object_are_an_observation() -> None:
    bad = Completion("", "function", "fn", Usage(1, 1), tool_calls=[ToolCall("c0", "lookup", ["todo.txt"])])  # type: ignore[arg-type]
    a, provider = agent([bad, tool_reply(call("finish", 1, answer="ok"))], native=True)
    r = a.run(task="q")
    assert r["answer"] == "ok" and "must be a JSON object" in provider.calls[1].messages[-1]["content"]


def test_tool_schemas_with_enums_and_sub_models_resolve_inside_the_step_schema() -> None:
    import enum

    import jsonschema
    import pydantic

    class Color(enum.Enum):
        red = "red"
        blue = "blue"

    class Box(pydantic.BaseModel):
        width: int
        color: Color

    @tool
    def paint(color: Color, box: Box) -> str:
        """Paint a box."""
        return "ok"

    from kaizen_lab.agents.specialized.react import ReActSignature

    schema = step_schema([paint], ReActSignature)
    good = {"thought": "", "action": "paint", "action_input": {"color": "red", "box": {"width": 1, "color": "blue"}}}
    jsonschema.validate(good, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**good, "action_input": {**good["action_input"], "color": "green"}}, schema)


def test_secrets_in_arguments_and_results_are_masked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SERVICE_API_KEY", "very-secret-value-123")

    @tool(danger="safe")
    def config(headers: dict[str, str]) -> str:
        """Echo a config."""
        return f"token={headers['Authorization']}"

    transport = MemoryTransport()
    provider = FunctionProvider(
        [step("config", headers={"Authorization": "very-secret-value-123"}), step("finish", answer="done")],
        structured="json_schema",
    )
    r = ReActAgent(llm=LLM(provider), tools=[config], control=transport).run(task="q")
    shown = repr(r.transcript) + r.transcript._repr_html_() + r.transcript.to_frame().to_string()
    assert "very-secret-value-123" not in shown and "***" in shown
    assert "very-secret-value-123" not in provider.calls[1].messages[-1]["content"]  # not sent back to the model
