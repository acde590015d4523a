"""What an agent run returns: a dict of the signature's outputs that also carries its metadata."""

from __future__ import annotations

import datetime
import html
import json
import time
from typing import Any

from ..llm._types import Completion, Message, Usage

__all__ = ["AgentResult"]


class AgentResult(dict[str, Any]):
    """``r["answer"]`` for outputs; ``r.usage``, ``r.cost``, ``r.latency``, ``r.provider``, ``r.model``,
    ``r.cache_hit``, ``r.raw`` (the last raw model text), ``r.messages`` (the prompt sent) and ``r.attempts``."""

    def __init__(
        self,
        outputs: dict[str, Any],
        *,
        completions: list[Completion],
        latency: float,
        signature: str = "",
        session_id: str | None = None,
        messages: list[Message] | None = None,
    ) -> None:
        super().__init__(outputs)
        self.completions = completions
        self.latency = latency
        self.signature = signature
        self.session_id = session_id
        self.messages = messages or []  # the prompt of the (last) call, as sent
        self.warnings: list[str] = []
        self.memories: list[Any] = []  # MemoryMatch entries a searchable memory recalled into the prompt
        self.low_confidence = False
        self.cycles: list[dict[str, Any]] | None = None  # per-cycle outputs of multi-cycle strategies
        self.transcript: Any = None  # thought → action → observation steps of a tool-using run (a Transcript)
        self.params: dict[str, Any] = {}  # the model parameters the run used (temperature, max_tokens, ...)
        self.finished_at = time.time()

    @property
    def usage(self) -> Usage:
        total = Usage()
        for c in self.completions:
            total = total + c.usage
        return total

    @property
    def cost(self) -> float:
        return sum(c.cost for c in self.completions)

    @property
    def provider(self) -> str:
        return self.completions[-1].provider if self.completions else ""

    @property
    def model(self) -> str:
        return self.completions[-1].model if self.completions else ""

    @property
    def cache_hit(self) -> bool:
        return bool(self.completions) and all(c.cache_hit for c in self.completions)

    @property
    def raw(self) -> str:
        return self.completions[-1].content if self.completions else ""

    @property
    def attempts(self) -> int:
        return len(self.completions)

    def metadata(self) -> dict[str, Any]:
        usage = self.usage
        return {
            "provider": self.provider,
            "model": self.model,
            "prompt_tokens": usage.prompt_tokens,
            "completion_tokens": usage.completion_tokens,
            "cost": self.cost,
            "latency": round(self.latency, 4),
            "cache_hit": self.cache_hit,
            "attempts": self.attempts,
        }

    def provenance(self) -> dict[str, Any]:
        """How this answer was made; travels in the notebook's display metadata, so a saved .ipynb records it."""
        return {
            **self.metadata(),
            "signature": self.signature,
            "params": self.params,
            "session_id": self.session_id,
            "cache_keys": [c.cache_key for c in self.completions if c.cache_key],
            "finished_at": datetime.datetime.fromtimestamp(self.finished_at, datetime.timezone.utc).isoformat(),
        }

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> tuple[dict[str, str], dict[str, Any]]:
        data = {"text/html": self._repr_html_(), "text/plain": repr(self)}
        return data, {"kaizen_lab": self.provenance()}

    def __repr__(self) -> str:
        return f"AgentResult({dict.__repr__(self)}, provider={self.provider!r}, model={self.model!r})"

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><th style='text-align:left;vertical-align:top'>{html.escape(k)}</th>"
            f"<td style='text-align:left'>{_confidence_bar(v) if k == 'confidence' else _cell(v)}</td></tr>"
            for k, v in self.items()
        )
        usage = self.usage
        meta = (
            f"{html.escape(self.provider)}/{html.escape(self.model)} · {usage.prompt_tokens}+"
            f"{usage.completion_tokens} tokens · ${self.cost:.6f} · {self.latency:.2f} s"
            + (" · cached" if self.cache_hit else "")
            + (f" · {self.attempts} attempts" if self.attempts > 1 else "")
        )
        warn = "".join(f"<div style='color:#b45309'>⚠ {html.escape(w)}</div>" for w in self.warnings)
        steps = ""
        if self.transcript:
            steps = (
                f"<details><summary>{len(self.transcript)} step(s)</summary>{self.transcript._repr_html_()}</details>"
            )
        if self.memories:
            recalled = "".join(
                f"<li>{html.escape(m.entry.text[:200])} <small>({m.similarity:.2f})</small></li>" for m in self.memories
            )
            steps += (
                f"<details><summary>{len(self.memories)} memory entries recalled</summary><ul>{recalled}</ul></details>"
            )
        return (
            f"<div class='kaizen-result'><table>{rows}</table>{warn}{steps}"
            f"<div style='color:#6b7280;font-size:smaller'>{meta}</div></div>"
        )


def _confidence_bar(value: Any) -> str:
    """A probability as a small bar, so a column of results reads at a glance."""
    if not isinstance(value, int | float) or not 0 <= value <= 1:
        return _cell(value)
    width = round(value * 100)
    return (
        f"<span style='display:inline-block;width:80px;height:8px;background:#e5e7eb;border-radius:4px;"
        f"vertical-align:middle'><span style='display:block;width:{width}%;height:100%;background:#2563eb;"
        f"border-radius:4px'></span></span> {value:.2f}"
    )


def _cell(value: Any) -> str:
    if isinstance(value, list):
        return "<ol style='margin:0'>" + "".join(f"<li>{_cell(v)}</li>" for v in value) + "</ol>"
    if isinstance(value, str):
        return html.escape(value)
    return html.escape(json.dumps(value, default=str))
