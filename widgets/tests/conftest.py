"""Widget tests run without a browser or kernel: drive the Python side, and record what would go to the frontend."""

from __future__ import annotations

import os
import tempfile
from typing import Any

# As in the engine's tests: no model call may leave the machine, and the response cache is private.
os.environ["KAIZEN_ALLOW_MODEL_REQUESTS"] = "0"
os.environ.setdefault("KAIZEN_CACHE_DIR", tempfile.mkdtemp(prefix="kaizen-cache-"))

import comm
import pytest


class RecordingComm(comm.DummyComm):
    """A comm that keeps every message a widget publishes (``comm_open``, ``comm_msg`` updates, ``comm_close``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.messages: list[tuple[str, dict[str, Any]]] = []
        super().__init__(*args, **kwargs)

    def publish_msg(self, msg_type: str, data: Any = None, metadata: Any = None, buffers: Any = None, **keys: Any):
        self.messages.append((msg_type, data or {}))

    def updates(self) -> list[dict[str, Any]]:
        """The state updates sent after the widget was opened."""
        return [d["state"] for t, d in self.messages if t == "comm_msg" and d.get("method") == "update"]


@pytest.fixture
def comms(monkeypatch: pytest.MonkeyPatch) -> dict[str, RecordingComm]:
    """Every comm created during the test, by id (= the widget's ``model_id``)."""
    created: dict[str, RecordingComm] = {}

    def create_comm(**kwargs: Any) -> RecordingComm:
        c = RecordingComm(**kwargs)
        created[c.comm_id] = c
        return c

    monkeypatch.setattr(comm, "create_comm", create_comm)
    return created
