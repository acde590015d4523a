"""Control requests as JSON lines on stdout, answers as JSON lines on stdin: for MCP-style hosts driving a run.

Out: one ``{"type": "request", ...}`` line per request and a ``{"type": "resolved", ...}`` line once it is answered
(by the host, a timeout or a cancellation), so the host can dismiss what it showed. In: one
``{"request_id": "...", "data": {...}}`` line per answer. A bad line is reported and skipped; it never ends the run.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import sys
import threading
from collections.abc import Iterator
from dataclasses import asdict
from typing import TextIO

from .messages import ControlRequest, ControlResponse
from .transport import Transport

__all__ = ["StdioTransport"]


class StdioTransport(Transport):
    """Writes requests to ``writer`` and reads responses from ``reader`` in a daemon thread (started lazily).

    Bad input lines are appended to ``errors`` and written to ``error_stream`` (stderr by default; None to silence).
    """

    def __init__(
        self, reader: TextIO | None = None, writer: TextIO | None = None, *, error_stream: TextIO | None = sys.stderr
    ) -> None:
        super().__init__()
        self.reader = reader if reader is not None else sys.stdin
        self.writer = writer if writer is not None else sys.stdout
        self.error_stream = error_stream
        self.errors: list[str] = []
        self._write_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._wake: tuple[int, int] | None = None  # a self-pipe that interrupts the reader's select()

    def start(self) -> None:
        """Start reading responses (done by the first :meth:`send`)."""
        if self._thread is not None:
            return
        if _fileno(self.reader) is not None and os.name == "posix":
            self._wake = os.pipe()
        self._thread = threading.Thread(target=self._run, name="kaizen-stdio-reader", daemon=True)
        self._thread.start()

    async def send(self, request: ControlRequest) -> None:
        self.start()
        self._write(request.to_json())

    async def resolved(self, request: ControlRequest, response: ControlResponse) -> None:
        if request.kind != "progress":
            self._write(json.dumps({"type": "resolved", **asdict(response)}, default=str))

    async def close(self) -> None:
        self.stop()

    def stop(self, timeout: float = 2.0) -> None:
        """Stop the reader thread; the streams stay open (they are usually the process's own stdin/stdout).

        Without a selectable file descriptor (Windows, in-memory streams) a blocked read cannot be interrupted; the
        thread is a daemon and ends with the process or at end of input.
        """
        thread, wake, self._thread, self._wake = self._thread, self._wake, None, None
        if thread is None or wake is None:
            return
        os.write(wake[1], b"x")
        thread.join(timeout)
        if not thread.is_alive():  # else it may still select() on them
            for fd in wake:
                os.close(fd)

    # -- reading (daemon thread) --------------------------------------------------------------------------------------
    def _run(self) -> None:
        fd, wake = _fileno(self.reader), self._wake
        lines = _lines_from_fd(fd, wake[0]) if fd is not None and wake is not None else iter(self.reader.readline, "")
        try:
            for line in lines:
                self._handle(line)
        except (OSError, ValueError) as e:  # the stream was closed under us
            self._report(f"stopped reading responses: {e}")

    def _handle(self, line: str) -> None:
        line = line.strip()
        if not line:
            return
        try:
            message = json.loads(line)
            if isinstance(message, dict) and message.get("type", "response") != "response":
                raise ValueError(f"expected a response, got type {message.get('type')!r}")
            response = ControlResponse.from_dict(message)
        except ValueError as e:  # json.JSONDecodeError is a ValueError
            self._report(f"ignored a malformed response line ({e}): {line[:200]}")
            return
        try:
            self.deliver(response)
        except Exception as e:  # the reader thread must outlive any one bad answer
            self._report(f"could not deliver the response to {response.request_id!r}: {e}")

    def _report(self, message: str) -> None:
        self.errors.append(message)
        if self.error_stream is not None:
            with contextlib.suppress(OSError, ValueError):
                print(f"kaizen: {message}", file=self.error_stream, flush=True)

    def _write(self, line: str) -> None:
        with self._write_lock:
            self.writer.write(line + "\n")
            self.writer.flush()


def _fileno(stream: TextIO) -> int | None:
    try:
        return stream.fileno()
    except (OSError, ValueError, AttributeError):  # io.StringIO and friends
        return None


def _lines_from_fd(fd: int, wake: int) -> Iterator[str]:
    """Lines read straight from ``fd``, ending at EOF or when ``wake`` becomes readable (a blocked
    ``readline()`` cannot be interrupted, a ``select()`` can)."""
    buffer = b""
    while True:
        ready, _, _ = select.select([fd, wake], [], [])
        if wake in ready:
            return
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        *complete, buffer = (buffer + chunk).split(b"\n")
        for raw in complete:
            yield raw.decode("utf-8", errors="replace")
    if buffer:
        yield buffer.decode("utf-8", errors="replace")
