"""File tools confined to the sandbox's workspace: read, write (atomically), delete, list, exists.

Every path goes through :meth:`Sandbox.resolve`, so ``..``, absolute paths and symlinks leading out are refused.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from pathlib import Path

from ...exceptions import SandboxError
from ..base import DangerLevel, Tool
from ..sandbox import Sandbox

__all__ = ["file_tools"]

MAX_ENTRIES = 500


def _atomic_write(target: Path, data: bytes) -> None:
    """Write to a temporary sibling, then rename over ``target``: readers see the old file or the new, never half."""
    temp = target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp")
    mode = stat.S_IMODE(target.stat().st_mode) if target.exists() else None
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # 0o666 minus the umask, like open("w")
    try:
        with os.fdopen(fd, "wb") as f:
            if mode is not None:
                os.fchmod(f.fileno(), mode)
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            temp.unlink()
        raise


def _size(n: int) -> str:
    return f"{n / 1_000_000:.1f} MB" if n >= 100_000 else f"{n} bytes"


def _existing_file(sandbox: Sandbox, path: str, tool: str, *, follow_final: bool = True) -> Path:
    target = sandbox.resolve(path, tool=tool, follow_final=follow_final)
    if target.is_dir():
        raise IsADirectoryError(f"'{path}' is a directory, not a file; call list_directory to see what it holds.")
    if not target.exists() and not target.is_symlink():
        raise FileNotFoundError(f"There is no file '{path}' in the workspace; call list_directory to see files.")
    return target


def _too_large(what: str, size: int, sandbox: Sandbox, tool: str, advice: str) -> SandboxError:
    limit = _size(sandbox.max_file_bytes)
    return SandboxError(f"{what} is {_size(size)}, over the {limit} file limit; {advice}", tool=tool, reason="size")


def _read_text(sandbox: Sandbox, path: str, max_chars: int) -> str:
    if max_chars < 1:
        raise ValueError(f"max_chars must be at least 1 (got {max_chars}).")
    target = _existing_file(sandbox, path, "read_file")
    if not target.is_file():  # a FIFO or device would block or never end
        raise OSError(f"'{path}' is not a regular file (a pipe or device); read_file reads only regular files.")
    with target.open("rb") as f:
        data = f.read(sandbox.max_file_bytes + 1)
        if len(data) > sandbox.max_file_bytes:
            advice = "read a smaller file, or take a part of it with bash_command (e.g. head -c 100000)."
            raise _too_large(f"'{path}'", os.fstat(f.fileno()).st_size, sandbox, "read_file", advice)
    try:
        if b"\x00" in data:
            raise UnicodeError
        text = data.decode("utf-8-sig")
    except UnicodeError:
        raise ValueError(f"'{path}' is not UTF-8 text (it looks binary); read_file only reads text files.") from None
    if len(text) <= max_chars:
        return text
    return (
        f"{text[:max_chars]}\n… [{len(text) - max_chars} more characters cut; call read_file with a larger max_chars]"
    )


def _write_text(sandbox: Sandbox, path: str, content: str) -> str:
    target = sandbox.resolve(path, tool="write_file")
    if target.is_dir():
        raise IsADirectoryError(f"'{path}' is a directory; give the path of a file inside it, e.g. '{path}/x.txt'.")
    data = content.encode()
    if len(data) > sandbox.max_file_bytes:
        raise _too_large("The content", len(data), sandbox, "write_file", "split it into several smaller files.")
    target.parent.mkdir(parents=True, exist_ok=True)
    _atomic_write(target, data)
    return f"wrote {len(data)} bytes to {sandbox.relative(target)}"


def _list(sandbox: Sandbox, path: str) -> list[str]:
    target = sandbox.resolve(path, tool="list_directory")
    if not target.is_dir():
        problem = "is a file, not a folder" if target.exists() else "does not exist"
        raise NotADirectoryError(f"'{path}' {problem}; call list_directory('.') to see the workspace root.")
    entries = sorted(p.name + ("/" if p.is_dir() else "") for p in target.iterdir())
    if len(entries) > MAX_ENTRIES:
        entries = [*entries[:MAX_ENTRIES], f"… and {len(entries) - MAX_ENTRIES} more entries"]
    return entries


def _change_preview(sandbox: Sandbox, path: str, new: str | None) -> str:
    """A unified diff of what a write (``new``) or a delete (``None``) would do, for the approval card."""
    import difflib

    try:
        target = sandbox.resolve(path, tool="write_file" if new is not None else "delete_file")
    except SandboxError as e:
        return f"(this call will be refused: {e})"
    exists = target.is_file() and target.stat().st_size <= sandbox.max_file_bytes
    old = target.read_text(encoding="utf-8", errors="replace") if exists else ""
    diff = difflib.unified_diff(
        old.splitlines(keepends=True),
        (new or "").splitlines(keepends=True),
        fromfile=f"a/{path}" if exists else "/dev/null",
        tofile=f"b/{path}" if new is not None else "/dev/null",
    )
    return "".join(diff) or "(no change)"


def file_tools(sandbox: Sandbox) -> list[Tool]:
    """``read_file`` (LOW), ``write_file`` (MEDIUM), ``delete_file`` (HIGH), ``list_directory``, ``file_exists``."""

    def read_file(path: str, max_chars: int = sandbox.max_output_chars) -> str:
        """Read a UTF-8 text file from the workspace.

        Args:
            path: The file's path, relative to the workspace root.
            max_chars: Return at most this many characters; the rest is cut with a note saying how much.
        """
        return _read_text(sandbox, path, max_chars)

    def write_file(path: str, content: str) -> str:
        """Write text to a file in the workspace, replacing it if it exists and creating missing folders.

        Args:
            path: The file's path, relative to the workspace root.
            content: The complete new content of the file (UTF-8 text).
        """
        return _write_text(sandbox, path, content)

    def delete_file(path: str) -> str:
        """Delete one file from the workspace (not a folder). A symbolic link is removed, not what it points to.

        Args:
            path: The file's path, relative to the workspace root.
        """
        target = _existing_file(sandbox, path, "delete_file", follow_final=False)
        target.unlink()
        return f"deleted {sandbox.relative(target)}"

    def list_directory(path: str = ".") -> list[str]:
        """List a folder of the workspace: names sorted, folders marked with a trailing '/'.

        Args:
            path: The folder's path, relative to the workspace root; '.' (the default) is the root.
        """
        return _list(sandbox, path)

    def file_exists(path: str) -> bool:
        """Tell whether a file or folder exists in the workspace.

        Args:
            path: The path to check, relative to the workspace root.
        """
        return sandbox.resolve(path, tool="file_exists").exists()

    return [
        Tool.from_function(read_file, danger=DangerLevel.LOW, category="file"),
        Tool.from_function(
            write_file,
            danger=DangerLevel.MEDIUM,
            category="file",
            preview=lambda args: _change_preview(sandbox, args["path"], args["content"]),
        ),
        Tool.from_function(
            delete_file,
            danger=DangerLevel.HIGH,
            category="file",
            preview=lambda args: _change_preview(sandbox, args["path"], None),
        ),
        Tool.from_function(list_directory, danger=DangerLevel.SAFE, category="file"),
        Tool.from_function(file_exists, danger=DangerLevel.SAFE, category="file"),
    ]
