"""Run generated Python code against its generated tests in a throwaway folder, in a separate process.

What a run gets (the ``bash_command`` machinery of :mod:`kaizen_lab.tools.builtin.system`, reused):

- a fresh temporary folder holding ``solution.py`` (the code) and ``test_solution.py`` (the tests), deleted after;
- its own process group, killed — with everything it started — at the timeout;
- output capped at ``max_output_chars`` (the first part is kept, with a note counting what was cut);
- an environment without secrets (names ending in KEY, TOKEN, SECRET, PASSWORD, ...), ``HOME`` and ``TMPDIR`` set
  to the temporary folder, no ``PYTHONPATH``/``PYTEST_ADDOPTS``/``PYTHONSTARTUP`` from the caller, and no
  third-party pytest plugins (``PYTEST_DISABLE_PLUGIN_AUTOLOAD``).

What it does NOT get: an OS-level jail. The code runs as the current user and can read any file that user can, and
the network is not blocked (nothing generated should need it, but nothing stops it). Running generated code is a
HIGH-danger action; :class:`~kaizen_lab.codegen.agent.CodeGenerationAgent` asks for approval before each run. For
real isolation run the whole thing in a container.
"""

from __future__ import annotations

import importlib.util
import re
import shlex
import shutil
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from ..exceptions import ConfigurationError

__all__ = ["MODULE_NAME", "TEST_FILE", "RunOutcome", "detect_test_style", "run_generated_tests"]

MODULE_NAME = "solution"
TEST_FILE = f"test_{MODULE_NAME}.py"
_HARNESS_FILE = "_kaizen_harness.py"

Runner = Literal["auto", "pytest", "python"]

# Module-level test functions or test classes: what pytest would collect (and the plain harness can call).
_TEST_DEF = re.compile(r"^(?:async\s+)?def\s+test\w*\s*\(|^class\s+Test\w*", re.MULTILINE)

# Without pytest installed: import the test file, call every module-level test_* function without arguments.
_HARNESS = """\
import sys, traceback
sys.path.insert(0, ".")
try:
    import test_solution as tests
except BaseException:
    traceback.print_exc()
    print("error: the test file could not be imported")
    sys.exit(2)
names = sorted(n for n in vars(tests) if n.startswith("test") and callable(getattr(tests, n)))
failed = 0
for name in names:
    try:
        getattr(tests, name)()
    except BaseException:
        failed += 1
        print(f"FAILED {name}")
        traceback.print_exc()
    else:
        print(f"PASSED {name}")
if not names:
    print("error: no test_* functions found")
    sys.exit(5)
print(f"{len(names) - failed} passed, {failed} failed")
sys.exit(1 if failed else 0)
"""


@dataclass
class RunOutcome:
    """What one run of the generated tests did. ``returncode`` is None when the run was killed at the timeout."""

    passed: bool
    output: str
    returncode: int | None
    duration: float
    timed_out: bool
    runner: str  # "pytest", "harness" (test_* functions called without pytest) or "python" (a plain script)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def detect_test_style(tests: str) -> Literal["pytest", "python"]:
    """``"pytest"`` when the tests define ``test_*`` functions or ``Test*`` classes, else ``"python"`` (a script
    whose asserts are the tests, run as ``python test_solution.py``)."""
    return "pytest" if _TEST_DEF.search(tests) else "python"


def _pytest_available() -> bool:
    return importlib.util.find_spec("pytest") is not None


def run_generated_tests(
    code: str,
    tests: str,
    *,
    timeout: float = 30.0,
    max_output_chars: int = 20_000,
    runner: Runner = "auto",
    python: str | None = None,
) -> RunOutcome:
    """Write ``code`` as ``solution.py`` and ``tests`` as ``test_solution.py`` in a new temporary folder and run the
    tests there: ``python -m pytest -q`` for pytest-style tests (``test_*`` functions; without pytest installed a
    small harness calls them), ``python test_solution.py`` for a plain script. Never raises for failing code: a
    failure, a crash, or a timeout is in the outcome."""
    from ..tools.builtin.system import _run, _share

    if timeout <= 0:
        raise ConfigurationError(f"timeout must be more than 0 seconds, got {timeout!r}.")
    if max_output_chars < 100:
        raise ConfigurationError(f"max_output_chars must be at least 100, got {max_output_chars!r}.")
    if runner not in ("auto", "pytest", "python"):
        raise ConfigurationError(f"runner must be 'auto', 'pytest' or 'python', got {runner!r}.")
    style = detect_test_style(tests) if runner == "auto" else runner
    interpreter = python or sys.executable
    folder = Path(tempfile.mkdtemp(prefix="kaizen-codegen-")).resolve()
    try:
        (folder / f"{MODULE_NAME}.py").write_text(code, encoding="utf-8")
        (folder / TEST_FILE).write_text(tests, encoding="utf-8")
        if style == "pytest" and (python is not None or _pytest_available()):
            # An ini file here makes this folder pytest's rootdir: no conftest or config of the caller applies.
            (folder / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
            argv = [interpreter, "-m", "pytest", "-q", "--color=no", "-p", "no:cacheprovider", TEST_FILE]
            used = "pytest"
        elif style == "pytest":
            (folder / _HARNESS_FILE).write_text(_HARNESS, encoding="utf-8")
            argv, used = [interpreter, _HARNESS_FILE], "harness"
        else:
            argv, used = [interpreter, TEST_FILE], "python"
        # _run runs `bash -c` with secrets scrubbed from the environment, in a new process group it kills at the
        # timeout; `env` then points HOME and TMPDIR into the folder and drops what would change how Python runs.
        command = shlex.join(
            [
                "env",
                "-u",
                "PYTHONPATH",
                "-u",
                "PYTHONSTARTUP",
                "-u",
                "PYTEST_ADDOPTS",
                "-u",
                "PYTEST_PLUGINS",
                f"HOME={folder}",
                f"TMPDIR={folder}",
                "PYTHONDONTWRITEBYTECODE=1",
                "PYTHONNOUSERSITE=1",
                "PYTHONIOENCODING=utf-8",
                "PYTEST_DISABLE_PLUGIN_AUTOLOAD=1",  # plain pytest: faster, and no plugin of the caller's applies
                *argv,
            ]
        )
        started = time.monotonic()
        returncode, out, err = _run(f"exec {command}", folder, timeout, keep=4 * max_output_chars)
        duration = time.monotonic() - started
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    output = _combined(out.text(), out.dropped, err.text(), err.dropped, max_output_chars, _share)
    timed_out = returncode is None
    if timed_out:
        output = (
            f"{output}\n[stopped after {timeout:g} s: the tests did not finish in time and were killed, with every "
            "process they started]"
        ).lstrip("\n")
    return RunOutcome(
        passed=returncode == 0,
        output=output,
        returncode=returncode,
        duration=duration,
        timed_out=timed_out,
        runner=used,
    )


def _combined(out: str, out_dropped: int, err: str, err_dropped: int, limit: int, share: Any) -> str:
    """stdout then stderr, within ``limit`` characters in all (split as bash_command splits them)."""
    keep_out, keep_err = share(len(out), len(err), limit)
    parts = []
    for text, keep, dropped in ((out, keep_out, out_dropped), (err, keep_err, err_dropped)):
        cut = len(text) - keep + dropped
        shown = text[:keep]
        if cut:
            shown += f"\n… [{cut} more characters cut: output is limited to {limit} characters in all]"
        if shown.strip():
            parts.append(shown.rstrip("\n"))
    return "\n".join(parts)
