"""Parser for string signatures: ``"question, context -> answer, confidence: float 'between 0 and 1'"``.

Types are read with :mod:`ast` against an allow-list, never ``eval``'d, so a signature string from a notebook cell
or a config file cannot run code. Every error names the column and says how to fix it.
"""

from __future__ import annotations

import ast
import keyword
import re
from dataclasses import dataclass
from typing import Any, Literal, Optional, Union

from .exceptions import ConfigurationError

SAFE_TYPES: dict[str, Any] = {
    "str": str,
    "int": int,
    "float": float,
    "bool": bool,
    "dict": dict,
    "list": list,
    "tuple": tuple,
    "Any": Any,
    "Literal": Literal,
    "Optional": Optional,
    "Union": Union,
    "List": list,
    "Dict": dict,
    "Tuple": tuple,
}
_GENERICS = {"list", "dict", "tuple", "Literal", "Optional", "Union", "List", "Dict", "Tuple"}
_TYPE_HELP = "str, int, float, bool, list[str], dict, dict[str, int], Literal['a', 'b'], Optional[int]"
Kind = Literal["input", "output"]
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class ParsedField:
    name: str
    kind: Literal["input", "output"]
    annotation: Any
    desc: str


def _scan(text: str):
    """Yield (index, char, depth, in_quote) so callers can find top-level separators."""
    depth, quote = 0, ""
    for i, ch in enumerate(text):
        if quote:
            yield i, ch, depth, True
            if ch == quote and text[i - 1] != "\\":
                quote = ""
            continue
        if ch in "'\"":
            quote = ch
            yield i, ch, depth, True
            continue
        if ch in "[(":
            depth += 1
        elif ch in "])":
            depth -= 1
        yield i, ch, depth, False
    if quote:
        raise ConfigurationError(f"Signature {text!r}: a quote ({quote}) is never closed; close the description.")
    if depth:
        raise ConfigurationError(f"Signature {text!r}: unbalanced brackets; check the types' [ and ].")


def _split_top(text: str, sep: str, offset: int) -> list[tuple[int, str]]:
    """Split on a top-level separator, keeping each part's column in the whole string."""
    parts, start = [], 0
    for i, _ch, depth, quoted in _scan(text):
        if not quoted and depth == 0 and text.startswith(sep, i) and i >= start:
            parts.append((offset + start, text[start:i]))
            start = i + len(sep)
    parts.append((offset + start, text[start:]))
    return parts


def parse_signature_string(text: str) -> list[ParsedField]:
    if not isinstance(text, str):
        raise ConfigurationError(f"A signature string is needed, like 'question -> answer'; got {type(text).__name__}.")
    sides = _split_top(text, "->", 0)
    if len(sides) != 2:
        found = "no '->'" if len(sides) == 1 else f"{len(sides) - 1} '->'"
        raise ConfigurationError(
            f"Signature {text!r} has {found}; write exactly one, inputs on the left and outputs on the right, "
            "e.g. 'question, context -> answer, confidence: float'."
        )
    fields: list[ParsedField] = []
    kinds: tuple[Kind, Kind] = ("input", "output")
    for (col, side), kind in zip(sides, kinds, strict=True):
        if not side.strip():
            where = "before" if kind == "input" else "after"
            raise ConfigurationError(
                f"Signature {text!r} has no {kind} fields {where} '->' (column {col}); "
                f"name at least one, e.g. 'question -> answer'."
            )
        for pcol, piece in _split_top(side, ",", col):
            fields.append(_parse_field(text, piece, pcol, kind))
    _check_unique(text, fields)
    return fields


def _check_unique(text: str, fields: list[ParsedField]) -> None:
    seen: set[str] = set()
    for f in fields:
        if f.name in seen:
            raise ConfigurationError(
                f"Signature {text!r} declares {f.name!r} twice; each field needs its own name "
                "(an output cannot share a name with an input)."
            )
        seen.add(f.name)


def _parse_field(text: str, piece: str, col: int, kind: Kind) -> ParsedField:
    lead = len(piece) - len(piece.lstrip())
    body, col = piece.strip(), col + lead
    if not body:
        raise ConfigurationError(f"Signature {text!r}: empty field at column {col}; remove the extra comma.")
    m = _NAME.match(body)
    if not m:
        raise ConfigurationError(
            f"Signature {text!r}: {body.split()[0]!r} at column {col} is not a valid field name; "
            "use letters, digits and underscores, starting with a letter."
        )
    name, rest = m.group(), body[m.end() :].strip()
    if name.startswith("_"):
        raise ConfigurationError(
            f"Signature {text!r}: field {name!r} at column {col} starts with an underscore, which marks private "
            f"attributes; rename it, e.g. {name.lstrip('_') or 'value'!r}."
        )
    if keyword.iskeyword(name):
        raise ConfigurationError(
            f"Signature {text!r}: {name!r} at column {col} is a Python keyword and cannot be a field name; "
            f"rename it, e.g. {name + '_'!r}."
        )
    rest, desc = _split_description(rest)
    annotation: Any = str
    if rest.startswith(":"):
        type_text = rest[1:].strip()
        if not type_text:
            raise ConfigurationError(f"Signature {text!r}: field {name!r} has ':' but no type; e.g. '{name}: str'.")
        annotation = resolve_type_string(type_text, where=f"field {name!r} at column {col} of {text!r}")
    elif rest:
        raise ConfigurationError(
            f"Signature {text!r}: unexpected {rest!r} after field {name!r} (column {col}); "
            f"separate fields with commas and give types after a colon, e.g. '{name}: int'."
        )
    return ParsedField(name=name, kind=kind, annotation=annotation, desc=desc)


def _split_description(rest: str) -> tuple[str, str]:
    """Peel a trailing top-level quoted description off a field."""
    if not rest.endswith(("'", '"')):
        return rest, ""
    start, prev_quoted = None, False
    for i, _ch, depth, quoted in _scan(rest):
        if quoted and not prev_quoted and depth == 0:
            start = i
        prev_quoted = quoted
    if start is None:
        return rest, ""
    return rest[:start].rstrip(), rest[start + 1 : -1]


def resolve_type_string(type_text: str, *, where: str) -> Any:
    """Turn ``"list[str]"`` or ``"Literal['a', 'b']"`` into a type, from an allow-list only."""
    try:
        node = ast.parse(type_text.strip(), mode="eval").body
    except SyntaxError:
        raise ConfigurationError(f"{where}: {type_text!r} is not a type; use one of {_TYPE_HELP}.") from None
    return _to_type(node, type_text, where)


def _to_type(node: ast.AST, src: str, where: str) -> Any:
    if isinstance(node, ast.Name):
        if node.id not in SAFE_TYPES:
            raise ConfigurationError(f"{where}: unknown type {node.id!r}; use one of {_TYPE_HELP}.")
        if node.id in ("Literal", "Optional", "Union"):
            raise ConfigurationError(f"{where}: {node.id} needs parameters, e.g. {node.id}[...]; see {_TYPE_HELP}.")
        return SAFE_TYPES[node.id]
    if isinstance(node, ast.Constant) and node.value is None:
        return type(None)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        return Union[_to_type(node.left, src, where), _to_type(node.right, src, where)]  # noqa: UP007
    if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name):
        return _subscript(node, src, where)
    raise ConfigurationError(f"{where}: {ast.unparse(node)!r} is not a supported type; use one of {_TYPE_HELP}.")


def _subscript(node: ast.Subscript, src: str, where: str) -> Any:
    base = node.value.id  # type: ignore[attr-defined]
    if base not in _GENERICS:
        raise ConfigurationError(f"{where}: {base!r} does not take parameters; use one of {_TYPE_HELP}.")
    args = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
    if base == "Literal":
        values = []
        for a in args:
            if not isinstance(a, ast.Constant) or not isinstance(a.value, str | int | bool):
                raise ConfigurationError(
                    f"{where}: Literal takes quoted strings or numbers, e.g. Literal['yes', 'no']."
                )
            values.append(a.value)
        return Literal[tuple(values)]
    types = tuple(_to_type(a, src, where) for a in args)
    try:
        if (base in ("dict", "Dict") and len(types) != 2) or (base == "Optional" and len(types) != 1) or not types:
            raise TypeError(f"wrong number of parameters for {base}")
        return SAFE_TYPES[base][types if len(types) > 1 else types[0]]
    except (TypeError, IndexError) as e:
        raise ConfigurationError(f"{where}: {src!r} is not a valid type ({e}); use one of {_TYPE_HELP}.") from None
