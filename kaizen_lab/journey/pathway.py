"""Pathways: one phase of a journey (intake, booking, an FAQ detour), declared as a nested class.

::

    class IntakePath(Pathway):
        __signature__ = IntakeSignature
        __agents__ = ["intake_agent"]
        __accumulate__ = ["symptoms", "name"]
        __next__ = "booking"
        __guidelines__ = ["Be concise"]

The pathway's name is the class name without ``Path``/``Pathway``, in snake case (``IntakePath`` → ``intake``,
``FAQPath`` → ``faq``), unless ``__pathway_name__`` says otherwise.
"""

from __future__ import annotations

import json
import re
import typing
from typing import Any, ClassVar

from ..exceptions import ConfigurationError
from ..signatures import FieldSpec, Signature
from .behaviors import ReturnBehavior
from .context import is_empty
from .triggers import Trigger, TriggerContext

__all__ = ["Pathway", "build_inputs", "message_slot", "pathway_name"]


class Pathway:
    """Base class of pathways. All attributes are optional except ``__agents__``.

    A pathway *completes* after it has handled a message, and then the journey moves on (``__next__``, or back for a
    detour). When: ``__complete_when__`` (a trigger, tested on the message and the accumulated context after the
    pathway ran: ``IntentTrigger(patterns=["that's all"])``, ``ConditionTrigger(...)``) if set, else
    :meth:`is_complete`: a detour (``__return_behavior__``) completes after one answer; a pathway with ``__next__``
    once every ``__accumulate__`` field has a value; a pathway with neither stays until a transition leads away.
    """

    __pathway_name__: ClassVar[str] = ""
    __signature__: ClassVar[type[Signature] | str | None] = None
    __agents__: ClassVar[list[str]] = []
    __accumulate__: ClassVar[list[str]] = []
    __next__: ClassVar[str | None] = None
    __return_behavior__: ClassVar[ReturnBehavior | None] = None
    __guidelines__: ClassVar[list[str]] = []
    __complete_when__: ClassVar[Trigger | None] = None

    def __init_subclass__(cls, **kw: Any) -> None:
        super().__init_subclass__(**kw)
        if not cls.__dict__.get("__pathway_name__"):
            cls.__pathway_name__ = pathway_name(cls.__name__)

    @classmethod
    async def completes(cls, context: dict[str, Any], outputs: dict[str, Any], message: str) -> bool:
        """Whether this message completed the pathway (``__complete_when__``, else :meth:`is_complete`)."""
        if cls.__complete_when__ is not None:
            ctx = TriggerContext(message, context, cls.__pathway_name__)
            return await cls.__complete_when__.match(ctx) is not None  # keywords and conditions, never a model
        return bool(cls.is_complete(context, outputs))

    @classmethod
    def is_complete(cls, context: dict[str, Any], outputs: dict[str, Any]) -> bool:
        """Override for other rules; ``context`` is the accumulated context after this message's outputs merged."""
        if cls.__return_behavior__ is not None:
            return True
        if cls.__next__ is None:
            return False
        return all(not is_empty(context.get(name)) for name in cls.__accumulate__)


def pathway_name(class_name: str) -> str:
    base = re.sub(r"(Pathway|Path)$", "", class_name) or class_name
    snake = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", base)
    return snake.lower()


def message_slot(sig: type[Signature]) -> str | None:
    """The input that receives the user's message: ``message`` if declared, else the first ``str`` input."""
    if "message" in sig.input_fields:
        return "message"
    return next((n for n, s in sig.input_fields.items() if _base_type(s.annotation) is str), None)


def build_inputs(
    sig: type[Signature], message: str, context: dict[str, Any], produced: dict[str, Any], where: str = ""
) -> dict[str, Any]:
    """An agent's inputs: the message in its slot (:func:`message_slot`; a slot other than ``message`` that an
    earlier agent of this turn produced takes that output instead), the other fields by name from what earlier
    agents of this turn produced, then from the accumulated context. A required field that nothing provides gets an
    empty value of its type (``""``, ``[]``, ``{}``) — the first turns of a conversation do not know everything yet.
    """
    slot = message_slot(sig)
    values: dict[str, Any] = {}
    for name, spec in sig.input_fields.items():
        if name == slot and (name == "message" or name not in produced):
            values[name] = message
            continue
        if name in produced and not is_empty(produced[name]):
            value = produced[name]
        elif name in context:
            value = context[name]
        elif not spec.required:
            continue
        else:
            value = _empty_of(spec, name, where)
        values[name] = _fit(spec, value)
    return values


def _base_type(annotation: Any) -> Any:
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _base_type(typing.get_args(annotation)[0])
    return origin or annotation


def _empty_of(spec: FieldSpec, name: str, where: str) -> Any:
    kind = _base_type(spec.annotation)
    for empty_type, empty in ((str, ""), (list, []), (dict, {})):
        if kind is empty_type:
            return empty
    raise ConfigurationError(
        f"{where}needs the input {name!r}, which is neither the message nor in the accumulated context yet; "
        f"give it a default (InputField(default=...)) or accumulate it in an earlier pathway."
    )


def _fit(spec: FieldSpec, value: Any) -> Any:
    """Context values are JSON-like; a ``str`` input gets a readable text of a list or dict."""
    if _base_type(spec.annotation) is str and not isinstance(value, str):
        if isinstance(value, list | tuple):
            return ", ".join(v if isinstance(v, str) else json.dumps(v, default=str) for v in value)
        return json.dumps(value, default=str) if isinstance(value, dict) else str(value)
    return value
