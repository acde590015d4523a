"""Who may run which tool: a mode, allow/deny lists, regex rules with priorities, a budget, and an audit trail.

``ExecutionContext.can_use_tool`` answers ALLOW, DENY or ASK (ask a person or policy through the control protocol).
Every decision is recorded — what, who decided, why, when — and :meth:`ExecutionContext.audit_frame` shows it as a
DataFrame. Parameters are redacted before they are recorded, so API keys never reach the trail.
"""

from __future__ import annotations

import enum
import html
import re
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from .._secrets import redact, redact_data
from ..exceptions import BudgetExceededError, ConfigurationError
from .base import DangerLevel

if TYPE_CHECKING:
    import pandas as pd

    from .base import Tool

__all__ = [
    "AuditEntry",
    "ExecutionContext",
    "PermissionDecision",
    "PermissionMode",
    "PermissionRule",
    "PermissionType",
]


class PermissionMode(str, enum.Enum):
    DEFAULT = "default"  # SAFE tools run, everything else asks
    ACCEPT_EDITS = "accept_edits"  # file edits (up to MEDIUM) run without asking; destructive calls still ask
    PLAN = "plan"  # nothing runs: each call reports what it would have done
    BYPASS = "bypass"  # no asking; explicit denials still hold


class PermissionType(str, enum.Enum):
    ALLOW = "allow"
    DENY = "deny"
    ASK = "ask"


@dataclass(frozen=True)
class PermissionRule:
    """``pattern`` is a regex matched against the whole tool name; higher ``priority`` wins."""

    pattern: str
    permission_type: PermissionType | str
    reason: str = ""
    priority: int = 0

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "_regex", re.compile(self.pattern))
        except re.error as e:
            raise ConfigurationError(f"PermissionRule pattern {self.pattern!r} is not a valid regex: {e}.") from e
        try:
            object.__setattr__(
                self,
                "permission_type",
                PermissionType(
                    str(
                        self.permission_type.value
                        if isinstance(self.permission_type, PermissionType)
                        else self.permission_type
                    ).lower()
                ),
            )
        except ValueError:
            raise ConfigurationError(
                f"PermissionRule type {self.permission_type!r} is unknown; use allow, deny or ask."
            ) from None

    def matches(self, tool_name: str) -> bool:
        return self._regex.fullmatch(tool_name) is not None  # type: ignore[attr-defined]


@dataclass(frozen=True)
class PermissionDecision:
    permission: PermissionType
    reason: str
    source: str  # what decided: "denied_tools", "rule:<pattern>", "mode:bypass", "danger", ...

    @property
    def allowed(self) -> bool:
        return self.permission is PermissionType.ALLOW


@dataclass
class AuditEntry:
    tool: str
    params: dict[str, Any]
    danger: str
    outcome: str  # "executed", "failed", "denied", "planned"
    decided_by: str  # "rule:…", "user", "policy:deny", "timeout", "mode:plan", ...
    reason: str
    cost: float = 0.0
    time: float = field(default_factory=time.time)


class ExecutionContext:
    """The permissions and budget of one agent (or one session of it)."""

    def __init__(
        self,
        mode: PermissionMode | str = PermissionMode.DEFAULT,
        budget_limit: float | None = None,
        allowed_tools: Iterable[str] = (),
        denied_tools: Iterable[str] = (),
        rules: Iterable[PermissionRule] = (),
        *,
        auto_approve_up_to: DangerLevel | str | int = DangerLevel.SAFE,
    ) -> None:
        try:
            self.mode = PermissionMode(mode if isinstance(mode, PermissionMode) else str(mode).lower())
        except ValueError:
            modes = ", ".join(m.value for m in PermissionMode)
            raise ConfigurationError(f"Unknown permission mode {mode!r}; use one of {modes}.") from None
        if budget_limit is not None and budget_limit < 0:
            raise ConfigurationError("budget_limit must be zero or more (in USD), or None for no limit.")
        self.budget_limit = budget_limit
        self.allowed_tools = set(allowed_tools)
        self.denied_tools = set(denied_tools)
        self.rules: list[PermissionRule] = []
        for rule in rules:
            self.add_rule(rule)
        self.auto_approve_up_to = DangerLevel.coerce(auto_approve_up_to)
        self.session_allowed: set[str] = set()
        self.audit: list[AuditEntry] = []
        self.tool_usage: dict[str, int] = {}
        self._spent = 0.0
        self._lock = threading.Lock()
        self._listeners: list[Callable[[float], None]] = []

    def add_rule(self, rule: PermissionRule) -> None:
        self.rules.append(rule)
        self.rules.sort(key=lambda r: -r.priority)  # stable: equal priorities keep the order they were added in

    # -- decisions ------------------------------------------------------------------------------------------------
    def can_use_tool(self, tool: Tool | str, danger: DangerLevel | str | None = None) -> PermissionDecision:
        name = tool if isinstance(tool, str) else tool.name
        level = DangerLevel.coerce(danger if danger is not None else getattr(tool, "danger", DangerLevel.HIGH))
        category = "" if isinstance(tool, str) else tool.category
        allow, deny, ask = PermissionType.ALLOW, PermissionType.DENY, PermissionType.ASK
        if self.mode is PermissionMode.PLAN:
            return PermissionDecision(deny, "PLAN mode: nothing is executed", "mode:plan")
        if name in self.denied_tools:
            return PermissionDecision(deny, f"{name} is in denied_tools", "denied_tools")
        for rule in self.rules:
            if rule.matches(name):
                kind = PermissionType(rule.permission_type)
                if kind is ask and name in self.session_allowed:  # "Always allow" answers this rule's question
                    return PermissionDecision(allow, f"{name} was allowed for this session", "session")
                reason = rule.reason or f"rule {rule.pattern!r} says {kind.value}"
                return PermissionDecision(kind, reason, f"rule:{rule.pattern}")
        if self.mode is PermissionMode.BYPASS:
            return PermissionDecision(allow, "BYPASS mode", "mode:bypass")
        if name in self.allowed_tools:
            return PermissionDecision(allow, f"{name} is in allowed_tools", "allowed_tools")
        if name in self.session_allowed:
            return PermissionDecision(allow, f"{name} was allowed for this session", "session")
        if self.mode is PermissionMode.ACCEPT_EDITS and category == "file" and level <= DangerLevel.MEDIUM:
            return PermissionDecision(allow, "ACCEPT_EDITS mode: file edits run without asking", "mode:accept_edits")
        if level <= self.auto_approve_up_to:
            return PermissionDecision(allow, f"{level.name} ≤ {self.auto_approve_up_to.name}: auto-approved", "danger")
        return PermissionDecision(ask, f"{level.name} tool: needs approval", "danger")

    def allow_for_session(self, tool_name: str) -> None:
        """ "Always allow this tool" from an approval card."""
        self.session_allowed.add(tool_name)

    # -- budget ---------------------------------------------------------------------------------------------------
    @property
    def spent(self) -> float:
        return self._spent

    @property
    def remaining(self) -> float | None:
        return None if self.budget_limit is None else max(0.0, self.budget_limit - self._spent)

    def has_budget(self, cost: float = 0.0) -> bool:
        return self.budget_limit is None or self._spent + cost <= self.budget_limit + 1e-12

    def check_budget(self, cost: float = 0.0, what: str = "this call") -> None:
        if not self.has_budget(cost):
            raise self._exceeded(self._spent + cost, what)

    def add_listener(self, listener: Callable[[float], None]) -> None:
        """Call ``listener(spent)`` after every charge (soft limits, live cost displays)."""
        self._listeners.append(listener)

    def record_cost(self, cost: float, what: str = "model call") -> None:
        """Charge ``cost`` (USD) to the budget; raise BudgetExceededError once it is over the limit."""
        with self._lock:
            self._spent += max(0.0, cost)
            spent = self._spent
        for listener in self._listeners:
            listener(spent)
        if self.budget_limit is not None and spent > self.budget_limit + 1e-12:
            raise self._exceeded(spent, what)

    def restore_usage(self, spent: float, tool_usage: dict[str, int]) -> None:
        """Carry a checkpoint's spending over into a resumed run (so the budget still holds across the pause)."""
        with self._lock:
            self._spent = max(self._spent, spent)
            for name, count in tool_usage.items():
                self.tool_usage[name] = max(self.tool_usage.get(name, 0), count)

    def record_tool_usage(self, tool_name: str, cost: float = 0.0) -> None:
        with self._lock:
            self.tool_usage[tool_name] = self.tool_usage.get(tool_name, 0) + 1
        self.record_cost(cost, tool_name)

    def _exceeded(self, spent: float, what: str) -> BudgetExceededError:
        limit = self.budget_limit or 0.0
        return BudgetExceededError(
            f"Budget exceeded by {what}: ${spent:.4f} of ${limit:.4f}. The run was stopped; raise budget_limit on the "
            "ExecutionContext to continue.",
            limit=limit,
            spent=spent,
        )

    # -- audit ----------------------------------------------------------------------------------------------------
    def record(self, entry: AuditEntry) -> None:
        entry.params = redact_data(entry.params)
        entry.reason = redact(entry.reason)
        with self._lock:
            self.audit.append(entry)

    def audit_frame(self) -> pd.DataFrame:
        """Every decision as a DataFrame: time, tool, params, danger, outcome, decided_by, reason, cost."""
        import pandas as pd

        rows = [asdict(e) for e in self.audit]
        columns = ["time", "tool", "params", "danger", "outcome", "decided_by", "reason", "cost"]
        frame = pd.DataFrame(rows, columns=columns)
        frame["time"] = pd.to_datetime(frame["time"], unit="s")
        return frame

    def _repr_html_(self) -> str:
        budget = "no limit" if self.budget_limit is None else f"${self._spent:.4f} of ${self.budget_limit:.4f}"
        rows = "".join(
            f"<tr><td>{html.escape(e.tool)}</td><td>{e.outcome}</td><td>{html.escape(e.decided_by)}</td>"
            f"<td>{html.escape(e.reason)}</td></tr>"
            for e in self.audit[-20:]
        )
        return (
            f"<div><b>ExecutionContext</b> mode={self.mode.value}, budget {budget}, "
            f"{len(self.audit)} decision(s)<table><tr><th>tool</th><th>outcome</th><th>decided by</th>"
            f"<th>why</th></tr>{rows}</table></div>"
        )

    def __repr__(self) -> str:
        return f"ExecutionContext(mode={self.mode.value!r}, budget_limit={self.budget_limit}, spent={self._spent:.4f})"
