"""Transitions: ``Transition(trigger, from_pathway="*", to_pathway="faq", priority=10)`` and how one is chosen."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field

from ..exceptions import ConfigurationError
from .intent import IntentClassification
from .triggers import Trigger, TriggerContext, TriggerMatch

__all__ = ["Routing", "Transition", "select_transition"]

ANY = "*"


@dataclass(frozen=True, init=False)
class Transition:
    """Move to ``to_pathway`` when ``trigger`` fires while the journey is in ``from_pathway`` (``"*"``: any; a list:
    any of them). Among the transitions that fire, the highest ``priority`` wins; ties go to the one declared first.
    """

    trigger: Trigger
    from_pathway: tuple[str, ...]
    to_pathway: str
    priority: int = 0

    def __init__(
        self,
        trigger: Trigger,
        from_pathway: str | Iterable[str] = ANY,
        to_pathway: str | None = None,
        priority: int = 0,
    ) -> None:
        if not isinstance(trigger, Trigger):
            raise ConfigurationError(
                f"Transition trigger must be an IntentTrigger, ConditionTrigger or AlwaysTrigger, got {trigger!r}."
            )
        if not to_pathway or not isinstance(to_pathway, str):
            raise ConfigurationError("Transition needs to_pathway='<pathway name>'.")
        sources = (from_pathway,) if isinstance(from_pathway, str) else tuple(from_pathway)
        if not sources or not all(isinstance(s, str) and s for s in sources):
            raise ConfigurationError(
                f"Transition from_pathway must be '*', a pathway name or a list of names, got {from_pathway!r}."
            )
        object.__setattr__(self, "trigger", trigger)
        object.__setattr__(self, "from_pathway", sources)
        object.__setattr__(self, "to_pathway", to_pathway)
        object.__setattr__(self, "priority", int(priority))

    @property
    def from_any(self) -> bool:
        return ANY in self.from_pathway

    def applies_to(self, pathway: str) -> bool:
        return self.to_pathway != pathway and (self.from_any or pathway in self.from_pathway)

    def describe(self) -> str:
        source = ANY if self.from_any else "|".join(self.from_pathway)
        return f"{source} → {self.to_pathway} [{self.trigger.describe()}] (priority {self.priority})"


@dataclass
class Routing:
    """The outcome of routing one message: the transition that fired (if any), why, and the model's classification
    (if one was needed)."""

    transition: Transition | None = None
    match: TriggerMatch | None = None
    classification: IntentClassification | None = None
    model_calls: int = field(default=0)


Classifier = Callable[[str, Sequence[str]], Awaitable[IntentClassification]]


async def select_transition(
    transitions: Sequence[Transition],
    ctx: TriggerContext,
    classifier: Classifier | None = None,
) -> Routing:
    """The highest-priority transition from ``ctx.pathway`` whose trigger fires.

    Deterministic tests run first; the model is asked only for intent triggers that rank above the best
    deterministic match (so an "faq" keyword never waits for a model), and at most once per message, over the
    intents of all those triggers together.
    """
    ranked = sorted(
        (t for t in transitions if t.applies_to(ctx.pathway)), key=lambda t: -t.priority
    )  # sorted() is stable: equal priorities keep declaration order
    routing = Routing()
    best = len(ranked)
    for i, t in enumerate(ranked):
        found = await t.trigger.match(ctx)
        if found is not None:
            routing.transition, routing.match, best = t, found, i
            break
    above = [t for t in ranked[:best] if t.trigger.uses_model]
    if not above or classifier is None:
        return routing
    intents = tuple(dict.fromkeys(i for t in above for i in t.trigger.intents))

    async def classify_once() -> IntentClassification | None:
        if routing.classification is None:
            routing.model_calls += 1
            routing.classification = await classifier(ctx.message, intents)
        return routing.classification

    ctx.classify = classify_once
    for t in above:
        found = await t.trigger.fallback(ctx)
        if found is not None:
            routing.transition, routing.match = t, found
            break
    return routing
