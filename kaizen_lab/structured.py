"""Structured outputs: the schema a provider is held to, and a forgiving parser for providers that are not.

Models wrap JSON in code fences, add prose around it, leave trailing commas or answer in Python literals. We take
the first JSON object out of whatever came back, validate it with the signature's pydantic model, and hand the
exact validation error back to the model when it is wrong.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterator
from typing import Any

import pydantic

from .signatures import Signature

__all__ = ["create_structured_output_config", "extract_json", "strict_schema", "validate_outputs"]

_FENCE = re.compile(r"```(?:json|JSON)?\s*(.*?)```", re.DOTALL)
_TRAILING_COMMA = re.compile(r",\s*([}\]])")


def create_structured_output_config(
    signature: type[Signature] | Signature | str, strict: bool = True, name: str | None = None
) -> dict[str, Any]:
    """An OpenAI-style ``response_format`` for the signature's outputs (as in Kaizen)."""
    sig = Signature.coerce(signature)
    schema = sig.output_json_schema()
    if strict:
        schema, strict = strict_schema(schema)
    return {"type": "json_schema", "json_schema": {"name": name or sig.__name__, "strict": strict, "schema": schema}}


# Keywords that OpenAI's strict mode (and providers modelled on it) reject. We drop them from what is sent and
# still enforce them ourselves: every reply is validated by the signature's pydantic model, and re-asked.
_UNSUPPORTED_STRICT = {
    "minLength",
    "maxLength",
    "pattern",
    "format",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "multipleOf",
    "minItems",
    "maxItems",
    "uniqueItems",
    "default",
}


def strict_schema(schema: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """A copy of ``schema`` fit for strict JSON-schema mode, and whether strict mode can hold it at all.

    Free-form maps (``dict[str, int]``) cannot be strict: every object must list its keys. Those schemas are sent
    non-strict and the reply is validated locally as always.
    """
    can_be_strict = True

    def walk(node: Any) -> Any:
        nonlocal can_be_strict
        if isinstance(node, list):
            return [walk(n) for n in node]
        if not isinstance(node, dict):
            return node
        out = {k: walk(v) for k, v in node.items() if k not in _UNSUPPORTED_STRICT}
        if out.get("type") == "object":
            if "properties" not in out or isinstance(out.get("additionalProperties"), dict):
                can_be_strict = False
            else:
                out["additionalProperties"] = False
                out["required"] = list(out["properties"])
        return out

    return walk(schema), can_be_strict


def _balanced_objects(text: str) -> Iterator[str]:
    """Every balanced ``{...}`` in text, left to right, respecting strings."""
    start = text.find("{")
    while start != -1:
        depth, in_str, escape = 0, False, False
        for i in range(start, len(text)):
            ch = text[i]
            if in_str:
                escape = ch == "\\" and not escape
                if ch == '"' and not escape:
                    in_str = False
                continue
            if ch == '"':
                in_str = True
            elif ch == "{":
                depth += 1
            elif ch == "}":
                depth -= 1
                if depth == 0:
                    yield text[start : i + 1]
                    break
        start = text.find("{", start + 1)


def extract_json(text: str) -> dict[str, Any]:
    """Find and decode the JSON object in a model's reply; raise ValueError saying what was wrong."""
    if not text or not text.strip():
        raise ValueError("the reply was empty")
    candidates = [m.group(1) for m in _FENCE.finditer(text)] + [text]
    for candidate in candidates:
        for blob in _balanced_objects(candidate):
            for attempt in (blob, _TRAILING_COMMA.sub(r"\1", blob)):
                try:
                    value = json.loads(attempt)
                except json.JSONDecodeError:
                    value = _python_literal(attempt)
                if isinstance(value, dict):
                    return value
    raise ValueError("the reply contained no JSON object")


def _python_literal(text: str) -> Any:
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return None


def validate_outputs(sig: type[Signature], text: str) -> dict[str, Any]:
    """Parse and validate a reply against the signature's outputs; ValueError carries a fix-it message."""
    data = extract_json(text)
    known = {k: v for k, v in data.items() if k in sig.output_fields}
    try:
        model = sig.output_model.model_validate(known)
    except pydantic.ValidationError as e:
        problems = "; ".join(f"{'.'.join(map(str, err['loc']))}: {err['msg']}" for err in e.errors())
        raise ValueError(problems) from None
    return model.model_dump()
