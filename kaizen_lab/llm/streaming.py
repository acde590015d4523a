"""Streaming: see the model's text as it is written, without changing any call signature.

    with stream_to(lambda text: print(text, end="")):
        agent.run(question="...")

The callback may be called from a worker thread (the local model decodes in one); keep it quick and thread-safe.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from contextvars import ContextVar

TextCallback = Callable[[str], None]

_stream_to: ContextVar[TextCallback | None] = ContextVar("kaizen_stream_to", default=None)


@contextlib.contextmanager
def stream_to(callback: TextCallback) -> Iterator[None]:
    """Send every model call's text, piece by piece, to ``callback`` within the block."""
    token = _stream_to.set(callback)
    try:
        yield
    finally:
        _stream_to.reset(token)


def current_stream() -> TextCallback | None:
    return _stream_to.get()
