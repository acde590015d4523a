"""Benchmark 4: wall time of ``%load_ext kaizen_lab`` in a fresh interpreter (shell creation excluded).

Each sample is a fresh interpreter that imports IPython, creates ``InteractiveShell.instance()`` (timed apart, not
counted), then times ``ip.run_line_magic("load_ext", "kaizen_lab")`` and checks that ``%%agent`` is registered.

The peer is ``%load_ext jupyter_ai_magics`` when that package is importable in this venv. It is not installed by
``make bench``: it pulls in the LangChain stack and pins ``packaging<26``, which would downgrade the bench venv. So
by default the baseline is ``import IPython`` in a fresh interpreter: the cost every notebook pays before any
extension loads. Each kind of sample is taken once to warm the bytecode and file caches, then ``reps`` times,
round-robin. Reported: the median in milliseconds.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import tempfile
from typing import Any

from common import ROOT, child_env, median

_LOAD_EXT = """
import json, sys, time
t0 = time.perf_counter()
from IPython.core.interactiveshell import InteractiveShell
ip = InteractiveShell.instance()
t1 = time.perf_counter()
before = set(sys.modules)
ip.run_line_magic("load_ext", "{ext}")
t2 = time.perf_counter()
assert {check!r} in ip.magics_manager.magics["cell"], "the extension registered no %%{check}"
new = set(sys.modules) - before
heavy = sorted(m for m in ("pandas", "ipywidgets", "litellm", "numpy", "langchain_core") if m in new)
print(json.dumps({{"shell_s": t1 - t0, "load_ext_s": t2 - t1, "new_modules": len(new), "heavy": heavy}}))
"""

_IMPORT_IPYTHON = "import time; t = time.perf_counter(); import IPython; print(time.perf_counter() - t)"

PEER_EXTENSION = "jupyter_ai_magics"


def peer_name() -> str:
    return PEER_EXTENSION if importlib.util.find_spec(PEER_EXTENSION) is not None else "import IPython"


def run_json(args: list[str], env: dict[str, str]) -> Any:
    """``common.run_json`` with extra environment variables."""
    proc = subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, env={**child_env(), **env}, cwd=ROOT, timeout=300
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _sample(kind: str, ipython_dir: str) -> dict[str, Any]:
    env = {"IPYTHONDIR": ipython_dir}
    if kind == "import IPython":
        return {"ms": 1000 * run_json(["-c", _IMPORT_IPYTHON], env=env)}
    ext, check = ("kaizen_lab", "agent") if kind == "kaizen_lab" else (PEER_EXTENSION, "ai")
    out = run_json(["-c", _LOAD_EXT.format(ext=ext, check=check)], env=env)
    return {"ms": 1000 * out["load_ext_s"], "shell_ms": 1000 * out["shell_s"], **out}


def measure(reps: int = 7) -> dict[str, Any]:
    peer = peer_name()
    kinds = ["kaizen_lab", peer]
    samples: dict[str, list[dict[str, Any]]] = {k: [] for k in kinds}
    with tempfile.TemporaryDirectory(prefix="kaizen-bench-ipython-") as ipython_dir:  # no ~/.ipython profile
        for kind in kinds:
            _sample(kind, ipython_dir)  # warm-up: .pyc files, page cache, the IPython profile directory
        for _ in range(reps):
            for kind in kinds:
                samples[kind].append(_sample(kind, ipython_dir))
    out: dict[str, Any] = {"peer": peer}
    for kind, runs in samples.items():
        out[kind] = {"median_ms": median([r["ms"] for r in runs]), "samples_ms": [r["ms"] for r in runs]}
        if "shell_ms" in runs[0]:
            out[kind]["shell_median_ms"] = median([r["shell_ms"] for r in runs])
            out[kind]["new_modules"] = runs[-1]["new_modules"]
            out[kind]["heavy_modules_imported"] = runs[-1]["heavy"]
    return out


if __name__ == "__main__":
    print(json.dumps(measure(), indent=2))
