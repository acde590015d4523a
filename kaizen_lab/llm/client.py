"""``LLM``: the one call surface over every provider, with retries, backoff, caching and accounting."""

from __future__ import annotations

import random
import time
from typing import Any

from .._sync import run_sync
from ..exceptions import ConfigurationError, ProviderError
from ._types import Completion, LLMRequest, Message, StructuredMode
from .base import Provider
from .cache import CacheMode, ResponseCache
from .providers import default_provider, get_provider, split_model
from .streaming import current_stream

__all__ = ["LLM"]


class LLM:
    """A configured model: ``LLM("openai", "gpt-4o-mini")``, ``LLM(model="ollama/llama3.2")``, ``LLM()`` (auto).

    Transient faults (timeouts, 429, 5xx, refused connections) are retried ``retry_attempts`` times with
    exponential backoff, honouring ``Retry-After``; then a :class:`ProviderError` is raised.
    """

    def __init__(
        self,
        provider: str | Provider | None = None,
        model: str | None = None,
        *,
        temperature: float = 0.0,
        max_tokens: int | None = None,
        timeout: float | None = 60.0,
        retry_attempts: int = 3,
        backoff: float = 0.5,
        max_backoff: float = 30.0,
        cache: ResponseCache | CacheMode | str | None = None,
        provider_config: dict[str, Any] | None = None,
    ) -> None:
        if isinstance(provider, Provider):
            self.provider = provider
        else:
            prefix = None
            if provider is None:  # "ollama/llama3.2" names its provider; with an explicit provider, keep the id
                prefix, model = split_model(model)
            name = provider or prefix or default_provider()
            self.provider = get_provider(name, **(provider_config or {}))
        self.model = model or self.provider.default_model
        self.provider.check_model(self.model)
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.timeout = timeout
        if retry_attempts < 0:
            raise ConfigurationError("retry_attempts must be 0 or more.")
        self.retry_attempts = retry_attempts
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.cache = _make_cache(cache)

    @property
    def provider_name(self) -> str:
        return self.provider.name

    def structured_mode(self) -> StructuredMode:
        return self.provider.structured_mode(self.model)

    def supports_tools(self) -> bool:
        return self.provider.supports_tools(self.model)

    def request(self, messages: list[Message], **kw: Any) -> LLMRequest:
        kw.setdefault("temperature", self.temperature)
        kw.setdefault("max_tokens", self.max_tokens)
        kw.setdefault("timeout", self.timeout)
        return LLMRequest(messages=messages, **kw)

    async def acomplete(self, messages: list[Message] | LLMRequest, **kw: Any) -> Completion:
        request = messages if isinstance(messages, LLMRequest) else self.request(messages, **kw)
        if request.on_text is None:
            request.on_text = current_stream()
        key = None
        if self.cache is not None:
            key = ResponseCache.key(self.provider.cache_identity(), self.model, request)
            hit = self.cache.get(key)
            if hit is not None:
                hit.cache_key = key
                hit.cost = 0.0  # a replayed answer costs nothing now
                if request.on_text is not None:
                    request.on_text(hit.content)
                return hit
            if self.cache.mode == "replay":
                raise ConfigurationError(
                    f"Cache is in replay mode and has no recorded response for this call to "
                    f"{self.provider.name}/{self.model}; record it first (cache mode 'on' or 'record')."
                )
        completion = await self._with_retries(request)
        if request.on_text is not None and not self.provider.streams:
            request.on_text(completion.content)  # a provider that cannot stream still shows its text
        if self.cache is not None and key is not None:
            completion.cache_key = key
            self.cache.put(key, completion)
        return completion

    def complete(self, messages: list[Message] | LLMRequest, **kw: Any) -> Completion:
        return run_sync(self.acomplete(messages, **kw))

    async def _with_retries(self, request: LLMRequest) -> Completion:
        attempt = 0
        while True:
            started = time.perf_counter()
            try:
                completion = await self.provider.acomplete(request, self.model)
            except ProviderError as e:
                if not e.retryable or attempt >= self.retry_attempts:
                    if attempt:
                        e.args = (f"{e.args[0]} (after {attempt + 1} attempts)",)
                    raise
                import asyncio

                await asyncio.sleep(self._delay(attempt, e.retry_after))
                attempt += 1
                continue
            if not completion.latency:
                completion.latency = time.perf_counter() - started
            return completion

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, self.max_backoff)
        return min(self.backoff * 2**attempt * (1 + random.random() / 4), self.max_backoff)

    def __repr__(self) -> str:
        return f"LLM(provider={self.provider.name!r}, model={self.model!r})"


def _make_cache(cache: ResponseCache | CacheMode | str | None) -> ResponseCache | None:
    if cache is None or cache == "off":
        return None
    if isinstance(cache, ResponseCache):
        return cache
    if cache in ("on", "record", "replay"):
        return ResponseCache(mode=cache)  # type: ignore[arg-type]
    return ResponseCache(path=cache)  # a path: a cache file of its own, read and write
