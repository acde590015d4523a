"""A tool: a plain typed Python function the model may call, with a danger level that decides who must approve it.

The JSON schema the model sees comes from the function's signature and its docstring (``Args:`` section), the way
pydantic-ai and DSPy build theirs, so there is one source of truth.
"""

from __future__ import annotations

import enum
import inspect
import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, get_type_hints

from ..exceptions import ConfigurationError

__all__ = ["DangerLevel", "Tool", "ToolResult", "tool"]


class DangerLevel(enum.IntEnum):
    """How much harm a call can do; ordered, so ``level <= DangerLevel.LOW`` reads naturally."""

    SAFE = 0  # no side effects, reveals nothing sensitive: auto-approved
    LOW = 1  # read-only
    MEDIUM = 2  # modifies something recoverable
    HIGH = 3  # destructive or arbitrary (delete, shell)

    @classmethod
    def coerce(cls, value: DangerLevel | str | int) -> DangerLevel:
        if isinstance(value, DangerLevel):
            return value
        if isinstance(value, str) and value.upper() in cls.__members__:
            return cls[value.upper()]
        if isinstance(value, int) and not isinstance(value, bool) and value in {m.value for m in cls}:
            return cls(value)
        names = ", ".join(cls.__members__)
        raise ConfigurationError(f"Unknown danger level {value!r}; use one of {names}.")


_ARGS_HEADER = re.compile(r"^(Args|Arguments|Parameters):\s*$", re.IGNORECASE)
_ARG_LINE = re.compile(r"^(\s+)\*{0,2}(\w+)\s*(?:\([^)]*\))?\s*:\s*(.*)$")


def _parse_docstring(doc: str | None) -> tuple[str, dict[str, str]]:
    """The summary (text before ``Args:``) and per-parameter descriptions, from a Google-style docstring."""
    summary: list[str] = []
    params: dict[str, str] = {}
    section, current, indent = "summary", "", 0
    for line in inspect.cleandoc(doc or "").splitlines():
        if _ARGS_HEADER.match(line):
            section, indent = "args", 0
            continue
        if section == "summary":
            summary.append(line)
            continue
        if section != "args" or (line.strip() and not line[0].isspace()):
            section = "other"  # Returns:, Raises:, ... end the argument list
            continue
        m = _ARG_LINE.match(line)
        if m and (not indent or len(m.group(1)) <= indent):
            indent, current = len(m.group(1)), m.group(2)
            params[current] = m.group(3).strip()
        elif current and line.strip():
            params[current] = f"{params[current]} {line.strip()}".strip()
    return "\n".join(summary).strip(), params


@dataclass(frozen=True, eq=False)
class Tool:
    """A callable the model may use. Build one with :func:`tool` or :meth:`Tool.from_function`."""

    name: str
    description: str
    function: Callable[..., Any] = field(repr=False)
    parameters: dict[str, Any] = field(repr=False)
    danger: DangerLevel = DangerLevel.LOW
    category: str = "custom"
    cost: float = 0.0  # charged to the run's budget per successful call
    args_model: Any = field(default=None, repr=False, compare=False)
    # Shows what a call would change (e.g. a diff for write_file) on the approval card; never runs the tool.
    preview: Callable[[dict[str, Any]], str | None] | None = field(default=None, repr=False, compare=False)

    @classmethod
    def from_function(
        cls,
        fn: Callable[..., Any],
        *,
        name: str | None = None,
        description: str | None = None,
        danger: DangerLevel | str | int = DangerLevel.LOW,
        category: str = "custom",
        cost: float = 0.0,
        preview: Callable[[dict[str, Any]], str | None] | None = None,
        localns: dict[str, Any] | None = None,
    ) -> Tool:
        """``localns`` resolves string annotations naming types local to a function (``from __future__ import
        annotations``); :func:`tool` passes the defining scope's names."""
        import pydantic

        tool_name = name or str(getattr(fn, "__name__", ""))
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_\-]{0,63}", tool_name or ""):
            raise ConfigurationError(
                f"Tool name {tool_name!r} is not usable by models: use letters, digits, '_' or '-' (at most 64)."
            )
        summary, arg_docs = _parse_docstring(fn.__doc__)
        try:
            hints = get_type_hints(fn, localns=localns)
        except Exception as e:  # an annotation that cannot be resolved
            raise ConfigurationError(f"Tool {tool_name!r}: cannot resolve its type annotations ({e}).") from e
        fields: dict[str, Any] = {}
        for pname, param in inspect.signature(fn).parameters.items():
            if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
                raise ConfigurationError(
                    f"Tool {tool_name!r}: *{pname} arguments cannot be described to a model; name each parameter."
                )
            if pname not in hints:
                raise ConfigurationError(
                    f"Tool {tool_name!r}: parameter {pname!r} has no type annotation; annotate it (e.g. `{pname}: str`)"
                    " so the model knows what to pass."
                )
            default = ... if param.default is param.empty else param.default
            fields[pname] = (hints[pname], pydantic.Field(default, description=arg_docs.get(pname) or None))
        model = pydantic.create_model(f"{tool_name}_args", **fields)
        schema = model.model_json_schema()
        schema.pop("title", None)
        for prop in schema.get("properties", {}).values():
            prop.pop("title", None)
        return cls(
            name=tool_name,
            description=description or summary or f"Call {tool_name}.",
            function=fn,
            parameters=schema,
            danger=DangerLevel.coerce(danger),
            category=category,
            cost=cost,
            args_model=model,
            preview=preview,
        )

    def validate(self, params: dict[str, Any]) -> dict[str, Any]:
        """The arguments, coerced to the declared types; ValueError says which argument is wrong and why."""
        import pydantic

        if self.args_model is None:
            return dict(params)
        try:
            return dict(self.args_model.model_validate(params or {}))
        except pydantic.ValidationError as e:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in err['loc']) or 'arguments'}: {err['msg']}" for err in e.errors()
            )
            raise ValueError(f"invalid arguments for {self.name}: {problems}") from None

    async def acall(self, params: dict[str, Any]) -> Any:
        """Run the tool: coroutines are awaited, plain functions run in a worker thread (never on the loop)."""
        return await self.call_validated(self.validate(params))

    async def call_validated(self, args: dict[str, Any]) -> Any:
        """Run with arguments :meth:`validate` already returned (the executor validates before deciding)."""
        import asyncio

        if inspect.iscoroutinefunction(self.function):
            return await self.function(**args)
        return await asyncio.to_thread(self.function, **args)

    def openai_schema(self) -> dict[str, Any]:
        """The ``tools=[...]`` entry for OpenAI-style native tool calling (litellm translates it per provider)."""
        return {
            "type": "function",
            "function": {"name": self.name, "description": self.description, "parameters": self.parameters},
        }

    def signature_text(self) -> str:
        props = self.parameters.get("properties", {})
        required = set(self.parameters.get("required", []))
        args = ", ".join(f"{k}{'' if k in required else '?'}: {v.get('type', 'any')}" for k, v in props.items())
        return f"{self.name}({args})"


def tool(
    fn: Callable[..., Any] | None = None,
    *,
    name: str | None = None,
    description: str | None = None,
    danger: DangerLevel | str | int = DangerLevel.LOW,
    category: str = "custom",
    cost: float = 0.0,
    preview: Callable[[dict[str, Any]], str | None] | None = None,
) -> Any:
    """Decorator: ``@tool`` or ``@tool(danger="high")`` turns a typed function into a :class:`Tool`.

    The result is a Tool, not the function: call the function itself with ``t.function(...)``.
    """

    def wrap(f: Callable[..., Any], depth: int = 1) -> Tool:
        scope = sys._getframe(depth).f_locals  # where the function was defined: its local types resolve
        return Tool.from_function(
            f,
            name=name,
            description=description,
            danger=danger,
            category=category,
            cost=cost,
            preview=preview,
            localns=dict(scope),
        )

    return wrap(fn, 2) if fn is not None else wrap


@dataclass
class ToolResult:
    """What one tool call did. Failures are data here (they become the model's observation), never a crash."""

    tool: str
    params: dict[str, Any]
    success: bool
    approved: bool
    result: Any = None
    error: str | None = None
    decided_by: str = ""  # "rule", "policy:...", "user", "timeout", "mode:plan", ...
    reason: str = ""
    duration: float = 0.0
    step: int | None = None  # position in a chain
    planned: bool = False  # PLAN mode: recorded, not executed
    started_at: float = field(default_factory=time.time)

    def observation(self, limit: int = 4000) -> str:
        """The text the model reads back after this call."""
        if self.planned:
            text = f"PLANNED (not executed): {self.tool}({_to_text(self.params)})"
        elif self.success:
            text = self.result if isinstance(self.result, str) else _to_text(self.result)
        elif not self.approved:
            text = f"DENIED: {self.error or self.reason or 'the call was not approved'}"
        else:
            text = f"ERROR: {self.error}"
        return text if len(text) <= limit else text[:limit] + f"… [{len(text) - limit} more characters cut]"


def _to_text(value: Any) -> str:
    import json

    try:
        return json.dumps(value, default=str, ensure_ascii=False)
    except (TypeError, ValueError):
        return repr(value)
