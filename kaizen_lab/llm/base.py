"""The provider interface: one attempt at one completion. Retries, caching and accounting live in :class:`LLM`."""

from __future__ import annotations

import abc

from ._types import Completion, LLMRequest, StructuredMode


class Provider(abc.ABC):
    """A source of completions. Subclass it to plug in a new backend."""

    name: str = "provider"
    default_model: str = ""
    streams: bool = False  # True if acomplete calls request.on_text as text arrives

    def structured_mode(self, model: str) -> StructuredMode:
        """How this provider can be held to a JSON schema: natively, as JSON mode, or only by prompting."""
        return "prompt"

    @abc.abstractmethod
    async def acomplete(self, request: LLMRequest, model: str) -> Completion:
        """Return one completion or raise ProviderError (``retryable=True`` for transient faults)."""

    def supports_tools(self, model: str) -> bool:
        """True if the model takes ``tools=[...]`` and answers with tool calls (else agents use JSON actions)."""
        return False

    def check_model(self, model: str) -> None:
        """Raise ConfigurationError if this provider cannot serve ``model`` (never answer under a false name)."""
        return None

    def cache_identity(self) -> str:
        """What, besides the model name, decides the answer (a server address, a model file): part of cache keys."""
        return self.name

    def describe(self) -> str:
        return self.name
