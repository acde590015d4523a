"""Tools agents may call: builtin file/HTTP/shell/web tools and plain Python functions, under permissions."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..exceptions import ConfigurationError
from .base import DangerLevel, Tool, ToolResult, tool
from .executor import ToolExecutor
from .permissions import (
    AuditEntry,
    ExecutionContext,
    PermissionDecision,
    PermissionMode,
    PermissionRule,
    PermissionType,
)
from .registry import ToolRegistry, ToolSpec

if TYPE_CHECKING:
    from .sandbox import Sandbox

__all__ = [
    "AuditEntry",
    "DangerLevel",
    "ExecutionContext",
    "PermissionDecision",
    "PermissionMode",
    "PermissionRule",
    "PermissionType",
    "Tool",
    "ToolExecutor",
    "ToolRegistry",
    "ToolResult",
    "ToolSpec",
    "build_registry",
    "tool",
]


def build_registry(spec: Any, sandbox: Callable[[], Sandbox]) -> ToolRegistry:
    """``None``, ``"all"``, or a list of builtin names, :class:`Tool` objects and typed functions."""
    if isinstance(spec, ToolRegistry):
        return spec
    registry = ToolRegistry()
    if spec is None:
        return registry
    items = ["all"] if spec == "all" else ([spec] if isinstance(spec, str | Tool) or callable(spec) else list(spec))
    builtins: dict[str, Tool] | None = None
    for item in items:
        if isinstance(item, str):
            if builtins is None:
                from .builtin import builtin_tools

                builtins = {t.name: t for t in builtin_tools(sandbox())}
            if item == "all":
                for t in builtins.values():
                    registry.register(t)
            elif item in builtins:
                registry.register(builtins[item])
            else:
                raise ConfigurationError(
                    f"No builtin tool is named {item!r}; choose from {', '.join(builtins)}, or pass a function."
                )
        elif isinstance(item, Tool) or callable(item):
            registry.register(item)
        else:
            raise ConfigurationError(f"Cannot use {item!r} as a tool: pass a builtin tool name, a Tool or a function.")
    return registry
