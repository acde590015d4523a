"""Permission rules, modes, budgets and the audit trail; the executor's decide → ask → run → record path."""

from __future__ import annotations

import pytest

from kaizen_lab import (
    BudgetExceededError,
    ConfigurationError,
    DangerLevel,
    ExecutionContext,
    HeadlessPolicy,
    MemoryTransport,
    PermissionMode,
    PermissionRule,
    PermissionType,
    tool,
)
from kaizen_lab.control.protocol import ControlProtocol
from kaizen_lab.tools import ToolExecutor, ToolRegistry


@tool(danger="safe", category="file")
def peek(path: str) -> str:
    """Look at a path."""
    return f"peeked {path}"


@tool(danger="medium", category="file")
def edit(path: str, content: str) -> str:
    """Change a file."""
    return f"edited {path}"


@tool(danger="high", category="system")
def wipe(target: str) -> str:
    """Destroy something."""
    return f"wiped {target}"


@tool(danger="low", cost=0.4)
def paid_lookup(query: str) -> str:
    """A lookup that costs money."""
    return f"found {query}"


@tool(danger="safe")
def broken(x: int) -> int:
    """Always fails."""
    raise RuntimeError("disk on fire")


ALL = [peek, edit, wipe, paid_lookup, broken]


def decision(ctx: ExecutionContext, t) -> tuple[str, str]:
    d = ctx.can_use_tool(t)
    return d.permission.value, d.source


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        (PermissionMode.DEFAULT, {"peek": "allow", "edit": "ask", "wipe": "ask"}),
        (PermissionMode.ACCEPT_EDITS, {"peek": "allow", "edit": "allow", "wipe": "ask"}),
        (PermissionMode.PLAN, {"peek": "deny", "edit": "deny", "wipe": "deny"}),
        (PermissionMode.BYPASS, {"peek": "allow", "edit": "allow", "wipe": "allow"}),
    ],
)
def test_modes(mode: PermissionMode, expected: dict[str, str]) -> None:
    ctx = ExecutionContext(mode)
    assert {t.name: decision(ctx, t)[0] for t in (peek, edit, wipe)} == expected


def test_rules_match_by_regex_and_priority_wins() -> None:
    ctx = ExecutionContext(
        rules=[
            PermissionRule("w.*", PermissionType.DENY, "no wiping", priority=1),
            PermissionRule("wipe", "allow", "trusted", priority=5),
            PermissionRule("ed.t", "ALLOW", priority=0),
        ]
    )
    assert decision(ctx, wipe) == ("allow", "rule:wipe")
    assert decision(ctx, edit) == ("allow", "rule:ed.t")
    assert ctx.can_use_tool("wipeout").permission is PermissionType.DENY  # full match of w.*, not of wipe
    assert ctx.can_use_tool("xwipe", DangerLevel.HIGH).permission is PermissionType.ASK  # patterns match whole names


def test_denied_tools_hold_even_in_bypass_and_allowed_tools_skip_asking() -> None:
    ctx = ExecutionContext("bypass", denied_tools=["wipe"])
    assert decision(ctx, wipe) == ("deny", "denied_tools")
    ctx = ExecutionContext(allowed_tools=["wipe"])
    assert decision(ctx, wipe) == ("allow", "allowed_tools")


def test_auto_approve_up_to_a_level() -> None:
    ctx = ExecutionContext(auto_approve_up_to="medium")
    assert decision(ctx, edit)[0] == "allow"
    assert decision(ctx, wipe)[0] == "ask"


@pytest.mark.parametrize(
    ("kwargs", "fix"),
    [
        ({"mode": "yolo"}, "default, accept_edits, plan, bypass"),
        ({"budget_limit": -1}, "zero or more"),
    ],
)
def test_bad_context_settings_say_how_to_fix(kwargs: dict, fix: str) -> None:
    with pytest.raises(ConfigurationError, match=fix):
        ExecutionContext(**kwargs)


def test_bad_rule_regex_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="not a valid regex"):
        PermissionRule("(", "deny")
    with pytest.raises(ConfigurationError, match="allow, deny or ask"):
        PermissionRule("x", "maybe")


def test_budget_accounting() -> None:
    ctx = ExecutionContext(budget_limit=1.0)
    ctx.record_tool_usage("a", cost=0.6)
    assert ctx.has_budget(0.4) and not ctx.has_budget(0.5)
    assert ctx.remaining == pytest.approx(0.4)
    with pytest.raises(BudgetExceededError) as e:
        ctx.record_tool_usage("a", cost=0.5)
    assert e.value.limit == 1.0 and e.value.spent == pytest.approx(1.1)
    assert "raise budget_limit" in str(e.value)
    assert ctx.tool_usage == {"a": 2}


def executor(ctx: ExecutionContext | None = None, transport=None) -> tuple[ToolExecutor, ExecutionContext]:
    ctx = ctx or ExecutionContext()
    control = ControlProtocol(transport or HeadlessPolicy(), timeout=2)
    return ToolExecutor(ToolRegistry(ALL), ctx, control), ctx


async def test_safe_tool_runs_without_asking_and_is_audited() -> None:
    transport = MemoryTransport()
    ex, ctx = executor(transport=transport)
    r = await ex.execute("peek", {"path": "a.txt"})
    assert (r.success, r.approved, r.result, r.decided_by) == (True, True, "peeked a.txt", "danger")
    assert transport.sent == []
    frame = ctx.audit_frame()
    assert list(frame["outcome"]) == ["executed"] and list(frame["tool"]) == ["peek"]


async def test_asking_goes_through_the_control_protocol() -> None:
    transport = MemoryTransport(responder=lambda req: {"approved": req.payload["action"] == "edit"})
    ex, ctx = executor(transport=transport)
    ok = await ex.execute("edit", {"path": "x", "content": "y"})
    no = await ex.execute("wipe", {"target": "everything"})
    assert ok.success and ok.decided_by == "user"
    assert (no.success, no.approved) == (False, False) and "denied by user" in no.error
    asked = [r.payload for r in transport.sent]
    assert asked[0]["action"] == "edit" and asked[0]["danger"] == "MEDIUM" and asked[0]["details"]["path"] == "x"
    assert "WIPED" not in no.observation() and no.observation().startswith("DENIED")
    assert list(ctx.audit_frame()["outcome"]) == ["executed", "denied"]


async def test_always_allow_skips_later_approvals() -> None:
    transport = MemoryTransport(responder=lambda req: {"approved": True, "always": True})
    ex, _ = executor(transport=transport)
    await ex.execute("wipe", {"target": "a"})
    second = await ex.execute("wipe", {"target": "b"})
    assert len(transport.sent) == 1 and second.decided_by == "session"


async def test_headless_policy_decisions_are_labelled() -> None:
    ex, _ = executor(transport=HeadlessPolicy("medium"))
    assert (await ex.execute("edit", {"path": "p", "content": "c"})).decided_by == "policy:approve-up-to-medium"
    denied = await ex.execute("wipe", {"target": "t"})
    assert not denied.approved and denied.decided_by == "policy:approve-up-to-medium"
    assert "HIGH > MEDIUM" in denied.error


async def test_unanswered_approval_times_out_as_denied() -> None:
    ctx = ExecutionContext()
    ex = ToolExecutor(ToolRegistry(ALL), ctx, ControlProtocol(MemoryTransport(), timeout=0.05))
    r = await ex.execute("wipe", {"target": "t"})
    assert not r.approved and r.decided_by == "timeout" and "no answer in time" in r.error


async def test_plan_mode_records_without_running() -> None:
    ex, ctx = executor(ExecutionContext("plan"))
    results = await ex.execute_chain([("edit", {"path": "a", "content": "b"}), ("wipe", {"target": "c"})])
    assert [r.planned for r in results] == [True, True]
    assert all(not r.success for r in results)
    assert results[0].observation().startswith("PLANNED (not executed): edit")
    assert list(ctx.audit_frame()["outcome"]) == ["planned", "planned"]


async def test_failures_are_observations_not_crashes() -> None:
    ex, _ = executor()
    unknown = await ex.execute("nope", {})
    bad_args = await ex.execute("broken", {"x": "not a number"})
    crash = await ex.execute("broken", {"x": 1})
    assert "no tool 'nope'" in unknown.error and "peek" in unknown.error
    assert "invalid arguments for broken" in bad_args.error and "x" in bad_args.error
    assert crash.approved and not crash.success and crash.error == "RuntimeError: disk on fire"


async def test_chain_stops_at_first_denial_and_says_which_step() -> None:
    transport = MemoryTransport(responder=lambda req: {"approved": False})
    ex, _ = executor(transport=transport)
    results = await ex.execute_chain(
        [
            {"tool": "peek", "params": {"path": "a"}},
            {"tool": "wipe", "params": {"target": "b"}},
            {"tool": "peek", "params": {"path": "c"}},
        ]
    )
    assert [r.step for r in results] == [1, 2] and results[0].success and not results[1].approved


async def test_tool_cost_is_charged_and_budget_stops_the_run() -> None:
    ex, ctx = executor(ExecutionContext(budget_limit=0.5, allowed_tools=["paid_lookup"]))
    assert (await ex.execute("paid_lookup", {"query": "a"})).success
    with pytest.raises(BudgetExceededError):
        await ex.execute("paid_lookup", {"query": "b"})
    assert ctx.spent == pytest.approx(0.4)


async def test_secrets_never_reach_the_audit_or_the_card(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-live-1234567890abcdef")
    transport = MemoryTransport(responder=lambda req: {"approved": True})
    ex, ctx = executor(transport=transport)
    await ex.execute("edit", {"path": "cfg", "content": "key=sk-live-1234567890abcdef"})
    assert "sk-live" not in str(transport.sent[0].payload)
    assert "sk-live" not in ctx.audit_frame().to_string()


async def test_always_allow_answers_an_ask_rule_too() -> None:
    transport = MemoryTransport(responder=lambda req: {"approved": True, "always": True})
    ex, _ = executor(ExecutionContext(rules=[PermissionRule("ed.*", "ask")]), transport=transport)
    for _ in range(3):
        await ex.execute("edit", {"path": "p", "content": "c"})
    assert len(transport.sent) == 1


async def test_one_transport_shared_by_two_agents_answers_both() -> None:
    shared = HeadlessPolicy("high")
    first = ToolExecutor(ToolRegistry(ALL), ExecutionContext(), ControlProtocol(shared, timeout=1))
    second = ToolExecutor(ToolRegistry(ALL), ExecutionContext(), ControlProtocol(shared, timeout=1))
    a = await first.execute("wipe", {"target": "a"})
    b = await second.execute("wipe", {"target": "b"})
    assert (a.decided_by, b.decided_by) == ("policy:approve-up-to-high", "policy:approve-up-to-high")


async def test_a_failing_approver_denies_instead_of_crashing() -> None:
    class Broken(MemoryTransport):
        async def send(self, request):
            raise OSError("stdout is closed")

    ex, _ = executor(transport=Broken())
    r = await ex.execute("wipe", {"target": "x"})
    assert not r.approved and "could not be shown (OSError: stdout is closed)" in r.error
