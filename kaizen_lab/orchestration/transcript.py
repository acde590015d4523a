"""What every multi-agent pattern returns: who said what, in which round, how sure, at what cost."""

from __future__ import annotations

import html
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Contribution", "PatternResult", "PatternTranscript"]


@dataclass(frozen=True)
class Contribution:
    """One agent's turn in a pattern: a proposal, a vote, an argument, a verdict, a subtask's result, a handoff."""

    round: int
    speaker: str  # the agent's name
    role: str  # "proponent", "opponent", "judge", "voter", "worker", "supervisor", "stage", "holder", ...
    message: str
    stance: str | None = None  # "for"/"against", the option voted for, "handoff" ...
    confidence: float | None = None
    tokens: int = 0
    cost: float = 0.0
    started: float = 0.0  # seconds since the pattern started
    ended: float = 0.0
    task: str | None = None  # the subtask a worker was given
    score: float | None = None  # how well the speaker matched the task (capability routing)
    attempt: int = 1
    error: str | None = None  # set when this attempt failed (it was retried or replaced)
    data: dict[str, Any] = field(default_factory=dict, compare=False)  # the agent's full outputs


class PatternTranscript(list[Contribution]):
    """Contributions in the order they happened; ``to_frame()`` for analysis, rich HTML in a notebook."""

    def to_frame(self) -> pd.DataFrame:
        import pandas as pd

        columns = [f for f in Contribution.__dataclass_fields__ if f != "data"]
        return pd.DataFrame([{k: v for k, v in asdict(c).items() if k != "data"} for c in self], columns=columns)

    def rounds(self) -> dict[int, list[Contribution]]:
        grouped: dict[int, list[Contribution]] = {}
        for c in self:
            grouped.setdefault(c.round, []).append(c)
        return grouped

    def speakers(self) -> list[str]:
        return list(dict.fromkeys(c.speaker for c in self))

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><td>{c.round}</td><td>{html.escape(c.speaker)}</td><td>{html.escape(c.role)}</td>"
            f"<td>{html.escape(c.stance or '')}</td>"
            f"<td>{'' if c.confidence is None else f'{c.confidence:.2f}'}</td>"
            f"<td style='text-align:left'>{html.escape(_short(c.error or c.message))}</td>"
            f"<td>{c.tokens}</td></tr>"
            for c in self
        )
        return (
            "<table><tr><th>round</th><th>speaker</th><th>role</th><th>stance</th><th>confidence</th>"
            f"<th>message</th><th>tokens</th></tr>{rows}</table>"
        )


class PatternResult(dict[str, Any]):
    """A pattern's outcome (``result["verdict"]``, ``result["answer"]``, ...) with its transcript, totals and the
    warnings a reader must see (retries, replaced workers, a budget that ran out). In a notebook it renders as
    the pattern's own view (debate lines, consensus bars, the supervisor's task tree)."""

    def __init__(self, pattern: str, outputs: dict[str, Any], transcript: PatternTranscript, elapsed: float) -> None:
        super().__init__(outputs)
        self.pattern = pattern
        self.transcript = transcript
        self.elapsed = elapsed
        self.warnings: list[str] = []

    @property
    def tokens(self) -> int:
        return sum(c.tokens for c in self.transcript)

    @property
    def cost(self) -> float:
        return sum(c.cost for c in self.transcript)

    def usage_by_agent(self) -> dict[str, dict[str, float]]:
        totals: dict[str, dict[str, float]] = {}
        for c in self.transcript:
            row = totals.setdefault(c.speaker, {"tokens": 0, "cost": 0.0, "calls": 0})
            row["tokens"] += c.tokens
            row["cost"] += c.cost
            row["calls"] += 1
        return totals

    def figure(self) -> Any:
        """The pattern's plotly figure (needs kaizen-lab-widgets): debate lines, consensus bars, task tree."""
        from kaizen_lab_widgets.patterns import pattern_figure

        return pattern_figure(self)

    def __repr__(self) -> str:
        return f"PatternResult({self.pattern}, {dict(self)!r}, {len(self.transcript)} contributions)"

    def _ipython_display_(self) -> None:
        """In a notebook: the outcome, the pattern's figure (plotly's mimetype, drawn by JupyterLab) and the
        transcript; plain HTML when the widgets package is not installed."""
        try:
            from kaizen_lab_widgets.patterns import display_pattern
        except ImportError:
            from IPython.display import HTML, display

            display(HTML(self._repr_html_()))
            return
        display_pattern(self)

    def _repr_html_(self) -> str:
        try:
            from kaizen_lab_widgets.patterns import pattern_html
        except ImportError:
            pattern_html = None
        if pattern_html is not None:
            return str(pattern_html(self))
        items = "".join(
            f"<tr><th style='text-align:left'>{html.escape(k)}</th><td style='text-align:left'>"
            f"{html.escape(_short(str(v), 400))}</td></tr>"
            for k, v in self.items()
        )
        warn = "".join(f"<div style='color:#b45309'>⚠ {html.escape(w)}</div>" for w in self.warnings)
        return f"<b>{html.escape(self.pattern)}</b><table>{items}</table>{warn}{self.transcript._repr_html_()}"


def _short(text: str, limit: int = 160) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
