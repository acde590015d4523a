"""AgentState: one snapshot of a run, as plain JSON, so a checkpoint outlives the process (and the code version).

Everything in it must be JSON: a checkpoint is read back by another process, possibly by another version of
kaizen_lab, possibly by ``jq``. :meth:`AgentState.to_dict` checks that and names the offending field path instead
of letting ``json.dumps`` fail later with no context. Keys this version does not know are kept in ``extra`` and
written back unchanged, so an older release can load, continue and re-save a newer release's checkpoint.
"""

from __future__ import annotations

import math
import time
import uuid
from dataclasses import dataclass, field, fields
from typing import Any, Literal

from ..exceptions import ConfigurationError

__all__ = ["SCHEMA_VERSION", "STATUSES", "AgentState", "Status", "new_checkpoint_id"]

Status = Literal["running", "completed", "interrupted", "failed"]
STATUSES: tuple[str, ...] = ("running", "completed", "interrupted", "failed")
SCHEMA_VERSION = 1  # written as "schema_version"; bump when a field changes meaning


def new_checkpoint_id() -> str:
    return uuid.uuid4().hex


@dataclass
class AgentState:
    """What a run needs to resume: its conversation, memory, actions, budget, approvals and strategy state.

    ``strategy_state`` is free-form for multi-cycle strategies (e.g. the ReAct transcript and messages);
    ``extra`` holds keys from other versions of this format and is written back at the top level.
    """

    agent_id: str
    checkpoint_id: str = field(default_factory=new_checkpoint_id)
    parent_checkpoint_id: str | None = None
    created_at: float = field(default_factory=time.time)  # Unix seconds; set again to the save time on save
    step: int = 0
    status: Status = "running"
    inputs: dict[str, Any] = field(default_factory=dict)
    conversation: list[dict[str, Any]] = field(default_factory=list)
    memory: dict[str, Any] = field(default_factory=dict)
    pending_actions: list[dict[str, Any]] = field(default_factory=list)
    completed_actions: list[dict[str, Any]] = field(default_factory=list)
    budget_spent: float = 0.0
    approval_history: list[dict[str, Any]] = field(default_factory=list)
    tool_usage: dict[str, int] = field(default_factory=dict)
    strategy_state: dict[str, Any] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    # True once this checkpoint_id names a stored snapshot (saved or loaded): the next save then starts a new one.
    _persisted: bool = field(default=False, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.agent_id, str) or not self.agent_id:
            raise ConfigurationError(f"AgentState.agent_id must be a non-empty string, got {self.agent_id!r}")
        if self.status not in STATUSES:
            raise ConfigurationError(f"AgentState.status must be one of {', '.join(STATUSES)}; got {self.status!r}")
        if isinstance(self.step, bool) or not isinstance(self.step, int) or self.step < 0:
            raise ConfigurationError(f"AgentState.step must be an int >= 0, got {self.step!r}")

    def to_dict(self) -> dict[str, Any]:
        """A deep, plain-JSON copy; raises :class:`ConfigurationError` naming the first non-JSON value's path."""
        out: dict[str, Any] = {key: _plain(value, f"extra.{key}") for key, value in self.extra.items()}
        out["schema_version"] = SCHEMA_VERSION
        for f in fields(self):
            if f.name not in ("extra", "_persisted"):
                out[f.name] = _plain(getattr(self, f.name), f.name)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AgentState:
        """Rebuild from :meth:`to_dict` output; unknown keys (a newer or older format) land in ``extra``."""
        if not isinstance(data, dict):
            raise ConfigurationError(f"AgentState.from_dict expects a dict, got {type(data).__name__}")
        known = {f.name for f in fields(cls) if f.init and f.name != "extra"}
        kwargs = {key: value for key, value in data.items() if key in known}
        extra = dict(data.get("extra") or {})
        extra.update({k: v for k, v in data.items() if k not in known and k not in ("extra", "schema_version")})
        if "agent_id" not in kwargs:
            raise ConfigurationError("AgentState.from_dict: the data has no 'agent_id'")
        return cls(**kwargs, extra=extra)

    def __repr__(self) -> str:
        return (
            f"AgentState(agent_id={self.agent_id!r}, checkpoint_id={self.checkpoint_id!r}, step={self.step}, "
            f"status={self.status!r}, messages={len(self.conversation)})"
        )


def _plain(value: Any, path: str) -> Any:
    """Validate and deep-copy one value as JSON data (tuples become lists)."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise _not_json(path, value, "NaN and Infinity are not valid JSON")
        return value
    if isinstance(value, dict):
        return {_key(k, path): _plain(v, _child(path, k)) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v, f"{path}[{i}]") for i, v in enumerate(value)]
    raise _not_json(path, value, "convert it first (str(x), x.isoformat(), x.model_dump(), ...)")


def _key(key: Any, path: str) -> str:
    if not isinstance(key, str):
        raise _not_json(f"{path}[{key!r}]", key, "JSON object keys must be strings (the key itself)")
    return key


def _child(path: str, key: str) -> str:
    return f"{path}.{key}" if key.isidentifier() else f"{path}[{key!r}]"


def _not_json(path: str, value: Any, hint: str) -> ConfigurationError:
    shown = repr(value)
    shown = shown if len(shown) <= 80 else shown[:77] + "..."
    kind = type(value).__name__
    return ConfigurationError(f"AgentState.{path} is not JSON-serialisable ({kind}: {shown}); {hint}")
