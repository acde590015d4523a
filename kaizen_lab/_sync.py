"""Run a coroutine to completion from sync code, with or without a running event loop (Jupyter has one).

No running loop in this thread: a per-thread event loop is reused (no new loop per call).
A running loop (a notebook cell): the coroutine runs on one long-lived background loop thread, with the caller's
contextvars, and this thread waits. Never a new thread + ``asyncio.run`` per call.
"""

from __future__ import annotations

import atexit
import concurrent.futures
import contextlib
import contextvars
import threading
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any, TypeVar

from .exceptions import ConfigurationError

if TYPE_CHECKING:
    import asyncio

T = TypeVar("T")

_local = threading.local()
_background: asyncio.AbstractEventLoop | None = None
_background_lock = threading.Lock()


def _thread_loop() -> asyncio.AbstractEventLoop:
    import asyncio

    loop = getattr(_local, "loop", None)
    if loop is None or loop.is_closed():
        loop = _local.loop = asyncio.new_event_loop()
        if threading.current_thread() is threading.main_thread():
            atexit.register(_close_thread_loop, loop)
    return loop


async def _cancel_pending() -> None:
    import asyncio

    current = asyncio.current_task()
    pending = [t for t in asyncio.all_tasks() if t is not current and not t.done()]
    for task in pending:  # e.g. litellm's logging worker, which would be "destroyed but pending" at exit
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)


def _close_thread_loop(loop: asyncio.AbstractEventLoop) -> None:
    if loop.is_closed() or loop.is_running():
        return
    with contextlib.suppress(Exception):
        loop.run_until_complete(_cancel_pending())
    loop.close()


def _stop_background(loop: asyncio.AbstractEventLoop) -> None:
    import asyncio

    with contextlib.suppress(Exception):
        asyncio.run_coroutine_threadsafe(_cancel_pending(), loop).result(timeout=2)
    loop.call_soon_threadsafe(loop.stop)


def _background_loop() -> asyncio.AbstractEventLoop:
    import asyncio

    global _background
    with _background_lock:
        if _background is None:
            loop = asyncio.new_event_loop()
            thread = threading.Thread(target=loop.run_forever, name="kaizen-lab-loop", daemon=True)
            thread.start()
            atexit.register(_stop_background, loop)
            _background = loop
        return _background


def run_sync(coro: Coroutine[Any, Any, T], on_interrupt: Callable[[int], bool] | None = None) -> T:
    """``on_interrupt(n)`` is called on the n-th Ctrl+C; returning True keeps waiting (the run winds down by
    itself — a graceful stop), False cancels it at once. Without it, Ctrl+C cancels the run."""
    import asyncio  # imported here: asyncio costs ~30 ms, and `import kaizen_lab` must stay light

    try:
        asyncio.get_running_loop()
        in_loop = True
    except RuntimeError:
        in_loop = False
    if not in_loop:
        return _run_on_thread_loop(coro, on_interrupt)
    if asyncio.get_running_loop() is _background:
        coro.close()
        raise ConfigurationError(
            "A blocking run() was called from code running on kaizen_lab's own event loop (a provider function, "
            "a strategy or a postprocess hook); it would wait for itself forever. Use `await agent.arun(...)` there."
        )
    future = submit(coro)
    presses = 0
    while True:
        try:
            return future.result()
        except KeyboardInterrupt:
            presses += 1
            if _asked_to_stop(on_interrupt, presses):
                continue  # the run was asked to stop and will end by itself, with its result or AgentInterrupted
            future.cancel()  # Ctrl+C in the notebook stops the run instead of leaving it behind
            raise
        except BaseException:
            future.cancel()
            raise


def _run_on_thread_loop(coro: Coroutine[Any, Any, T], on_interrupt: Callable[[int], bool] | None = None) -> T:
    """One reused loop per thread. Not ``asyncio.Runner.run``: it swaps the SIGINT handler on every call, which
    was a tenth of the framework's per-call cost. Ctrl+C still cancels the run (and stops a local decode)."""
    loop = _thread_loop()
    task = loop.create_task(coro, context=contextvars.copy_context())
    presses = 0
    try:
        while True:
            try:
                return loop.run_until_complete(task)
            except KeyboardInterrupt:
                presses += 1
                if not _asked_to_stop(on_interrupt, presses) or task.done():
                    raise
    except BaseException:
        if not task.done():
            task.cancel()
            with contextlib.suppress(BaseException):
                loop.run_until_complete(task)
        raise


def submit(coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
    """Start a coroutine on the background loop and return at once (with the caller's contextvars).

    Notebook front ends use it to keep the cell's own thread free for display updates while the work runs;
    cancelling the returned future cancels the run.
    """
    import asyncio

    loop = _background_loop()
    ctx = contextvars.copy_context()

    async def in_context() -> T:
        return await asyncio.get_running_loop().create_task(coro, context=ctx)

    return asyncio.run_coroutine_threadsafe(in_context(), loop)


def _asked_to_stop(on_interrupt: Callable[[int], bool] | None, presses: int) -> bool:
    """True if the run was asked to wind down by itself; a failing handler means "cancel it now" instead."""
    if on_interrupt is None:
        return False
    try:
        return on_interrupt(presses)
    except Exception:
        return False
