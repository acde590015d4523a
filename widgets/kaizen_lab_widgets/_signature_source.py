"""The signature builder's model, without widgets: field drafts → a ``Signature`` class and its Python source.

Types are resolved by the same allow-list reader as ``Signature.parse``, so anything the builder accepts is also a
valid signature string type, and nothing typed into the form is ever ``eval``'d.
"""

from __future__ import annotations

import ast
import json
import keyword
import re
import textwrap
import typing
from dataclasses import dataclass
from typing import Any, Literal, cast

import pydantic

from kaizen_lab import ConfigurationError, InputField, OutputField, Signature
from kaizen_lab._signature_parser import resolve_type_string

__all__ = ["NO_DEFAULT", "FieldDraft", "build_signature", "drafts_from_signature", "make_draft", "signature_code"]

Kind = Literal["input", "output"]
_TYPING_NAMES = ("Any", "Literal")


class _NoDefault:
    def __repr__(self) -> str:
        return "NO_DEFAULT"


NO_DEFAULT: Any = _NoDefault()  # "required"; a sentinel rather than None, so an input may default to None


@dataclass(frozen=True)
class FieldDraft:
    """One field as the form holds it; ``type`` is canonical source text, e.g. ``Literal["a", "b"]``."""

    name: str
    type: str
    kind: Kind
    annotation: Any
    desc: str = ""
    default: Any = NO_DEFAULT

    @property
    def has_default(self) -> bool:
        return self.default is not NO_DEFAULT


def check_name(name: str, what: str = "field name") -> str:
    """A usable identifier, or a ConfigurationError saying how to fix it (the rules ``Signature.parse`` applies)."""
    name = name.strip()
    if not name:
        raise ConfigurationError(f"The {what} is empty; type one, e.g. 'question'.")
    if not name.isidentifier() or not name.isascii():
        raise ConfigurationError(
            f"{name!r} is not a valid {what}; use letters, digits and underscores, starting with a letter."
        )
    if keyword.iskeyword(name):
        raise ConfigurationError(
            f"{name!r} is a Python keyword and cannot be a {what}; rename it, e.g. {name + '_'!r}."
        )
    if name.startswith("_"):
        raise ConfigurationError(
            f"{what.capitalize()} {name!r} starts with an underscore, which marks private attributes; rename it, "
            f"e.g. {name.lstrip('_') or 'value'!r}."
        )
    return name


def make_draft(name: str, type_text: str, kind: str, desc: str = "", default: Any = NO_DEFAULT) -> FieldDraft:
    """Validate one field; every problem is a ConfigurationError whose message names the field and the fix."""
    name = check_name(name)
    if kind not in ("input", "output"):
        raise ConfigurationError(f"Field {name!r}: kind must be 'input' or 'output', not {kind!r}.")
    annotation = resolve_type_string(type_text or "str", where=f"field {name!r}")
    if default is not NO_DEFAULT:
        if kind == "output":
            raise ConfigurationError(f"Field {name!r} is an output; only inputs take a default.")
        try:
            pydantic.TypeAdapter(annotation).validate_python(default)
        except pydantic.ValidationError as e:
            msg = "; ".join(err["msg"] for err in e.errors())
            raise ConfigurationError(
                f"Field {name!r}: the default {default!r} does not fit its type ({msg})."
            ) from None
    return FieldDraft(
        name, type_source(annotation, where=f"field {name!r}"), cast(Kind, kind), annotation, desc, default
    )


def drafts_from_signature(signature: type[Signature]) -> list[FieldDraft]:
    """Pre-fill from an existing class; types outside the allow-list (pydantic models, constraints) are not kept."""
    drafts = []
    for name, spec in signature.fields.items():
        default = NO_DEFAULT if spec.required else spec.default
        drafts.append(make_draft(name, type_source(spec.annotation), spec.kind, spec.desc, default))
    return drafts


def build_signature(name: str, instructions: str, drafts: list[FieldDraft]) -> type[Signature]:
    """The real class, built the way a ``class`` statement would be (so defaults work, unlike string signatures)."""
    check_name(name, "class name")
    if not drafts:
        raise ConfigurationError(f"{name} has no fields yet; add an input and an output field.")
    ns: dict[str, Any] = {"__doc__": instructions, "__module__": __name__, "__annotations__": {}}
    for d in drafts:
        ns["__annotations__"][d.name] = d.annotation
        if d.kind == "output":
            ns[d.name] = OutputField(desc=d.desc)
        elif d.has_default:
            ns[d.name] = InputField(desc=d.desc, default=d.default)
        else:
            ns[d.name] = InputField(desc=d.desc)
    return type(Signature)(name, (Signature,), ns)


def signature_code(name: str, instructions: str, drafts: list[FieldDraft]) -> str:
    """Importable, ruff-formatted Python source of the class, with only the imports it uses."""
    kinds = {d.kind for d in drafts}
    engine = sorted(
        {"Signature"} | {"InputField" for k in kinds if k == "input"} | {"OutputField" for k in kinds if k == "output"}
    )
    used = {n for d in drafts for n in _names(d.type)}
    lines = []
    typing_names = [n for n in _TYPING_NAMES if n in used]
    if typing_names:
        lines += [f"from typing import {', '.join(typing_names)}", ""]
    lines += [f"from kaizen_lab import {', '.join(engine)}", "", "", f"class {name}(Signature):"]
    body = _docstring(instructions)
    if body and drafts:
        body.append("")
    for d in drafts:
        call = "InputField" if d.kind == "input" else "OutputField"
        args = {"desc": d.desc} if d.desc else {}
        if d.has_default:
            args["default"] = d.default
        body.append(_field_line(f"{d.name}: {d.type} = {call}", args))
    lines += [f"    {line}" if line else "" for line in body or ["pass"]]
    return "\n".join(lines) + "\n"


def type_source(tp: Any, where: str = "a field") -> str:
    """Source text for an allow-listed type: ``list[str]``, ``Literal["a", "b"]``, ``int | None``."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if tp is type(None):
        return "None"
    if tp is Any:
        return "Any"
    if origin is Literal:
        return f"Literal[{', '.join(_literal(a) for a in args)}]"
    if origin is typing.Union or type(tp).__name__ == "UnionType":
        return " | ".join(type_source(a, where) for a in args)
    if origin is not None:
        return f"{origin.__name__}[{', '.join(type_source(a, where) for a in args)}]"
    if isinstance(tp, type):
        return tp.__name__
    raise ConfigurationError(
        f"{where}: the type {tp!r} needs parameters or is not one the builder edits; use str, int, float, bool, "
        "list[str], dict, Literal['a', 'b'] or Optional[int]."
    )


def _names(type_text: str) -> set[str]:
    return {n.id for n in ast.walk(ast.parse(type_text, mode="eval")) if isinstance(n, ast.Name)}


def _literal(value: Any) -> str:
    """Python source for a default or Literal value, double-quoted like ruff format writes it."""
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return f"[{', '.join(_literal(v) for v in value)}]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_literal(k)}: {_literal(v)}" for k, v in value.items()) + "}"
    return repr(value)


def _docstring(instructions: str) -> list[str]:
    text = " ".join(instructions.split())  # Signature keeps instructions as one line of words anyway
    if not text:
        return []
    text = text.replace("\\", "\\\\")
    if '"""' in text or text.endswith('"'):
        text = text.replace('"', '\\"')
    if len(text) <= 110:
        return [f'"""{text}"""']
    wrapped = textwrap.wrap(text, 112, break_on_hyphens=False)
    return [f'"""{wrapped[0]}', *wrapped[1:], '"""']


def _field_line(head: str, args: dict[str, Any]) -> str:
    """One line when it fits in 116 columns (120 minus the indent); else one argument per line, and long strings
    split into parenthesised pieces, the way ruff format lays them out."""
    line = f"{head}({', '.join(f'{k}={_literal(v)}' for k, v in args.items())})"
    if len(line) <= 116:
        return line
    inner = []
    for key, value in args.items():
        arg = f"        {key}={_literal(value)},"
        if len(arg) > 116 and isinstance(value, str):
            pieces = "\n".join(f"            {_literal(piece)}" for piece in _pieces(value, 120 - 12))
            arg = f"        {key}=(\n{pieces}\n        ),"
        inner.append(arg)
    return f"{head}(\n" + "\n".join(inner) + "\n    )"


def _pieces(text: str, width: int) -> list[str]:
    """Split a string at spaces into pieces whose literals fit ``width`` columns (a long word stays whole)."""
    pieces = [""]
    for word in re.findall(r"\S*\s*", text):
        if pieces[-1] and len(_literal(pieces[-1] + word)) > width:
            pieces.append("")
        pieces[-1] += word
    return pieces
