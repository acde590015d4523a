"""Execute notebooks top to bottom in fresh kernels, time each, write the executed copies; used by binder/check.sh.

Usage: python binder/run_notebooks.py OUT_DIR LIMIT_SECONDS NOTEBOOK...

Each notebook runs in its own ``python3`` kernel with its folder as the working directory (as JupyterLab does), under
a deadline of LIMIT_SECONDS for the whole notebook, not per cell. Cells tagged ``raises-exception`` may raise; any
other error, a timeout or a dead kernel fails the notebook. Exits 1 if any notebook failed.
"""

from __future__ import annotations

import math
import sys
import time
import traceback
from pathlib import Path

import nbformat
from jupyter_client.kernelspec import KernelSpecManager
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

KERNEL = "python3"


def check_kernel() -> None:
    """The kernel must be this environment's Python: a ``python3`` kernelspec left in a user or system folder that
    points at another interpreter would silently test the wrong environment."""
    spec = KernelSpecManager().get_kernel_spec(KERNEL)
    argv0 = spec.argv[0]
    # jupyter_client runs a bare "python"/"pythonX"/"pythonX.Y" as the launching interpreter (sys.executable).
    bare = {"python", f"python{sys.version_info[0]}", "python{}.{}".format(*sys.version_info[:2])}
    if argv0 not in bare and Path(argv0).resolve() != Path(sys.executable).resolve():
        raise SystemExit(
            f"run_notebooks: kernel {KERNEL!r} ({spec.resource_dir}) runs {argv0}, not this environment's "
            f"{sys.executable}; remove that kernelspec or run from a clean JUPYTER_DATA_DIR."
        )


def run(path: Path, out_dir: Path, limit: float) -> tuple[float, str]:
    nb = nbformat.read(path, as_version=4)
    deadline = time.monotonic() + limit
    client = NotebookClient(
        nb,
        kernel_name=KERNEL,
        resources={"metadata": {"path": str(path.parent)}},
        # One deadline for the whole notebook: each cell may use what the cells before it left.
        timeout_func=lambda cell: max(1, math.ceil(deadline - time.monotonic())),
        startup_timeout=60,
    )
    start = time.monotonic()
    status = "ok"
    try:
        client.execute()
    except CellTimeoutError:
        status = f"TIMEOUT (over {limit:.0f} s)"
    except CellExecutionError as e:
        first = str(e).strip().splitlines()
        status = "ERROR: " + (first[-1] if first else type(e).__name__)
        print(str(e)[-3000:], file=sys.stderr)
    except DeadKernelError as e:
        status = f"KERNEL DIED: {e}"
    except Exception as e:  # anything else (kernel start-up, nbformat) fails this notebook, not the whole run
        status = f"FAILED: {type(e).__name__}: {e}"
        traceback.print_exc()
    elapsed = time.monotonic() - start
    if status == "ok" and elapsed > limit:
        status = f"TOO SLOW (over {limit:.0f} s)"
    nbformat.write(nb, out_dir / path.name)  # written even on failure: the error is in the cell's output
    return elapsed, status


def main(argv: list[str]) -> int:
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    out_dir, limit, paths = Path(argv[0]), float(argv[1]), [Path(p) for p in argv[2:]]
    out_dir.mkdir(parents=True, exist_ok=True)
    check_kernel()
    results = []
    for path in paths:
        print(f"  running {path} ...", flush=True)
        elapsed, status = run(path, out_dir, limit)
        results.append((path.name, elapsed, status))
        print(f"  {path.name}: {elapsed:.1f} s, {status}", flush=True)
    width = max(len(name) for name, _, _ in results)
    print(f"\n{'notebook':<{width}}  {'wall time':>9}  result")
    for name, elapsed, status in results:
        print(f"{name:<{width}}  {elapsed:>7.1f} s  {status}")
    total = sum(elapsed for _, elapsed, _ in results)
    print(f"{'total':<{width}}  {total:>7.1f} s")
    failed = [name for name, _, status in results if status != "ok"]
    if failed:
        print(f"\nFailed: {', '.join(failed)} (executed copies in {out_dir})", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
