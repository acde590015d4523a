"""Signatures: declare what goes into an agent and what must come out.

A signature is a class whose docstring is the instruction and whose annotated attributes are fields::

    class QA(Signature):
        \"\"\"Answer questions accurately.\"\"\"
        question: str = InputField(desc="The question")
        answer: str = OutputField(desc="The answer")
        confidence: float = OutputField(desc="0.0-1.0")

or a string, ``Signature.parse("question -> answer, confidence: float")``. Each signature carries two pydantic
models (``input_model``, ``output_model``) used to validate inputs, coerce outputs and produce the JSON schema that
structured decoding is constrained by.
"""

from __future__ import annotations

import copy
import sys
import typing
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, cast

import pydantic

from ._signature_parser import SAFE_TYPES, parse_signature_string
from .exceptions import ConfigurationError

__all__ = ["FieldSpec", "InputField", "OutputField", "Signature"]

_MISSING: Any = object()


@dataclass(frozen=True)
class FieldSpec:
    """One declared field: its kind, type, description, default and extra pydantic constraints."""

    kind: Literal["input", "output"]
    desc: str = ""
    default: Any = _MISSING
    annotation: Any = str
    constraints: dict[str, Any] = field(default_factory=dict)

    @property
    def required(self) -> bool:
        return self.default is _MISSING

    def with_annotation(self, annotation: Any) -> FieldSpec:
        return FieldSpec(self.kind, self.desc, self.default, annotation, self.constraints)


def _field(kind: Literal["input", "output"], desc: str | None, description: str | None, default: Any, **kw: Any):
    if desc is not None and description is not None and desc != description:
        raise ConfigurationError("Give a field's description once: use desc= or description=, not both.")
    return FieldSpec(kind=kind, desc=desc or description or "", default=default, constraints=kw)


def InputField(
    desc: str | None = None, *, description: str | None = None, default: Any = _MISSING, **constraints: Any
) -> Any:
    """Declare an input field. ``default`` makes it optional."""
    return _field("input", desc, description, default, **constraints)


def OutputField(
    desc: str | None = None, *, description: str | None = None, default: Any = _MISSING, **constraints: Any
) -> Any:
    """Declare an output field. Extra keywords (``ge=0, le=1``, ``max_length=...``) become pydantic constraints."""
    return _field("output", desc, description, default, **constraints)


def _resolve_annotations(cls: type, localns: dict[str, Any] | None) -> dict[str, Any]:
    """Resolve annotations, including strings from ``from __future__ import annotations``.

    ``localns`` is the namespace where the class statement ran, so types defined inside a function resolve too.
    """
    raw = cls.__dict__.get("__annotations__", {})
    try:
        return typing.get_type_hints(cls, localns=localns, include_extras=True)
    except Exception:
        pass
    module = sys.modules.get(cls.__module__)
    namespace = {**SAFE_TYPES, **(vars(module) if module else {}), **(localns or {})}
    hints: dict[str, Any] = {}
    for name, ann in raw.items():
        if not isinstance(ann, str):
            hints[name] = ann
            continue
        try:
            hints[name] = eval(ann, namespace)  # the annotation is the user's own code, in their own namespace
        except Exception as e:
            raise ConfigurationError(
                f"{cls.__name__}.{name}: cannot resolve the type {ann!r} ({e}); define or import it where the "
                "signature is defined."
            ) from e
    return hints


def _model(name: str, specs: dict[str, FieldSpec], *, lenient_inputs: bool) -> type[pydantic.BaseModel]:
    fields: dict[str, Any] = {}
    for fname, spec in specs.items():
        default = ... if spec.required else spec.default
        fields[fname] = (
            spec.annotation,
            pydantic.Field(default, description=spec.desc or None, **spec.constraints),
        )
    config = pydantic.ConfigDict(
        extra="forbid", arbitrary_types_allowed=True, coerce_numbers_to_str=lenient_inputs, title=name
    )
    return pydantic.create_model(name, __config__=config, **fields)


class _SignatureMeta(type):
    # set on every Signature class by Signature._build
    fields: dict[str, FieldSpec]
    input_fields: dict[str, FieldSpec]
    output_fields: dict[str, FieldSpec]

    def __new__(mcs, name: str, bases: tuple[type, ...], ns: dict[str, Any], **kw: Any):
        cls: Any = super().__new__(mcs, name, bases, ns, **kw)
        if ns.get("__module__") == __name__ and name == "Signature":
            cls._build({})
            return cls
        caller = sys._getframe(1)  # where the class statement runs (pydantic resolves forward refs the same way)
        localns = caller.f_locals if caller.f_locals is not caller.f_globals else None
        cls._build(_collect_fields(cls, localns))
        return cls

    # The pydantic models are built on first use: creating them costs ~5 ms per signature, which would
    # otherwise be paid at ``import kaizen_lab`` for every built-in agent.
    @property
    def input_model(cls) -> type[pydantic.BaseModel]:
        if "_input_model" not in cls.__dict__:
            cls._input_model = _model(f"{cls.__name__}Inputs", cls.input_fields, lenient_inputs=True)
        return cls.__dict__["_input_model"]

    @property
    def output_model(cls) -> type[pydantic.BaseModel]:
        if "_output_model" not in cls.__dict__:
            cls._output_model = _model(f"{cls.__name__}Outputs", cls.output_fields, lenient_inputs=False)
        return cls.__dict__["_output_model"]

    @property
    def output_schema(cls) -> dict[str, Any]:
        """The cached output schema, shared: do not mutate (``output_json_schema()`` gives a copy).

        pydantic rebuilds a schema in ~0.3 ms, which was most of the framework's cost per call.
        """
        if "_output_schema" not in cls.__dict__:
            try:
                schema = cls.output_model.model_json_schema()
            except pydantic.PydanticUserError as e:
                raise ConfigurationError(
                    f"{cls.__name__}'s outputs cannot be described as JSON schema ({e}); use JSON types for output "
                    "fields: str, int, float, bool, list, dict, Literal, or a pydantic model."
                ) from e
            schema["required"] = list(cls.output_fields)
            schema["additionalProperties"] = False
            cls._output_schema = schema
        return cls.__dict__["_output_schema"]

    def __repr__(cls) -> str:
        if not getattr(cls, "fields", None):
            return super().__repr__()
        return f"<Signature {cls.__name__}: {cast(Any, cls).describe()}>"


def _collect_fields(cls: type, localns: dict[str, Any] | None = None) -> dict[str, FieldSpec]:
    specs: dict[str, FieldSpec] = {}
    for base in reversed(cls.__mro__[1:]):
        specs.update(getattr(base, "fields", {}) or {})
    hints = _resolve_annotations(cls, localns)
    for name in cls.__dict__.get("__annotations__", {}):
        if name.startswith("_") or typing.get_origin(hints.get(name)) is ClassVar:
            continue
        value = cls.__dict__.get(name, _MISSING)
        if name in _RESERVED:
            raise ConfigurationError(
                f"{cls.__name__}: a field cannot be called {name!r}, which is a Signature method; rename it."
            )
        if not isinstance(value, FieldSpec):
            raise ConfigurationError(
                f"{cls.__name__}.{name} has a type but no InputField()/OutputField(); "
                f"write `{name}: ... = InputField(desc=...)` or `= OutputField(desc=...)`."
            )
        specs[name] = value.with_annotation(hints.get(name, str))
    return specs


class Signature(metaclass=_SignatureMeta):
    """Base class for signatures; subclass it or call :meth:`parse`."""

    fields: ClassVar[dict[str, FieldSpec]]
    input_fields: ClassVar[dict[str, FieldSpec]]
    output_fields: ClassVar[dict[str, FieldSpec]]
    instructions: ClassVar[str]

    @classmethod
    def _build(cls, specs: dict[str, FieldSpec]) -> None:
        cls.fields = specs
        cls.input_fields = {k: v for k, v in specs.items() if v.kind == "input"}
        cls.output_fields = {k: v for k, v in specs.items() if v.kind == "output"}
        doc = cls.__dict__.get("__doc__")
        # A subclass that only adds fields keeps the task it refines: no docstring means the parent's instructions
        # (a user's signature's, never this base class's own docstring).
        parents = [b for b in cls.__mro__[1:] if isinstance(b, _SignatureMeta) and b.__mro__[1] is not object]
        inherited = next((b.__dict__["instructions"] for b in parents if b.__dict__.get("instructions")), "")
        cls.instructions = " ".join(doc.split()) if doc else inherited
        if specs and not cls.output_fields:
            raise ConfigurationError(f"Signature {cls.__name__} declares no OutputField; add at least one.")

    # -- construction -------------------------------------------------------------------------------------------
    @classmethod
    def parse(
        cls,
        text: str,
        instructions: str = "",
        *,
        name: str = "StringSignature",
        descriptions: dict[str, str] | None = None,
    ) -> type[Signature]:
        """Build a signature from ``"in1, in2: int -> out1, out2: list[str]"``.

        Types default to ``str``; a quoted string after a field gives its description:
        ``"question 'What to answer' -> answer: str 'One sentence'"``.
        """
        parsed = parse_signature_string(text)
        descriptions = descriptions or {}
        unknown = set(descriptions) - {f.name for f in parsed}
        if unknown:
            raise ConfigurationError(f"descriptions name fields the signature does not have: {sorted(unknown)}.")
        ns: dict[str, Any] = {"__doc__": instructions, "__module__": __name__, "__annotations__": {}}
        for f in parsed:
            ns["__annotations__"][f.name] = f.annotation
            ns[f.name] = FieldSpec(kind=f.kind, desc=descriptions.get(f.name, f.desc))
        sig = cast(type[Signature], _SignatureMeta(name, (Signature,), ns))
        sig.source = text  # type: ignore[attr-defined]
        return sig

    @classmethod
    def coerce(cls, sig: type[Signature] | Signature | str) -> type[Signature]:
        """Accept a Signature class, an instance (Kaizen style) or a signature string."""
        if isinstance(sig, str):
            return Signature.parse(sig)
        if isinstance(sig, Signature):
            return type(sig)
        if isinstance(sig, type) and issubclass(sig, Signature) and sig.fields:
            return sig
        raise ConfigurationError(
            f"Expected a Signature subclass, instance or string like 'question -> answer', got {sig!r}."
        )

    # -- validation ---------------------------------------------------------------------------------------------
    @classmethod
    def validate_inputs(cls, inputs: dict[str, Any]) -> dict[str, Any]:
        """Check and fill defaults; a missing or unknown input raises ConfigurationError naming it."""
        missing = [k for k, s in cls.input_fields.items() if s.required and k not in inputs]
        if missing:
            raise ConfigurationError(
                f"{cls.__name__} needs input(s) {missing}; pass them as keyword arguments, "
                f"e.g. run({missing[0]}=...). Inputs: {list(cls.input_fields)}."
            )
        extra = [k for k in inputs if k not in cls.input_fields]
        if extra:
            raise ConfigurationError(
                f"{cls.__name__} has no input(s) {extra}; its inputs are {list(cls.input_fields)}."
            )
        try:
            return dict(cls.input_model.model_validate(inputs))
        except pydantic.ValidationError as e:
            raise ConfigurationError(f"Invalid input for {cls.__name__}: {_short_errors(e)}") from e

    @classmethod
    def output_json_schema(cls) -> dict[str, Any]:
        """JSON schema of the outputs (all declared fields required), for constrained decoding. A fresh copy."""
        return copy.deepcopy(cls.output_schema)

    @classmethod
    def describe(cls) -> str:
        """One-line form, e.g. ``question: str, context: str -> answer: str, confidence: float``."""

        def side(specs: dict[str, FieldSpec]) -> str:
            return ", ".join(f"{k}: {_type_name(s.annotation)}" for k, s in specs.items())

        return f"{side(cls.input_fields)} -> {side(cls.output_fields)}"


def _type_name(tp: Any) -> str:
    """Readable type names for prompts and reprs: ``list[str]``, ``Literal['a', 'b']``, constraints left out."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is typing.Annotated:
        return _type_name(args[0])
    if origin is Literal:
        return f"Literal[{', '.join(map(repr, args))}]"
    if origin is typing.Union or type(tp).__name__ == "UnionType":
        return " | ".join("None" if a is type(None) else _type_name(a) for a in args)
    if origin is not None:
        return f"{getattr(origin, '__name__', str(origin))}[{', '.join(_type_name(a) for a in args)}]"
    if isinstance(tp, type):
        return tp.__name__
    return repr(tp).replace("typing.", "")


def _short_errors(e: pydantic.ValidationError) -> str:
    return "; ".join(f"{'.'.join(map(str, err['loc'])) or 'value'}: {err['msg']}" for err in e.errors())


_RESERVED = frozenset(n for n in dir(Signature) if not n.startswith("_")) | {"fields", "input_fields", "output_fields"}
