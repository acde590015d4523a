"""Keep API keys out of messages, logs and notebook outputs."""

from __future__ import annotations

import os
import re
from typing import Any

_KEY_ENV = re.compile(r"(API_KEY|TOKEN|SECRET|PASSWORD)$", re.IGNORECASE)
_KEY_SHAPES = re.compile(r"\b(sk|pk|rk|ak)-[A-Za-z0-9_\-]{8,}|\bAIza[0-9A-Za-z_\-]{20,}|\bhf_[A-Za-z0-9]{20,}")


def redact(text: str, extra: tuple[str, ...] = ()) -> str:
    """Replace known secret values (from the environment or given) and key-shaped strings with ``***``."""
    secrets = [v for k, v in os.environ.items() if _KEY_ENV.search(k) and len(v) >= 8]
    secrets += [s for s in extra if s and len(s) >= 8]
    for value in sorted(secrets, key=len, reverse=True):
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
