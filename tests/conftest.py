"""Test-wide switches: no real network model calls, and a private response-cache directory."""

from __future__ import annotations

import os
import tempfile

# Set before anything reads them: forbid model requests that leave the machine (loopback is still allowed).
os.environ["KAIZEN_ALLOW_MODEL_REQUESTS"] = "0"
os.environ.setdefault("KAIZEN_CACHE_DIR", tempfile.mkdtemp(prefix="kaizen-cache-"))
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import pytest

_PROVIDER_ENV = [
    "OPENAI_API_KEY",
    "AZURE_AI_INFERENCE_ENDPOINT",
    "ANTHROPIC_API_KEY",
    "GOOGLE_API_KEY",
    "GEMINI_API_KEY",
    "KAIZEN_DEFAULT_PROVIDER",
]


@pytest.fixture
def no_provider_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """A machine with no provider configured (as on a fresh clone)."""
    for name in _PROVIDER_ENV:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch
