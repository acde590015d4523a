"""Widget callbacks that run for the user's changes only, and show their errors instead of losing them."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

__all__ = ["CallbackGuard"]


class CallbackGuard:
    """Code that sets widget values runs inside :meth:`quiet`, so the widgets' own observers ignore it; callbacks
    wrapped by :meth:`wrap` report exceptions through ``on_error`` — a click has no cell to raise into."""

    def __init__(self, on_error: Callable[[BaseException], None]) -> None:
        self.syncing = False
        self._on_error = on_error

    @contextlib.contextmanager
    def quiet(self) -> Iterator[None]:
        before, self.syncing = self.syncing, True
        try:
            yield
        finally:
            self.syncing = before

    def wrap(self, fn: Callable[[Any], Any]) -> Callable[[Any], None]:
        def handler(arg: Any) -> None:
            if self.syncing:
                return
            try:
                fn(arg)
            except Exception as e:
                self._on_error(e)

        return handler
