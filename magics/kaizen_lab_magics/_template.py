"""Cell templates: ``{name}`` takes the value of the variable the cell names, and nothing else.

Only the variables a cell mentions are read from the user's namespace (never the whole namespace); ``{{`` and
``}}`` are literal braces. ``{doc.title}`` and ``{items[0]}`` work as in ``str.format``.
"""

from __future__ import annotations

import re
import string
from typing import Any

from IPython.core.error import UsageError

_ROOT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def referenced_names(template: str) -> list[str]:
    try:
        fields = [f for _, f, _, _ in string.Formatter().parse(template) if f is not None]
    except ValueError as e:
        raise UsageError(f"The cell has unbalanced braces ({e}); write literal braces as {{{{ and }}}}.") from None
    names: list[str] = []
    for field in fields:
        m = _ROOT.match(field)
        if not m:
            raise UsageError(
                f"The cell refers to {{{field}}}, which is not a variable name; write literal braces as {{{{ }}}}."
            )
        if m.group() not in names:
            names.append(m.group())
    return names


def interpolate(template: str, namespace: dict[str, Any]) -> str:
    names = referenced_names(template)
    missing = [n for n in names if n not in namespace]
    if missing:
        raise UsageError(
            f"The cell refers to {{{missing[0]}}} but no variable {missing[0]!r} is defined; define it first, "
            "or write literal braces as {{ }}."
        )
    try:
        return template.format_map({n: namespace[n] for n in names})
    except (AttributeError, IndexError, KeyError, TypeError, ValueError) as e:
        raise UsageError(f"Could not fill the cell template: {e}") from None
