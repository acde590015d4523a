"""The reason → act → observe record of a tool-using run, shown inline as a table."""

from __future__ import annotations

import html
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from ..tools.base import ToolResult

__all__ = ["Step", "Transcript"]

_OUTCOME_STYLE = {
    "executed": "#15803d",
    "failed": "#b91c1c",
    "denied": "#b91c1c",
    "planned": "#6b7280",
    "finish": "#2563eb",
    "invalid": "#b45309",
}


@dataclass
class Step:
    cycle: int
    thought: str
    action: str  # a tool name, "finish", or "(invalid)" when the reply could not be read
    action_input: dict[str, Any]
    observation: str = ""
    tool_result: ToolResult | None = None

    @property
    def outcome(self) -> str:
        if self.action == "finish":
            return "finish"
        r = self.tool_result
        if r is None:
            return "invalid"
        if r.planned:
            return "planned"
        if not r.approved:
            return "denied"
        return "executed" if r.success else "failed"

    @property
    def decided_by(self) -> str:
        return self.tool_result.decided_by if self.tool_result is not None else ""


class Transcript(list[Step]):
    """A list of :class:`Step`; ``to_frame()`` for analysis, rendered as a table in notebooks."""

    def to_frame(self) -> pd.DataFrame:
        import pandas as pd

        rows = [
            {
                "cycle": s.cycle,
                "thought": s.thought,
                "action": s.action,
                "input": s.action_input,
                "outcome": s.outcome,
                "decided_by": s.decided_by,
                "observation": s.observation,
            }
            for s in self
        ]
        return pd.DataFrame(
            rows, columns=["cycle", "thought", "action", "input", "outcome", "decided_by", "observation"]
        )

    def as_text(self, limit: int = 1500) -> str:
        """The trajectory as the model reads it when asked for a final answer."""
        parts = []
        for s in self:
            parts.append(f"Cycle {s.cycle} thought: {s.thought}")
            parts.append(f"Cycle {s.cycle} action: {s.action}({json.dumps(s.action_input, default=str)})")
            if s.observation:
                parts.append(f"Cycle {s.cycle} observation: {s.observation[:limit]}")
        return "\n".join(parts)

    @property
    def auto_decided(self) -> list[Step]:
        """Steps whose approval was decided by a headless policy: no person looked at them."""
        return [s for s in self if s.decided_by.startswith("policy:")]

    def __repr__(self) -> str:
        lines = [f"Transcript({len(self)} steps)"]
        for s in self:
            obs = s.observation if len(s.observation) <= 80 else s.observation[:80] + "…"
            lines.append(f"  {s.cycle}. {s.action}({json.dumps(s.action_input, default=str)}) → {s.outcome}: {obs}")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        head = "".join(
            f"<th style='text-align:left'>{h}</th>" for h in ("#", "thought", "action", "outcome", "observation")
        )
        rows = "".join(_row(s) for s in self)
        note = ""
        if self.auto_decided:
            policies = sorted({s.decided_by for s in self.auto_decided})
            note = (
                f"<div style='color:#b45309'>⚠ {len(self.auto_decided)} tool call(s) were decided by "
                f"{html.escape(', '.join(policies))}, not by a person.</div>"
            )
        return f"<div class='kaizen-transcript'><table><tr>{head}</tr>{rows}</table>{note}</div>"


def _row(s: Step) -> str:
    color = _OUTCOME_STYLE.get(s.outcome, "#111827")
    args = html.escape(json.dumps(s.action_input, default=str, ensure_ascii=False))
    who = f" <small>({html.escape(s.decided_by)})</small>" if s.decided_by and s.outcome != "finish" else ""
    obs = html.escape(s.observation if len(s.observation) <= 300 else s.observation[:300] + "…")
    return (
        f"<tr><td>{s.cycle}</td><td>{html.escape(s.thought)}</td>"
        f"<td><code>{html.escape(s.action)}</code><br><small><code>{args[:300]}</code></small></td>"
        f"<td style='color:{color};font-weight:600'>{s.outcome}{who}</td><td><small>{obs}</small></td></tr>"
    )
