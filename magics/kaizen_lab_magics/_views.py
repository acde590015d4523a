"""HTML views the magics display: the messages a dry run would send, and the parse-failure inspector."""

from __future__ import annotations

import html
from typing import Any

from kaizen_lab import OutputParseError, Signature
from kaizen_lab.signatures import _type_name

_BOX = "border:1px solid #d1d5db;border-radius:6px;padding:6px 10px;margin:4px 0"
_PRE = "white-space:pre-wrap;margin:0;font-family:var(--jp-code-font-family,monospace);font-size:12px"


class MessagesView:
    """The exact messages of a call, one box per message (``%%agent --dry-run``)."""

    def __init__(self, messages: list[dict[str, Any]], provider: str, model: str) -> None:
        self.messages = messages
        self.provider = provider
        self.model = model
        self.note = ""  # e.g. "first of 200 rows" for a batch

    def _repr_html_(self) -> str:
        boxes = "".join(
            f"<div style='{_BOX}'><b>{html.escape(str(m['role']))}</b>"
            f"<pre style='{_PRE}'>{html.escape(str(m.get('content', '')))}</pre></div>"
            for m in self.messages
        )
        note = f" ({self.note})" if self.note else ""
        head = (
            f"Dry run{note}: {len(self.messages)} message(s) would go to {self.provider}/{self.model}; "
            "nothing was sent."
        )
        return f"<div><div style='color:#6b7280'>{html.escape(head)}</div>{boxes}</div>"

    def __repr__(self) -> str:
        parts = [f"[{m['role']}]\n{m.get('content', '')}" for m in self.messages]
        return f"Dry run for {self.provider}/{self.model} (nothing sent):\n\n" + "\n\n".join(parts)


class ParseFailureView:
    """What the model wrote beside what the signature expected, with the error and the next step."""

    def __init__(self, error: OutputParseError, signature: type[Signature]) -> None:
        self.error = error
        self.signature = signature

    def next_step(self) -> str:
        return (
            "Try: a stronger model (--model), more attempts (QAConfig/agent retry_attempts), shorter or fewer "
            "output fields, or --dry-run to read the prompt."
        )

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><td><code>{html.escape(name)}</code></td><td>{html.escape(_type_name(spec.annotation))}</td>"
            f"<td>{html.escape(spec.desc)}</td></tr>"
            for name, spec in self.signature.output_fields.items()
        )
        err = self.error
        return (
            f"<div style='{_BOX};border-color:#f59e0b'>"
            f"<b>The model's reply did not fit {html.escape(self.signature.__name__)} "
            f"after {err.attempts} attempt(s).</b>"
            "<div style='display:flex;gap:12px;margin-top:6px'>"
            f"<div style='flex:1'><div>Raw output (last attempt)</div><pre style='{_PRE};{_BOX}'>"
            f"{html.escape(err.raw) or '(empty)'}</pre></div>"
            "<div style='flex:1'><div>Expected fields</div>"
            f"<table><tr><th>field</th><th>type</th><th>description</th></tr>{rows}</table></div></div>"
            f"<div><b>Problem:</b> {html.escape(err.problem or str(err))}</div>"
            f"<div><b>Next step:</b> {html.escape(self.next_step())}</div></div>"
        )

    def __repr__(self) -> str:
        return (
            f"Parse failure after {self.error.attempts} attempt(s): {self.error.problem}\n"
            f"raw: {self.error.raw!r}\nexpected: {list(self.signature.output_fields)}\n{self.next_step()}"
        )
