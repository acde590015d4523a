"""Inline widgets for Kaizen Lab.

- :class:`Progress`: done/failed/ETA/tokens/cost of a batch or multi-step run, with a Cancel button.
- :class:`SignatureBuilder`: design a Signature with a form, see its source and schema, try it on one example.
- :func:`usage_table`, :func:`usage_figure`: the calls made so far, as a DataFrame and a plotly chart (pandas and
  plotly are imported only when these are called).
"""

from __future__ import annotations

from .progress import Progress
from .signature_builder import SignatureBuilder
from .usage import usage_figure, usage_table

__all__ = ["Progress", "SignatureBuilder", "usage_figure", "usage_table"]
