"""Hooks: call your code around every step of a run — observe, modify, or veto.

    agent.hooks.register(HookEvent.PRE_TOOL_USE, lambda ctx: HookResult.block("no deletes") if ...)
    agent.hooks.register_hook(AuditHook("audit.jsonl"))

The builtin hooks load when first named (``import kaizen_lab`` stays light).
"""

from typing import Any

from .events import HookEvent
from .manager import BaseHook, Dispatch, HookContext, HookManager, HookResult, current_trace

__all__ = [
    "AuditHook",
    "AuditVerification",
    "BaseHook",
    "CostTrackingHook",
    "Dispatch",
    "HookContext",
    "HookEvent",
    "HookManager",
    "HookResult",
    "LoggingHook",
    "MetricsHook",
    "PerformanceProfilerHook",
    "TracingHook",
    "current_trace",
    "verify_audit_log",
]

_BUILTIN = {
    "AuditHook",
    "AuditVerification",
    "CostTrackingHook",
    "LoggingHook",
    "MetricsHook",
    "PerformanceProfilerHook",
    "TracingHook",
    "verify_audit_log",
}


def __getattr__(name: str) -> Any:
    if name in _BUILTIN:
        from . import builtin

        return getattr(builtin, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:  # lazy names too: tab completion and autodoc list them
    return sorted(set(globals()) | set(__all__))
