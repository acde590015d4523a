"""HookManager: call handlers around every step of a run — in priority order, isolated, timed, able to veto.

The reference Kaizen paid a thread and a new event loop per sync hook call and never measured it. Here a sync
handler is a plain function call on the running loop, an async one is awaited, and an event nobody listens to costs
one dict lookup (callers check :meth:`HookManager.active` before building the event's data).
"""

from __future__ import annotations

import collections
import inspect
import logging
import threading
import time
import uuid
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from .events import HookEvent

__all__ = ["BaseHook", "Dispatch", "HookContext", "HookManager", "HookResult"]

log = logging.getLogger("kaizen_lab.hooks")

#: The trace id of the agent run in progress: every event of one run (and of the specialists it calls) shares it.
current_trace: ContextVar[str] = ContextVar("kaizen_trace_id", default="")

Handler = Callable[["HookContext"], "HookResult | Awaitable[HookResult | None] | None"]


@dataclass
class HookContext:
    """What a handler sees. PRE handlers may change ``data`` in place (e.g. ``data["params"]``) to modify the step."""

    event_type: HookEvent
    agent_id: str
    data: dict[str, Any]
    metadata: dict[str, Any] = field(default_factory=dict)
    trace_id: str = ""
    timestamp: float = field(default_factory=time.time)


@dataclass
class HookResult:
    """A handler's answer. ``blocked`` (from :meth:`block`) vetoes a PRE event; ``data`` entries update the event."""

    success: bool = True
    data: dict[str, Any] | None = None
    error: str | None = None
    duration_ms: float = 0.0
    blocked: bool = False
    reason: str = ""
    hook: str = ""

    @classmethod
    def block(cls, reason: str) -> HookResult:
        return cls(success=True, blocked=True, reason=reason)


@dataclass
class Dispatch:
    """The outcome of one event: every handler's result, and whether (and by whom, why) it was vetoed."""

    event: HookEvent
    data: dict[str, Any]
    results: list[HookResult] = field(default_factory=list)

    @property
    def blocked_by(self) -> HookResult | None:
        return next((r for r in self.results if r.blocked), None)

    @property
    def blocked(self) -> bool:
        return self.blocked_by is not None


_NO_DISPATCH_DATA: dict[str, Any] = {}


class BaseHook:
    """Subclass for a reusable hook: set ``events`` (empty = all) and implement :meth:`handle` (sync or async)."""

    events: tuple[HookEvent, ...] = ()
    priority: int = 0
    timeout: float | None = None

    @property
    def name(self) -> str:
        return type(self).__name__

    def handle(self, context: HookContext) -> HookResult | Awaitable[HookResult | None] | None:
        raise NotImplementedError


@dataclass
class _Entry:
    handler: Handler
    priority: int
    timeout: float | None
    name: str
    is_async: bool


class HookManager:
    """``register(event, handler, priority=0, timeout=None)``; handlers get a :class:`HookContext`."""

    def __init__(self) -> None:
        self._handlers: dict[HookEvent, list[_Entry]] = {}
        self._lock = threading.Lock()
        # (hook, event, error), the latest 1,000: isolated, never raised into the run
        self.errors: collections.deque[tuple[str, HookEvent, str]] = collections.deque(maxlen=1000)

    # -- registration ---------------------------------------------------------------------------------------------
    def register(
        self,
        event: HookEvent | str,
        handler: Handler,
        priority: int = 0,
        *,
        timeout: float | None = None,
        name: str | None = None,
    ) -> None:
        """Higher ``priority`` runs first. ``timeout`` (seconds) bounds an async handler; a sync one runs inline."""
        ev = HookEvent(event)
        label = name or getattr(handler, "__qualname__", None) or type(handler).__name__
        entry = _Entry(handler, priority, timeout, label, _is_async(handler))
        with self._lock:
            entries = [*self._handlers.get(ev, []), entry]
            entries.sort(key=lambda e: -e.priority)  # stable: equal priorities keep registration order
            self._handlers[ev] = entries

    def register_hook(self, hook: BaseHook) -> None:
        for ev in hook.events or tuple(HookEvent):
            self.register(ev, hook.handle, hook.priority, timeout=hook.timeout, name=hook.name)

    def unregister(self, target: Handler | BaseHook | str, event: HookEvent | str | None = None) -> int:
        """Remove a handler, a hook object or everything registered under a name; returns how many were removed."""
        events = [HookEvent(event)] if event is not None else list(self._handlers)
        removed = 0
        with self._lock:
            for ev in events:
                kept = [e for e in self._handlers.get(ev, []) if not _matches(e, target)]
                removed += len(self._handlers.get(ev, [])) - len(kept)
                if kept:
                    self._handlers[ev] = kept
                else:
                    self._handlers.pop(ev, None)
        return removed

    def active(self, event: HookEvent) -> bool:
        """Cheap check callers use to skip building an event's data when nobody listens."""
        return event in self._handlers

    def handlers(self, event: HookEvent | str) -> list[str]:
        return [e.name for e in self._handlers.get(HookEvent(event), [])]

    # -- dispatch -------------------------------------------------------------------------------------------------
    async def trigger(
        self,
        event: HookEvent,
        agent_id: str,
        data: dict[str, Any] | None = None,
        *,
        metadata: dict[str, Any] | None = None,
        trace_id: str | None = None,
    ) -> Dispatch:
        """Call every handler of ``event`` in priority order; stop at the first veto of a PRE event."""
        entries = self._handlers.get(event)
        if not entries:
            return Dispatch(event, data if data is not None else _NO_DISPATCH_DATA)
        trace = trace_id or current_trace.get()
        context = HookContext(event, agent_id, data if data is not None else {}, metadata or {}, trace)
        dispatch = Dispatch(event, context.data)
        for entry in entries:
            result = await self._call(entry, context)
            dispatch.results.append(result)
            if result.blocked and event.vetoable:
                break
        return dispatch

    def trigger_sync(self, event: HookEvent, agent_id: str, data: dict[str, Any] | None = None, **kw: Any) -> Dispatch:
        """For sync call sites (memory saves): sync handlers run; async ones are reported, not awaited."""
        entries = self._handlers.get(event)
        if not entries:
            return Dispatch(event, data if data is not None else _NO_DISPATCH_DATA)
        trace = kw.get("trace_id") or current_trace.get()
        context = HookContext(event, agent_id, data if data is not None else {}, kw.get("metadata") or {}, trace)
        dispatch = Dispatch(event, context.data)
        for entry in entries:
            if entry.is_async:
                dispatch.results.append(self._failed(entry, event, "async handler on a sync event: not awaited", 0.0))
                continue
            started = time.perf_counter()
            try:
                outcome = entry.handler(context)
            except Exception as e:  # isolated: one broken hook must not break the run
                dispatch.results.append(self._failed(entry, event, f"{type(e).__name__}: {e}", started))
                continue
            dispatch.results.append(self._finish(entry, context, outcome, started))
            if dispatch.results[-1].blocked and event.vetoable:
                break
        return dispatch

    async def _call(self, entry: _Entry, context: HookContext) -> HookResult:
        started = time.perf_counter()
        try:
            outcome = entry.handler(context)
            if inspect.isawaitable(outcome):
                if entry.timeout is not None:
                    import asyncio

                    outcome = await asyncio.wait_for(_awaited(outcome), entry.timeout)
                else:
                    outcome = await outcome
        except Exception as e:  # isolated: reported in the result and in .errors, never raised into the run
            import asyncio

            why = (
                f"timed out after {entry.timeout:g} s"
                if isinstance(e, asyncio.TimeoutError)
                else f"{type(e).__name__}: {e}"
            )
            return self._failed(entry, context.event_type, why, started)
        return self._finish(entry, context, outcome, started)

    def _finish(self, entry: _Entry, context: HookContext, outcome: Any, started: float) -> HookResult:
        result = outcome if isinstance(outcome, HookResult) else HookResult()
        if result.data:
            context.data.update(result.data)
        result.duration_ms = (time.perf_counter() - started) * 1000
        result.hook = entry.name
        return result

    def _failed(self, entry: _Entry, event: HookEvent, error: str, started: float) -> HookResult:
        self.errors.append((entry.name, event, error))
        log.warning("hook %s failed on %s: %s", entry.name, event.value, error)
        duration = (time.perf_counter() - started) * 1000 if started else 0.0
        return HookResult(success=False, error=error, duration_ms=duration, hook=entry.name)

    def __repr__(self) -> str:
        counts = {ev.value: len(v) for ev, v in self._handlers.items()}
        return f"HookManager({counts})"


def new_trace_id() -> str:
    return uuid.uuid4().hex


def veto_error(dispatch: Dispatch, what: str) -> Exception:
    """The exception for a vetoed step that cannot continue (a model call, a run)."""
    from ..exceptions import HookVetoError

    blocker = dispatch.blocked_by
    assert blocker is not None
    return HookVetoError(
        f"{what} was blocked by hook {blocker.hook!r}: {blocker.reason or 'no reason given'}. "
        "Unregister the hook (agent.hooks.unregister(name)) or change what it checks.",
        hook=blocker.hook,
        reason=blocker.reason,
        event=dispatch.event.value,
    )


async def _awaited(awaitable: Awaitable[Any]) -> Any:
    return await awaitable


def _is_async(handler: Any) -> bool:
    """Coroutine functions, and objects whose ``__call__`` is one."""
    return inspect.iscoroutinefunction(handler) or inspect.iscoroutinefunction(type(handler).__call__)


def _matches(entry: _Entry, target: Any) -> bool:
    if isinstance(target, str):
        return entry.name == target
    if isinstance(target, BaseHook):
        return getattr(entry.handler, "__self__", None) is target
    return entry.handler == target
