"""The tools an agent may use, by name; discovery by category and danger."""

from __future__ import annotations

import html
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from ..exceptions import ConfigurationError
from .base import DangerLevel, Tool

__all__ = ["ToolRegistry"]

ToolSpec = Tool | Callable[..., Any] | str  # a Tool, a typed function, or a builtin name


class ToolRegistry:
    def __init__(self, tools: Iterable[Tool] = ()) -> None:
        self._tools: dict[str, Tool] = {}
        for t in tools:
            self.register(t)

    def register(self, item: Tool | Callable[..., Any], **kw: Any) -> Tool:
        """Add a Tool, or a plain typed function (``kw`` as for :meth:`Tool.from_function`)."""
        t = item if isinstance(item, Tool) else Tool.from_function(item, **kw)
        if t.name in self._tools and self._tools[t.name] is not t:
            raise ConfigurationError(f"Two tools are named {t.name!r}; give one of them another name (tool(name=...)).")
        self._tools[t.name] = t
        return t

    def get(self, name: str) -> Tool | None:
        return self._tools.get(name)

    def discover(
        self, category: str | None = None, *, safe_only: bool = False, max_danger: DangerLevel | str | None = None
    ) -> list[Tool]:
        limit = DangerLevel.SAFE if safe_only else (DangerLevel.coerce(max_danger) if max_danger is not None else None)
        return [
            t
            for t in self._tools.values()
            if (category is None or t.category == category) and (limit is None or t.danger <= limit)
        ]

    @property
    def names(self) -> list[str]:
        return list(self._tools)

    def schemas(self) -> list[dict[str, Any]]:
        return [t.openai_schema() for t in self._tools.values()]

    def __contains__(self, name: object) -> bool:
        return name in self._tools

    def __iter__(self) -> Iterator[Tool]:
        return iter(self._tools.values())

    def __len__(self) -> int:
        return len(self._tools)

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><td><code>{html.escape(t.signature_text())}</code></td><td>{html.escape(t.category)}</td><td>{t.danger.name}</td>"
            f"<td>{html.escape(t.description.splitlines()[0] if t.description else '')}</td></tr>"
            for t in self._tools.values()
        )
        return "<table><tr><th>tool</th><th>category</th><th>danger</th><th>description</th></tr>" + rows + "</table>"

    def __repr__(self) -> str:
        return f"ToolRegistry({self.names})"
