"""A real OpenAI-compatible HTTP server on 127.0.0.1 for provider-path tests.

Successful replies come from the embedded llama.cpp model (the same engine a llama.cpp server runs), or from
scripted text; faults (status codes with headers, slow replies, dropped connections) are scripted per request.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Fault:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    message: str = "injected fault"


@dataclass
class Slow:
    seconds: float


@dataclass
class Text:
    content: str


@dataclass
class ToolCalls:
    """Reply with OpenAI-style tool calls: ``[(name, arguments), ...]``."""

    calls: list[tuple[str, dict[str, Any]]]
    content: str = ""


Action = Fault | Slow | Text | ToolCalls


def llama_backend(body: dict[str, Any]) -> dict[str, Any]:
    """Answer with the embedded model through llama.cpp, honouring response_format like llama-server does."""
    from kaizen_lab.llm.local import find_model_path, load_server

    request = {k: body[k] for k in ("messages", "temperature", "max_tokens", "response_format") if k in body}
    return load_server(find_model_path()).handle_chat_completions(request)


def _text_reply(content: str, model: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 10, "completion_tokens": max(1, len(content) // 4), "total_tokens": 20},
    }


def _tool_calls_reply(action: ToolCalls, model: str) -> dict[str, Any]:
    reply = _text_reply(action.content, model)
    message = reply["choices"][0]["message"]
    message["content"] = action.content or None
    message["tool_calls"] = [
        {"id": f"call_{i}", "type": "function", "function": {"name": name, "arguments": json.dumps(args)}}
        for i, (name, args) in enumerate(action.calls)
    ]
    reply["choices"][0]["finish_reason"] = "tool_calls"
    return reply


class OpenAICompatibleServer:
    def __init__(self, backend: Callable[[dict[str, Any]], dict[str, Any]] | None = None) -> None:
        self.backend = backend
        self.script: list[Action] = []
        self.requests: list[dict[str, Any]] = []
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    def __enter__(self) -> OpenAICompatibleServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                server.requests.append(body)
                action = server.script.pop(0) if server.script else None
                if isinstance(action, Slow):
                    time.sleep(action.seconds)
                    action = None
                if isinstance(action, Fault):
                    error = {"error": {"message": action.message, "type": "test", "code": action.status}}
                    return self._send(action.status, error, action.headers)
                if isinstance(action, ToolCalls):
                    return self._send(200, _tool_calls_reply(action, body.get("model", "")))
                if isinstance(action, Text):
                    if body.get("stream"):
                        return self._send_stream(action.content, body.get("model", ""))
                    return self._send(200, _text_reply(action.content, body.get("model", "")))
                if server.backend is None:
                    return self._send(500, {"error": {"message": "no backend and nothing scripted"}})
                return self._send(200, server.backend(body))

            def _send_stream(self, content: str, model: str) -> None:
                """Server-sent events, a few characters per chunk, usage in the last one (OpenAI's format)."""
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                base = {"id": "chatcmpl-test", "object": "chat.completion.chunk", "created": 0, "model": model}
                pieces = [content[i : i + 4] for i in range(0, len(content), 4)]
                for piece in pieces:
                    delta = {"choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}]}
                    self.wfile.write(f"data: {json.dumps({**base, **delta})}\n\n".encode())
                usage = {"prompt_tokens": 10, "completion_tokens": len(pieces), "total_tokens": 10 + len(pieces)}
                end = {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}], "usage": usage}
                self.wfile.write(f"data: {json.dumps({**base, **end})}\n\ndata: [DONE]\n\n".encode())

            def _send(self, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None) -> None:
                data = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    for k, v in (headers or {}).items():
                        self.send_header(k, v)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout test): nothing to send to

        return Handler
