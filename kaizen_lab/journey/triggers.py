"""Triggers: when does a message move the journey to another pathway?

Every trigger has a cheap, deterministic test (:meth:`Trigger.match`: keywords, a condition, always). An
:class:`IntentTrigger` may also ask a model (:meth:`Trigger.fallback`), which the journey does only when no
deterministic match of equal or higher priority exists — so keyword routing stays fast and predictable.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from ..exceptions import ConfigurationError
from .intent import IntentClassification

__all__ = ["AlwaysTrigger", "ConditionTrigger", "IntentTrigger", "Trigger", "TriggerContext", "TriggerMatch"]


@dataclass
class TriggerContext:
    """What a trigger sees: the message, a copy of the accumulated context and the current pathway.

    ``classify`` (set by the journey) classifies the message over every intent that a model may decide, once per
    message however many triggers ask.
    """

    message: str
    context: dict[str, Any] = field(default_factory=dict)
    pathway: str = ""
    classify: Callable[[], Awaitable[IntentClassification | None]] | None = None
    default_threshold: float = 0.7


@dataclass(frozen=True)
class TriggerMatch:
    """Why a trigger fired: ``reason`` is shown in responses, hooks and the journey map."""

    reason: str
    confidence: float = 1.0
    intent: str | None = None


class Trigger:
    """Base class: override :meth:`match` (and :meth:`fallback` if the trigger can ask a model)."""

    @property
    def uses_model(self) -> bool:
        """True when :meth:`fallback` may call a model."""
        return False

    @property
    def intents(self) -> tuple[str, ...]:
        return ()

    async def match(self, ctx: TriggerContext) -> TriggerMatch | None:
        raise NotImplementedError

    async def fallback(self, ctx: TriggerContext) -> TriggerMatch | None:
        return None

    def describe(self) -> str:
        """A short label for maps and logs."""
        return type(self).__name__


def _compile(pattern: str | re.Pattern[str]) -> re.Pattern[str]:
    if isinstance(pattern, re.Pattern):
        return pattern
    if not isinstance(pattern, str) or not pattern.strip():
        raise ConfigurationError(
            f"IntentTrigger patterns must be non-empty strings or compiled regexes, got {pattern!r}."
        )
    return re.compile(r"(?<!\w)" + re.escape(pattern.strip()) + r"(?!\w)", re.IGNORECASE)


class IntentTrigger(Trigger):
    """Fires when the message contains one of ``patterns`` — whole words or phrases, any case; a compiled
    ``re.Pattern`` is used as is — or, failing that and with ``use_llm_fallback``, when a model classifies the
    message as one of ``intents`` with confidence at least ``confidence_threshold`` (default: the journey's
    ``JourneyConfig.intent_confidence_threshold``, 0.7).
    """

    def __init__(
        self,
        patterns: Iterable[str | re.Pattern[str]] = (),
        intents: Iterable[str] = (),
        *,
        use_llm_fallback: bool = True,
        confidence_threshold: float | None = None,
    ) -> None:
        if isinstance(patterns, str) or isinstance(intents, str):
            raise ConfigurationError("IntentTrigger takes lists: patterns=['faq', 'question about'], intents=['faq'].")
        self.patterns = list(patterns)
        self._compiled = [_compile(p) for p in self.patterns]
        self._intents = tuple(dict.fromkeys(str(i).strip() for i in intents))
        if any(not i for i in self._intents):
            raise ConfigurationError("IntentTrigger intents must be non-empty names, e.g. intents=['faq'].")
        if not self._compiled and not self._intents:
            raise ConfigurationError("IntentTrigger needs patterns=[...] or intents=[...] (or both).")
        if confidence_threshold is not None and not 0.0 <= confidence_threshold <= 1.0:
            raise ConfigurationError(f"confidence_threshold must be between 0 and 1, got {confidence_threshold}.")
        self.use_llm_fallback = use_llm_fallback
        self.confidence_threshold = confidence_threshold

    @property
    def uses_model(self) -> bool:
        return self.use_llm_fallback and bool(self._intents)

    @property
    def intents(self) -> tuple[str, ...]:
        return self._intents

    async def match(self, ctx: TriggerContext) -> TriggerMatch | None:
        for pattern, compiled in zip(self.patterns, self._compiled, strict=True):
            if compiled.search(ctx.message):
                shown = pattern.pattern if isinstance(pattern, re.Pattern) else pattern
                return TriggerMatch(f"pattern {shown!r}")
        return None

    async def fallback(self, ctx: TriggerContext) -> TriggerMatch | None:
        if not self.uses_model or ctx.classify is None:
            return None
        result = await ctx.classify()
        if result is None or result.intent not in self._intents:
            return None
        threshold = self.confidence_threshold if self.confidence_threshold is not None else ctx.default_threshold
        if result.confidence < threshold:
            return None
        return TriggerMatch(
            f"intent {result.intent!r} ({result.confidence:.2f})", confidence=result.confidence, intent=result.intent
        )

    def describe(self) -> str:
        parts = [", ".join(p.pattern if isinstance(p, re.Pattern) else p for p in self.patterns)]
        if self._intents:
            parts.append(f"intent {'/'.join(self._intents)}")
        return " · ".join(p for p in parts if p)

    def __repr__(self) -> str:
        return (
            f"IntentTrigger(patterns={self.patterns!r}, intents={list(self._intents)!r}, "
            f"use_llm_fallback={self.use_llm_fallback}, confidence_threshold={self.confidence_threshold})"
        )


class ConditionTrigger(Trigger):
    """Fires when ``condition(context, message)`` is true (it may be async); ``context`` is the accumulated context."""

    def __init__(self, condition: Callable[[dict[str, Any], str], Any], description: str | None = None) -> None:
        if not callable(condition):
            raise ConfigurationError(
                "ConditionTrigger needs a function: ConditionTrigger(lambda context, message: ...)."
            )
        self.condition = condition
        name = getattr(condition, "__name__", "") or type(condition).__name__
        self.description = description or ("condition" if name == "<lambda>" else f"condition {name}")

    async def match(self, ctx: TriggerContext) -> TriggerMatch | None:
        outcome = self.condition(ctx.context, ctx.message)
        if inspect.isawaitable(outcome):
            outcome = await outcome
        return TriggerMatch(self.description) if outcome else None

    def describe(self) -> str:
        return self.description

    def __repr__(self) -> str:
        return f"ConditionTrigger({self.description!r})"


class AlwaysTrigger(Trigger):
    """Fires on every message (use a low priority, as a catch-all)."""

    async def match(self, ctx: TriggerContext) -> TriggerMatch | None:
        return TriggerMatch("always")

    def describe(self) -> str:
        return "always"

    def __repr__(self) -> str:
        return "AlwaysTrigger()"
