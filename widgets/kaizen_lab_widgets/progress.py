"""Progress of a batch run or a multi-step agent: done, failed, elapsed, ETA, tokens, cost, and a Cancel button.

The counters live here, behind a lock, so the engine may report from any thread; the view (an ipywidgets bar, a tqdm
bar or plain lines on stderr) only draws snapshots, at most ~10 times a second, and always draws the final state.
"""

from __future__ import annotations

import html
import importlib.util
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

__all__ = ["Progress"]

_WIDGET_INTERVAL = 0.1  # ~10 visual updates a second: enough to look live, cheap on the comm channel
_LINE_INTERVAL = 1.0  # plain stderr lines: at most one a second


@dataclass(frozen=True)
class _Snapshot:
    total: int
    done: int
    failed: int
    tokens: int
    cost: float
    elapsed: float
    eta: float | None
    finished: bool
    cancelled: bool
    description: str
    unit: str

    @property
    def processed(self) -> int:
        return self.done + self.failed

    def status(self) -> str:
        """The live line: ``12/200 rows · 1 failed · 3.2 s · ETA 40 s · 1,234 tokens · $0.0012``."""
        parts = [f"{self.processed}/{self.total} {self.unit}"]
        if self.failed:
            parts.append(f"{self.failed} failed")
        parts.append(_duration(self.elapsed))
        if self.cancelled:
            parts.append("cancelled")
        elif self.eta is not None:
            parts.append(f"ETA {_duration(self.eta)}")
        parts += [f"{self.tokens:,} tokens", _money(self.cost)]
        return " · ".join(parts)

    def summary(self) -> str:
        state = ", cancelled" if self.cancelled else ""
        return (
            f"{self.total} {self.unit}: {self.done} done, {self.failed} failed{state}, {self.elapsed:.1f} s, "
            f"{self.tokens:,} tokens, {_money(self.cost)}"
        )


class _View(Protocol):
    interval: float

    def render(self, snap: _Snapshot) -> None: ...

    def bundle(self, text: str) -> dict[str, Any]: ...


class Progress:
    """A progress control for batch runs and multi-step agents; thread-safe.

    ``widget=None`` picks an ipywidgets view inside a Jupyter kernel, else a tqdm bar (if tqdm is installed), else
    plain lines on stderr at most once a second. Report with :meth:`advance` (or pass :meth:`on_result` to
    ``agent.run_batch(..., on_result=...)``) from any thread, then :meth:`finish`.

    Cancelling: :meth:`cancel` (or the Cancel button) sets :attr:`cancelled` and calls the :meth:`on_cancel`
    callbacks; the work must check the flag or be cancelled by a callback. The button only works once the cell has
    returned, i.e. when the batch runs as a background task or thread: while a cell is running the kernel does not
    handle widget clicks (ipywidgets #3039), though the bar keeps updating. Jupyter's Stop button (KeyboardInterrupt)
    always works for work running in the cell itself.

    ``unit`` names what is counted (``"rows"``, ``"steps"``); ``clock`` is injectable so tests need not sleep.
    """

    def __init__(
        self,
        total: int,
        description: str = "",
        *,
        widget: bool | None = None,
        unit: str = "rows",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._total = max(0, int(total))
        self.description = description
        self.unit = unit
        self._clock = clock
        self._lock = threading.RLock()
        self._cancel_event = threading.Event()
        self._cancel_callbacks: list[Callable[[], None]] = []
        self._done = self._failed = self._tokens = 0
        self._cost = 0.0
        self._started = clock()
        self._ended: float | None = None  # set by finish(): freezes the clock
        self._last_render = float("-inf")
        self._flush_timer: threading.Timer | None = None
        self._view: _View = _make_view(self, widget)
        self._render()

    # -- reporting ------------------------------------------------------------------------------------------------
    def advance(self, ok: bool = True, tokens: int = 0, cost: float = 0.0) -> None:
        """One row or step finished (``ok=False``: it failed), with the tokens and cost it used."""
        with self._lock:
            if ok:
                self._done += 1
            else:
                self._failed += 1
            self._tokens += int(tokens)
            self._cost += float(cost)
            self._render_throttled()

    def on_result(self, index: int, outcome: Any) -> None:
        """Matches ``BaseAgent.run_batch``'s ``on_result`` hook: counts an AgentResult or an exception."""
        if isinstance(outcome, BaseException):
            self.advance(ok=False)
            return
        usage = getattr(outcome, "usage", None)
        self.advance(tokens=getattr(usage, "total_tokens", 0), cost=getattr(outcome, "cost", 0.0))

    def finish(self) -> None:
        """Stop the clock and draw the final state (idempotent)."""
        with self._lock:
            if self._ended is None:
                self._ended = self._clock()
            self._render()

    def cancel(self) -> None:
        """Ask the work to stop: sets :attr:`cancelled` and runs the :meth:`on_cancel` callbacks once.

        Rows still in flight may report afterwards; call :meth:`finish` when the work has stopped.
        """
        with self._lock:
            if self._ended is not None or self._cancel_event.is_set():
                return
            self._cancel_event.set()
            callbacks, self._cancel_callbacks = self._cancel_callbacks, []
            self._render()
        for callback in callbacks:
            callback()

    def on_cancel(self, callback: Callable[[], None]) -> None:
        """Call ``callback()`` when cancelled (from the thread that cancels; at once if already cancelled).

        To stop an asyncio task from a click: ``p.on_cancel(lambda: loop.call_soon_threadsafe(task.cancel))``.
        """
        with self._lock:
            if not self._cancel_event.is_set():
                self._cancel_callbacks.append(callback)
                return
        callback()

    # -- state ----------------------------------------------------------------------------------------------------
    @property
    def cancelled(self) -> bool:
        return self._cancel_event.is_set()

    @property
    def total(self) -> int:
        return self._total

    @property
    def done(self) -> int:
        return self._done

    @property
    def failed(self) -> int:
        return self._failed

    @property
    def tokens(self) -> int:
        return self._tokens

    @property
    def cost(self) -> float:
        return self._cost

    @property
    def widget(self) -> Any:
        """The ipywidgets view (an HBox of bar, label and Cancel button) to embed in your own layout; None in text."""
        return getattr(self._view, "box", None)

    @property
    def finished(self) -> bool:
        return self._ended is not None

    @property
    def elapsed(self) -> float:
        """Seconds since creation, frozen at :meth:`finish`."""
        end = self._ended if self._ended is not None else self._clock()
        return max(0.0, end - self._started)

    @property
    def eta(self) -> float | None:
        """Seconds left at the average pace so far; None before the first row and once finished."""
        with self._lock:
            processed = self._done + self._failed
            if self._ended is not None or self.cancelled or processed == 0:
                return None
            return max(0, self._total - processed) * self.elapsed / processed

    def summary(self) -> str:
        """``"200 rows: 198 done, 2 failed, 12.3 s, 1,234 tokens, $0.0012"``."""
        with self._lock:
            return self._snapshot().summary()

    # -- display --------------------------------------------------------------------------------------------------
    def display(self) -> Progress:
        """Show it in the notebook and return it, for ``p = Progress(n).display()`` (a repr line outside one)."""
        from IPython.display import display

        display(self)
        return self

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        return self._view.bundle(repr(self))

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self._repr_mimebundle_(), raw=True)

    def __repr__(self) -> str:  # no timings: a notebook's text/plain output must not vary between runs
        state = ", cancelled" if self.cancelled else ", finished" if self.finished else ""
        label = f"{self.description!r}: " if self.description else ""
        return (
            f"<Progress {label}{self._done + self._failed}/{self._total} {self.unit}, "
            f"{self._done} done, {self._failed} failed{state}>"
        )

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.finish()

    # -- rendering ------------------------------------------------------------------------------------------------
    def _snapshot(self) -> _Snapshot:
        return _Snapshot(
            self._total,
            self._done,
            self._failed,
            self._tokens,
            self._cost,
            self.elapsed,
            self.eta,
            self.finished,
            self.cancelled,
            self.description,
            self.unit,
        )

    def _render(self) -> None:
        with self._lock:
            if self._flush_timer is not None:
                self._flush_timer.cancel()
                self._flush_timer = None
            self._last_render = self._clock()
            self._view.render(self._snapshot())

    def _render_throttled(self) -> None:
        """Draw now if the last draw is old enough, else once at the end of the interval (so a burst followed by a
        long pause never leaves a stale bar)."""
        wait = self._view.interval - (self._clock() - self._last_render)
        if wait <= 0:
            self._render()
        elif self._flush_timer is None:
            self._flush_timer = threading.Timer(min(wait, self._view.interval), self._flush)
            self._flush_timer.daemon = True
            self._flush_timer.start()

    def _flush(self) -> None:
        with self._lock:
            self._flush_timer = None
            self._render()


def _make_view(progress: Progress, widget: bool | None) -> _View:
    if widget is None:
        widget = _in_kernel() and importlib.util.find_spec("ipywidgets") is not None
    if widget:
        return _WidgetView(progress)
    try:
        return _TqdmView(progress)
    except ImportError:
        return _LineView()


def _in_kernel() -> bool:
    """True inside a Jupyter kernel; looks only at an IPython that is already imported."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    return getattr(shell, "kernel", None) is not None


class _WidgetView:
    interval = _WIDGET_INTERVAL

    def __init__(self, progress: Progress) -> None:
        import ipywidgets as w

        self.bar = w.IntProgress(value=0, min=0, max=max(progress.total, 1), layout=w.Layout(width="240px"))
        self.label = w.HTML()
        self.button = w.Button(
            description="Cancel", icon="stop", tooltip="Ask the run to stop", layout={"width": "auto"}
        )
        self.button.on_click(lambda _button: progress.cancel())
        self.box = w.HBox([self.bar, self.label, self.button], layout=w.Layout(align_items="center"))

    def render(self, snap: _Snapshot) -> None:
        title = f"<b>{html.escape(snap.description)}</b> " if snap.description else ""
        style = "danger" if snap.cancelled else "warning" if snap.failed else "success" if snap.finished else ""
        with self.box.hold_sync(), self.bar.hold_sync():
            self.bar.value = min(snap.processed, self.bar.max)
            self.bar.bar_style = style
            self.label.value = title + html.escape(snap.status())
            self.button.disabled = snap.finished or snap.cancelled
            self.button.description = "Cancelled" if snap.cancelled else "Cancel"

    def bundle(self, text: str) -> dict[str, Any]:
        data = dict(self.box._repr_mimebundle_() or {})
        data["text/plain"] = text
        return data


class _TqdmView:
    """A console bar (``tqdm.std``, not ``tqdm.auto``: inside a kernel auto would pick the ipywidgets bar that
    ``widget=False`` asked to avoid; outside one they are the same)."""

    interval = _WIDGET_INTERVAL

    def __init__(self, progress: Progress) -> None:
        from tqdm.std import tqdm

        self.bar = tqdm(total=progress.total, desc=progress.description or None, unit=f" {progress.unit}")
        self.shown = 0

    def render(self, snap: _Snapshot) -> None:
        postfix = f"{snap.failed} failed, {snap.tokens:,} tokens, {_money(snap.cost)}"
        if snap.cancelled:
            postfix += ", cancelled"
        self.bar.set_postfix_str(postfix, refresh=False)
        self.bar.update(snap.processed - self.shown)
        self.shown = snap.processed
        if snap.finished:
            self.bar.close()

    def bundle(self, text: str) -> dict[str, Any]:
        return {"text/plain": text}


class _LineView:
    interval = _LINE_INTERVAL

    def __init__(self) -> None:
        self.closed = False

    def render(self, snap: _Snapshot) -> None:
        if self.closed:
            return
        prefix = f"{snap.description}: " if snap.description else ""
        if snap.finished:
            self.closed = True
        line = snap.summary() if snap.finished else snap.status()
        print(prefix + line, file=sys.stderr, flush=True)

    def bundle(self, text: str) -> dict[str, Any]:
        return {"text/plain": text}


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs} s"
    return f"{minutes // 60} h {minutes % 60} min"


def _money(cost: float) -> str:
    return f"${cost:.4f}" if cost == 0 or cost >= 0.001 else f"${cost:.6f}"
