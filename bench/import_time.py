"""Benchmark 1: wall time of ``import <module>`` in a fresh interpreter (interpreter start-up excluded).

Each module is imported once to warm the bytecode and OS file caches, then ``reps`` times, round-robin so that any
background load hits every module alike. Reported: the median in milliseconds.
"""

from __future__ import annotations

from typing import Any

from common import median, run_json

MODULES = ["kaizen_lab", "dspy", "pydantic_ai"]

_SNIPPET = "import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"


def import_ms(module: str) -> float:
    return 1000 * run_json(["-c", _SNIPPET.format(module=module)])


def measure(reps: int = 7) -> dict[str, Any]:
    for module in MODULES:
        import_ms(module)  # warm-up: writes .pyc files, fills the page cache
    samples: dict[str, list[float]] = {m: [] for m in MODULES}
    for _ in range(reps):
        for module in MODULES:
            samples[module].append(import_ms(module))
    return {m: {"median_ms": median(s), "samples_ms": s} for m, s in samples.items()}


if __name__ == "__main__":
    import json

    print(json.dumps(measure(), indent=2))
