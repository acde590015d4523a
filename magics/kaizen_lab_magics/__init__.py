"""IPython magics for Kaizen Lab (``%load_ext kaizen_lab`` loads them).

This is the skeleton the engine-spine issue asks for: it registers the extension so loading works; the
``%%agent``/``%%kaizen``/``%%signature``/``%kaizen`` magics themselves are the notebook-surface issue.
"""

from __future__ import annotations

from typing import Any

__all__ = ["load_ipython_extension", "unload_ipython_extension"]

_LOADED_KEY = "kaizen_lab_loaded"


def load_ipython_extension(ipython: Any) -> None:
    """Register Kaizen Lab with the running IPython shell (idempotent)."""
    ipython.user_ns.setdefault("_kaizen_lab_extension", True)
    setattr(ipython, _LOADED_KEY, True)


def unload_ipython_extension(ipython: Any) -> None:
    ipython.user_ns.pop("_kaizen_lab_extension", None)
    if hasattr(ipython, _LOADED_KEY):
        delattr(ipython, _LOADED_KEY)
