"""Journeys (Kaizen layer 5): multi-pathway conversations with intent-driven transitions and accumulated context.

- :class:`Journey` with nested :class:`Pathway` classes, ``__entry_pathway__`` and ``__transitions__``;
- :class:`Transition` with :class:`IntentTrigger` (keywords, then a model), :class:`ConditionTrigger`,
  :class:`AlwaysTrigger`;
- :class:`ReturnToPrevious` / :class:`ReturnToSpecific` for detours (an FAQ that returns to where the user was);
- :class:`AccumulationStrategy` per field in :class:`JourneyConfig`, which also sets the fallback model and where
  sessions are saved.
"""

from .behaviors import ReturnBehavior, ReturnToPrevious, ReturnToSpecific
from .config import JourneyConfig
from .context import AccumulationStrategy
from .intent import NO_INTENT, IntentClassification, IntentClassifier, intent_signature
from .journey import Journey
from .pathway import Pathway
from .response import JourneyResponse
from .state import JourneyState, JourneyStore, StackFrame
from .transitions import Routing, Transition, select_transition
from .triggers import AlwaysTrigger, ConditionTrigger, IntentTrigger, Trigger, TriggerContext, TriggerMatch

__all__ = [
    "NO_INTENT",
    "AccumulationStrategy",
    "AlwaysTrigger",
    "ConditionTrigger",
    "IntentClassification",
    "IntentClassifier",
    "IntentTrigger",
    "Journey",
    "JourneyConfig",
    "JourneyResponse",
    "JourneyState",
    "JourneyStore",
    "Pathway",
    "ReturnBehavior",
    "ReturnToPrevious",
    "ReturnToSpecific",
    "Routing",
    "StackFrame",
    "Transition",
    "Trigger",
    "TriggerContext",
    "TriggerMatch",
    "intent_signature",
    "select_transition",
]
