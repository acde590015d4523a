"""The ``%%signature Name`` cell: a small, Python-looking way to declare a signature.

    %%signature Review
    \"\"\"Classify a product review.\"\"\"
    text: str = input("The review text")
    stars: int = input("1-5", default=3)
    sentiment: Literal["positive", "negative", "neutral"] = output("Sentiment")

Each line is ``name: type = input(...)`` or ``= output(...)``; the description is the first argument (or
``desc=``), inputs may have a ``default=`` literal. Types come from the same allow-list as string signatures, so the
cell never runs code. Errors name the line.
"""

from __future__ import annotations

import ast
from typing import Any

from IPython.core.error import UsageError

from kaizen_lab import ConfigurationError, InputField, OutputField, Signature
from kaizen_lab._signature_parser import resolve_type_string


def _fail(lineno: int, line: str, why: str) -> UsageError:
    return UsageError(f"%%signature line {lineno}: {why}\n    {line.strip()}")


def _field(stmt: ast.AnnAssign, line: str) -> tuple[str, Any, Any]:
    if not isinstance(stmt.target, ast.Name):
        raise _fail(stmt.lineno, line, "the left side must be a field name, like `text: str = input(...)`.")
    name = stmt.target.id
    if name.startswith("_"):
        raise _fail(stmt.lineno, line, f"{name!r} starts with an underscore, which marks private attributes.")
    try:
        annotation = resolve_type_string(ast.unparse(stmt.annotation), where=f"field {name!r}")
    except ConfigurationError as e:
        raise _fail(stmt.lineno, line, str(e)) from None
    call = stmt.value
    if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id in ("input", "output")):
        raise _fail(stmt.lineno, line, 'the value must be input("description") or output("description").')
    try:
        args = [ast.literal_eval(a) for a in call.args]
        kwargs = {k.arg: ast.literal_eval(k.value) for k in call.keywords}
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        raise _fail(stmt.lineno, line, "descriptions and defaults must be literals (strings, numbers, ...).") from None
    desc = args[0] if args else kwargs.pop("desc", kwargs.pop("description", ""))
    unknown = set(kwargs) - {"default"}
    if unknown or len(args) > 1:
        raise _fail(stmt.lineno, line, f"input()/output() take a description and default=; got {sorted(unknown)}.")
    if call.func.id == "output" and "default" in kwargs:
        raise _fail(stmt.lineno, line, "outputs cannot have a default; the model must produce them.")
    maker = InputField if call.func.id == "input" else OutputField
    return name, annotation, maker(desc=desc, **kwargs)


def parse_signature_cell(name: str, body: str) -> type[Signature]:
    if not name.isidentifier():
        raise UsageError(f"%%signature needs a class name, like `%%signature Review`; got {name!r}.")
    try:
        tree = ast.parse(body)
    except SyntaxError as e:
        raise UsageError(f"%%signature line {e.lineno}: {e.msg}\n    {(e.text or '').strip()}") from None
    lines = body.splitlines()
    ns: dict[str, Any] = {"__annotations__": {}, "__module__": "__main__", "__doc__": ""}
    for i, stmt in enumerate(tree.body):
        line = lines[stmt.lineno - 1]
        if i == 0 and isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):
            ns["__doc__"] = str(stmt.value.value)
            continue
        if not isinstance(stmt, ast.AnnAssign) or stmt.value is None:
            raise _fail(stmt.lineno, line, 'expected `name: type = input("...")` or `= output("...")`.')
        field_name, annotation, spec = _field(stmt, line)
        if field_name in ns["__annotations__"]:
            raise _fail(stmt.lineno, line, f"{field_name!r} is declared twice.")
        ns["__annotations__"][field_name] = annotation
        ns[field_name] = spec
    try:
        return type(Signature)(name, (Signature,), ns)
    except ConfigurationError as e:
        raise UsageError(f"%%signature {name}: {e}") from None
