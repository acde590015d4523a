"""The one place litellm is imported, and the one boundary where its exceptions become ours."""

from __future__ import annotations

import functools
import os
from typing import Any

from .._secrets import redact
from ..exceptions import ConfigurationError, ProviderError


@functools.cache
def get_litellm() -> Any:
    """Import litellm lazily (it takes ~3 s) and without its network fetch of the price map."""
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    os.environ.setdefault("LITELLM_TELEMETRY", "False")
    try:
        import litellm
    except ImportError as e:
        raise ConfigurationError(
            'Cloud and server providers need litellm; install it with `pip install "kaizen-lab[providers]"`.'
        ) from e
    litellm.suppress_debug_info = True
    litellm.telemetry = False
    return litellm


_RETRYABLE_STATUS = {408, 409, 425, 429, 500, 502, 503, 504, 529}


def _retry_after(exc: BaseException) -> float | None:
    headers = getattr(exc, "litellm_response_headers", None)
    if headers is None:
        headers = getattr(getattr(exc, "response", None), "headers", None)
    if not headers:
        return None
    value = headers.get("retry-after") or headers.get("Retry-After")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def translate_error(exc: BaseException, provider: str, model: str, secrets: tuple[str, ...] = ()) -> ProviderError:
    """Map any litellm/openai/httpx error to a ProviderError, by type and status, never by message text.

    ``secrets`` (the provider's own key) are redacted from the message even when they do not look like keys."""
    litellm = get_litellm()
    status = getattr(exc, "status_code", None)
    status = status if isinstance(status, int) else None
    kind = type(exc).__name__
    if isinstance(exc, litellm.Timeout) or kind == "Timeout":
        status, message, retryable = status or 408, "the request timed out", True
    elif isinstance(exc, litellm.APIConnectionError) and status in (None, 500):
        message, retryable = f"could not connect ({_first_line(exc, secrets)})", True
    elif isinstance(exc, litellm.AuthenticationError):
        message, retryable = "authentication failed; check the API key for this provider", False
    elif isinstance(exc, litellm.RateLimitError):
        status, message, retryable = status or 429, "rate limited by the provider", True
    elif isinstance(exc, litellm.ContextWindowExceededError):
        message, retryable = "the prompt is longer than the model's context window; shorten the inputs", False
    elif isinstance(exc, litellm.NotFoundError):
        message, retryable = f"model not found ({_first_line(exc, secrets)}); check the model name", False
    else:
        message = f"{kind}: {_first_line(exc, secrets)}"
        retryable = status in _RETRYABLE_STATUS or (status is None and isinstance(exc, litellm.APIError))
    return ProviderError(
        message,
        provider=provider,
        model=model,
        status=status,
        retry_after=_retry_after(exc),
        retryable=retryable,
    )


def _first_line(exc: BaseException, secrets: tuple[str, ...] = ()) -> str:
    text = redact(str(exc), secrets).strip().splitlines()
    line = text[0] if text else type(exc).__name__
    return line[:300]
