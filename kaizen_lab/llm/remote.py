"""Cloud and server providers, all through litellm: OpenAI, Azure, Anthropic, Gemini, Ollama, Docker Model Runner,
Cohere, Hugging Face, and any OpenAI-compatible server given an ``api_base``."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .._secrets import redact
from ..exceptions import ModelRequestsForbidden
from ..structured import strict_schema
from ._guard import is_loopback, model_requests_allowed
from ._litellm import get_litellm, translate_error
from ._types import Completion, LLMRequest, StructuredMode, ToolCall, Usage
from .base import Provider


@dataclass(frozen=True)
class RemoteSpec:
    prefix: str  # litellm's provider prefix
    default_model: str
    api_base: str | None = None
    api_key: str | None = None


REMOTE_PROVIDERS: dict[str, RemoteSpec] = {
    "openai": RemoteSpec("openai", "gpt-4o-mini"),
    "azure": RemoteSpec("azure_ai", "gpt-4o-mini"),
    "anthropic": RemoteSpec("anthropic", "claude-3-5-haiku-latest"),
    "google": RemoteSpec("gemini", "gemini-2.0-flash"),
    "gemini": RemoteSpec("gemini", "gemini-2.0-flash"),
    "ollama": RemoteSpec("ollama_chat", "llama3.2", api_base="http://127.0.0.1:11434"),
    "docker": RemoteSpec("openai", "ai/smollm2", api_base="http://127.0.0.1:12434/engines/v1", api_key="docker"),
    "cohere": RemoteSpec("cohere_chat", "command-r"),
    "huggingface": RemoteSpec("huggingface", "meta-llama/Llama-3.2-3B-Instruct"),
}


class LiteLLMProvider(Provider):
    """A provider reached over the network through litellm.

    ``structured`` overrides how outputs are held to the schema; by default it is native strict JSON schema when
    litellm knows the model supports it, otherwise schema-in-the-prompt with parsing, validation and re-asks.
    """

    streams = True

    def __init__(
        self,
        name: str,
        *,
        api_base: str | None = None,
        api_key: str | None = None,
        structured: StructuredMode | None = None,
        **params: Any,
    ) -> None:
        spec = REMOTE_PROVIDERS[name]
        self.name = name
        self.spec = spec
        self.default_model = spec.default_model
        self.api_base = api_base or spec.api_base
        self._api_key = api_key or spec.api_key
        self._structured = structured
        self._modes: dict[str, StructuredMode] = {}  # litellm's capability lookup, once per model
        self.params = params

    def effective_api_base(self) -> str | None:
        """Where litellm will send the request: ``api_base``, else the provider's environment variable (e.g.
        ``OPENAI_BASE_URL``), which litellm honours too, so the offline guard must judge the same address."""
        if self.api_base:
            return self.api_base
        vendor = self.spec.prefix.split("_")[0].upper()
        for variable in (f"{vendor}_BASE_URL", f"{vendor}_API_BASE"):
            if os.environ.get(variable):
                return os.environ[variable]
        return None

    def litellm_model(self, model: str) -> str:
        return model if model.startswith(f"{self.spec.prefix}/") else f"{self.spec.prefix}/{model}"

    def structured_mode(self, model: str) -> StructuredMode:
        if self._structured:
            return self._structured
        if model not in self._modes:
            self._modes[model] = self._detect_mode(model)
        return self._modes[model]

    def supports_tools(self, model: str) -> bool:
        try:
            return bool(get_litellm().supports_function_calling(model=self.litellm_model(model)))
        except Exception:  # a model litellm does not know (a custom server): use JSON actions
            return False

    def _detect_mode(self, model: str) -> StructuredMode:
        if self.name == "ollama":
            return "json_schema"
        try:
            if get_litellm().supports_response_schema(model=self.litellm_model(model)):
                return "json_schema"
        except Exception:  # unknown model: fall back to prompting
            pass
        return "prompt"

    def _kwargs(self, request: LLMRequest, model: str) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "model": self.litellm_model(model),
            "messages": request.messages,
            "temperature": request.temperature,
            "timeout": request.timeout,
            "num_retries": 0,  # our LLM retries, with backoff and retry-after; no retries stacked underneath
            "max_retries": 0,
            **self.params,
            **request.extra,
        }
        if request.max_tokens:
            kwargs["max_tokens"] = request.max_tokens
        if self.api_base:
            kwargs["api_base"] = self.api_base
        if self._api_key:
            kwargs["api_key"] = self._api_key
        if request.tools:
            kwargs["tools"] = request.tools
        if request.schema is not None and self.structured_mode(model) == "json_schema":
            schema, strict = strict_schema(request.schema)
            kwargs["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": request.schema_name, "schema": schema, "strict": strict},
            }
        return kwargs

    async def acomplete(self, request: LLMRequest, model: str) -> Completion:
        if not model_requests_allowed() and not is_loopback(self.effective_api_base()):
            raise ModelRequestsForbidden(
                "real model requests are switched off here (tests, or allow_model_requests(False)); "
                "use the 'mock' or 'local' provider, or a server on 127.0.0.1",
                provider=self.name,
                model=model,
            )
        litellm = get_litellm()
        started = time.perf_counter()
        kwargs = self._kwargs(request, model)
        try:
            if request.on_text is None:
                response = await litellm.acompletion(**kwargs)
            else:
                response = await _stream(litellm, kwargs, request.on_text)
        except Exception as e:  # the one boundary where litellm's errors become ours
            raise translate_error(e, self.name, model, secrets=(self._api_key or "",)) from None
        latency = time.perf_counter() - started
        return self._completion(response, model, latency)

    def _completion(self, response: Any, model: str, latency: float) -> Completion:
        choice = response.choices[0]
        message = choice.message
        usage = getattr(response, "usage", None)
        return Completion(
            content=message.content or "",
            provider=self.name,
            model=model,
            usage=Usage(getattr(usage, "prompt_tokens", 0) or 0, getattr(usage, "completion_tokens", 0) or 0),
            cost=_cost(response),
            latency=latency,
            tool_calls=[_tool_call(t) for t in (getattr(message, "tool_calls", None) or [])],
            finish_reason=choice.finish_reason,
        )

    def cache_identity(self) -> str:
        return f"{self.name}@{self.api_base or 'default'}"

    def describe(self) -> str:
        base = f" at {self.api_base}" if self.api_base else ""
        return redact(f"{self.name} via litellm{base}")


async def _stream(litellm: Any, kwargs: dict[str, Any], on_text: Callable[[str], None]) -> Any:
    """Stream the reply, passing text on as it comes, then rebuild the whole response (usage included)."""
    stream = await litellm.acompletion(**kwargs, stream=True, stream_options={"include_usage": True})
    chunks = []
    async for chunk in stream:
        chunks.append(chunk)
        for choice in chunk.choices or ():
            text = getattr(choice.delta, "content", None)
            if text:
                on_text(text)
    return litellm.stream_chunk_builder(chunks, messages=kwargs["messages"])


def _cost(response: Any) -> float:
    hidden = getattr(response, "_hidden_params", None) or {}
    if hidden.get("response_cost") is not None:  # litellm already priced it; pricing again cost ~8% of a batch
        return float(hidden["response_cost"])
    try:
        return float(get_litellm().completion_cost(completion_response=response) or 0.0)
    except Exception:
        return 0.0


def _tool_call(raw: Any) -> ToolCall:
    fn = raw.function
    try:
        args = json.loads(fn.arguments or "{}")
    except json.JSONDecodeError:
        args = {"_raw": fn.arguments}
    return ToolCall(id=raw.id or "", name=fn.name, arguments=args)
