"""The limits the builtin tools run under: one workspace directory, an optional host allowlist, timeouts and caps.

Every path, URL and shell command a builtin tool receives is checked here, in one place, so all tools refuse the
same things the same way and say why (a :class:`~kaizen_lab.exceptions.SandboxError` with an actionable message).

What this is not: an OS-level jail. Paths are resolved (symlinks included) before use, but a process with the
agent's permissions can still race a symlink swap between check and use, and ``bash_command`` runs with the user's
rights. The shell denylist only catches well-known catastrophic commands; approval of HIGH-danger tools is the
real guard.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ..exceptions import ConfigurationError, SandboxError

__all__ = ["Sandbox"]

_SCHEMES = frozenset({"http", "https"})
_CONTROL = re.compile(r"[\x00-\x20\x7f]")
_AGENT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}")

# (pattern, what it would do). Matched against the command as given and with quotes and backslashes removed, so
# `r''m -rf /` is caught too. A tripwire for obvious disasters, not a parser: it can be bypassed on purpose.
_START = r"(?:^|[;&|(){}`\n]|\$\()\s*(?:sudo\s+|exec\s+|nohup\s+|command\s+|\S*/)*"
_CATASTROPHIC: list[tuple[re.Pattern[str], str]] = [
    (
        re.compile(r"\brm\s+(?:[^\s;&|]+\s+)*(?:/\*?|~/?\*?|\$\{?HOME\}?/?\*?)(?:[\s;&|)]|$)"),
        "delete the filesystem root or the home directory",
    ),
    (re.compile(r"--no-preserve-root"), "delete the filesystem root"),
    (re.compile(r"([\w:.]+)\s*\(\)\s*\{\s*\1\s*\|\s*\1\s*&"), "start a fork bomb"),
    (re.compile(_START + r"mkfs(?:\.\w+)?\b"), "format a disk"),
    (re.compile(r"\bdd\b[^;&|\n]*\bof=/dev/(?!null\b|zero\b|stdout\b|stderr\b)"), "overwrite a device"),
    (re.compile(r"(?:>|\btee\s+(?:-\S+\s+)*)\s*/dev/(?:sd|hd|vd|xvd|nvme|mmcblk|disk)"), "overwrite a disk"),
    (
        re.compile(_START + r"(?:shutdown|reboot|halt|poweroff)\b|\bsystemctl\s+(?:poweroff|reboot|halt)\b"),
        "shut down or reboot the machine",
    ),
    (re.compile(_START + r"init\s+[06]\b"), "shut down or reboot the machine"),
]


@dataclass
class Sandbox:
    """Where the builtin tools may act and how much they may do.

    ``root`` is created if missing and stored resolved; ``allowed_hosts=None`` allows any host.
    """

    root: Path
    allowed_hosts: frozenset[str] | None = None
    http_timeout: float = 15.0
    max_response_bytes: int = 2_000_000
    bash_timeout: float = 30.0
    max_output_chars: int = 20_000
    max_file_bytes: int = 5_000_000

    def __post_init__(self) -> None:
        root = Path(self.root).expanduser()
        root.mkdir(parents=True, exist_ok=True)
        self.root = root.resolve()
        if self.allowed_hosts is not None:
            self.allowed_hosts = frozenset(h.strip().lower().rstrip(".") for h in self.allowed_hosts)

    @classmethod
    def default(cls, agent_id: str, **limits: Any) -> Sandbox:
        """A per-agent workspace under ``$KAIZEN_WORKSPACE`` (default ``~/.kaizen_lab/workspaces``)."""
        if not _AGENT_ID.fullmatch(agent_id) or agent_id.strip(".") == "":
            raise ConfigurationError(
                f"Agent id {agent_id!r} cannot name a workspace folder; use letters, digits, '_', '-' or '.'."
            )
        base = Path(os.environ.get("KAIZEN_WORKSPACE") or "~/.kaizen_lab/workspaces").expanduser()
        return cls(root=base / agent_id, **limits)

    # -- paths ---------------------------------------------------------------------------------------------------

    def resolve(self, path: str, *, tool: str = "", follow_final: bool = True) -> Path:
        """The real location of ``path`` (relative to the root), refusing anything that ends up outside the root.

        With ``follow_final=False`` a final symlink is returned as the link itself (so deleting it removes the
        link, not its target); the link must still point inside the workspace.
        """
        if not isinstance(path, str) or not path.strip():
            raise self._refuse(
                "The path is empty; pass a path relative to the workspace root, e.g. 'notes.txt' ('.' is the root).",
                tool,
                "empty_path",
            )
        if "\x00" in path:
            raise self._refuse(
                f"The path {path!r} contains a NUL byte; pass a plain path relative to the workspace root.",
                tool,
                "nul_byte",
            )
        if path.startswith("~"):
            raise self._refuse(
                f"Path {path!r} points into a home directory, outside the workspace {self.root}; "
                "use a path relative to the workspace root.",
                tool,
                "outside",
            )
        lexical = Path(os.path.normpath(self.root / path))  # joins relative paths, keeps absolute ones, folds '..'
        if not lexical.is_relative_to(self.root):
            raise self._refuse(
                f"Path {path!r} is outside the workspace {self.root}; use a path relative to the workspace root.",
                tool,
                "outside",
            )
        try:
            real = lexical.resolve()
        except (OSError, RuntimeError) as e:  # Python < 3.13 raises RuntimeError on a symlink loop
            raise OSError(f"Path {path!r} cannot be resolved ({e}); remove or fix the symbolic link loop.") from None
        if not real.is_relative_to(self.root):
            raise self._refuse(
                f"Path {path!r} leads outside the workspace {self.root} through a symbolic link (to {real}); "
                "use a path whose links stay inside the workspace.",
                tool,
                "symlink",
            )
        if follow_final or lexical == self.root:
            return real
        parent = lexical.parent.resolve()
        if not parent.is_relative_to(self.root):  # a link chain that leaves and comes back in
            raise self._refuse(
                f"Path {path!r} passes outside the workspace {self.root} through a symbolic link; "
                "use a path whose links stay inside the workspace.",
                tool,
                "symlink",
            )
        return parent / lexical.name

    def relative(self, path: Path) -> str:
        """How a resolved path inside the workspace is shown to the model: relative, with '/' separators."""
        return path.relative_to(self.root).as_posix()

    # -- URLs ----------------------------------------------------------------------------------------------------

    def check_url(self, url: str, *, tool: str = "") -> str:
        """``url`` unchanged if it is an http(s) URL to an allowed host; SandboxError otherwise."""
        if _CONTROL.search(url):
            raise self._refuse(
                f"URL {url!r} contains spaces or control characters; percent-encode them (e.g. %20).", tool, "url"
            )
        parts = urlsplit(url)
        if parts.scheme.lower() not in _SCHEMES:
            scheme = f"scheme {parts.scheme!r}" if parts.scheme else "no scheme"
            raise self._refuse(
                f"URL {url!r} has {scheme}; only http:// and https:// URLs can be fetched.", tool, "scheme"
            )
        if "@" in parts.netloc:
            raise self._refuse(
                f"URL {url!r} contains credentials before '@'; remove them (send credentials in headers instead).",
                tool,
                "userinfo",
            )
        try:
            host, _ = (parts.hostname or "").rstrip("."), parts.port
        except ValueError:
            raise self._refuse(f"URL {url!r} has an invalid port; use host:port with 0-65535.", tool, "url") from None
        if not host:
            raise self._refuse(f"URL {url!r} has no host; write it as http://host/path.", tool, "url")
        if self.allowed_hosts is not None and host not in self.allowed_hosts:
            allowed = ", ".join(sorted(self.allowed_hosts)) or "none"
            raise self._refuse(
                f"Host {host!r} is not allowed in this sandbox (allowed: {allowed}); "
                "use an allowed host or ask for this one to be added to allowed_hosts.",
                tool,
                "host",
            )
        return url

    # -- shell ---------------------------------------------------------------------------------------------------

    def check_command(self, command: str, *, tool: str = "") -> str:
        """``command`` unchanged unless it matches a known catastrophic pattern (rm -rf /, fork bomb, mkfs, ...)."""
        unquoted = re.sub(r"[\"'\\]", "", command)
        for pattern, harm in _CATASTROPHIC:
            if pattern.search(command) or pattern.search(unquoted):
                raise self._refuse(
                    f"Refused command {command!r}: it looks like it would {harm}. Commands run in the workspace "
                    f"{self.root}; operate on files inside it instead.",
                    tool,
                    "command",
                )
        return command

    @staticmethod
    def _refuse(message: str, tool: str, reason: str) -> SandboxError:
        return SandboxError(message, tool=tool, reason=reason)
