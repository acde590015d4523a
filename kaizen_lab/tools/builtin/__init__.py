"""The 12 builtin tools, all confined by one :class:`~kaizen_lab.tools.sandbox.Sandbox`.

    from kaizen_lab.tools.sandbox import Sandbox
    from kaizen_lab.tools.builtin import builtin_tools
    tools = builtin_tools(Sandbox.default("my-agent"))

file: read_file, write_file, delete_file, list_directory, file_exists
http: http_get, http_post, http_put, http_delete
system: bash_command
web: fetch_url, extract_links
"""

from __future__ import annotations

from ..base import Tool
from ..sandbox import Sandbox
from .files import file_tools
from .http import http_tools
from .system import system_tools
from .web import web_tools

__all__ = ["builtin_tools", "file_tools", "http_tools", "system_tools", "web_tools"]


def builtin_tools(sandbox: Sandbox) -> list[Tool]:
    """All 12 builtin tools, bound to ``sandbox`` (its workspace, host allowlist, timeouts and caps)."""
    return [*file_tools(sandbox), *http_tools(sandbox), *system_tools(sandbox), *web_tools(sandbox)]
