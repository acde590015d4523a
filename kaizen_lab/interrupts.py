"""Stopping a run on purpose: by a person (Ctrl+C, ■, a Stop button), a signal, a timeout, a budget, or code.

A GRACEFUL interrupt lets the current step finish and stops before the next one; an IMMEDIATE one also cancels the
step in flight. Either way the run ends with :class:`AgentInterrupted` carrying what was done (and the checkpoint to
resume from, when checkpoints are on). Requests are thread-safe — a signal handler, a widget's click handler or a
timer may make them — and propagate from a parent agent to the specialists it invoked.
"""

from __future__ import annotations

import enum
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .hooks.events import HookEvent

if TYPE_CHECKING:
    import asyncio

    from .hooks.manager import HookManager

__all__ = ["InterruptManager", "InterruptMode", "InterruptReason", "InterruptSource"]

log = logging.getLogger("kaizen_lab.interrupts")


class InterruptMode(str, enum.Enum):
    GRACEFUL = "graceful"  # finish the current step, then stop
    IMMEDIATE = "immediate"  # cancel the current step too


class InterruptSource(str, enum.Enum):
    USER = "user"
    SIGNAL = "signal"
    TIMEOUT = "timeout"
    BUDGET = "budget"
    PROGRAMMATIC = "programmatic"


@dataclass(frozen=True)
class InterruptReason:
    mode: InterruptMode
    source: InterruptSource
    message: str = ""
    requested_at: float = field(default_factory=time.time)

    def describe(self) -> str:
        who = {
            InterruptSource.USER: "you stopped it",
            InterruptSource.SIGNAL: "Ctrl+C / the kernel's stop button",
            InterruptSource.TIMEOUT: "its time limit ran out",
            InterruptSource.BUDGET: "its budget ran out",
            InterruptSource.PROGRAMMATIC: "code asked it to stop",
        }[self.source]
        return f"{who}{': ' + self.message if self.message else ''} ({self.mode.value})"


class InterruptManager:
    """One per agent (``agent.interrupts``). ``request_interrupt`` from anywhere; strategies check
    :attr:`is_interrupted` between steps."""

    def __init__(self, hooks: HookManager | None = None, agent_id: str = "") -> None:
        self.hooks = hooks
        self.agent_id = agent_id
        self.reason: InterruptReason | None = None
        self.children: list[InterruptManager] = []
        self._callbacks: list[Callable[[InterruptReason], Any]] = []
        self._cancels: dict[int, Callable[[], Any]] = {}  # per running run: cancels its step in flight (IMMEDIATE)
        self._timers: dict[int, asyncio.TimerHandle] = {}
        self._next = 0
        self._lock = threading.Lock()
        #: Seconds each run may take; when they run out, a TIMEOUT interrupt stops it gracefully (a timer on the
        #: loop — nothing waits or blocks for it).
        self.time_limit: float | None = None

    @property
    def is_interrupted(self) -> bool:
        return self.reason is not None

    def request_interrupt(
        self,
        mode: InterruptMode | str = InterruptMode.GRACEFUL,
        source: InterruptSource | str = InterruptSource.PROGRAMMATIC,
        message: str = "",
    ) -> InterruptReason:
        """Ask the run to stop. The first request wins, except that IMMEDIATE after GRACEFUL escalates ("stop
        now" after "stop when you can"); children follow. Safe from any thread and from signal handlers."""
        reason = InterruptReason(InterruptMode(mode), InterruptSource(source), message)
        data: dict[str, Any] = {"mode": reason.mode.value, "source": reason.source.value, "message": message}
        hooks, pre = self.hooks, HookEvent.PRE_INTERRUPT
        if hooks is not None and hooks.active(pre) and hooks.trigger_sync(pre, self.agent_id, data).blocked:
            return reason  # a hook refused it (e.g. "never stop mid-transaction"); nothing changes
        with self._lock:
            current = self.reason
            first = current is None
            escalate = current is not None and current.mode is InterruptMode.GRACEFUL
            escalate = escalate and reason.mode is InterruptMode.IMMEDIATE
            if first or escalate:
                self.reason = reason
            children, callbacks, cancels = list(self.children), list(self._callbacks), list(self._cancels.values())
        if first or escalate:
            if reason.mode is InterruptMode.IMMEDIATE:
                for cancel in cancels:  # first: a failing callback below must not turn "now" into "later"
                    cancel()
            for child in children:
                child.request_interrupt(reason.mode, reason.source, reason.message or "the parent agent stopped")
        if first:
            for callback in callbacks:
                try:
                    callback(reason)
                except Exception as e:  # one broken callback must not break stopping
                    log.warning("interrupt callback %r failed: %s", callback, e)
        if self.hooks is not None and self.hooks.active(HookEvent.POST_INTERRUPT):
            self.hooks.trigger_sync(HookEvent.POST_INTERRUPT, self.agent_id, {**data, "first": first})
        return self.reason or reason

    def on_shutdown(self, callback: Callable[[InterruptReason], Any]) -> None:
        """Called when an interrupt is first requested (close files, release a lock, notify someone)."""
        self._callbacks.append(callback)

    def add_child(self, child: InterruptManager) -> None:
        """Interrupting this agent interrupts ``child`` too (a specialist it invoked, a worker it supervises)."""
        with self._lock:
            self.children.append(child)
            reason = self.reason
        if reason is not None:
            child.request_interrupt(reason.mode, reason.source, "the parent agent stopped")

    def remove_child(self, child: InterruptManager) -> None:
        with self._lock:
            if child in self.children:
                self.children.remove(child)

    # -- runs -----------------------------------------------------------------------------------------------------
    def run_started(self, cancel: Callable[[], Any]) -> int:
        """Register a run (what an IMMEDIATE interrupt cancels) and start its time limit; returns its token."""
        import asyncio

        with self._lock:
            self._next += 1
            token = self._next
            self._cancels[token] = cancel
        if self.time_limit:
            seconds, message = self.time_limit, f"no result within {self.time_limit:g} s"
            self._timers[token] = asyncio.get_running_loop().call_later(
                seconds, lambda: self.request_interrupt(InterruptMode.GRACEFUL, InterruptSource.TIMEOUT, message)
            )
        return token

    def run_ended(self, token: int) -> None:
        """Forget a run; when no run is left, a handled interrupt is cleared so the next run starts clean."""
        with self._lock:
            self._cancels.pop(token, None)
            timer = self._timers.pop(token, None)
            if not self._cancels:
                self.reason = None
        if timer is not None:
            timer.cancel()

    @property
    def running(self) -> int:
        return len(self._cancels)

    def watch_budget(self, context: Any, soft_limit: float) -> None:
        """Stop gracefully once ``context`` (an ExecutionContext) has spent ``soft_limit`` USD — before its hard
        ``budget_limit`` would end the run with BudgetExceededError, and with a checkpoint to resume from."""

        def check(spent: float) -> None:
            if spent >= soft_limit and not self.is_interrupted and self.running:
                self.request_interrupt(InterruptMode.GRACEFUL, InterruptSource.BUDGET, f"${spent:.4f} spent")

        context.add_listener(check)

    def reset(self) -> None:
        """Clear an interrupt by hand (runs clear a handled one themselves when they end)."""
        with self._lock:
            self.reason = None

    def __repr__(self) -> str:
        state = self.reason.describe() if self.reason else "not interrupted"
        return f"InterruptManager({state}, {len(self.children)} children)"
