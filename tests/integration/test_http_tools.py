"""The http and web tools against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from kaizen_lab.exceptions import SandboxError
from kaizen_lab.tools.base import Tool
from kaizen_lab.tools.builtin import builtin_tools
from kaizen_lab.tools.sandbox import Sandbox

pytestmark = pytest.mark.network_loopback

PAGE = """<!doctype html>
<html><head><title>Test  page</title>
<style>body { color: red }</style>
<script>var secret = "do not show";</script></head>
<body>
  <h1>Hello,
     world</h1>
  <p>First &amp; <b>bold</b> paragraph.</p>
  <pre>def f():
    return 1</pre>
  <noscript>enable javascript</noscript>
  <ul>
    <li><a href="/docs/intro">Intro</a></li>
    <li><a href="guide.html#part-2">Guide</a></li>
    <li><a href="https://other.example/x?y=1">Other</a></li>
    <li><a href="/docs/intro">Intro again</a></li>
    <li><a href="#top">Top</a></li>
    <li><a href="mailto:me@example.com">Mail</a></li>
    <li><a href="javascript:void(0)">JS</a></li>
    <li><a>No href</a></li>
    <li><a href="http://[broken">Broken</a></li>
  </ul>
</body></html>"""


@dataclass
class Server:
    base: str
    requests: list[dict[str, Any]] = field(default_factory=list)


# path -> (status, body, content type, extra headers)
STATIC: dict[str, tuple[int, bytes, str, dict[str, str]]] = {
    "/big": (200, b"x" * 10_000, "text/plain", {}),
    "/page": (200, PAGE.encode(), "text/html; charset=utf-8", {}),
    "/text": (200, b"plain   text\nkept  as is", "text/plain; charset=utf-8", {}),
    "/binary": (200, b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "image/png", {}),
    "/redirect": (302, b"", "text/plain", {"Location": "/echo"}),
    "/redirect-out": (302, b"", "text/plain", {"Location": "http://evil.example/"}),
    "/redirect-file": (302, b"", "text/plain", {"Location": "file:///etc/passwd"}),
}


def _handler(server: Server) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
            pass

        def _reply(self, status: int, body: bytes, content_type: str, headers: dict[str, str]) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the client gave up (timeout test)
                self.wfile.write(body)

        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode() if length else ""
            seen = {"method": self.command, "path": self.path, "body": body, "headers": dict(self.headers)}
            server.requests.append(seen)
            path = self.path.split("?")[0]
            if path == "/echo":
                self._reply(200, json.dumps(seen).encode(), "application/json", {})
            elif path.startswith("/status/"):
                code = int(path.rsplit("/", 1)[1])
                self._reply(code, f"status {code} body".encode(), "text/plain", {})
            elif path == "/redirect-to":  # ?to=<absolute url>
                from urllib.parse import parse_qs, urlsplit

                target = parse_qs(urlsplit(self.path).query)["to"][0]
                self._reply(302, b"", "text/plain", {"Location": target})
            elif path == "/slow":
                time.sleep(2)
                self._reply(200, b"late", "text/plain", {})
            else:
                self._reply(*STATIC.get(path, (404, b"not found", "text/plain", {})))

        do_GET = do_POST = do_PUT = do_DELETE = _handle

    return Handler


@pytest.fixture
def server() -> Iterator[Server]:
    state = Server(base="")
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    state.base = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


@pytest.fixture
def sandbox(tmp_path: Path) -> Sandbox:
    return Sandbox(root=tmp_path, allowed_hosts=frozenset({"127.0.0.1"}), http_timeout=5, max_response_bytes=5_000)


@pytest.fixture
def tools(sandbox: Sandbox) -> dict[str, Tool]:
    return {t.name: t for t in builtin_tools(sandbox)}


async def call(tools: dict[str, Tool], name: str, **params: Any) -> Any:
    return await tools[name].acall(params)


async def test_get_round_trip_with_headers(tools: dict[str, Tool], server: Server) -> None:
    result = await call(tools, "http_get", url=f"{server.base}/echo?q=1", headers={"X-Test": "yes"})
    assert result["status"] == 200
    assert result["headers"]["content-type"] == "application/json"
    echoed = json.loads(result["body"])
    assert echoed["method"] == "GET" and echoed["path"] == "/echo?q=1" and echoed["body"] == ""
    assert echoed["headers"]["X-Test"] == "yes" and "kaizen-lab" in echoed["headers"]["User-Agent"]


async def test_post_sends_a_dict_as_json(tools: dict[str, Tool], server: Server) -> None:
    result = await call(tools, "http_post", url=f"{server.base}/echo", body={"name": "Ada", "n": [1, 2]})
    echoed = json.loads(result["body"])
    assert echoed["method"] == "POST" and json.loads(echoed["body"]) == {"name": "Ada", "n": [1, 2]}
    assert echoed["headers"]["Content-Type"] == "application/json"


async def test_post_sends_a_string_as_text_unless_told_otherwise(tools: dict[str, Tool], server: Server) -> None:
    echoed = json.loads((await call(tools, "http_post", url=f"{server.base}/echo", body="héllo"))["body"])
    assert echoed["body"] == "héllo" and echoed["headers"]["Content-Type"] == "text/plain; charset=utf-8"
    result = await call(
        tools, "http_post", url=f"{server.base}/echo", body="<a/>", headers={"content-type": "application/xml"}
    )
    assert json.loads(result["body"])["headers"]["Content-Type"] == "application/xml"


async def test_put_and_delete(tools: dict[str, Tool], server: Server) -> None:
    put = json.loads((await call(tools, "http_put", url=f"{server.base}/echo", body={"v": 2}))["body"])
    assert put["method"] == "PUT" and json.loads(put["body"]) == {"v": 2}
    deleted = json.loads((await call(tools, "http_delete", url=f"{server.base}/echo"))["body"])
    assert deleted["method"] == "DELETE" and deleted["body"] == ""


@pytest.mark.parametrize("status", [404, 500])
async def test_error_statuses_are_results_not_exceptions(tools: dict[str, Tool], server: Server, status: int) -> None:
    result = await call(tools, "http_get", url=f"{server.base}/status/{status}")
    assert result == {
        "status": status,
        "headers": {"content-type": "text/plain", "content-length": str(len(f"status {status} body"))},
        "body": f"status {status} body",
    }


async def test_large_responses_are_cut_and_say_so(tools: dict[str, Tool], server: Server) -> None:
    body = (await call(tools, "http_get", url=f"{server.base}/big"))["body"]
    assert body.startswith("x" * 5_000) and "x" * 5_001 not in body
    assert "response cut at 5000 bytes" in body


async def test_binary_bodies_are_described_not_dumped(tools: dict[str, Tool], server: Server) -> None:
    body = (await call(tools, "http_get", url=f"{server.base}/binary"))["body"]
    assert body == "<16 bytes of binary image/png not shown>"


async def test_a_slow_server_times_out_with_a_clear_error(
    tools: dict[str, Tool], sandbox: Sandbox, server: Server
) -> None:
    sandbox.http_timeout = 0.3
    started = time.monotonic()
    with pytest.raises(TimeoutError, match=r"got no complete answer within 0.3 s.*http_timeout"):
        await call(tools, "http_get", url=f"{server.base}/slow")
    assert time.monotonic() - started < 1.5


async def test_a_closed_port_is_a_clear_connection_error(tools: dict[str, Tool]) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(ConnectionError, match=r"GET http://127.0.0.1:\d+/ failed: .*refused.*reachable"):
        await call(tools, "http_get", url=f"http://127.0.0.1:{port}/")


async def test_hosts_outside_the_allowlist_are_refused_before_any_request(
    tools: dict[str, Tool], server: Server
) -> None:
    port = server.base.rsplit(":", 1)[1]
    for name in ("http_get", "http_delete", "fetch_url", "extract_links"):
        with pytest.raises(SandboxError, match="'localhost' is not allowed") as info:
            await call(tools, name, url=f"http://localhost:{port}/echo")
        assert info.value.tool == name
    with pytest.raises(SandboxError, match="only http:// and https://"):
        await call(tools, "http_get", url="file:///etc/passwd")
    assert server.requests == []


async def test_redirects_are_followed_only_to_allowed_urls(tools: dict[str, Tool], server: Server) -> None:
    assert json.loads((await call(tools, "http_get", url=f"{server.base}/redirect"))["body"])["path"] == "/echo"
    with pytest.raises(SandboxError, match=r"'evil\.example' is not allowed"):
        await call(tools, "http_get", url=f"{server.base}/redirect-out")
    with pytest.raises(SandboxError, match="only http:// and https://"):
        await call(tools, "fetch_url", url=f"{server.base}/redirect-file")


async def test_fetch_url_returns_the_readable_text_of_a_page(tools: dict[str, Tool], server: Server) -> None:
    text = await call(tools, "fetch_url", url=f"{server.base}/page")
    lines = text.splitlines()
    assert lines[:5] == ["Test page", "Hello, world", "First & bold paragraph.", "def f():", "return 1"]
    assert "Intro" in lines and "No href" in lines
    for hidden in ("secret", "color: red", "enable javascript", "<", "href="):
        assert hidden not in text


async def test_fetch_url_keeps_plain_text_and_marks_error_pages(tools: dict[str, Tool], server: Server) -> None:
    assert await call(tools, "fetch_url", url=f"{server.base}/text") == "plain   text\nkept  as is"
    missing = await call(tools, "fetch_url", url=f"{server.base}/nowhere")
    assert missing.startswith("[HTTP 404") and missing.endswith("not found")
    with pytest.raises(ValueError, match="image/png, not text"):
        await call(tools, "fetch_url", url=f"{server.base}/binary")


async def test_extract_links_returns_absolute_links_in_page_order(tools: dict[str, Tool], server: Server) -> None:
    links = await call(tools, "extract_links", url=f"{server.base}/page")
    assert links == [
        f"{server.base}/docs/intro",
        f"{server.base}/guide.html",
        "https://other.example/x?y=1",
        f"{server.base}/page",
    ]


async def test_credentials_are_not_forwarded_to_another_host_on_redirect(tmp_path: Path, server: Server) -> None:
    sandbox = Sandbox(root=tmp_path, allowed_hosts=frozenset({"127.0.0.1", "localhost"}), http_timeout=5)
    get = {t.name: t for t in builtin_tools(sandbox)}["http_get"]
    secret = {"Authorization": "Bearer abc123", "X-Other": "kept"}
    same = await get.acall({"url": f"{server.base}/redirect", "headers": secret})
    assert json.loads(same["body"])["headers"]["Authorization"] == "Bearer abc123"  # same host: kept
    other = server.base.replace("127.0.0.1", "localhost") + "/echo"
    moved = await get.acall({"url": f"{server.base}/redirect-to?to={other}", "headers": secret})
    headers = json.loads(moved["body"])["headers"]
    assert "Authorization" not in headers and headers["X-Other"] == "kept"
