"""Answer control requests at a terminal: the request is printed, the answer typed.

``input()`` blocks, so it runs in a daemon thread and the event loop keeps going (other tools, timeouts). A daemon
thread rather than ``asyncio.to_thread``: a read left waiting after a timeout must not hold up interpreter exit,
which ``asyncio.run`` would do while it joins the default executor.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import threading
from collections.abc import Callable
from typing import Any, TextIO

from .messages import ControlRequest, ControlResponse
from .transport import Transport

__all__ = ["CLITransport"]

_YES, _NO, _ALWAYS = {"y", "yes"}, {"n", "no"}, {"a", "always"}


class CLITransport(Transport):
    """Prints each request to ``output`` and reads the answer with ``input_fn`` (both injectable for tests).

    Requests are answered one at a time, in order. Invalid input is re-prompted ``attempts`` times, then the
    approval is denied (or the question gets its default); end of input denies at once.
    """

    def __init__(
        self, input_fn: Callable[[str], str] = input, output: TextIO | None = None, *, attempts: int = 3
    ) -> None:
        super().__init__()
        self.input_fn = input_fn
        self.output = output if output is not None else sys.stdout
        self.attempts = attempts
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._turn: asyncio.Lock | None = None  # one prompt at a time: two readers would race for the same line
        self._line: asyncio.Future[str | None] | None = None  # a read still waiting for a line

    async def send(self, request: ControlRequest) -> None:
        if request.kind == "progress":
            pct = request.payload.get("percentage")
            self._print(
                f"[progress] {request.payload.get('message', '')}" + (f" ({pct:.0f}%)" if pct is not None else "")
            )
            return
        task = asyncio.create_task(self._prompt(request), name=f"kaizen-cli-{request.id}")
        self._tasks[request.id] = task
        task.add_done_callback(lambda _: self._tasks.pop(request.id, None))

    async def resolved(self, request: ControlRequest, response: ControlResponse) -> None:
        task = self._tasks.pop(request.id, None)
        if task is not None and not task.done():  # answered elsewhere, timed out or cancelled: stop asking
            task.cancel()
            self._print(f"[{response.decided_by}] {response.reason or 'answered elsewhere'}")

    async def close(self) -> None:
        for task in list(self._tasks.values()):
            task.cancel()
        self._tasks.clear()

    # -- prompting --------------------------------------------------------------------------------------------------
    async def _prompt(self, request: ControlRequest) -> None:
        loop = asyncio.get_running_loop()
        if self._loop is not loop:  # a new event loop (another asyncio.run): its own lock, no stale read
            self._loop, self._turn, self._line = loop, asyncio.Lock(), None
        assert self._turn is not None
        async with self._turn:
            self._print(_describe(request))
            parse = _parse_approval if request.kind == "approval" else _parse_answer
            prompt = "Approve? [y]es / [n]o / [a]lways: " if request.kind == "approval" else "Answer: "
            for _ in range(self.attempts):
                try:
                    line = await self._readline(prompt)
                except Exception as e:  # a broken terminal is a non-answer, not a crash
                    self._fallback(request, f"cannot read the answer ({type(e).__name__}: {e})")
                    return
                if line is None:
                    self._fallback(request, "end of input (stdin closed) before an answer")
                    return
                data = parse(line.strip(), request.payload)
                if data is not None:
                    self.deliver(ControlResponse(request.id, data, decided_by="user"))
                    return
                self._print(f"Not understood: {line.strip()!r}.")
            self._fallback(request, f"no valid answer in {self.attempts} attempts")

    def _fallback(self, request: ControlRequest, why: str) -> None:
        if request.kind == "approval":
            data: dict[str, Any] = {"approved": False}
            reason = f"{why}; denied"
        else:
            default = request.payload.get("default")
            data = {"answer": "" if default is None else str(default)}
            reason = f"{why}; used the default {data['answer']!r}"
        self._print(reason)
        self.deliver(ControlResponse(request.id, data, decided_by="cli", reason=reason))

    async def _readline(self, prompt: str) -> str | None:
        """The next line, or None at end of input.

        A read still waiting after its request timed out is reused (not doubled), but a line typed while no prompt
        was showing is dropped: a late "y" meant for another action must not approve this one.
        """
        if self._line is None or self._line.done():
            self._line = _in_thread(self.input_fn, prompt)
        else:
            self._print(prompt.rstrip())  # the waiting read already showed its prompt; show ours too
        line = await asyncio.shield(self._line)  # a cancelled request leaves the read for the next one
        self._line = None
        return line

    def _print(self, text: str) -> None:
        print(text, file=self.output, flush=True)


def _in_thread(input_fn: Callable[[str], str], prompt: str) -> asyncio.Future[str | None]:
    loop = asyncio.get_running_loop()
    future: asyncio.Future[str | None] = loop.create_future()

    def read() -> None:
        try:
            line: str | None = input_fn(prompt)
            error: Exception | None = None
        except EOFError:
            line, error = None, None
        except Exception as e:  # handed to the awaiting coroutine
            line, error = None, e
        with contextlib.suppress(RuntimeError):  # the loop closed while we waited for a line
            loop.call_soon_threadsafe(_settle, future, line, error)

    future.add_done_callback(lambda f: f.cancelled() or f.exception())  # an unread failure is not worth a warning
    threading.Thread(target=read, name="kaizen-cli-input", daemon=True).start()
    return future


def _settle(future: asyncio.Future[str | None], line: str | None, error: Exception | None) -> None:
    if future.done():
        return
    if error is None:
        future.set_result(line)
    else:
        future.set_exception(error)


def _describe(request: ControlRequest) -> str:
    p = request.payload
    if request.kind == "approval":
        lines = [f"── Approval needed: {p.get('action', '?')} (danger: {p.get('danger', 'unknown')})"]
        if p.get("reason"):
            lines.append(f"   why: {p['reason']}")
        lines.append(json.dumps(p.get("details", {}), indent=2, default=str, ensure_ascii=False))
        if p.get("preview"):
            lines.append(str(p["preview"]))
        return "\n".join(lines)
    lines = [f"── Question: {p.get('question', '')}"]
    lines += [f"  {i}. {option}" for i, option in enumerate(p.get("options") or [], start=1)]
    if p.get("default") is not None:
        lines.append(f"  (press Enter for {p['default']!r})")
    return "\n".join(lines)


def _parse_approval(text: str, payload: dict[str, Any]) -> dict[str, Any] | None:
    word = text.lower()
    if word in _YES | _ALWAYS:
        return {"approved": True, "always": word in _ALWAYS}
    return {"approved": False} if word in _NO else None


def _parse_answer(text: str, payload: dict[str, Any]) -> dict[str, Any] | None:
    options = [str(o) for o in payload.get("options") or []]
    if not text:
        default = payload.get("default")
        return None if default is None else {"answer": str(default)}
    if text.isdigit() and options:  # options are numbered from 1 on screen
        index = int(text) - 1
        return {"answer": options[index]} if 0 <= index < len(options) else None
    matches = [o for o in options if o.lower() == text.lower()]
    return {"answer": matches[0] if matches else text}
