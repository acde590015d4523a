"""Usage and cost, shown as a table and a chart rather than a wall of numbers."""

from __future__ import annotations

from typing import TYPE_CHECKING

from kaizen_lab.usage import UsageLedger, global_usage

if TYPE_CHECKING:
    import pandas as pd
    import plotly.graph_objects as go


def usage_table(ledger: UsageLedger | None = None) -> pd.DataFrame:
    """One row per model call: provider, model, tokens, cost, latency, cache hit."""
    return (ledger or global_usage()).to_dataframe()


def usage_figure(ledger: UsageLedger | None = None) -> go.Figure:
    """Prompt and completion tokens per call (stacked bars) with latency on a second axis."""
    import plotly.graph_objects as go

    frame = usage_table(ledger)
    calls = list(range(1, len(frame) + 1))
    fig = go.Figure()
    fig.add_bar(x=calls, y=frame["prompt_tokens"], name="prompt tokens")
    fig.add_bar(x=calls, y=frame["completion_tokens"], name="completion tokens")
    fig.add_scatter(x=calls, y=frame["latency"], name="latency (s)", yaxis="y2", mode="lines+markers")
    fig.update_layout(
        barmode="stack",
        xaxis_title="call",
        yaxis_title="tokens",
        yaxis2={"title": "seconds", "overlaying": "y", "side": "right", "rangemode": "tozero", "showgrid": False},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.02, "x": 0},  # clear of the right axis' labels
        height=320,
        margin={"t": 30, "b": 40},
    )
    return fig
