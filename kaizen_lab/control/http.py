"""Control requests over local HTTP: a browser page, an IDE or another process watches and answers them.

``GET /events`` streams Server-Sent Events: ``request`` (pending requests first, then each new one), ``progress``
and ``resolved`` (answered by anyone, timed out or cancelled). ``GET /pending`` lists what still waits for an answer.
``POST /respond`` with ``{"request_id": "...", "data": {"approved": true}}`` answers one.

The server binds to 127.0.0.1 unless told otherwise and rejects requests whose ``Host`` is not a loopback name
(DNS rebinding) and POSTs that are not ``application/json`` (a web page cannot send those cross-origin without a
preflight this server never grants). With ``token`` set, every request needs ``Authorization: Bearer <token>`` or
``?token=<token>`` (``EventSource`` cannot set headers). The token never appears in logs or reprs.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import logging
import queue
import socket
import threading
from dataclasses import asdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .messages import ControlRequest, ControlResponse
from .transport import Transport

__all__ = ["HTTPTransport"]

logger = logging.getLogger(__name__)

MAX_BODY = 1 << 20  # an answer is a few hundred bytes; refuse to buffer anything large
_Event = tuple[str, str] | None  # (event name, JSON data); None ends a stream


class HTTPTransport(Transport):
    """Serves control requests on ``http://host:port`` from a daemon thread (started by :meth:`start` or on first
    use; ``port=0`` picks a free port, see :attr:`url`)."""

    def __init__(
        self, host: str = "127.0.0.1", port: int = 0, token: str | None = None, *, keepalive: float = 15.0
    ) -> None:
        super().__init__()
        self.host = host
        self.port = port
        self.token = token or None
        self.keepalive = keepalive
        self._lock = threading.Lock()
        self._pending: dict[str, ControlRequest] = {}
        self._streams: set[queue.SimpleQueue[_Event]] = set()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ----------------------------------------------------------------------------------------------------
    def start(self) -> str:
        """Bind and serve (idempotent); returns :attr:`url`."""
        with self._lock:
            if self._server is None:
                if not _is_loopback(self.host) and self.token is None:
                    logger.warning(
                        "Control server on non-loopback host %s without a token: anyone who can reach "
                        "it can approve tool calls.",
                        self.host,
                    )
                server_cls = _Server6 if ":" in self.host else _Server
                self._server = server_cls((self.host, self.port), _Handler, self)
                self.port = self._server.server_address[1]
                self._thread = threading.Thread(
                    target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="kaizen-http", daemon=True
                )
                self._thread.start()
        return self.url

    @property
    def url(self) -> str:
        """The server's base URL (starts the server, so that ``port=0`` resolves to the real port)."""
        if self._server is None:
            self.start()
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    async def close(self) -> None:
        self.stop()

    def stop(self) -> None:
        """Shut the server down and end every event stream."""
        with self._lock:
            server, thread, self._server, self._thread = self._server, self._thread, None, None
            streams, self._streams = self._streams, set()
        for stream in streams:
            stream.put(None)
        if server is not None:
            server.shutdown()
            server.server_close()
        if thread is not None:
            thread.join(timeout=5)

    # -- the Transport side -------------------------------------------------------------------------------------------
    async def send(self, request: ControlRequest) -> None:
        self.start()
        with self._lock:
            if request.kind != "progress":
                self._pending[request.id] = request
            self._broadcast("progress" if request.kind == "progress" else "request", request.to_json())

    async def resolved(self, request: ControlRequest, response: ControlResponse) -> None:
        with self._lock:
            self._pending.pop(request.id, None)
            self._broadcast("resolved", response.to_json())

    @property
    def pending(self) -> list[ControlRequest]:
        with self._lock:
            return list(self._pending.values())

    def _broadcast(self, event: str, data: str) -> None:
        """Queue an event for every stream. Called with the lock held, so that a stream subscribing at the same
        moment sees a request either in its backlog or as an event, never both or neither."""
        for stream in self._streams:
            stream.put((event, data))

    # -- the HTTP side (server threads) -------------------------------------------------------------------------------
    def _subscribe(self) -> tuple[queue.SimpleQueue[_Event], list[ControlRequest]] | None:
        """A new event stream and the requests it must be shown first (atomically: none missed, none twice)."""
        with self._lock:
            if self._server is None:
                return None
            stream: queue.SimpleQueue[_Event] = queue.SimpleQueue()
            self._streams.add(stream)
            return stream, list(self._pending.values())

    def _unsubscribe(self, stream: queue.SimpleQueue[_Event]) -> None:
        with self._lock:
            self._streams.discard(stream)

    def _answer(self, response: ControlResponse) -> tuple[int, dict[str, Any]]:
        """Validate and deliver one answer; the HTTP status and JSON body to reply with."""
        with self._lock:
            request = self._pending.get(response.request_id)
            if request is None:
                return 404, {"error": f"no pending request {response.request_id!r} (unknown or already answered)"}
            problem = _invalid(request, response.data)
            if problem:
                return 400, {"error": problem}
            del self._pending[request.id]  # a second answer gets 404, not a silent no-op
        self.deliver(response)
        return 200, {"ok": True, "request_id": request.id}

    def __repr__(self) -> str:
        where = self.url if self._server is not None else "not started"
        return f"HTTPTransport({where}, token={'set' if self.token else 'none'})"


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], transport: HTTPTransport):
        self.transport = transport
        super().__init__(address, handler)


class _Server6(_Server):
    address_family = socket.AF_INET6


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    server_version = "KaizenControl/1"
    timeout = 30  # a client that stops sending mid-body must not hold a thread forever

    def do_GET(self) -> None:
        route = urlsplit(self.path).path
        if not self._allowed():
            return
        if route == "/events":
            self._events()
        elif route == "/pending":
            self._json(200, [asdict(r) for r in self.server.transport.pending])
        else:
            self._json(404, {"error": f"no such endpoint {route!r}; use GET /events, GET /pending, POST /respond"})

    def do_POST(self) -> None:
        route = urlsplit(self.path).path
        if not self._allowed():
            return
        if route != "/respond":
            self._json(404, {"error": f"no such endpoint {route!r}; answers go to POST /respond"})
            return
        if self.headers.get_content_type() != "application/json":
            self._json(415, {"error": "send the answer as Content-Type: application/json"})
            return
        try:
            length = int(self.headers.get("Content-Length", ""))
        except ValueError:
            self._json(400, {"error": "a Content-Length header is required"})
            return
        if not 0 <= length <= MAX_BODY:
            self._json(413, {"error": f"the body must be at most {MAX_BODY} bytes"})
            return
        try:
            response = ControlResponse.from_dict(json.loads(self.rfile.read(length)))
            # A client answers as a person ("user" or "user:<its name>"); it cannot claim to be a policy or a timeout
            # in the audit trail.
            if not response.decided_by.startswith("user:"):
                response.decided_by = "user"
        except ValueError as e:  # invalid JSON, or not a response object
            self._json(400, {"error": f"malformed answer: {e}"})
            return
        self._json(*self.server.transport._answer(response))

    # -- helpers ------------------------------------------------------------------------------------------------------
    def _allowed(self) -> bool:
        """Host and token checks; replies with the error itself when the request is refused."""
        transport = self.server.transport
        host = self.headers.get("Host")
        if host and _is_loopback(transport.host) and not _is_loopback(_hostname(host)):
            self._json(403, {"error": "this server only answers requests addressed to a loopback host"})
            return False
        if transport.token is None:
            return True
        auth = self.headers.get("Authorization", "")
        given = [auth[len("Bearer ") :]] if auth.startswith("Bearer ") else []
        given += parse_qs(urlsplit(self.path).query).get("token", [])
        if any(hmac.compare_digest(g.encode(), transport.token.encode()) for g in given):
            return True
        self._json(
            401,
            {"error": "missing or wrong token (Authorization: Bearer <token> or ?token=<token>)"},
            {"WWW-Authenticate": "Bearer"},
        )
        return False

    def _events(self) -> None:
        subscription = self.server.transport._subscribe()
        if subscription is None:
            self._json(503, {"error": "the control server is shutting down"})
            return
        stream, backlog = subscription
        try:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            for request in backlog:
                self._event("request", request.to_json())
            while True:
                try:
                    item = stream.get(timeout=self.server.transport.keepalive)
                except queue.Empty:
                    self.wfile.write(b": keepalive\n\n")  # also finds out when the client has gone
                    continue
                if item is None:
                    return
                self._event(*item)
        except OSError:  # the client went away
            pass
        finally:
            self.server.transport._unsubscribe(stream)

    def _event(self, name: str, data: str) -> None:
        self.wfile.write(f"event: {name}\ndata: {data}\n\n".encode())
        self.wfile.flush()

    def _json(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        payload = json.dumps(body, default=str).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("Cache-Control", "no-store")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        message = format % args
        token = self.server.transport.token
        logger.debug("%s", message.replace(token, "***") if token else message)


def _hostname(host_header: str) -> str:
    try:
        return urlsplit(f"//{host_header}").hostname or ""
    except ValueError:  # e.g. an unclosed "[::1"
        return ""


def _is_loopback(host: str) -> bool:
    try:
        return host.lower() == "localhost" or ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _invalid(request: ControlRequest, data: dict[str, Any]) -> str | None:
    """Why ``data`` cannot answer ``request`` (None when it can): a client bug should get an error, not a denial."""
    if request.kind == "approval" and not isinstance(data.get("approved"), bool):
        return 'an approval needs "data": {"approved": true or false} (optionally "always": true)'
    answer = data.get("answer")
    if request.kind == "question" and (isinstance(answer, bool) or not isinstance(answer, (str, int))):
        return 'a question needs "data": {"answer": "<text>"} (or the index of an option)'
    return None
