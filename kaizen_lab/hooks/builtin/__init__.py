"""Ready-made hooks: structured logs, Prometheus metrics, cost, latency profile, tamper-evident audit, OTel traces.

Register one with ``manager.register_hook(LoggingHook())``. They observe and never veto; they run after the hooks
that modify or veto (priority -1000), so they record what actually happens. Prometheus, OpenTelemetry and pandas
are imported only when a hook needs them.
"""

from .audit import AuditHook, AuditVerification, verify_audit_log
from .cost import CostTrackingHook
from .logging_hook import LoggingHook
from .metrics import MetricsHook
from .profiler import PerformanceProfilerHook
from .tracing import TracingHook

__all__ = [
    "AuditHook",
    "AuditVerification",
    "CostTrackingHook",
    "LoggingHook",
    "MetricsHook",
    "PerformanceProfilerHook",
    "TracingHook",
    "verify_audit_log",
]
