"""Which providers exist, which are configured here and why, and how to build one by name.

Detection order (the Kaizen order): OPENAI_API_KEY, AZURE_AI_INFERENCE_ENDPOINT, ANTHROPIC_API_KEY,
GOOGLE_API_KEY/GEMINI_API_KEY, a running Ollama (127.0.0.1:11434), a running Docker Model Runner (:12434).
KAIZEN_DEFAULT_PROVIDER overrides; with none of them, the embedded local model.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from typing import Any

from ..exceptions import ConfigurationError
from .base import Provider

__all__ = ["ProviderInfo", "default_provider", "detect_providers", "get_provider", "provider_names"]


@dataclass(frozen=True)
class ProviderInfo:
    name: str
    available: bool
    reason: str
    default_model: str


def _port_open(port: int, timeout: float = 0.15) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout):
            return True
    except OSError:
        return False


def _env(*names: str) -> str | None:
    return next((n for n in names if os.environ.get(n)), None)


def detect_providers() -> list[ProviderInfo]:
    """Every known provider with whether it is usable here and why (secrets are never shown)."""
    from .local import find_model_path, local_model_available
    from .remote import REMOTE_PROVIDERS

    found: list[ProviderInfo] = []
    for name, env in [
        ("openai", ("OPENAI_API_KEY",)),
        ("azure", ("AZURE_AI_INFERENCE_ENDPOINT",)),
        ("anthropic", ("ANTHROPIC_API_KEY",)),
        ("google", ("GOOGLE_API_KEY", "GEMINI_API_KEY")),
    ]:
        hit = _env(*env)
        reason = f"{hit} is set" if hit else f"{' / '.join(env)} not set"
        found.append(ProviderInfo(name, bool(hit), reason, REMOTE_PROVIDERS[name].default_model))
    for name, port in [("ollama", 11434), ("docker", 12434)]:
        up = _port_open(port)
        reason = f"a server answers on 127.0.0.1:{port}" if up else f"nothing listening on 127.0.0.1:{port}"
        found.append(ProviderInfo(name, up, reason, REMOTE_PROVIDERS[name].default_model))
    path = find_model_path()
    ok = local_model_available()
    reason = f"embedded model {path.name}" if ok and path else "embedded model not installed (make install)"
    found.append(ProviderInfo("local", ok, reason, "smollm2-135m-instruct"))
    found.append(ProviderInfo("mock", True, "offline fake, only when asked for", "mock-model"))
    return found


def default_provider() -> str:
    """KAIZEN_DEFAULT_PROVIDER, else the first configured provider, else ``local``."""
    forced = os.environ.get("KAIZEN_DEFAULT_PROVIDER")
    if forced:
        if forced not in provider_names():
            raise ConfigurationError(
                f"KAIZEN_DEFAULT_PROVIDER={forced!r} is not a provider; use one of {provider_names()}."
            )
        return forced
    for info in detect_providers():
        if info.available and info.name not in ("local", "mock"):
            return info.name
    return "local"


def provider_names() -> list[str]:
    from .remote import REMOTE_PROVIDERS

    return [*REMOTE_PROVIDERS, "local", "mock"]


def get_provider(name: str, **config: Any) -> Provider:
    """Build a provider by name; ``config`` is passed through (api_base, api_key, model_path, structured, ...)."""
    if name == "local":
        from .local import LocalProvider

        return LocalProvider(**config)
    if name == "mock":
        from .testing import MockProvider

        return MockProvider(**config)
    from .remote import REMOTE_PROVIDERS, LiteLLMProvider

    if name not in REMOTE_PROVIDERS:
        raise ConfigurationError(f"Unknown provider {name!r}; use one of {provider_names()}.")
    return LiteLLMProvider(name, **config)


def split_model(model: str | None) -> tuple[str | None, str | None]:
    """``"ollama/llama3.2"`` → ("ollama", "llama3.2"); a model without a known provider prefix is left alone."""
    if model and "/" in model:
        head, tail = model.split("/", 1)
        if head in provider_names():
            return head, tail
    return None, model
