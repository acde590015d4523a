"""How control requests reach a person (or a policy) and answers come back.

A transport only moves messages. It is given a ``deliver`` callback by the protocol and calls it — from any thread —
with each :class:`ControlResponse` it receives; the protocol matches it to the waiting request.
"""

from __future__ import annotations

import abc
import threading
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

from .messages import ControlRequest, ControlResponse

__all__ = ["Deliver", "MemoryTransport", "Transport", "run_view"]

Deliver = Callable[[ControlResponse], None]

#: Where the UI of the current run goes (a widget container set by a notebook LiveRun); None elsewhere.
run_view: ContextVar[Any] = ContextVar("kaizen_run_view", default=None)


class Transport(abc.ABC):
    """Subclass and implement :meth:`send`; call ``self.deliver(response)`` when an answer arrives."""

    #: True if a person answers (so a run may have to wait); False for policies that answer at once.
    interactive: bool = True

    def __init__(self) -> None:
        self._delivers: list[Deliver] = []
        self._attach_lock = threading.Lock()

    def attach(self, deliver: Deliver) -> None:
        """Several protocols may share one transport (two agents, one HTTP endpoint): each answer goes to all of
        them, and only the one waiting for that request id takes it."""
        with self._attach_lock:
            self._delivers = [*self._delivers, deliver]

    def deliver(self, response: ControlResponse) -> None:
        if not self._delivers:
            raise RuntimeError("This transport is not attached to a ControlProtocol yet.")
        for deliver in self._delivers:
            deliver(response)

    @abc.abstractmethod
    async def send(self, request: ControlRequest) -> None:
        """Show or forward the request; return without waiting for the answer."""

    async def resolved(self, request: ControlRequest, response: ControlResponse) -> None:  # noqa: B027
        """Called once a request is answered (by anyone, including a timeout): update any UI that showed it."""

    async def close(self) -> None:  # noqa: B027
        """Release sockets, threads or widgets."""


class MemoryTransport(Transport):
    """In-process transport for tests and scripts: requests collect in ``sent``; answer with :meth:`respond`.

    ``responder(request)`` may return the answer data at once (or None to leave the request waiting).
    """

    def __init__(self, responder: Callable[[ControlRequest], dict | None] | None = None) -> None:
        super().__init__()
        self.sent: list[ControlRequest] = []
        self.responses: list[ControlResponse] = []
        self.responder = responder
        self.interactive = responder is None  # a responder answers at once: nothing ever waits for a person

    async def send(self, request: ControlRequest) -> None:
        self.sent.append(request)
        if self.responder is not None and request.kind != "progress":
            data = self.responder(request)
            if data is not None:
                self.respond(request.id, data)

    def respond(self, request_id: str, data: dict, *, decided_by: str = "user") -> None:
        self.deliver(ControlResponse(request_id, data, decided_by=decided_by))

    async def resolved(self, request: ControlRequest, response: ControlResponse) -> None:
        self.responses.append(response)

    @property
    def pending(self) -> list[ControlRequest]:
        answered = {r.request_id for r in self.responses}
        return [r for r in self.sent if r.kind != "progress" and r.id not in answered]
