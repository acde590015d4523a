"""Errors raised by kaizen_lab.

Every failure is an exception from this small tree, never a ``{"error": ...}`` dict::

    KaizenError
    ├── ConfigurationError      a usage mistake: bad signature string, unknown provider, missing input
    ├── ProviderError           the model provider failed (status, retry_after, provider, model)
    │   └── ModelRequestsForbidden   a real network call was attempted while they are switched off
    ├── OutputParseError        the model's output never matched the signature (raw output kept)
    ├── DocumentError           a file cannot be read as a document (damaged, encrypted, empty, not what it says)
    ├── AudioError              a file cannot be decoded as audio (empty, not audio, damaged, silent of samples)
    ├── MemoryStoreError        an entry cannot be stored (not JSON, too large) or a memory store cannot be opened
    ├── PatternError            no agent could do a step of a multi-agent pattern (every attempt is listed)
    ├── ToolDeniedError         a tool call was refused by a policy or a person
    │   └── SandboxError        a tool tried to reach outside its workspace or limits
    ├── BudgetExceededError     a cost or token budget ran out
    ├── HookVetoError           a hook blocked a step (a model call, a run) and said why
    └── AgentInterrupted        the run was stopped on purpose (Ctrl+C, an interrupt signal)
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "AgentInterrupted",
    "AudioError",
    "BudgetExceededError",
    "ConfigurationError",
    "DocumentError",
    "HookVetoError",
    "KaizenError",
    "MemoryStoreError",
    "ModelRequestsForbidden",
    "OutputParseError",
    "PatternError",
    "ProviderError",
    "SandboxError",
    "ToolDeniedError",
]


class KaizenError(Exception):
    """Base class of every error kaizen_lab raises on purpose."""


class ConfigurationError(KaizenError, ValueError):
    """A usage mistake that the caller can fix (the message says how)."""


class ProviderError(KaizenError):
    """A model provider failed after bounded retries.

    ``retryable`` tells whether trying again later may help (timeouts, 429, 5xx, refused connections).
    """

    def __init__(
        self,
        message: str,
        *,
        provider: str,
        model: str | None = None,
        status: int | None = None,
        retry_after: float | None = None,
        retryable: bool = False,
    ) -> None:
        super().__init__(message)
        self.provider = provider
        self.model = model
        self.status = status
        self.retry_after = retry_after
        self.retryable = retryable

    def __str__(self) -> str:
        where = f"{self.provider}/{self.model}" if self.model else self.provider
        status = f" (status {self.status})" if self.status else ""
        return f"[{where}{status}] {self.args[0]}"


class ModelRequestsForbidden(ProviderError):
    """Raised when a real network model call is made while ``allow_model_requests(False)`` is in force."""


class OutputParseError(KaizenError):
    """The model's output could not be turned into the signature's outputs, even after re-asking."""

    def __init__(
        self, message: str, *, raw: str, expected_fields: list[str], attempts: int = 1, problem: str = ""
    ) -> None:
        super().__init__(message)
        self.raw = raw
        self.expected_fields = expected_fields
        self.attempts = attempts
        self.problem = problem  # what was wrong with the last reply (the validation error)


class DocumentError(KaizenError, ValueError):
    """The file cannot be read as a document: not what its name says, damaged, encrypted, or empty."""

    def __init__(self, message: str, *, path: object = "") -> None:
        super().__init__(message)
        self.path = str(path)


class AudioError(KaizenError, ValueError):
    """The file cannot be decoded as audio: empty, not audio, damaged, or holding no samples."""

    def __init__(self, message: str, *, path: object = "") -> None:
        super().__init__(message)
        self.path = str(path)


class ToolDeniedError(KaizenError):
    """A tool call was refused."""

    def __init__(self, message: str, *, tool: str, reason: str = "") -> None:
        super().__init__(message)
        self.tool = tool
        self.reason = reason


class SandboxError(ToolDeniedError, PermissionError):
    """A tool call tried to leave its sandbox: a path outside the workspace, a host not allowed, a refused command."""

    def __init__(self, message: str, *, tool: str = "", reason: str = "") -> None:
        super().__init__(message, tool=tool, reason=reason)


class BudgetExceededError(KaizenError):
    """A cost or token budget ran out."""

    def __init__(self, message: str, *, limit: float, spent: float) -> None:
        super().__init__(message)
        self.limit = limit
        self.spent = spent


class HookVetoError(KaizenError):
    """A PRE hook blocked the step; ``hook`` names it and ``reason`` is what it said."""

    def __init__(self, message: str, *, hook: str, reason: str, event: str = "") -> None:
        super().__init__(message)
        self.hook = hook
        self.reason = reason
        self.event = event


class AgentInterrupted(KaizenError):
    """The run was stopped on purpose; ``partial`` holds whatever was finished, ``checkpoint_id`` where to resume."""

    def __init__(
        self,
        message: str = "The agent run was interrupted.",
        *,
        partial: Any = None,
        checkpoint_id: str | None = None,
        reason: Any = None,
    ) -> None:
        super().__init__(message)
        self.partial = partial
        self.checkpoint_id = checkpoint_id
        self.reason = reason  # an InterruptReason: mode, source, message

    def _render_traceback_(self) -> list[str]:
        """In IPython: one clear line instead of a traceback through the event loop (Ctrl+C is not a bug)."""
        return [f"⏹ {self}"]


class MemoryStoreError(KaizenError, ValueError):
    """An entry was refused (not JSON-serialisable, too large, bad importance) or a memory store failed; the store
    is unchanged."""


class PatternError(KaizenError):
    """A step of a multi-agent pattern failed with every agent that could do it; ``attempts`` lists each failure."""

    def __init__(self, message: str, *, attempts: list[str]) -> None:
        super().__init__(message)
        self.attempts = attempts
