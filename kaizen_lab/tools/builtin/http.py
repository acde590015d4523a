"""HTTP tools (GET, POST, PUT, DELETE) on the standard library, within the sandbox's host allowlist and limits.

Error statuses (4xx/5xx) are results the model should see, so they are returned, not raised; a request that gets
no answer (refused connection, timeout) raises with a message that says what to try. ``_fetch`` is the one place
that talks HTTP; the web tools use it too.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from email.message import Message
from http.client import HTTPException
from typing import Any

from ...exceptions import SandboxError
from ..base import DangerLevel, Tool
from ..sandbox import Sandbox

__all__ = ["http_tools"]

_USER_AGENT = "kaizen-lab (builtin http tool)"
_SHOWN_HEADERS = ("content-type", "content-length", "location", "retry-after")
_CHUNK = 64 * 1024


@dataclass
class _Response:
    status: int
    headers: Message
    data: bytes
    truncated: bool
    url: str

    @property
    def content_type(self) -> str:
        return self.headers.get_content_type() if self.headers.get("content-type") else ""

    def text(self) -> str:
        """The body decoded with the charset the server declared (UTF-8 if none), undecodable bytes replaced."""
        charset = self.headers.get_content_charset() or "utf-8"
        try:
            return self.data.decode(charset, errors="replace")
        except LookupError:  # a charset Python does not know
            return self.data.decode("utf-8", errors="replace")

    def is_binary(self) -> bool:
        return b"\x00" in self.data[:8192]


def _fetch(
    sandbox: Sandbox,
    method: str,
    url: str,
    *,
    body: str | dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
    tool: str = "",
) -> _Response:
    """Send one request (following redirects only to allowed URLs) and read at most ``max_response_bytes``."""
    import urllib.error
    import urllib.request

    sandbox.check_url(url, tool=tool)
    data, all_headers = _encode(body, headers)
    request = urllib.request.Request(url, data=data, headers=all_headers, method=method)
    opener = urllib.request.build_opener(_redirects_checked_by(sandbox, tool))
    try:
        with _open(opener, request, sandbox.http_timeout) as reply:
            return _read(reply, sandbox.max_response_bytes, time.monotonic() + sandbox.http_timeout)
    except SandboxError:  # a redirect to a refused URL (SandboxError is an OSError, so this comes first)
        raise
    except TimeoutError:
        raise _timeout(method, url, sandbox.http_timeout) from None
    except urllib.error.URLError as e:
        if isinstance(e.reason, TimeoutError):
            raise _timeout(method, url, sandbox.http_timeout) from None
        raise ConnectionError(
            f"{method} {url} failed: {e.reason}. Check the URL and that the server is running and reachable."
        ) from None
    except (OSError, HTTPException) as e:
        raise ConnectionError(
            f"{method} {url} failed: {type(e).__name__}: {e}. The connection broke; try again later."
        ) from None


def _open(opener: Any, request: Any, timeout: float) -> Any:
    """The reply, also for 4xx/5xx statuses: an error status is still an answer."""
    import urllib.error

    try:
        return opener.open(request, timeout=timeout)
    except urllib.error.HTTPError as e:
        return e


def _encode(body: str | dict[str, Any] | None, headers: dict[str, str] | None) -> tuple[bytes | None, dict[str, str]]:
    """The request bytes and headers: dict bodies go as JSON, strings as UTF-8 text, unless a header says otherwise."""
    out = {"User-Agent": _USER_AGENT, **(headers or {})}
    if body is None:
        return None, out
    has_type = any(k.lower() == "content-type" for k in out)
    if isinstance(body, dict):
        data = json.dumps(body, ensure_ascii=False).encode()
        default_type = "application/json"
    else:
        data = body.encode()
        default_type = "text/plain; charset=utf-8"
    if not has_type:
        out["Content-Type"] = default_type
    return data, out


def _read(reply: Any, limit: int, deadline: float) -> _Response:
    """Read up to ``limit`` bytes; a server that trickles bytes past the timeout is cut off."""
    data = bytearray()
    while len(data) <= limit:
        chunk = reply.read(min(_CHUNK, limit + 1 - len(data)))
        if not chunk:
            break
        data += chunk
        if time.monotonic() > deadline:
            raise TimeoutError
    return _Response(reply.status, reply.headers, bytes(data[:limit]), len(data) > limit, reply.url)


def _timeout(method: str, url: str, seconds: float) -> TimeoutError:
    return TimeoutError(
        f"{method} {url} got no complete answer within {seconds:g} s; the server may be slow or down. "
        "Try again later or raise the sandbox's http_timeout."
    )


def _redirects_checked_by(sandbox: Sandbox, tool: str) -> Any:
    import urllib.request
    from urllib.parse import urljoin, urlsplit

    class CheckedRedirects(urllib.request.HTTPRedirectHandler):
        """Follow a redirect only to a URL the sandbox would allow directly (no hop to file://, ftp:// or evil.com)."""

        def http_error_302(self, req: Any, fp: Any, code: int, msg: str, headers: Any) -> Any:
            if location := headers.get("location") or headers.get("uri"):
                sandbox.check_url(urljoin(req.full_url, location), tool=tool)
            return super().http_error_302(req, fp, code, msg, headers)

        def redirect_request(self, req: Any, fp: Any, code: int, msg: str, headers: Any, newurl: str) -> Any:
            new = super().redirect_request(req, fp, code, msg, headers, newurl)
            if new is not None and urlsplit(newurl).netloc.lower() != urlsplit(req.full_url).netloc.lower():
                for name in ("Authorization", "Cookie", "Proxy-authorization"):  # credentials stay with their host
                    new.headers.pop(name, None)
                    new.unredirected_hdrs.pop(name, None)
            return new

        http_error_301 = http_error_303 = http_error_307 = http_error_308 = http_error_302

    return CheckedRedirects()


def _as_result(response: _Response) -> dict[str, Any]:
    headers = {k: v for k in _SHOWN_HEADERS if (v := response.headers.get(k)) is not None}
    if response.is_binary():
        body = f"<{len(response.data)} bytes of binary {response.content_type or 'data'} not shown>"
    else:
        body = response.text()
    if response.truncated:
        body += f"\n… [response cut at {len(response.data)} bytes, the sandbox's max_response_bytes]"
    return {"status": response.status, "headers": headers, "body": body}


def http_tools(sandbox: Sandbox) -> list[Tool]:
    """``http_get`` (LOW), ``http_post`` and ``http_put`` (MEDIUM), ``http_delete`` (HIGH)."""

    def http_get(url: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
        """Send an HTTP GET request and return the status, a few response headers and the body as text.

        Args:
            url: The full http:// or https:// URL.
            headers: Extra request headers, e.g. {"Accept": "application/json"}.
        """
        return _as_result(_fetch(sandbox, "GET", url, headers=headers, tool="http_get"))

    def http_post(
        url: str, body: str | dict[str, Any] | None = None, headers: dict[str, str] | None = None
    ) -> dict[str, Any]:
        """Send an HTTP POST request and return the status, a few response headers and the body as text.

        Args:
            url: The full http:// or https:// URL.
            body: The request body: an object is sent as JSON, a string as plain text.
            headers: Extra request headers, e.g. {"Authorization": "Bearer ..."}.
        """
        return _as_result(_fetch(sandbox, "POST", url, body=body, headers=headers, tool="http_post"))

    def http_put(
        url: str, body: str | dict[str, Any] | None = None, headers: dict[str, str] | None = None
    ) -> dict[str, Any]:
        """Send an HTTP PUT request (replace a resource) and return the status, a few headers and the body.

        Args:
            url: The full http:// or https:// URL.
            body: The request body: an object is sent as JSON, a string as plain text.
            headers: Extra request headers.
        """
        return _as_result(_fetch(sandbox, "PUT", url, body=body, headers=headers, tool="http_put"))

    def http_delete(url: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
        """Send an HTTP DELETE request (remove a resource) and return the status, a few headers and the body.

        Args:
            url: The full http:// or https:// URL.
            headers: Extra request headers.
        """
        return _as_result(_fetch(sandbox, "DELETE", url, headers=headers, tool="http_delete"))

    return [
        Tool.from_function(http_get, danger=DangerLevel.LOW, category="http"),
        Tool.from_function(http_post, danger=DangerLevel.MEDIUM, category="http"),
        Tool.from_function(http_put, danger=DangerLevel.MEDIUM, category="http"),
        Tool.from_function(http_delete, danger=DangerLevel.HIGH, category="http"),
    ]
