"""Offline fakes for tests and demos: models that answer instantly and deterministically.

``MockProvider`` (provider name ``mock``) fills every output field from the JSON schema; ``FunctionProvider``
answers from your function or a script of replies. Neither pretends to be a real model: results say
``provider="mock"``/``"function"``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

from ._types import Completion, LLMRequest, Message, StructuredMode, Usage
from .base import Provider

__all__ = ["FunctionProvider", "MockProvider", "schema_example"]


def _tokens(text: str) -> int:
    return max(1, len(text) // 4)


def _prompt_tokens(messages: list[Message]) -> int:
    return sum(_tokens(str(m.get("content", ""))) for m in messages)


def schema_example(schema: dict[str, Any], defs: dict[str, Any] | None = None) -> Any:
    """A deterministic value valid for ``schema`` (enough of JSON Schema for signature outputs)."""
    defs = defs if defs is not None else schema.get("$defs", {})
    if "$ref" in schema:
        return schema_example(defs[schema["$ref"].rsplit("/", 1)[-1]], defs)
    if "enum" in schema:
        return schema["enum"][0]
    if "const" in schema:
        return schema["const"]
    for key in ("anyOf", "oneOf", "allOf"):
        if key in schema:
            return schema_example(schema[key][0], defs)
    kind = schema.get("type", "string")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object":
        props = schema.get("properties", {})
        return {k: schema_example(v, defs) for k, v in props.items()}
    if kind == "array":
        return [schema_example(schema.get("items", {}), defs)] * max(1, schema.get("minItems", 1))
    if kind in ("number", "integer"):
        low, high = schema.get("minimum", 0), schema.get("maximum", 1)
        value = (low + high) / 2
        return int(value) if kind == "integer" else float(value)
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    title = schema.get("title", "value")
    return f"mock {title.lower()}"


class MockProvider(Provider):
    """Returns schema-valid JSON built from the requested schema (or a fixed text)."""

    name = "mock"
    default_model = "mock-model"

    def __init__(self, text: str = "mock response", **_: Any) -> None:
        self.text = text

    def structured_mode(self, model: str) -> StructuredMode:
        return "json_schema"

    async def acomplete(self, request: LLMRequest, model: str) -> Completion:
        content = json.dumps(schema_example(request.schema)) if request.schema else self.text
        return Completion(
            content=content,
            provider=self.name,
            model=model,
            usage=Usage(_prompt_tokens(request.messages), _tokens(content)),
            finish_reason="stop",
        )


Reply = str | dict[str, Any] | Exception | Completion


class FunctionProvider(Provider):
    """Answers with ``fn(messages, request)`` or, given a list, the next scripted reply.

    A reply may be a string (sent as is: use it to test parsing and re-asks), a dict (sent as JSON), a
    :class:`Completion` (returned as is: use it to script tool calls) or an exception (raised: use it to test
    retries). ``calls`` keeps every request for assertions.
    """

    name = "function"
    default_model = "function-model"

    def __init__(
        self,
        fn: Callable[[list[Message], LLMRequest], Reply] | Iterable[Reply],
        *,
        structured: StructuredMode = "prompt",
        tools: bool = False,
    ) -> None:
        self._fn = fn if callable(fn) else None
        self._script = None if callable(fn) else list(fn)
        self._structured: StructuredMode = structured
        self.calls: list[LLMRequest] = []
        self._tools = tools

    def structured_mode(self, model: str) -> StructuredMode:
        return self._structured

    def supports_tools(self, model: str) -> bool:
        return self._tools

    async def acomplete(self, request: LLMRequest, model: str) -> Completion:
        self.calls.append(request)
        reply = self._next(request)
        if isinstance(reply, Exception):
            raise reply
        if isinstance(reply, Completion):  # scripted tool calls
            return reply
        content = reply if isinstance(reply, str) else json.dumps(reply)
        return Completion(
            content=content,
            provider=self.name,
            model=model,
            usage=Usage(_prompt_tokens(request.messages), _tokens(content)),
            finish_reason="stop",
        )

    def _next(self, request: LLMRequest) -> Reply:
        if self._fn is not None:
            return self._fn(request.messages, request)
        assert self._script is not None
        if not self._script:
            raise AssertionError(f"FunctionProvider script ran out after {len(self.calls) - 1} replies.")
        return self._script.pop(0)
