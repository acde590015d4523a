"""Keep API keys out of messages, logs and notebook outputs."""

from __future__ import annotations

import os
import re
from typing import Any

_KEY_ENV = re.compile(r"(API_KEY|TOKEN|SECRET|PASSWORD)$", re.IGNORECASE)
_KEY_SHAPES = re.compile(r"\b(sk|pk|rk|ak)-[A-Za-z0-9_\-]{8,}|\bAIza[0-9A-Za-z_\-]{20,}|\bhf_[A-Za-z0-9]{20,}")


_cache: tuple[int, tuple[str, ...]] = (0, ())


def _env_secrets() -> tuple[str, ...]:
    """Secret values in the environment, longest first. Rescanned only when the environment changed: scanning it
    (decoding every variable) on every call was 97% of a tool call's overhead; hashing the raw bytes is ~2 µs."""
    global _cache
    raw = getattr(os.environ, "_data", None)  # CPython's bytes mapping behind os.environ
    stamp = hash(tuple(raw.items())) if isinstance(raw, dict) else None
    if stamp is None or stamp != _cache[0]:
        found = {v for k, v in os.environ.items() if _KEY_ENV.search(k) and len(v) >= 8}
        values = tuple(sorted(found, key=len, reverse=True))
        _cache = (stamp or 0, values)
        return values
    return _cache[1]


def redact(text: str, extra: tuple[str, ...] = ()) -> str:
    """Replace known secret values (from the environment or given) and key-shaped strings with ``***``."""
    secrets = _env_secrets()
    if extra:
        secrets = tuple(sorted({*secrets, *(s for s in extra if s and len(s) >= 8)}, key=len, reverse=True))
    for value in secrets:
        if value in text:
            text = text.replace(value, "***")
    return _KEY_SHAPES.sub("***", text)


def redact_data(value: Any) -> Any:
    """``redact`` applied to every string inside dicts, lists and tuples (tool arguments and results)."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: redact_data(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(redact_data(v) for v in value)
    return value
