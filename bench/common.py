"""Helpers shared by the benchmarks: timing statistics, running one measurement in a fresh interpreter, and writing a
run's results to ``bench/results/<name>.json``, the files docs/benchmarks.md is rendered from.

Every results file has the same shape, so one renderer (``docs/_ext/kaizen_benchmarks.py``) handles them all:

- ``machine``: when and where it ran (date, git commit, CPU count and model, Python, 1/5/15-minute load averages at
  the start and at the end, package versions), so a number is never read without its conditions;
- ``rows``: the headline comparisons, each ``{group, benchmark, unit, kaizen, baseline_name, baseline, ratio,
  target, met}``; ``ratio`` is always kaizen / baseline, both measured in the same run; ``met`` is None when the
  row has no target (information);
- ``series``: optional chart data, ``{name: {title, kind, x_title, y_title, log_y, traces: [{name, x, y}]}}``;
- ``raw``: the benchmark's own output (samples, medians, configuration), unchanged.
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any, Literal

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
RESULTS_DIR = BENCH_DIR / "results"
SCHEMA = 1
SOURCES = ["kaizen_lab", "magics", "widgets"]  # uncommitted changes here are reported with the commit
PACKAGES = ["kaizen-lab", "kaizen-lab-magics", "kaizen-lab-widgets", "pydantic", "litellm", "numpy"]


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


# -- results files ------------------------------------------------------------------------------------------------
def _git(*args: str) -> str:
    try:
        return subprocess.run(["git", *args], capture_output=True, text=True, cwd=ROOT).stdout.strip()
    except OSError:
        return ""


def machine_info(packages: Sequence[str] = ()) -> dict[str, Any]:
    """Where and when a run starts; call it before measuring, and :func:`finish` after.

    The load average is the honest caveat on a shared 2-core machine: the page prints it next to every table.
    """
    cpu = ""
    if os.path.exists("/proc/cpuinfo"):
        with open("/proc/cpuinfo") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), "")
    versions: dict[str, str | None] = {}
    for name in dict.fromkeys([*PACKAGES, *packages]):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "git_commit": _git("rev-parse", "--short", "HEAD") or "unknown",
        "git_dirty": [d for d in SOURCES if _git("status", "--porcelain", "--", d)],
        "cpu_count": os.cpu_count(),
        "cpu_model": cpu,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "executable": os.path.relpath(sys.executable, ROOT) if sys.executable.startswith(str(ROOT)) else sys.executable,
        "load_average_at_start": list(os.getloadavg()),
        "load_average_at_end": None,
        "packages": versions,
    }


def finish(machine: dict[str, Any]) -> dict[str, Any]:
    """Record the load average at the end of the run (in place; returns ``machine``)."""
    machine["load_average_at_end"] = list(os.getloadavg())
    return machine


def git_state(machine: dict[str, Any]) -> str:
    """``abc1234`` or ``abc1234 + uncommitted changes in kaizen_lab``, for printed reports."""
    dirty = machine.get("git_dirty") or []
    return machine["git_commit"] + (f" + uncommitted changes in {', '.join(dirty)}" if dirty else "")


def row(
    group: str,
    benchmark: str,
    unit: str,
    kaizen: float | None,
    baseline_name: str,
    baseline: float | None,
    target: str | None = None,
    met: bool | None = None,
) -> dict[str, Any]:
    """One headline comparison; the ratio is computed here so that it is always kaizen / baseline."""
    ratio = kaizen / baseline if kaizen is not None and baseline else None
    return {
        "group": group,
        "benchmark": benchmark,
        "unit": unit,
        "kaizen": kaizen,
        "baseline_name": baseline_name,
        "baseline": baseline,
        "ratio": ratio,
        "target": target,
        "met": met,
    }


def trace(name: str, x: Sequence[Any], y: Sequence[float], *, dash: bool = False) -> dict[str, Any]:
    """One line, bar group or box (``x`` empty for a box of samples); ``dash`` draws a reference line."""
    return {"name": name, "x": list(x), "y": list(y), "dash": dash}


def series(
    title: str,
    traces: list[dict[str, Any]],
    *,
    kind: Literal["bar", "line", "box"] = "bar",
    x_title: str = "",
    y_title: str = "",
    log_y: bool = False,
) -> dict[str, Any]:
    """Chart data: ``bar`` (grouped), ``line`` (lines with markers) or ``box`` (one box of samples per trace)."""
    return {"title": title, "kind": kind, "x_title": x_title, "y_title": y_title, "log_y": log_y, "traces": traces}


def write_results(
    name: str,
    *,
    title: str,
    command: str,
    machine: dict[str, Any],
    rows: list[dict[str, Any]],
    raw: Any,
    series: dict[str, dict[str, Any]] | None = None,
    notes: str = "",
) -> Path:
    """Write ``bench/results/<name>.json`` and return its path."""
    RESULTS_DIR.mkdir(exist_ok=True)
    out = RESULTS_DIR / f"{name}.json"
    data = {
        "schema": SCHEMA,
        "name": name,
        "title": title,
        "command": command,
        "notes": notes,
        "machine": machine,
        "rows": rows,
        "series": series or {},
        "raw": raw,
    }
    out.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {out.relative_to(ROOT)}", file=sys.stderr, flush=True)
    return out


def rewrite(name: str, rows: Callable[[Any], list[dict[str, Any]]], charts: Callable[[Any], Any]) -> Path:
    """Rebuild a results file's rows and series from its own raw output (after a label or chart change), keeping
    the run's machine, notes and numbers: nothing is measured again."""
    old = json.loads((RESULTS_DIR / f"{name}.json").read_text(encoding="utf-8"))
    raw = old["raw"]
    return write_results(
        name,
        title=old["title"],
        command=old["command"],
        machine=old["machine"],
        rows=rows(raw),
        series=charts(raw),
        raw=raw,
        notes=old.get("notes", ""),
    )


def chat_completion(body: dict[str, Any], content: str, prompt_tokens: int) -> dict[str, Any]:
    """The OpenAI chat-completion envelope the loopback benchmark servers answer with, around ``content``."""
    return {
        "id": "chatcmpl-bench",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body.get("model", "bench"),
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": 12, "total_tokens": prompt_tokens + 12},
    }
