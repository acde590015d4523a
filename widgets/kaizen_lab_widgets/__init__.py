"""Inline widgets for Kaizen Lab.

- :class:`ApprovalCard`, :class:`QuestionCard`, :class:`WidgetTransport`: approvals and questions from a running
  agent, answered with a click while the kernel stays free.
- :class:`RAGExplorer`: search a document store, see ranked chunks and the PDF page with the chunk highlighted.
- :class:`JourneyMap`: a journey's pathways and transitions, the current one highlighted.
- :class:`MemoryExplorer`: browse, search by meaning, edit and learn from an agent's memory store.
- :class:`Progress`: done/failed/ETA/tokens/cost of a batch or multi-step run, with a Cancel button.
- :class:`SignatureBuilder`: design a Signature with a form, see its source and schema, try it on one example.
- :func:`pattern_figure`, :func:`pattern_html`, :func:`supervisor_timeline`, :func:`export_pattern`: a multi-agent
  pattern's result (debate, consensus, supervisor-worker, handoff, sequential) as a plotly figure, notebook HTML, or
  a file for a paper (plotly is imported only when a figure is made).
- :func:`usage_table`, :func:`usage_figure`: the calls made so far, as a DataFrame and a plotly chart (pandas and
  plotly are imported only when these are called).
"""

from __future__ import annotations

from ._pdf_render import PageImage, render_page
from .approval import ApprovalCard, QuestionCard, WidgetTransport
from .journey_map import JourneyMap
from .memory_explorer import MemoryExplorer
from .patterns import export_pattern, pattern_figure, pattern_html, supervisor_timeline
from .progress import Progress
from .rag_explorer import RAGExplorer
from .signature_builder import SignatureBuilder
from .usage import usage_figure, usage_table

__all__ = [
    "ApprovalCard",
    "JourneyMap",
    "MemoryExplorer",
    "PageImage",
    "Progress",
    "RAGExplorer",
    "QuestionCard",
    "SignatureBuilder",
    "WidgetTransport",
    "export_pattern",
    "pattern_figure",
    "pattern_html",
    "render_page",
    "supervisor_timeline",
    "usage_figure",
    "usage_table",
]
