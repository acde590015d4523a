"""The control protocol's wire format: requests from the agent, responses from whoever answers (JSON-safe)."""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

__all__ = ["ControlRequest", "ControlResponse", "RequestKind"]

RequestKind = Literal["question", "approval", "progress"]


@dataclass
class ControlRequest:
    """Sent by the agent. ``payload`` holds the question/options, the action/details/danger, or the progress."""

    kind: RequestKind
    payload: dict[str, Any]
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    timeout: float | None = None  # seconds; None for progress (nothing waits for an answer)
    created: float = field(default_factory=time.time)

    def to_json(self) -> str:
        return json.dumps({"type": "request", **asdict(self)}, default=str)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ControlRequest:
        return cls(
            kind=d["kind"],
            payload=d.get("payload", {}),
            id=d["id"],
            timeout=d.get("timeout"),
            created=d.get("created", time.time()),
        )


@dataclass
class ControlResponse:
    """An answer to one request.

    ``data`` is ``{"approved": bool, "always": bool}`` for approvals and ``{"answer": str}`` for questions;
    ``decided_by`` says who answered ("user", "policy:<name>", "timeout") — it is shown and recorded.
    """

    request_id: str
    data: dict[str, Any]
    decided_by: str = "user"
    reason: str = ""
    created: float = field(default_factory=time.time)

    def to_json(self) -> str:
        return json.dumps({"type": "response", **asdict(self)}, default=str)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ControlResponse:
        if not isinstance(d, dict) or "request_id" not in d or not isinstance(d.get("data", {}), dict):
            raise ValueError(
                'a response needs "request_id" and a "data" object, e.g. '
                '{"request_id": "…", "data": {"approved": true}}'
            )
        return cls(
            request_id=str(d["request_id"]),
            data=d.get("data", {}),
            decided_by=str(d.get("decided_by") or "user"),
            reason=str(d.get("reason") or ""),
            created=d.get("created", time.time()),
        )
