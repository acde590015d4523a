"""The bidirectional control protocol: an agent asks (a question, an approval) and awaits the answer.

Answers may arrive from any thread — a widget's click handler on a kernel subshell thread, an HTTP server thread,
a stdin reader — so they are handed to the waiting loop with ``call_soon_threadsafe`` (a plain ``set_result``
from another thread did not wake the loop on ipykernel 7.0–7.3). Every wait has a timeout that answers with the
safe default (deny) and says so.
"""

from __future__ import annotations

import contextlib
import enum
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .messages import ControlRequest, ControlResponse, RequestKind
from .transport import Transport

if TYPE_CHECKING:
    import asyncio

__all__ = ["Answer", "Approval", "ControlProtocol"]


@dataclass(frozen=True)
class Approval:
    approved: bool
    always: bool = False  # "always allow this tool for this session"
    decided_by: str = "user"
    reason: str = ""
    timed_out: bool = False
    request_id: str = ""


@dataclass(frozen=True)
class Answer:
    answer: str
    decided_by: str = "user"
    reason: str = ""
    timed_out: bool = False
    request_id: str = ""


class ControlProtocol:
    """Send requests through ``transport`` and await their answers (``timeout`` seconds by default)."""

    def __init__(self, transport: Transport, *, timeout: float | None = 300.0) -> None:
        self.transport = transport
        self.timeout = timeout
        self.log: list[tuple[ControlRequest, ControlResponse | None]] = []
        self._pending: dict[str, asyncio.Future[ControlResponse]] = {}
        self._lock = threading.Lock()
        transport.attach(self.deliver)

    @property
    def interactive(self) -> bool:
        return self.transport.interactive

    # -- answers (any thread) -------------------------------------------------------------------------------------
    def deliver(self, response: ControlResponse) -> None:
        """Hand an answer to the request waiting for it; late or unknown answers are ignored."""
        with self._lock:
            future = self._pending.get(response.request_id)
        if future is None:
            return
        with contextlib.suppress(RuntimeError):  # a closed loop: nobody is waiting any more
            future.get_loop().call_soon_threadsafe(_settle, future, response)

    # -- requests -------------------------------------------------------------------------------------------------
    async def request_approval(
        self, action: str, details: dict[str, Any] | None = None, *, timeout: float | None = None, **extra: Any
    ) -> Approval:
        """Ask whether ``action`` may run. ``extra`` (danger, reason, preview, ...) is shown with it."""
        if isinstance(extra.get("danger"), enum.Enum):  # the wire format names levels ("MEDIUM"), not numbers
            extra["danger"] = extra["danger"].name
        payload = {"action": action, "details": details or {}, **extra}
        response = await self._ask("approval", payload, timeout, {"approved": False}, "denied by default")
        data = response.data
        approved = data.get("approved")
        if not isinstance(approved, bool):
            approved, reason = False, f"malformed answer {data!r} (expected approved: true/false); denied"
        else:
            reason = response.reason
        return Approval(
            approved=approved,
            always=approved and bool(data.get("always")),
            decided_by=response.decided_by,
            reason=reason,
            timed_out=response.decided_by == "timeout",
            request_id=response.request_id,
        )

    async def ask_user_question(
        self,
        question: str,
        options: list[str] | None = None,
        *,
        default: str | None = None,
        timeout: float | None = None,
    ) -> Answer:
        """Ask a question (free text, or one of ``options``); on timeout the ``default`` (or "") is used."""
        fallback = default if default is not None else ""
        payload = {"question": question, "options": list(options or []), "default": default}
        response = await self._ask("question", payload, timeout, {"answer": fallback}, f"used default {fallback!r}")
        answer, reason = response.data.get("answer", fallback), response.reason
        if isinstance(answer, bool) or not isinstance(answer, (str, int, float)):
            answer, reason = fallback, f"malformed answer {response.data!r} (expected answer: text); used {fallback!r}"
        elif isinstance(answer, int) and options and 0 <= answer < len(options):
            answer = options[answer]  # an option's index
        return Answer(
            answer=str(answer),
            decided_by=response.decided_by,
            reason=reason,
            timed_out=response.decided_by == "timeout",
            request_id=response.request_id,
        )

    async def report_progress(self, message: str, percentage: float | None = None, **extra: Any) -> None:
        """Tell the user how far along the run is; nothing waits for an answer."""
        pct = None if percentage is None else max(0.0, min(100.0, float(percentage)))
        request = ControlRequest("progress", {"message": message, "percentage": pct, **extra})
        self.log.append((request, None))
        await self.transport.send(request)

    async def _ask(
        self, kind: RequestKind, payload: dict[str, Any], timeout: float | None, default: dict[str, Any], why: str
    ) -> ControlResponse:
        wait = self.timeout if timeout is None else timeout
        request = ControlRequest(kind, payload, timeout=wait)
        import asyncio  # here, not at import: `import kaizen_lab` stays light

        future: asyncio.Future[ControlResponse] = asyncio.get_running_loop().create_future()
        with self._lock:
            self._pending[request.id] = future
        try:
            await self.transport.send(request)
            try:
                response = await asyncio.wait_for(asyncio.shield(future), wait)
            except asyncio.TimeoutError:
                response = ControlResponse(
                    request.id, default, decided_by="timeout", reason=f"timed out: no answer within {wait:g} s; {why}"
                )
        except asyncio.CancelledError:
            cancelled = ControlResponse(request.id, default, decided_by="cancelled", reason="the run was stopped")
            await _quietly(self.transport.resolved(request, cancelled))
            self.log.append((request, cancelled))
            raise
        finally:
            with self._lock:
                self._pending.pop(request.id, None)
            future.cancel()  # a late answer finds nothing to settle
        self.log.append((request, response))
        await self.transport.resolved(request, response)
        return response

    async def close(self) -> None:
        await self.transport.close()

    def __repr__(self) -> str:
        wait = "none" if self.timeout is None else f"{self.timeout:g}s"
        return f"ControlProtocol({type(self.transport).__name__}, timeout={wait})"


def _settle(future: asyncio.Future[ControlResponse], response: ControlResponse) -> None:
    if not future.done():
        future.set_result(response)


async def _quietly(coro: Any) -> None:
    with contextlib.suppress(Exception):  # a UI that failed to update must not mask the cancellation
        await coro
