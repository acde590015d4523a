"""Helpers shared by the benchmarks: timing statistics and running one measurement in a fresh interpreter."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent


def child_env() -> dict[str, str]:
    """The environment for benchmark subprocesses.

    Bytecode caching stays on (some shells set PYTHONDONTWRITEBYTECODE): otherwise the editable kaizen_lab would be
    recompiled on every import while the peers load their pip-compiled .pyc files. Tests' switches are dropped.
    """
    env = dict(os.environ)
    for name in ("PYTHONDONTWRITEBYTECODE", "KAIZEN_ALLOW_MODEL_REQUESTS", "KAIZEN_DEFAULT_PROVIDER"):
        env.pop(name, None)
    return env


def run_json(args: list[str], timeout: float = 300) -> Any:
    """Run ``python <args>`` in a fresh interpreter and decode the JSON it prints as its last line."""
    proc = subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, env=child_env(), cwd=ROOT, timeout=timeout
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def median(values: list[float]) -> float:
    return statistics.median(values)
