"""Approval and question cards, and the transport that shows them in a notebook.

The agent runs as a task after its cell has returned (a running cell holds back widget messages), so everything shown
later lives in widget state — cards appended to one container — never in ``print()``. Clicks may arrive on a kernel
subshell thread while the agent's loop runs on another, so each card and the container guard their mutations with a
lock, and a card answers at most once however many clicks reach the kernel.

Everything a model wrote (tool names, parameters, diffs, questions) is escaped before it goes into an HTML widget:
ipywidgets puts ``HTML.value`` into the page unsanitised.
"""

from __future__ import annotations

import html
import json
import threading
import time
from collections.abc import Callable
from typing import Any

import ipywidgets as w

from kaizen_lab.control.messages import ControlRequest, ControlResponse
from kaizen_lab.control.transport import Transport, run_view
from kaizen_lab.exceptions import ConfigurationError
from kaizen_lab.tools.base import DangerLevel

__all__ = ["ApprovalCard", "QuestionCard", "WidgetTransport"]

OnAnswer = Callable[[dict[str, Any]], None]

# Saturated backgrounds with a fixed text colour read the same on JupyterLab's light and dark themes.
_BADGES = {
    DangerLevel.SAFE: ("#2e7d32", "#fff"),
    DangerLevel.LOW: ("#1565c0", "#fff"),
    DangerLevel.MEDIUM: ("#f0a30a", "#1a1a1a"),
    DangerLevel.HIGH: ("#c62828", "#fff"),
}
# Translucent tints work on either theme because the text keeps the theme's own colour.
_DIFF_TINTS = {"+": "rgba(46,160,67,.18)", "-": "rgba(248,81,73,.18)", "@": "rgba(56,139,253,.15)"}
_PRE = (
    "margin:4px 0;padding:6px 8px;max-height:320px;overflow:auto;white-space:pre;border-radius:4px;"
    "font-family:var(--jp-code-font-family,monospace);font-size:var(--jp-code-font-size,12px);"
    "background:var(--jp-layout-color2,rgba(127,127,127,.1));color:var(--jp-content-font-color1,inherit)"
)
_APPROVED = "var(--jp-success-color1,#2e7d32)"
_DENIED = "var(--jp-error-color1,#c62828)"
_MUTED_COLOUR = "var(--jp-content-font-color2,#777)"
_MUTED = f"color:{_MUTED_COLOUR}"
_MAX_DETAILS_CHARS = 10_000
_MAX_PREVIEW_LINES = 300
_MAX_PREVIEW_CHARS = 30_000
_MAX_LABEL = 40  # characters of a model-chosen name on a button


class _Card(w.VBox):
    """What both cards share: the first click wins and disables every input, :meth:`resolve` shows the outcome."""

    def __init__(self, request: ControlRequest, on_answer: OnAnswer, body: str, inputs: list[w.DOMWidget]) -> None:
        self.request = request
        self.response: ControlResponse | None = None
        self._on_answer = on_answer
        self._inputs = inputs
        self._lock = threading.Lock()
        self._answered = False
        self.body = w.HTML(body)
        self.decision = w.HTML(_muted(self._waiting()))
        self.decision.add_class("kaizen-decision")
        buttons = w.HBox(inputs, layout=w.Layout(flex_flow="row wrap", align_items="center"))
        super().__init__(
            [self.body, buttons, self.decision],
            layout=w.Layout(
                border="1px solid var(--jp-border-color1, #ccc)", padding="4px 10px", margin="4px 0", width="auto"
            ),
        )

    @property
    def answered(self) -> bool:
        """True once someone clicked or the request was resolved; later clicks are ignored."""
        return self._answered

    def resolve(self, response: ControlResponse) -> None:
        """Show who decided what, and when; no input stays enabled."""
        with self._lock:
            self._answered = True
            self.response = response
            self._disable()
            stamp = time.strftime("%H:%M:%S", time.localtime(response.created))
            text, colour = self._outcome(response)
            note = response.reason if response.decided_by not in {"user", "timeout", "cancelled"} else ""
            self.decision.value = (
                f'<span style="font-weight:600;color:{colour}">{html.escape(text, quote=False)}</span> '
                f'<span style="{_MUTED}">at {stamp}{" — " + html.escape(note) if note else ""}</span>'
            )

    def _answer(self, data: dict[str, Any], pending: str) -> None:
        """A click. Buttons stay clickable in the page until the disable arrives, so only the first one counts."""
        with self._lock:
            if self._answered:
                return
            self._answered = True
            self._disable()
            self.decision.value = _muted(pending)
        self._on_answer(data)

    def _disable(self) -> None:
        for widget in self._inputs:
            widget.disabled = True

    def _timeout_text(self) -> str:
        wait = self.request.timeout
        return "in time" if wait is None else f"within {wait:g} s"

    def _waiting(self) -> str:
        raise NotImplementedError

    def _outcome(self, response: ControlResponse) -> tuple[str, str]:
        """The decision line and its colour."""
        raise NotImplementedError


class ApprovalCard(_Card):
    """Asks whether one tool call may run: the tool, its danger, why, its parameters and a diff preview if any.

    ``on_answer`` receives ``{"approved": bool, "always": bool}`` once, from the thread that handled the click.
    """

    def __init__(self, request: ControlRequest, on_answer: OnAnswer) -> None:
        payload = request.payload
        self.action = str(payload.get("action", ""))
        label = _truncate(self.action, _MAX_LABEL)
        self.approve_button = _button("Approve", "kaizen-approve", style="success", icon="check")
        self.deny_button = _button("Deny", "kaizen-deny", style="danger", icon="times")
        self.always_button = _button(f"Always allow {label} this session", "kaizen-always")
        self.approve_button.on_click(lambda _b: self._answer({"approved": True, "always": False}, "Approving…"))
        self.deny_button.on_click(lambda _b: self._answer({"approved": False, "always": False}, "Denying…"))
        self.always_button.on_click(lambda _b: self._answer({"approved": True, "always": True}, "Approving…"))
        inputs: list[w.DOMWidget] = [self.approve_button, self.deny_button, self.always_button]
        super().__init__(request, on_answer, _approval_html(payload), inputs)
        self.add_class("kaizen-approval")

    def _waiting(self) -> str:
        return f"Waiting for your answer — denied if none comes {self._timeout_text()}."

    def _outcome(self, response: ControlResponse) -> tuple[str, str]:
        if response.decided_by == "cancelled":
            return "Cancelled — the run was stopped", _MUTED_COLOUR
        if response.decided_by == "timeout":
            return f"Denied — no answer {self._timeout_text()}", _DENIED
        who = "you" if response.decided_by == "user" else response.decided_by
        if response.data.get("approved") is not True:
            return f"Denied by {who}", _DENIED
        always = f" — {self.action} is allowed for the rest of this session" if response.data.get("always") else ""
        return f"Approved by {who}{always}", _APPROVED


class QuestionCard(_Card):
    """Asks the user a question: one button per option, or a text box and Submit when there are none.

    ``on_answer`` receives ``{"answer": str}`` once, from the thread that handled the click.
    """

    def __init__(self, request: ControlRequest, on_answer: OnAnswer) -> None:
        payload = request.payload
        self.options = [str(o) for o in payload.get("options") or []]
        default = payload.get("default")
        self.default = None if default is None else str(default)
        self.option_buttons = [_button(_truncate(o, _MAX_LABEL), "kaizen-option", tooltip=o) for o in self.options]
        for button, option in zip(self.option_buttons, self.options, strict=True):
            button.on_click(lambda _b, o=option: self._answer({"answer": o}, "Sending…"))
        self.text: w.Text | None = None
        self.submit_button: w.Button | None = None
        inputs: list[w.DOMWidget] = list(self.option_buttons)
        if not self.options:
            self.text = w.Text(value=self.default or "", placeholder="Your answer", layout=w.Layout(width="360px"))
            self.text.add_class("kaizen-answer-text")
            self.submit_button = _button("Submit", "kaizen-submit", style="primary")
            text = self.text
            self.submit_button.on_click(lambda _b: self._answer({"answer": text.value}, "Sending…"))
            inputs += [self.text, self.submit_button]
        question = html.escape(str(payload.get("question", "")))
        super().__init__(request, on_answer, f'<div style="font-weight:600;margin:4px 0">{question}</div>', inputs)
        self.add_class("kaizen-question")

    def _waiting(self) -> str:
        fallback = f"the default {self.default!r}" if self.default is not None else "an empty answer"
        return f"Waiting for your answer — {fallback} is used if none comes {self._timeout_text()}."

    def _outcome(self, response: ControlResponse) -> tuple[str, str]:
        answer = response.data.get("answer", "")
        if isinstance(answer, int) and 0 <= answer < len(self.options):
            answer = self.options[answer]
        if response.decided_by == "cancelled":
            return "Cancelled — the run was stopped", _MUTED_COLOUR
        if response.decided_by == "timeout":
            return f"No answer {self._timeout_text()} — used {str(answer)!r}", _MUTED_COLOUR
        who = "you" if response.decided_by == "user" else response.decided_by
        return f"Answered by {who}: {str(answer)!r}", _APPROVED


class WidgetTransport(Transport):
    """Shows each request as a card and hands clicks to the protocol.

    Where a card goes: into the container of the run that asked (a notebook ``LiveRun`` binds one per run through
    :data:`kaizen_lab.control.transport.run_view`, so two runs never mix); else into :attr:`view` once that has been
    displayed; else it is displayed on its own, in the output of the cell that is awaiting it.
    """

    interactive = True

    def __init__(self) -> None:
        super().__init__()
        self.cards: dict[str, _Card] = {}
        self.history: list[tuple[ControlRequest, ControlResponse]] = []
        self._lock = threading.Lock()  # serialises changes to containers and progress lines
        self._progress_rows: dict[str, tuple[w.FloatProgress, w.HTML]] = {}  # by container model id
        self._view_shown = False
        self.view = self.new_view()

    def new_view(self) -> w.VBox:
        """A fresh container for one run's cards and progress line."""
        view = w.VBox(layout=w.Layout(width="100%"))
        view.add_class("kaizen-control")
        return view

    def _target(self) -> w.VBox | None:
        bound = run_view.get()
        if bound is not None:
            return bound
        return self.view if self._view_shown else None

    async def send(self, request: ControlRequest) -> None:
        target = self._target()
        if request.kind == "progress":
            if target is not None:  # a bare awaited call has no container to put a progress line in
                self._progress(target, request.payload)
            return
        kind = ApprovalCard if request.kind == "approval" else QuestionCard
        card = kind(request, lambda data: self.deliver(ControlResponse(request.id, data, decided_by="user")))
        with self._lock:
            self.cards[request.id] = card
            if target is not None:
                target.children = (*target.children, card)
        if target is None:
            from IPython.display import display

            display(card)

    async def resolved(self, request: ControlRequest, response: ControlResponse) -> None:
        with self._lock:
            self.history.append((request, response))
            card = self.cards.get(request.id)
        if card is not None:
            card.resolve(response)

    @property
    def pending(self) -> list[ControlRequest]:
        """Requests still waiting for an answer."""
        return [card.request for card in list(self.cards.values()) if not card.answered]

    def _progress(self, view: w.VBox, payload: dict[str, Any]) -> None:
        """One bar and label per run, created by its first progress report and updated in place."""
        pct = payload.get("percentage")
        with self._lock:
            if view.model_id not in self._progress_rows:
                bar = w.FloatProgress(value=0.0, min=0.0, max=100.0, layout=w.Layout(width="240px"))
                label = w.HTML()
                row = w.HBox([bar, label], layout=w.Layout(align_items="center"))
                row.add_class("kaizen-progress")
                view.children = (*view.children, row)
                self._progress_rows[view.model_id] = (bar, label)
            bar, label = self._progress_rows[view.model_id]
            with bar.hold_sync():
                if pct is not None:
                    bar.value = max(0.0, min(100.0, float(pct)))
                    bar.bar_style = "success" if bar.value >= 100 else ""
            suffix = "" if pct is None else f" — {float(pct):.0f} %"
            label.value = html.escape(str(payload.get("message", ""))) + suffix

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        self._view_shown = True  # from now on, cards of runs without their own container go here
        data = dict(self.view._repr_mimebundle_(**kwargs) or {})
        data["text/plain"] = repr(self)
        return data

    def __repr__(self) -> str:
        return f"<WidgetTransport: {len(self.cards)} requests, {len(self.pending)} waiting>"


def _button(description: str, css: str, *, style: str = "", icon: str = "", tooltip: str = "") -> w.Button:
    button = w.Button(
        description=description, button_style=style, icon=icon, tooltip=tooltip, layout=w.Layout(width="auto")
    )
    button.add_class(css)
    return button


def _approval_html(payload: dict[str, Any]) -> str:
    action = html.escape(str(payload.get("action", "")))
    parts = [f'<div style="margin:4px 0"><b style="font-size:1.1em">{action}</b> {_badge(payload.get("danger"))}']
    if payload.get("category"):
        parts.append(f' <span style="{_MUTED}">{html.escape(str(payload["category"]))}</span>')
    parts.append("</div>")
    if payload.get("reason"):
        parts.append(f'<div style="margin:2px 0">{html.escape(str(payload["reason"]))}</div>')
    details = payload.get("details") or {}
    if details:
        text = _truncate(json.dumps(details, indent=2, ensure_ascii=False, default=str), _MAX_DETAILS_CHARS)
        parts.append(f'<pre style="{_PRE}">{html.escape(text)}</pre>')
    if payload.get("preview"):
        parts.append(_diff_html(str(payload["preview"])))
    return "".join(parts)


def _badge(danger: Any) -> str:
    try:
        level = DangerLevel.coerce(danger if danger is not None else DangerLevel.HIGH)
    except ConfigurationError:  # shown as the worst case: an unknown level must not look harmless
        level = DangerLevel.HIGH
    background, colour = _BADGES[level]
    return (
        f'<span style="background:{background};color:{colour};border-radius:3px;padding:1px 6px;'
        f'font-size:.85em;font-weight:600">{level.name}</span>'
    )


def _diff_html(diff: str) -> str:
    """A unified diff with added/removed lines tinted; long diffs are cut (the parameters above stay complete)."""
    lines = diff.splitlines()
    shown: list[str] = []
    size = 0
    for line in lines[:_MAX_PREVIEW_LINES]:
        size += len(line) + 1
        if size > _MAX_PREVIEW_CHARS:
            break
        shown.append(line)
    rows = []
    for line in shown:
        tint = "" if line.startswith(("+++", "---")) else _DIFF_TINTS.get(line[:1], "")
        style = f"display:block;background:{tint}" if tint else "display:block"
        rows.append(f'<span style="{style}">{html.escape(line) or " "}</span>')
    if len(shown) < len(lines):
        rows.append(f'<span style="display:block;{_MUTED}">… {len(lines) - len(shown)} more lines not shown</span>')
    return f'<pre style="{_PRE}">{"".join(rows)}</pre>'


def _muted(text: str) -> str:
    return f'<span style="{_MUTED}">{html.escape(text)}</span>'


def _truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
