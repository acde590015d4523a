"""A switch that forbids real network model calls (on in the test suite), like pydantic-ai's ALLOW_MODEL_REQUESTS.

Loopback servers (127.0.0.0/8, ::1, localhost) are always allowed: they are how tests exercise the HTTP path.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from contextvars import ContextVar
from urllib.parse import urlparse

_allowed: ContextVar[bool | None] = ContextVar("kaizen_allow_model_requests", default=None)


def model_requests_allowed() -> bool:
    value = _allowed.get()
    if value is not None:
        return value
    return os.environ.get("KAIZEN_ALLOW_MODEL_REQUESTS", "1").lower() not in {"0", "false", "no"}


@contextlib.contextmanager
def allow_model_requests(allowed: bool) -> Iterator[None]:
    """Within the block, allow or forbid model calls that leave this machine."""
    token = _allowed.set(allowed)
    try:
        yield
    finally:
        _allowed.reset(token)


def is_loopback(url: str | None) -> bool:
    if not url:
        return False
    host = urlparse(url if "//" in url else f"//{url}").hostname or ""
    return host in {"localhost", "::1"} or host.startswith("127.")
