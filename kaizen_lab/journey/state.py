"""Journey state and its persistence: one JSON file per session, replaced atomically after each message."""

from __future__ import annotations

import copy
import hashlib
import json
import os
import re
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..exceptions import ConfigurationError

__all__ = ["JourneyState", "JourneyStore", "StackFrame"]

STATE_VERSION = 1


@dataclass
class StackFrame:
    """Where the user was before a detour, and (for ``preserve_context=False``) what the context was then."""

    pathway: str
    context: dict[str, Any] | None = None


@dataclass
class JourneyState:
    session_id: str
    journey: str
    current_pathway: str
    last_pathway: str | None = None  # the pathway that handled the previous message
    stack: list[StackFrame] = field(default_factory=list)
    context: dict[str, Any] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)
    message_count: int = 0
    created_at: float = field(default_factory=time.time)
    updated_at: float = field(default_factory=time.time)

    def copy(self) -> JourneyState:
        return copy.deepcopy(self)

    def to_json(self) -> dict[str, Any]:
        return {"version": STATE_VERSION, **asdict(self)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> JourneyState:
        data = dict(data)
        data.pop("version", None)
        data["stack"] = [StackFrame(**frame) for frame in data.get("stack", [])]
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in known})


class JourneyStore:
    """``<directory>/<session>.json``; writes go to a temporary file in the same folder, then ``os.replace``."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory).expanduser()

    def path(self, session_id: str) -> Path:
        slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", session_id).strip(".-")[:64] or "session"
        digest = hashlib.sha256(session_id.encode()).hexdigest()[:8]  # distinct ids never share a file
        return self.directory / f"{slug}-{digest}.json"

    def exists(self, session_id: str) -> bool:
        return self.path(session_id).exists()

    def load(self, session_id: str) -> JourneyState | None:
        path = self.path(session_id)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        try:
            return JourneyState.from_json(json.loads(text))
        except (ValueError, TypeError) as e:
            raise ConfigurationError(
                f"The saved journey state {path} cannot be read ({e}); delete the file to start the session afresh."
            ) from e

    def save(self, state: JourneyState) -> Path:
        path = self.path(state.session_id)
        self.directory.mkdir(parents=True, exist_ok=True)
        text = json.dumps(state.to_json(), ensure_ascii=False, indent=1, default=str)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".tmp", dir=self.directory)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)  # atomic: a reader sees the old state or the new one, never half of one
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return path

    def delete(self, session_id: str) -> bool:
        try:
            self.path(session_id).unlink()
        except FileNotFoundError:
            return False
        return True
