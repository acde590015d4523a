"""Agent configuration, extracted from whatever the user passes: a dataclass, a pydantic model, a dict, an object."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from ..exceptions import ConfigurationError

__all__ = ["AgentConfig"]

_ALIASES = {"provider": "llm_provider", "max_retries": "retry_attempts", "model_name": "model"}


@dataclass
class AgentConfig:
    """The settings BaseAgent understands; anything else on the user's config is left for the agent subclass."""

    llm_provider: str | None = None  # None: auto-detect (see kaizen_lab.llm.providers)
    model: str | None = None
    temperature: float = 0.0  # 0 makes the embedded model reproducible run to run
    max_tokens: int | None = None
    timeout: float | None = 60.0
    retry_attempts: int = 3
    max_turns: int = 0  # > 0 keeps a buffer of that many turns per session_id
    provider_config: dict[str, Any] = field(default_factory=dict, repr=False)  # may hold an api_key
    cache: str | None = None  # "on" | "record" | "replay" | a path | None

    @classmethod
    def from_any(cls, config: Any = None, **overrides: Any) -> AgentConfig:
        """Read the fields we know by name from any config object; explicit keyword overrides win."""
        values = {k: v for k, v in _as_mapping(config).items() if v is not None}
        values.update({k: v for k, v in overrides.items() if v is not None})
        known = {f.name for f in dataclasses.fields(cls)}
        picked: dict[str, Any] = {}
        for key, value in values.items():
            name = _ALIASES.get(key, key)
            if name in known and name not in picked:
                picked[name] = value
        try:
            return cls(**picked)
        except TypeError as e:  # pragma: no cover - dataclass field mismatch
            raise ConfigurationError(f"Bad agent configuration: {e}") from e


def _as_mapping(config: Any) -> dict[str, Any]:
    if config is None:
        return {}
    if isinstance(config, dict):
        return dict(config)
    if dataclasses.is_dataclass(config) and not isinstance(config, type):
        return {f.name: getattr(config, f.name) for f in dataclasses.fields(config)}
    dump = getattr(config, "model_dump", None)
    if callable(dump):
        return dump()
    if hasattr(config, "__dict__"):
        return {k: v for k, v in vars(config).items() if not k.startswith("_")}
    raise ConfigurationError(
        f"Cannot read an agent configuration from {type(config).__name__}; "
        "pass a dataclass, a pydantic model or a dict."
    )
