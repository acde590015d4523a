"""``bash_command``: run a shell command in the workspace.

This is NOT an OS-level sandbox and not a jail: the command runs with bash, as the current user, and can read or
change anything that user can. What it does get:

- the workspace root as its working directory;
- an environment without secrets (variables whose names end in KEY, TOKEN, SECRET, PASSWORD, ...);
- a timeout that kills the command and every process it started (they share a new process group), and background
  jobs do not outlive the call;
- output capped at ``max_output_chars``, saying how much was cut;
- a denylist of well-known catastrophic commands (``rm -rf /``, fork bombs, ``mkfs``, ...), easy to get around
  on purpose, so not a defence against a hostile model;
- danger HIGH, so each call needs approval. That is the real guard; for isolation run the agent in a container.
"""

from __future__ import annotations

import contextlib
import os
import re
import selectors
import signal
import subprocess
import time
from pathlib import Path
from typing import IO, Any

from ..base import DangerLevel, Tool
from ..sandbox import Sandbox

__all__ = ["system_tools"]

_SECRET_NAME = re.compile(r"(KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIALS?)$", re.IGNORECASE)
_CHUNK = 64 * 1024
_DRAIN_AFTER_KILL = 1.0  # seconds to collect output already written when the process group is killed


def scrubbed_env(env: dict[str, str] | None = None) -> dict[str, str]:
    """``env`` (default: this process's) without the variables whose names say they hold a secret."""
    return {k: v for k, v in (os.environ if env is None else env).items() if not _SECRET_NAME.search(k)}


class _Capture:
    """Keeps the first ``keep`` bytes of a stream and counts the rest, so a flood of output costs no memory."""

    def __init__(self, keep: int) -> None:
        self.keep = keep
        self.data = bytearray()
        self.dropped = 0

    def add(self, chunk: bytes) -> None:
        room = max(0, self.keep - len(self.data))
        self.data += chunk[:room]
        self.dropped += len(chunk) - min(room, len(chunk))

    def text(self) -> str:
        return self.data.decode("utf-8", errors="replace")


def _pump(
    sel: selectors.BaseSelector, captures: dict[Any, _Capture], proc: subprocess.Popen[bytes], until: float
) -> None:
    """Read both pipes until they close, until ``until``, or until bash has exited and nothing more is waiting."""
    while sel.get_map() and (left := until - time.monotonic()) > 0:
        exited = proc.poll() is not None
        events = sel.select(0 if exited else min(left, 0.1))
        if exited and not events:
            return  # only background jobs could still write; they are killed next
        for key, _ in events:
            if chunk := os.read(key.fd, _CHUNK):
                captures[key.fileobj].add(chunk)
            else:
                sel.unregister(key.fileobj)


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


def _run(command: str, cwd: Path, timeout: float, keep: int) -> tuple[int | None, _Capture, _Capture]:
    """Run ``bash -c command`` in its own process group; exit code None means it was killed at the timeout."""
    try:
        proc = subprocess.Popen(
            ["bash", "-c", command],
            cwd=cwd,
            env=scrubbed_env(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
    except FileNotFoundError:
        raise FileNotFoundError("bash is not installed on this machine; bash_command needs it.") from None
    pipes: tuple[IO[bytes], IO[bytes]] = (proc.stdout, proc.stderr)  # type: ignore[assignment]  # PIPE: never None
    captures = {pipe: _Capture(keep) for pipe in pipes}
    try:
        with selectors.DefaultSelector() as sel:
            for pipe in pipes:
                sel.register(pipe, selectors.EVENT_READ)
            deadline = time.monotonic() + timeout
            _pump(sel, captures, proc, deadline)
            with contextlib.suppress(subprocess.TimeoutExpired):  # the pipes can close a moment before bash exits
                proc.wait(timeout=max(0.0, deadline - time.monotonic()))
            exit_code = proc.poll()
            _kill_group(proc)  # on timeout the command, otherwise its leftover background jobs
            _pump(sel, captures, proc, time.monotonic() + _DRAIN_AFTER_KILL)
    finally:
        _kill_group(proc)
        proc.wait()
        for pipe in pipes:
            pipe.close()
    return exit_code, captures[pipes[0]], captures[pipes[1]]


def _share(a: int, b: int, budget: int) -> tuple[int, int]:
    """How many characters of two outputs to keep: half the budget each, and what one leaves unused to the other."""
    keep_a = min(a, max(budget // 2, budget - b))
    return keep_a, min(b, budget - keep_a)


def _shown(text: str, keep: int, dropped: int, limit: int) -> str:
    """``text`` cut to ``keep`` characters, with a note counting what was cut (``dropped`` was never kept)."""
    cut = len(text) - keep + dropped
    if not cut:
        return text
    return (
        f"{text[:keep]}\n… [{cut} more characters cut: output is limited to {limit} characters in all; "
        "narrow it with head, tail or grep]"
    )


def system_tools(sandbox: Sandbox) -> list[Tool]:
    """``bash_command`` (HIGH)."""

    def bash_command(command: str) -> dict[str, Any]:
        """Run a bash command in the workspace folder and return its exit code, stdout and stderr.

        Secrets are removed from its environment; it is stopped (with everything it started) at the time limit,
        and background jobs end with it.

        Args:
            command: The bash command line, e.g. "ls -la" or "python script.py > out.txt".
        """
        if not command.strip():
            raise ValueError("The command is empty; pass a shell command such as 'ls -la'.")
        sandbox.check_command(command, tool="bash_command")
        limit = sandbox.max_output_chars
        exit_code, out, err = _run(command, sandbox.root, sandbox.bash_timeout, keep=4 * limit)
        out_text, err_text = out.text(), err.text()
        keep_out, keep_err = _share(len(out_text), len(err_text), limit)
        stdout = _shown(out_text, keep_out, out.dropped, limit)
        stderr = _shown(err_text, keep_err, err.dropped, limit)
        if exit_code is None:
            so_far = (stdout + stderr).strip()
            raise TimeoutError(
                f"The command did not finish within {sandbox.bash_timeout:g} s and was stopped, together with every "
                "process it started. Make it faster, run it on less data, or split it into steps."
                + (f"\nOutput before it was stopped:\n{so_far[-2000:]}" if so_far else "")
            )
        return {"exit_code": exit_code, "stdout": stdout, "stderr": stderr}

    return [Tool.from_function(bash_command, danger=DangerLevel.HIGH, category="system")]
