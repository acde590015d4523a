"""The control protocol: agents ask people (or policies) questions and approvals, and report progress."""

from __future__ import annotations

from typing import Any

from .defaults import default_control, in_notebook_kernel
from .messages import ControlRequest, ControlResponse
from .policy import POLICY_ENV, HeadlessPolicy
from .protocol import Answer, Approval, ControlProtocol
from .transport import MemoryTransport, Transport

__all__ = [
    "POLICY_ENV",
    "Answer",
    "Approval",
    "CLITransport",
    "ControlProtocol",
    "ControlRequest",
    "ControlResponse",
    "HTTPTransport",
    "HeadlessPolicy",
    "MemoryTransport",
    "StdioTransport",
    "Transport",
    "default_control",
    "in_notebook_kernel",
]

_LAZY = {"CLITransport": "cli", "StdioTransport": "stdio", "HTTPTransport": "http"}


def __getattr__(name: str) -> Any:  # transports with threads/sockets load when first asked for
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:  # lazy names too: tab completion and autodoc list them
    return sorted(set(globals()) | set(__all__))
