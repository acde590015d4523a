"""Plain data passed between agents and providers."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

Message = dict[str, Any]
StructuredMode = Literal["json_schema", "json_object", "prompt"]


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def __add__(self, other: Usage) -> Usage:
        return Usage(self.prompt_tokens + other.prompt_tokens, self.completion_tokens + other.completion_tokens)


@dataclass(frozen=True)
class ToolCall:
    id: str
    name: str
    arguments: dict[str, Any]


@dataclass
class LLMRequest:
    """What an agent asks of a provider; ``schema`` asks for structured output."""

    messages: list[Message]
    temperature: float = 0.0
    max_tokens: int | None = None
    schema: dict[str, Any] | None = None
    schema_name: str = "output"
    tools: list[dict[str, Any]] | None = None
    timeout: float | None = None
    # Discourage loops ("1.1.1.1..."); used on a re-ask after a reply ran out of tokens. Providers without such a
    # knob ignore it (only the embedded llama.cpp model applies it).
    repetition_penalty: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    # Called with each piece of text as the model writes it (streaming); not part of the cache key.
    on_text: Callable[[str], None] | None = field(default=None, compare=False, repr=False)

    def cache_payload(self) -> dict[str, Any]:
        """Everything that changes the answer (not the timeout)."""
        return {
            "messages": self.messages,
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
            "schema": self.schema,
            "tools": self.tools,
            "repetition_penalty": self.repetition_penalty,
            "extra": self.extra,
        }


@dataclass
class Completion:
    """One model response, with the accounting every result carries."""

    content: str
    provider: str
    model: str
    usage: Usage = field(default_factory=Usage)
    cost: float = 0.0
    latency: float = 0.0
    tool_calls: list[ToolCall] = field(default_factory=list)
    finish_reason: str | None = None
    cache_hit: bool = False
    cache_key: str | None = None  # set when a response cache is in use: provenance for saved notebooks

    def to_json(self) -> str:
        data = {
            "content": self.content,
            "provider": self.provider,
            "model": self.model,
            "usage": [self.usage.prompt_tokens, self.usage.completion_tokens],
            "cost": self.cost,
            "tool_calls": [[t.id, t.name, t.arguments] for t in self.tool_calls],
            "finish_reason": self.finish_reason,
        }
        return json.dumps(data)

    @classmethod
    def from_json(cls, text: str) -> Completion:
        d = json.loads(text)
        return cls(
            content=d["content"],
            provider=d["provider"],
            model=d["model"],
            usage=Usage(*d["usage"]),
            cost=d["cost"],
            tool_calls=[ToolCall(*t) for t in d["tool_calls"]],
            finish_reason=d["finish_reason"],
        )
