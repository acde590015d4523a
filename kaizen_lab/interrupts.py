"""Stopping a run on purpose: by a person (Ctrl+C, ■, a Stop button), a signal, a timeout, a budget, or code.

A GRACEFUL interrupt lets the current step finish and stops before the next one; an IMMEDIATE one also cancels the
step in flight. Either way the run ends with :class:`AgentInterrupted` carrying what was done (and the checkpoint to
resume from, when checkpoints are on). Requests are thread-safe — a signal handler, a widget's click handler or a
timer may make them — and propagate from a parent agent to the specialists it invoked.
"""

from __future__ import annotations

import enum
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
        self._cancel: Callable[[], Any] | None = None  # cancels the step in flight (IMMEDIATE)
        self._lock = threading.Lock()
        self._timer: asyncio.TimerHandle | None = None
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
        """Ask the run to stop. The first request wins (a later one does not change the reason); children follow."""
        reason = InterruptReason(InterruptMode(mode), InterruptSource(source), message)
        data: dict[str, Any] = {"mode": reason.mode.value, "source": reason.source.value, "message": message}
        hooks, pre = self.hooks, HookEvent.PRE_INTERRUPT
        if hooks is not None and hooks.active(pre) and hooks.trigger_sync(pre, self.agent_id, data).blocked:
            return reason  # a hook refused it (e.g. "never stop mid-transaction"); nothing changes
        with self._lock:
            current = self.reason
            first = current is None
            graceful_before = current is not None and current.mode is InterruptMode.GRACEFUL
            escalate = graceful_before and reason.mode is InterruptMode.IMMEDIATE
            if first or escalate:
                self.reason = reason
            children, callbacks, cancel = list(self.children), list(self._callbacks), self._cancel
        if escalate:  # "stop now" after "stop when you can": cancel the step in flight
            for child in children:
                child.request_interrupt(reason.mode, reason.source, "the parent agent stopped")
            if cancel is not None:
                cancel()
        if first:
            for child in children:
                child.request_interrupt(reason.mode, reason.source, reason.message or "the parent agent stopped")
            for callback in callbacks:
                callback(reason)
            if reason.mode is InterruptMode.IMMEDIATE and cancel is not None:
                cancel()
        if self.hooks is not None and self.hooks.active(HookEvent.POST_INTERRUPT):
            self.hooks.trigger_sync(HookEvent.POST_INTERRUPT, self.agent_id, {**data, "first": first})
        return self.reason or reason

    def on_shutdown(self, callback: Callable[[InterruptReason], Any]) -> None:
        """Called once when an interrupt is requested (close files, release a lock, notify someone)."""
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

    def start_timeout(self, seconds: float, mode: InterruptMode | str = InterruptMode.GRACEFUL) -> None:
        """Interrupt after ``seconds`` — a timer on the running loop, so nothing blocks while it waits."""
        import asyncio

        self.cancel_timeout()
        message = f"no result within {seconds:g} s"
        self._timer = asyncio.get_running_loop().call_later(
            seconds, lambda: self.request_interrupt(mode, InterruptSource.TIMEOUT, message)
        )

    def cancel_timeout(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def bind(self, cancel: Callable[[], Any] | None) -> None:
        """Set what an IMMEDIATE interrupt cancels (the run's task); None when the run ends."""
        with self._lock:
            self._cancel = cancel

    def watch_budget(self, context: Any, soft_limit: float) -> None:
        """Stop gracefully once ``context`` (an ExecutionContext) has spent ``soft_limit`` USD — before its hard
        ``budget_limit`` would end the run with BudgetExceededError, and with a checkpoint to resume from."""

        def check(spent: float) -> None:
            if spent >= soft_limit and not self.is_interrupted:
                self.request_interrupt(InterruptMode.GRACEFUL, InterruptSource.BUDGET, f"${spent:.4f} spent")

        context.add_listener(check)

    def reset(self) -> None:
        """Clear a handled interrupt so the agent can run again."""
        with self._lock:
            self.reason = None

    def __repr__(self) -> str:
        state = self.reason.describe() if self.reason else "not interrupted"
        return f"InterruptManager({state}, {len(self.children)} children)"
