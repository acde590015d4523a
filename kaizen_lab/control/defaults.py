"""Who answers approvals when the caller did not say: an explicit policy, a notebook card, a terminal, or a deny.

1. ``KAIZEN_APPROVAL_POLICY`` set → that :class:`HeadlessPolicy`;
2. ``CI`` set (CI services, nbval in CI) → the deny policy — nobody is there to click. papermill and nbclient set
   nothing: give them ``KAIZEN_APPROVAL_POLICY``, or a run that needs approval waits for a click that never comes
   (until the approval timeout, which then denies);
3. inside a Jupyter kernel with the widgets installed → approval cards (:class:`WidgetTransport`);
4. an interactive terminal → :class:`CLITransport`;
5. otherwise → the deny policy, named ``no-approver`` so outputs say why calls were refused.
"""

from __future__ import annotations

import os
import sys

from .policy import HeadlessPolicy
from .protocol import ControlProtocol
from .transport import Transport

__all__ = ["default_control", "default_key", "in_notebook_kernel"]


def in_notebook_kernel() -> bool:
    """True inside a Jupyter kernel (not a terminal IPython, not plain Python)."""
    if "ipykernel" not in sys.modules:
        return False
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


def default_key() -> tuple[str, ...]:
    """What the default depends on; agents rebuild their default control when it changes."""
    from .policy import POLICY_ENV

    return (os.environ.get(POLICY_ENV, ""), os.environ.get("CI", ""))


def default_transport() -> Transport:
    policy = HeadlessPolicy.from_env()
    if policy is not None:
        return policy
    if os.environ.get("CI", "").lower() not in {"", "0", "false", "no"}:
        return HeadlessPolicy(name="deny (CI is set)")
    if in_notebook_kernel():
        try:
            from kaizen_lab_widgets import WidgetTransport
        except ImportError:
            pass
        else:
            return WidgetTransport()
    if sys.stdin is not None and sys.stdin.isatty():
        from .cli import CLITransport

        return CLITransport()
    return HeadlessPolicy(name="no-approver")


def default_control(timeout: float = 300.0) -> ControlProtocol:
    return ControlProtocol(default_transport(), timeout=timeout)
