"""Inline widgets for Kaizen Lab.

So far: the usage view (a DataFrame of calls and a plotly chart of tokens and latency per call). Approval,
question, progress and explorer widgets come with their issues.
"""

from __future__ import annotations

from .usage import usage_figure, usage_table

__all__ = ["usage_figure", "usage_table"]
