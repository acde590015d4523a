"""Handoff: one agent holds the conversation; when a message needs another capability, it hands over — to the
agent whose capability card matches what it asked for — and the trace says who held it when."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

from .._sync import run_sync
from ..agents.base import BaseAgent
from ..exceptions import ConfigurationError, PatternError
from ..signatures import InputField, OutputField, Signature
from .capabilities import CapabilityMatcher
from .runtime import PatternBudget, PatternRun, agent_inputs, main_text
from .supervisor import _unique_names
from .transcript import PatternResult

__all__ = ["Handoff", "HandoffPattern"]

_HANDOFF_FIELD = "handoff_to"
_CONVERSATION_FIELD = "conversation"


@dataclass(frozen=True)
class Handoff:
    """A change of holder: at ``at`` (seconds since the pattern was made), during message ``message``."""

    at: float
    message: int
    from_agent: str | None  # None: the first holder, chosen by capability
    to_agent: str
    reason: str
    score: float | None


def with_handoff(signature: type[Signature]) -> type[Signature]:
    """``signature`` plus the conversation so far as an optional input, and an optional ``handoff_to`` output:
    the capability needed when another agent should take over (empty when this agent can answer)."""
    namespace = {
        "__doc__": (signature.__doc__ or "")
        + "\n\nIf this message needs a capability you do not have, describe that capability in handoff_to (and "
        "answer briefly); otherwise leave handoff_to empty.",
        "__module__": signature.__module__,
        "__annotations__": {_CONVERSATION_FIELD: str, _HANDOFF_FIELD: str},
        _CONVERSATION_FIELD: InputField(desc="Earlier messages and who answered them", default=""),
        _HANDOFF_FIELD: OutputField(desc="The capability another agent needs to take over, or empty", default=""),
    }
    meta: Any = type(signature)
    return cast(type[Signature], meta(f"{signature.__name__}WithHandoff", (signature,), namespace))


class HandoffPattern:
    """``send(message)``: the current holder answers; if it asks to hand off, the best-matching other agent takes
    the conversation (at most ``max_handoffs`` times per message, never back to an agent that already had this
    message). The holder persists across messages and every holder sees the conversation so far (as text, whatever
    its signature); ``trace`` records every change, made only once the new holder has answered."""

    def __init__(
        self,
        agents: Sequence[BaseAgent],
        *,
        entry: BaseAgent | None = None,
        matcher: CapabilityMatcher | None = None,
        max_handoffs: int = 2,
        min_score: float = 0.0,
        retries: int = 1,
        budget: PatternBudget | None = None,
    ) -> None:
        if len(agents) < 2:
            raise ConfigurationError("HandoffPattern needs at least two agents to hand between.")
        _unique_names(agents)
        if entry is not None and entry not in agents:
            raise ConfigurationError("entry must be one of the agents.")
        self.agents = list(agents)
        self.matcher = matcher or CapabilityMatcher()
        self.max_handoffs = max_handoffs
        self.min_score = min_score
        self.retries = retries
        self.budget = budget
        self.holder: BaseAgent | None = entry
        self.trace: list[Handoff] = []
        self.messages = 0
        self._roles = {a.name: a.with_signature(with_handoff(a.signature)) for a in self.agents}
        self.conversation: list[tuple[str, str, str]] = []  # (who answered, message, answer): any holder can read it
        self._t0 = time.perf_counter()

    def send(self, message: str) -> PatternResult:
        return run_sync(self.asend(message))

    async def asend(self, message: str) -> PatternResult:
        if not isinstance(message, str) or not message.strip():
            raise ConfigurationError("send needs a non-empty message.")
        self.messages += 1
        run = PatternRun("handoff", budget=self.budget, concurrency=1, retries=self.retries)
        if self.holder is None:
            first, score = self.matcher.rank(message, self.agents)[0]
            self._hand(None, first, "best match for the first message", score)
        assert self.holder is not None
        holder = self.holder
        result = await self._answer(run, holder, message)
        had = [holder.name]
        while wanted := str(result.get(_HANDOFF_FIELD) or "").strip():
            others = [a for a in self.agents if a.name not in had]
            if not others or len(had) > self.max_handoffs:
                run.warnings.append(f"{holder.name} asked to hand off ({wanted!r}); no one else could take it.")
                break
            target, score = self.matcher.rank(wanted, others)[0]
            if score < self.min_score:
                run.warnings.append(f"{holder.name} asked for {wanted!r}; no agent matched well enough ({score:.2f}).")
                break
            try:
                answered = await self._answer(run, target, message)
            except PatternError as e:
                run.warnings.append(f"{target.name} could not take over from {holder.name}: {e.attempts[-1]}")
                break
            self._hand(holder, target, wanted, score)  # only once the new holder has answered
            holder, result = target, answered
            had.append(target.name)
        answer = {k: v for k, v in result.items() if k != _HANDOFF_FIELD}
        self.conversation.append((holder.name, message, main_text(answer)))
        handoffs = [h.__dict__ for h in self.trace if h.message == self.messages]
        return run.result(
            {
                "answer": main_text(answer),
                "holder": holder.name,
                "outputs": answer,
                "held_by": had,
                "handoffs": handoffs,
            }
        )

    async def _answer(self, run: PatternRun, agent: BaseAgent, message: str) -> Any:
        role = self._roles[agent.name]
        so_far = "\n".join(f"User: {m}\n{who}: {a}" for who, m, a in self.conversation[-10:])
        inputs = agent_inputs(role, message, **{_CONVERSATION_FIELD: so_far})
        _, result = await run.ask(role, inputs, round=self.messages, role="holder", stance=_asks)
        return result

    def _hand(self, source: BaseAgent | None, target: BaseAgent, reason: str, score: float | None) -> None:
        at = time.perf_counter() - self._t0
        self.trace.append(Handoff(at, self.messages, source.name if source else None, target.name, reason, score))
        self.holder = target

    def trace_frame(self) -> Any:
        import pandas as pd

        return pd.DataFrame([h.__dict__ for h in self.trace])


def _asks(result: Any) -> str | None:
    return "handoff" if str(result.get(_HANDOFF_FIELD) or "").strip() else None
