"""LiveRun: a notebook run that may wait for a click, so it must not block the cell.

A running cell holds back widget messages (ipywidgets #3039): a cell that blocks until "Approve" is clicked
never hears the click. So the run becomes a task on the kernel's own event loop and the cell returns at once;
the approval cards, then the result (or the error), appear in this cell's output through widgets, which is
how output reaches a cell that has already finished. Measured to work on ipykernel 6.29, 7.3 and 7.4
(``shared/notes/jupyter-approvals.md``); blocking waits and jupyter-ui-poll fail on at least one of them.
"""

from __future__ import annotations

import html
import threading
import time
from collections.abc import Coroutine, Generator
from typing import TYPE_CHECKING, Any

from ..exceptions import AgentInterrupted, KaizenError

if TYPE_CHECKING:
    import asyncio

    from .base import BaseAgent
    from .result import AgentResult

__all__ = ["LiveRun", "RunPending", "on_kernel_loop"]

_RUNNING: set[asyncio.Task[Any]] = set()


class RunPending(KaizenError, AttributeError):
    """The result of a LiveRun was read before the run finished (an AttributeError too, so ``hasattr`` is False)."""


async def _in_view(view: Any, coro: Coroutine[Any, Any, AgentResult]) -> AgentResult:
    """Run ``coro`` with its approval cards bound to ``view`` (this run's container, under this cell)."""
    from ..control.transport import run_view

    token = run_view.set(view)
    try:
        return await coro
    finally:
        run_view.reset(token)


def on_kernel_loop() -> bool:
    """True in a notebook cell: the main thread with the kernel's event loop running."""
    import asyncio

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return threading.current_thread() is threading.main_thread()


class LiveRun:
    """A run in progress. ``live.result`` (once done), ``await live``, ``live.cancel()``, ``live.done``.

    When the run has finished it reads like the AgentResult: ``live["answer"]``, ``live.transcript``.
    """

    def __init__(self, agent: BaseAgent, task: asyncio.Task[AgentResult]) -> None:
        self.agent = agent
        self.task = task
        self.started = time.time()
        self.widget: Any = None
        self._status: Any = None
        self._stop: Any = None
        self._out: Any = None

    @classmethod
    def start(cls, agent: BaseAgent, coro: Coroutine[Any, Any, AgentResult]) -> LiveRun:
        import asyncio

        transport = agent.control.transport
        view = transport.new_view() if hasattr(transport, "new_view") else None
        live = cls(agent, asyncio.get_running_loop().create_task(_in_view(view, coro)))
        _RUNNING.add(live.task)  # the loop keeps only weak references to tasks
        live._show(view)
        live.task.add_done_callback(live._finished)
        return live

    # -- state ----------------------------------------------------------------------------------------------------
    @property
    def done(self) -> bool:
        return self.task.done()

    @property
    def result(self) -> AgentResult:
        if not self.task.done():
            raise self._pending()
        return self.task.result()

    def _pending(self) -> RunPending:
        return RunPending(
            f"{self.agent.name} is still running (it may be waiting for your approval in the cell above). "
            "Answer the card, then read .result again (on ipykernel 7 you may also `await` it in a new cell)."
        )

    def stop(self) -> None:
        """First click: stop after the current step (checkpointed when on). Second click: stop now — also ends a
        wait for an approval."""
        from ..interrupts import InterruptMode, InterruptSource

        now = self.agent.interrupts.is_interrupted
        mode = InterruptMode.IMMEDIATE if now else InterruptMode.GRACEFUL
        self.agent.interrupts.request_interrupt(mode, InterruptSource.USER, "Stop button")
        if self._stop is not None:
            self._stop.description = "Stopping now…" if now else "Stop now"
            self._stop.disabled = now

    def cancel(self) -> None:
        """Stop the run; a pending approval card shows it was cancelled."""
        self.task.cancel()

    def __await__(self) -> Generator[Any, None, AgentResult]:
        return self.task.__await__()

    def __getitem__(self, key: str) -> Any:
        return self.result[key]

    def __getattr__(self, name: str) -> Any:
        """Once finished, a LiveRun reads like its AgentResult (``live.transcript``, ``live.cost``, ...)."""
        if name.startswith("_"):  # display hooks and other protocols must not wait for the run
            raise AttributeError(name)
        if not self.task.done():
            raise self._pending()
        # Not self.result: RunPending is an AttributeError, and a property raising one would land back here.
        return getattr(self.task.result(), name)

    # -- display --------------------------------------------------------------------------------------------------
    def _state(self) -> str:
        if not self.task.done():
            return f"⏳ {html.escape(self.agent.name)} is running — answer any request below; the result appears here."
        if self.task.cancelled():
            return f"⏹ {html.escape(self.agent.name)} was cancelled."
        error = self.task.exception()
        if isinstance(error, AgentInterrupted):  # stopped on purpose: say where, and how to go on
            return f"⏹ {html.escape(str(error))}"
        if error is not None:
            what = f"{type(error).__name__}: {error}"
            return f"✖ {html.escape(self.agent.name)} failed: {html.escape(what)}"
        return f"✔ {html.escape(self.agent.name)} finished in {time.time() - self.started:.1f} s."

    def _show(self, view: Any) -> None:
        from IPython.display import display

        try:
            import ipywidgets as w
        except ImportError:  # no widgets: the status is all we can show; read .result later
            display(self)
            return
        self._status = w.HTML(self._state())
        self._stop = w.Button(description="Stop", icon="stop", tooltip="Stop after the current step (checkpointed)")
        self._stop.add_class("kaizen-stop")
        self._stop.on_click(lambda _: self.stop())
        self._out = w.Output()
        header = w.HBox([self._status, self._stop], layout=w.Layout(align_items="center"))
        self.widget = w.VBox([header, *([view] if view is not None else []), self._out])
        self.widget.add_class("kaizen-live-run")
        display(self.widget)

    def _finished(self, task: asyncio.Task[AgentResult]) -> None:
        _RUNNING.discard(task)
        if not task.cancelled():
            task.exception()  # retrieved here, so asyncio does not log "exception was never retrieved"
        if self._status is None:
            return
        self._status.value = self._state()
        self._stop.layout.display = "none"
        if not task.cancelled() and task.exception() is None:
            self._out.append_display_data(task.result())

    def _ipython_display_(self) -> None:
        """``live`` as a cell's last line: the result once done; nothing while running (the live view is already
        on screen, and a second, frozen "running" line would only mislead)."""
        from IPython.display import display

        done = self.task.done() and not self.task.cancelled() and self.task.exception() is None
        if done:
            display(self.task.result())
        elif self.widget is None:
            display(self._repr_mimebundle_(), raw=True)

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str] | tuple[Any, Any]:
        if self.task.done() and not self.task.cancelled() and self.task.exception() is None:
            return self.task.result()._repr_mimebundle_()
        return {"text/plain": repr(self), "text/html": f"<div class='kaizen-live-status'>{self._state()}</div>"}

    def __repr__(self) -> str:
        state = "running" if not self.task.done() else ("cancelled" if self.task.cancelled() else "done")
        return f"LiveRun({self.agent.name}, {state})"
