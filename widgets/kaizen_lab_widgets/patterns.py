"""Views of a multi-agent pattern's result (kaizen_lab.orchestration.PatternResult): one plotly figure per pattern,
and the HTML a PatternResult shows in a notebook.

- debate: each debater's confidence per round (lines; hover = the argument), the judge's verdict marked, and tokens
  and cost per agent (bars, second panel).
- consensus: votes per round as stacked bars (one segment per option), the threshold, and who changed their mind.
- supervisor-worker: the task tree (task → subtasks → the workers who tried, with match scores) as a treemap;
  :func:`supervisor_timeline` is when each call ran (failed attempts in red).
- handoff, sequential: a timeline of who held the conversation / each stage.

:func:`pattern_html` is offline-safe: plotly.js is embedded in the first figure this Python process renders (once per
notebook, with one kernel per notebook), later figures wait for it. Every text from a model is HTML-escaped, in the
page and in the figures' hover labels. plotly is imported only when a figure is made.
"""

from __future__ import annotations

import html
import json
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kaizen_lab.exceptions import ConfigurationError

if TYPE_CHECKING:
    import plotly.graph_objects as go

    from kaizen_lab.orchestration import Contribution, PatternResult

__all__ = [
    "display_pattern",
    "export_pattern",
    "mind_changes",
    "pattern_figure",
    "pattern_html",
    "supervisor_timeline",
]

_OK, _FAILED = "#16a34a", "#dc2626"
_ROLE_COLORS = {
    "proponent": "#2563eb",
    "opponent": "#ea580c",
    "judge": "#7c3aed",
    "supervisor": "#475569",
    "coordinator": "#0f766e",
    "worker": "#2563eb",
    "holder": "#2563eb",
    "stage": "#2563eb",
    "voter": "#2563eb",
    "proposer": "#64748b",
}
_IMAGE_SUFFIXES = (".png", ".svg", ".pdf", ".jpg", ".jpeg", ".webp")
_HOVER_CHARS = 220  # of an argument / message in a hover label
_LABEL_CHARS = 28  # of a proposal on its bar segment
_plotlyjs_sent = False  # set once plotly.js has gone into an HTML output of this process (= this notebook's kernel)


# -- figures -----------------------------------------------------------------------------------------------------------
def pattern_figure(result: PatternResult) -> go.Figure:
    """The pattern's main figure, chosen by ``result.pattern``; any other pattern gets the call timeline."""
    draw = _FIGURES.get(result.pattern)
    return draw(result) if draw is not None else _timeline(result, f"{_e(result.pattern)}: calls over time")


def _debate_figure(result: PatternResult) -> go.Figure:
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    fig = make_subplots(
        rows=2,
        cols=1,
        row_heights=[0.64, 0.36],
        vertical_spacing=0.2,
        specs=[[{}], [{"secondary_y": True}]],
        subplot_titles=("Confidence per round", "Tokens and cost per agent"),
    )
    said = [c for c in result.transcript if c.error is None]
    debaters = list(dict.fromkeys(c.speaker for c in said if c.role in ("proponent", "opponent")))
    rounds = max([c.round for c in said if c.role in ("proponent", "opponent")], default=0)
    for speaker in debaters:
        turns = [c for c in said if c.speaker == speaker and c.role in ("proponent", "opponent")]
        side = turns[0].stance or turns[0].role
        fig.add_trace(
            go.Scatter(
                x=[c.round for c in turns],
                y=[c.confidence for c in turns],
                mode="lines+markers",
                name=f"{_e(speaker)} ({_e(side)})",
                line={"color": _ROLE_COLORS.get(turns[0].role)},
                hovertext=[f"<b>{_e(speaker)}</b>, round {c.round}<br>{_hover(c.message)}" for c in turns],
                hovertemplate="%{hovertext}<br>confidence %{y:.2f}<extra></extra>",
            ),
            row=1,
            col=1,
        )
    verdicts = [c for c in said if c.role == "judge"]
    if verdicts:
        judge = verdicts[-1]
        decision = str(result.get("verdict", judge.stance or judge.message))
        confidence = result.get("confidence", judge.confidence)
        winner = result.get("winner")
        label = f"{_e(decision)}" + (f" {confidence:.2f}" if isinstance(confidence, int | float) else "")
        fig.add_trace(
            go.Scatter(
                x=[judge.round],
                y=[confidence],
                mode="markers+text",
                name=f"verdict ({_e(judge.speaker)})",
                marker={"symbol": "star", "size": 18, "color": _ROLE_COLORS["judge"]},
                text=[label],
                textposition="bottom center",
                hovertext=[f"<b>{_e(judge.speaker)}</b>: {_e(decision)}<br>{_hover(judge.data.get('reasoning', ''))}"],
                hovertemplate="%{hovertext}<br>confidence %{y:.2f}<extra></extra>",
            ),
            row=1,
            col=1,
        )
        fig.add_annotation(
            x=judge.round,
            y=confidence if isinstance(confidence, int | float) else 0.5,
            text=f"verdict: <b>{_e(decision)}</b>" + (f" ({_e(winner)})" if winner else ""),
            showarrow=True,
            arrowhead=2,
            ax=-60,
            ay=-30,
            row=1,
            col=1,
        )
        rounds = judge.round
    ticks = list(range(1, rounds + 1))
    fig.update_xaxes(
        tickvals=ticks,
        ticktext=[str(r) for r in ticks[:-1]] + (["verdict"] if verdicts else [str(r) for r in ticks[-1:]]),
        title_text="round",
        range=[0.5, rounds + 0.5],
        row=1,
        col=1,
    )
    fig.update_yaxes(title_text="confidence", range=[0, 1.08], row=1, col=1)
    _usage_bars(fig, result, row=2)
    title = "Debate"
    if "motion" in result:
        title += f": {_e(_short(result['motion'], 90))}"
    fig.update_layout(
        template="plotly_white",
        height=560,
        margin={"l": 10, "r": 10, "t": 60, "b": 40},
        title={"text": title, "font": {"size": 14}},
        barmode="group",
        legend={"orientation": "h", "y": -0.08},
    )
    return fig


def _usage_bars(fig: go.Figure, result: PatternResult, *, row: int) -> None:
    import plotly.graph_objects as go

    usage = result.usage_by_agent()
    agents = [_e(a) for a in usage]
    fig.add_trace(
        go.Bar(
            x=agents,
            y=[u["tokens"] for u in usage.values()],
            name="tokens",
            offsetgroup="tokens",
            marker_color="#94a3b8",
            customdata=[u["calls"] for u in usage.values()],
            hovertemplate="%{x}: %{y:,} tokens in %{customdata} call(s)<extra></extra>",
        ),
        row=row,
        col=1,
        secondary_y=False,
    )
    fig.add_trace(
        go.Bar(
            x=agents,
            y=[u["cost"] for u in usage.values()],
            name="cost ($)",
            offsetgroup="cost",
            marker_color="#f59e0b",
            hovertemplate="%{x}: $%{y:.6f}<extra></extra>",
        ),
        row=row,
        col=1,
        secondary_y=True,
    )
    fig.update_yaxes(title_text="tokens", row=row, col=1, secondary_y=False)
    top = max([u["cost"] for u in usage.values()], default=0.0)
    fig.update_yaxes(
        title_text="cost ($)",
        row=row,
        col=1,
        secondary_y=True,
        showgrid=False,
        range=[0, top * 1.15 if top > 0 else 0.01],
        tickformat="$.2g",
    )
    if top <= 0:  # no cost (a local model): one "$0" tick, not ticks borrowed from the tokens axis' grid
        fig.update_yaxes(row=row, col=1, secondary_y=True, tickvals=[0], ticktext=["$0"])


def mind_changes(result: PatternResult) -> list[dict[str, Any]]:
    """Consensus voters whose option differs from their previous round's: ``{"voter", "round", "from", "to"}``
    (``round`` is the voting round of the new vote, from 1)."""
    votes: list[dict[str, int]] = list(result.get("votes") or [])
    changes = []
    for n in range(1, len(votes)):
        before, after = votes[n - 1], votes[n]
        for voter, option in after.items():
            if voter in before and before[voter] != option:
                changes.append({"voter": voter, "round": n + 1, "from": before[voter], "to": option})
    return changes


def _consensus_figure(result: PatternResult) -> go.Figure:
    import plotly.graph_objects as go

    votes: list[dict[str, int]] = list(result.get("votes") or [])
    proposals = [str(p) for p in result.get("proposals") or []]
    options = sorted({*range(1, len(proposals) + 1), *(o for v in votes for o in v.values())})
    rounds = list(range(1, len(votes) + 1))
    changes = mind_changes(result)
    fig = go.Figure()
    for option in options:
        text = proposals[option - 1] if 0 < option <= len(proposals) else f"option {option}"
        voters = [sorted(v for v, o in ballot.items() if o == option) for ballot in votes]
        moved = [
            [f"{ch['voter']} (was {ch['from']})" for ch in changes if ch["to"] == option and ch["round"] == r]
            for r in rounds
        ]
        fig.add_trace(
            go.Bar(
                x=rounds,
                y=[len(v) for v in voters],
                name=f"{option}. {_e(_short(text, 40))}",
                text=[f"{option}. {_e(_short(text, _LABEL_CHARS))}" if v else "" for v in voters],
                textposition="inside",
                insidetextanchor="middle",
                hovertext=[
                    f"<b>{option}. {_hover(text)}</b><br>{len(v)} vote(s): {_e(', '.join(v)) or '–'}"
                    + (f"<br>changed their mind to it: {_e(', '.join(m))}" if m else "")
                    for v, m in zip(voters, moved, strict=True)
                ],
                hovertemplate="%{hovertext}<extra>round %{x}</extra>",
            )
        )
    threshold = result.get("threshold")
    if isinstance(threshold, int | float) and votes:
        xs: list[float | None] = []
        ys: list[float | None] = []
        for r, ballot in zip(rounds, votes, strict=True):
            xs += [r - 0.45, r + 0.45, None]
            ys += [threshold * len(ballot), threshold * len(ballot), None]
        fig.add_trace(
            go.Scatter(
                x=xs,
                y=ys,
                mode="lines",
                name=f"threshold ({threshold:.0%} of the votes)",
                line={"color": "#111827", "dash": "dash", "width": 2},
                hovertemplate=f"threshold: %{{y:.2f}} votes ({threshold:.0%})<extra></extra>",
            )
        )
    if changes:
        lines = [f"{_e(c['voter'])}: option {c['from']} → {c['to']} (round {c['round']})" for c in changes]
        fig.add_annotation(
            x=1.0,
            y=1.0,
            xref="paper",
            yref="paper",
            xanchor="right",
            yanchor="bottom",
            showarrow=False,
            align="right",
            text="Changed their mind:<br>" + "<br>".join(lines),
            font={"size": 11},
            bgcolor="rgba(254,243,199,0.9)",
        )
    if result.get("consensus"):
        title = f"Consensus in {len(votes)} round(s): {_e(_short(result.get('decision') or '', 70))}"
    else:
        title = f"No consensus after {len(votes)} round(s)"
    support = result.get("support")
    if isinstance(support, int | float):
        title += f" — support {support:.0%}"
    fig.update_layout(
        template="plotly_white",
        barmode="stack",
        height=420,
        margin={"l": 10, "r": 10, "t": 60 + 14 * len(changes), "b": 40},
        title={"text": title, "font": {"size": 14}},
        xaxis={"title": "voting round", "tickvals": rounds, "range": [0.4, len(votes) + 0.6]},
        yaxis={"title": "votes", "dtick": 1, "rangemode": "tozero"},
        legend={"orientation": "h", "y": -0.18, "traceorder": "normal"},
        uniformtext={"minsize": 9, "mode": "hide"},
    )
    return fig


def _supervisor_figure(result: PatternResult) -> go.Figure:
    """The task tree as a treemap: task → subtasks → each worker that tried it (``name · score``; red: failed)."""
    import plotly.graph_objects as go

    task = result.get("task") or next((c.task for c in result.transcript if c.role == "supervisor" and c.task), "task")
    planned = list(result.get("subtasks") or [])
    subtasks = [str(s.get("task", "")) for s in planned if isinstance(s, dict)] or list(
        dict.fromkeys(c.task for c in result.transcript if c.role == "worker" and c.task)
    )
    ok_by_task = {str(s.get("task")): bool(s.get("ok", True)) for s in planned if isinstance(s, dict)}
    ids, labels, parents, colors, hover = ["task"], [_e(_short(task, 60))], [""], ["#e2e8f0"], [_hover(task)]
    for n, sub in enumerate(subtasks, 1):
        sub_id = f"subtask {n}"
        ok = ok_by_task.get(sub, True)
        ids.append(sub_id)
        labels.append(f"{n}. {_e(_short(sub, 50))}")
        parents.append("task")
        colors.append("#dbeafe" if ok else "#fee2e2")
        hover.append(f"<b>subtask {n}</b><br>{_hover(sub)}" + ("" if ok else "<br><b>failed with every worker</b>"))
        tries = [c for c in result.transcript if c.role == "worker" and c.task == sub]
        for speaker in dict.fromkeys(c.speaker for c in tries):
            mine = [c for c in tries if c.speaker == speaker]
            done = next((c for c in mine if c.error is None), None)
            score = mine[0].score
            failures = [c for c in mine if c.error]
            label = _e(speaker) + (f" · {score:.2f}" if score is not None else "")
            if done is None:
                label += " ✗"
            elif failures:
                label += f" ({len(failures)} failed)"
            ids.append(f"{sub_id}/{speaker}")
            labels.append(label)
            parents.append(sub_id)
            colors.append("#fca5a5" if done is None else "#fde68a" if failures else "#86efac")
            details = [f"<b>{_e(speaker)}</b>" + (f", match score {score:.3f}" if score is not None else "")]
            details += [f"attempt {c.attempt} failed: {_hover(c.error or '')}" for c in failures]
            if done is not None:
                details.append(f"found: {_hover(done.message)}")
            hover.append("<br>".join(details))
    fig = go.Figure(
        go.Treemap(
            ids=ids,
            labels=labels,
            parents=parents,
            marker={"colors": colors, "line": {"color": "white", "width": 2}},
            hovertext=hover,
            hovertemplate="%{hovertext}<extra></extra>",
            textinfo="label",
            root_color="#f8fafc",
        )
    )
    workers = len({c.speaker for c in result.transcript if c.role == "worker"})
    fig.update_layout(
        template="plotly_white",
        height=420,
        margin={"l": 10, "r": 10, "t": 50, "b": 10},
        title={"text": f"Task tree: {len(subtasks)} subtask(s), {workers} worker(s)", "font": {"size": 14}},
    )
    return fig


def supervisor_timeline(result: PatternResult) -> go.Figure:
    """When each call ran: one horizontal bar per attempt (from ``started`` to ``ended``), a row per agent, coloured
    by role; failed attempts in red. Works for any pattern's result."""
    return _timeline(result, "Calls over time")


def _handoff_figure(result: PatternResult) -> go.Figure:
    held = [str(h) for h in result.get("held_by") or []]
    title = "Handoff: " + (" → ".join(_e(h) for h in held) if held else "who held the conversation")
    return _timeline(result, title)


def _sequential_figure(result: PatternResult) -> go.Figure:
    stages = len(result.transcript.rounds())
    return _timeline(result, f"Pipeline: {stages} stage(s)", row=lambda c: f"{c.round}. {_e(c.speaker)}")


def _timeline(result: PatternResult, title: str, *, row: Callable[[Contribution], str] | None = None) -> go.Figure:
    import plotly.graph_objects as go

    row = row or (lambda c: _e(c.speaker))
    calls = list(result.transcript)
    order = list(dict.fromkeys(row(c) for c in calls))
    groups: dict[str, list[Contribution]] = {}
    for c in calls:
        groups.setdefault("failed attempt" if c.error else c.role, []).append(c)
    fig = go.Figure()
    for name, group in groups.items():
        failed = name == "failed attempt"
        fig.add_trace(
            go.Bar(
                y=[row(c) for c in group],
                base=[c.started for c in group],
                x=[c.ended - c.started for c in group],
                orientation="h",
                name=name,
                marker={
                    "color": _FAILED if failed else _ROLE_COLORS.get(name, "#64748b"),
                    "pattern": {"shape": "x"} if failed else None,
                },
                text=[_bar_text(c) for c in group],
                textposition="inside",
                hovertext=[_call_hover(c) for c in group],
                hovertemplate="%{hovertext}<extra></extra>",
            )
        )
    fig.update_layout(
        template="plotly_white",
        barmode="overlay",
        height=min(140 + 34 * len(order), 900),
        margin={"l": 10, "r": 10, "t": 50, "b": 40},
        title={"text": title, "font": {"size": 14}},
        xaxis={"title": "seconds since the pattern started", "rangemode": "tozero"},
        yaxis={"categoryorder": "array", "categoryarray": order, "autorange": "reversed", "automargin": True},
        legend={"orientation": "h", "y": -0.25},
        uniformtext={"minsize": 8, "mode": "hide"},
    )
    return fig


def _bar_text(c: Contribution) -> str:
    text = f"{c.ended - c.started:.2f} s"
    if c.attempt > 1:
        text += f" · attempt {c.attempt}"
    if c.stance == "handoff":
        text += " · hands off"
    return text


def _call_hover(c: Contribution) -> str:
    lines = [f"<b>{_e(c.speaker)}</b> ({_e(c.role)}), round {c.round}, attempt {c.attempt}"]
    if c.task:
        lines.append(f"task: {_hover(c.task)}")
    if c.score is not None:
        lines.append(f"match score {c.score:.3f}")
    lines.append(f"{c.started:.3f} → {c.ended:.3f} s ({c.ended - c.started:.3f} s), {c.tokens:,} tokens")
    lines.append(f"<b>failed:</b> {_hover(c.error)}" if c.error else _hover(c.message))
    return "<br>".join(lines)


_FIGURES: dict[str, Callable[[PatternResult], go.Figure]] = {
    "debate": _debate_figure,
    "consensus": _consensus_figure,
    "supervisor-worker": _supervisor_figure,
    "handoff": _handoff_figure,
    "sequential": _sequential_figure,
}


# -- HTML --------------------------------------------------------------------------------------------------------------
def pattern_html(result: PatternResult, *, plotlyjs: bool | None = None) -> str:
    """The result as one self-contained HTML block: the outcome, totals, warnings, the figure(s), and the transcript
    (a ``<details>`` per round).

    ``plotlyjs``: embed plotly.js (about 5 MB) with the figure. ``None`` (the default, used by a PatternResult in a
    notebook) embeds it the first time in this process only, so a notebook carries it once; later figures wait for
    it. Pass True for HTML that must stand alone (a file, an e-mail).
    """
    global _plotlyjs_sent
    embed = (not _plotlyjs_sent) if plotlyjs is None else plotlyjs
    figures = []
    try:
        figures.append(pattern_figure(result))
        if result.pattern == "supervisor-worker":
            figures.append(supervisor_timeline(result))
    except Exception as e:  # a repr must not raise; say why the figure is missing instead
        figures_html = (
            f"<div class='kz-pattern-error' style='color:{_FAILED}'>No figure: {_e(type(e).__name__)}: {_e(e)}</div>"
        )
    else:
        figures_html = "".join(_figure_html(fig, embed and n == 0) for n, fig in enumerate(figures))
        if embed and plotlyjs is None:
            _plotlyjs_sent = True
    return (
        "<div class='kz-pattern' style='font-family:sans-serif;font-size:13px;line-height:1.4;max-width:1000px'>"
        f"{_header_html(result)}{_warnings_html(result)}{figures_html}{_transcript_html(result)}</div>"
    )


def display_pattern(result: PatternResult) -> None:
    """Show a result in a notebook as three outputs: the outcome and warnings, the figure(s) as plotly's own
    mimetype (drawn by JupyterLab's plotly renderer — no 5 MB of plotly.js in the notebook file), the transcript."""
    import plotly.io as pio
    from IPython.display import display

    box = "<div class='kz-pattern' style='font-family:sans-serif;font-size:13px;line-height:1.4;max-width:1000px'>"
    outcome = {k: v for k, v in result.items() if isinstance(v, str | int | float | bool) or v is None}
    summary = f"{result.pattern}: {outcome}" + "".join(f"\n⚠ {w}" for w in result.warnings)
    head = {"text/html": f"{box}{_header_html(result)}{_warnings_html(result)}</div>", "text/plain": summary}
    display(head, raw=True)  # a terminal (or a text-only viewer) still gets the outcome and the warnings
    try:
        figures = [pattern_figure(result)]
        if result.pattern == "supervisor-worker":
            figures.append(supervisor_timeline(result))
    except Exception as e:  # a display must not raise; say why the figure is missing instead
        why = f"{_e(type(e).__name__)}: {_e(e)}"
        html_error = f"<div class='kz-pattern-error' style='color:{_FAILED}'>No figure: {why}</div>"
        display({"text/html": html_error, "text/plain": f"No figure: {why}"}, raw=True)
        figures = []
    for fig in figures:
        bundle = dict(pio.renderers["plotly_mimetype"].to_mimebundle(fig.to_dict()))
        bundle["text/plain"] = f"<{result.pattern} figure: result.figure()>"
        display(bundle, raw=True)
    table = result.transcript.to_frame().to_string(max_colwidth=60) if result.transcript else "(no contributions)"
    display({"text/html": f"{box}{_transcript_html(result)}</div>", "text/plain": table}, raw=True)


def _header_html(result: PatternResult) -> str:
    calls = len(result.transcript)
    failed = sum(1 for c in result.transcript if c.error)
    totals = [
        f"{calls} call(s)" + (f" ({failed} failed)" if failed else ""),
        f"{result.tokens:,} tokens",
        f"${result.cost:.4f}",
        _time(result.elapsed),
    ]
    rows = "".join(
        f"<tr><th style='text-align:left;vertical-align:top;padding-right:10px'>{_e(k)}</th>"
        f"<td style='text-align:left;white-space:pre-wrap'>{v}</td></tr>"
        for k, v in _key_outputs(result)
    )
    return (
        "<div class='kz-pattern-header' style='margin-bottom:6px'>"
        f"<div style='font-size:15px'><b>{_e(_PATTERN_TITLES.get(result.pattern, result.pattern))}</b> "
        f"<span class='kz-pattern-totals' style='color:#6b7280'>· {' · '.join(totals)}</span></div>"
        f"<table class='kz-pattern-outputs' style='margin-top:4px'>{rows}</table></div>"
    )


def _key_outputs(result: PatternResult) -> list[tuple[str, str]]:
    """(label, escaped HTML) for the outputs a reader looks for first."""
    r = result
    if r.pattern == "debate":
        rows = [("motion", _e(r.get("motion", "")))]
        verdict = f"<b>{_e(r.get('verdict'))}</b>" + (f" — {_e(r['winner'])} wins" if r.get("winner") else "")
        rows += [("verdict", verdict), ("confidence", _number(r.get("confidence")))]
        return [*rows, ("reasoning", _e(_short(r.get("reasoning", ""), 1200)))]
    if r.pattern == "consensus":
        decided = f"<b>{_e(r.get('decision'))}</b>" if r.get("consensus") else "<b>no consensus</b>"
        support = _number(r.get("support"), percent=True)
        if isinstance(r.get("threshold"), int | float):
            support += f" (threshold {r['threshold']:.0%})"
        rows = [("question", _e(r.get("question", ""))), ("decision", decided), ("support", support)]
        rows.append(("rounds", _e(r.get("rounds", len(r.get("votes") or [])))))
        changed = [f"{_e(c['voter'])} ({c['from']} → {c['to']}, round {c['round']})" for c in mind_changes(r)]
        return [*rows, ("changed their mind", ", ".join(changed) or "nobody")]
    if r.pattern == "supervisor-worker":
        subtasks = [s for s in r.get("subtasks") or [] if isinstance(s, dict)]
        routed = "".join(
            f"<li>{_e(_short(s.get('task', ''), 120))} → <b>{_e(s.get('worker') or 'nobody')}</b>"
            + (f" ({s['score']:.2f})" if isinstance(s.get("score"), int | float) else "")
            + ("" if s.get("ok", True) else f" <span style='color:{_FAILED}'>failed</span>")
            + "</li>"
            for s in subtasks
        )
        rows = [("answer", _e(_short(r.get("answer", ""), 1500)))]
        return [*rows, ("subtasks", f"<ol style='margin:0;padding-left:18px'>{routed}</ol>")] if routed else rows
    if r.pattern == "handoff":
        held = " → ".join(_e(h) for h in r.get("held_by") or [])
        return [("answer", _e(_short(r.get("answer", ""), 1500))), ("held by", held or _e(r.get("holder", "")))]
    if r.pattern == "sequential":
        stages = " → ".join(_e(s.get("agent")) for s in r.get("stages") or [] if isinstance(s, dict))
        rows = [(k, _e(_short(_text(v), 1500))) for k, v in r.items() if k != "stages"]
        return [*rows, ("stages", stages)]
    return [(k, _e(_short(_text(v), 600))) for k, v in r.items()]


def _warnings_html(result: PatternResult) -> str:
    if not result.warnings:
        return ""
    items = "".join(f"<li>{_e(w)}</li>" for w in result.warnings)
    return (
        "<div class='kz-pattern-warnings' role='alert' style='background:#fef3c7;border-left:4px solid #d97706;"
        "color:#78350f;padding:6px 10px;margin:6px 0'>"
        f"<b>⚠ {len(result.warnings)} warning(s)</b><ul style='margin:2px 0 0;padding-left:18px'>{items}</ul></div>"
    )


def _transcript_html(result: PatternResult) -> str:
    rounds = result.transcript.rounds()
    parts = []
    for round_no, calls in rounds.items():
        speakers = ", ".join(dict.fromkeys(_e(c.speaker) for c in calls))
        failed = sum(1 for c in calls if c.error)
        summary = f"<b>{_e(_round_label(result, round_no, calls))}</b> · {speakers} · {len(calls)} call(s)" + (
            f" <span style='color:{_FAILED}'>({failed} failed)</span>" if failed else ""
        )
        rows = "".join(_contribution_row(c) for c in calls)
        parts.append(
            f"<details class='kz-round' data-round='{round_no}' style='margin:2px 0'><summary>{summary}</summary>"
            "<table class='kz-contributions' style='border-collapse:collapse;margin:4px 0 8px 14px'><tr>"
            + "".join(f"<th style='text-align:left;padding:2px 6px'>{h}</th>" for h in _COLUMNS)
            + f"</tr>{rows}</table></details>"
        )
    return f"<div class='kz-pattern-transcript' style='margin-top:6px'>{''.join(parts)}</div>"


_COLUMNS = ("speaker", "role", "stance", "confidence", "attempt", "tokens", "time", "message")


def _contribution_row(c: Contribution) -> str:
    if c.error:
        body = f"<span style='color:{_FAILED}'><b>failed:</b> {_e(c.error)}</span>"
    else:
        body = _e(c.message)
        extra = [
            f"<div style='color:#4b5563'><i>{_e(k)}</i>: {_e(_short(_text(v), 1000))}</div>"
            for k, v in c.data.items()
            if k != "confidence" and _text(v) != c.message and _text(v).strip()
        ]
        body += "".join(extra)
    if c.task and c.role != "supervisor":
        body = f"<div style='color:#4b5563'><i>task</i>: {_e(c.task)}</div>" + body
    cells = [
        f"<b>{_e(c.speaker)}</b>",
        _e(c.role),
        _e(c.stance or ""),
        _number(c.confidence),
        str(c.attempt),
        f"{c.tokens:,}",
        _time(c.ended - c.started),
    ]
    tds = "".join(f"<td style='vertical-align:top;padding:2px 6px'>{cell}</td>" for cell in cells)
    style = "text-align:left;vertical-align:top;white-space:pre-wrap;padding:2px 6px"
    mark = " style='background:#fef2f2'" if c.error else ""
    return f"<tr class='kz-contribution'{mark}>{tds}<td style='{style}'>{body}</td></tr>"


def _round_label(result: PatternResult, round_no: int, calls: Sequence[Contribution]) -> str:
    roles = {c.role for c in calls}
    if result.pattern == "debate":
        return "Verdict" if roles == {"judge"} else f"Round {round_no}"
    if result.pattern == "consensus":
        return "Proposals" if round_no == 0 else f"Vote {round_no}"
    if result.pattern == "supervisor-worker":
        return {0: "Plan", 1: "Workers", 2: "Synthesis"}.get(round_no, f"Round {round_no}")
    if result.pattern == "handoff":
        return f"Message {round_no}"
    if result.pattern == "sequential":
        return f"Stage {round_no}: {calls[0].speaker}"
    return f"Round {round_no}"


_PATTERN_TITLES = {
    "debate": "Debate",
    "consensus": "Consensus",
    "supervisor-worker": "Supervisor-worker",
    "handoff": "Handoff",
    "sequential": "Sequential pipeline",
}


def _figure_html(fig: go.Figure, embed_plotlyjs: bool) -> str:
    """The figure as a div and a script that draws it once ``window.Plotly`` exists (waiting up to 20 s for an
    earlier output to load it). Without scripts (an untrusted notebook, a static viewer) the div says so."""
    div_id = f"kz-pattern-{uuid.uuid4().hex}"
    height = fig.layout.height or 450
    figure_json = _script_safe(fig.to_json())
    script = (
        "(function(){var fig=" + figure_json + ";var id=" + json.dumps(div_id) + ";var waited=0;"
        "function draw(){var el=document.getElementById(id);"
        "if(el&&window.Plotly&&window.Plotly.newPlot){el.textContent='';"
        "window.Plotly.newPlot(el,fig.data,fig.layout,{responsive:true,displaylogo:false});}"
        "else if(waited<20000){waited+=200;setTimeout(draw,200);}"
        "else if(el){el.textContent='This figure needs plotly.js, which this page has not loaded: display "
        "result.figure(), or use pattern_html(result, plotlyjs=True).';}}draw();})();"
    )
    loader = ""
    if embed_plotlyjs:
        from plotly.offline import get_plotlyjs

        loader = (
            "<script type='text/javascript'>window.PlotlyConfig = {MathJaxConfig: 'local'};</script>"
            f"<script charset='utf-8' type='text/javascript'>{get_plotlyjs()}</script>"
        )
    return (
        f"<div class='kz-pattern-figure'>{loader}<div id='{div_id}' class='plotly-graph-div' "
        f"style='height:{int(height)}px;width:100%;color:#6b7280'>(figure: drawn when scripts run, e.g. in a trusted "
        f"notebook; or display result.figure())</div><script type='text/javascript'>{script}</script></div>"
    )


def _script_safe(text: str) -> str:
    """JSON that cannot end its ``<script>`` early: ``<``, ``>`` and ``&`` (only ever inside strings) as escapes."""
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


# -- export ------------------------------------------------------------------------------------------------------------
def export_pattern(result: PatternResult, path: str | Path, *, timeline: bool = False, **options: Any) -> Path:
    """Write the pattern's figure (``timeline=True``: :func:`supervisor_timeline`) for a paper or a report.

    ``.html``: a standalone page with plotly.js embedded (works offline). ``.png``/``.svg``/``.pdf``/``.jpg``/
    ``.webp``: needs the optional kaleido package (``pip install kaleido``). ``options`` go to ``write_html`` or
    ``write_image`` (e.g. ``scale=2``, ``width=1200``).
    """
    target = Path(path)
    suffix = target.suffix.lower()
    if suffix not in (".html", ".htm", *_IMAGE_SUFFIXES):
        raise ConfigurationError(
            f"export_pattern writes .html or an image ({', '.join(_IMAGE_SUFFIXES)}), not {suffix or 'no suffix'!r}: "
            f"{target}"
        )
    fig = supervisor_timeline(result) if timeline else pattern_figure(result)
    if suffix in (".html", ".htm"):
        fig.write_html(target, **{"include_plotlyjs": True, "full_html": True, **options})
        return target
    try:
        import kaleido  # noqa: F401
    except ImportError as e:
        raise ImportError(
            f"Exporting a figure as {suffix} needs kaleido, which is not installed: pip install kaleido "
            "(it draws with a local Chrome; `kaleido.get_chrome_sync()` fetches one). .html export works without it.",
            name="kaleido",
        ) from e
    fig.write_image(target, **options)
    return target


# -- text helpers ------------------------------------------------------------------------------------------------------
def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _short(text: Any, limit: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _hover(text: Any) -> str:
    return _e(_short(text, _HOVER_CHARS))


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, default=str)


def _time(seconds: float) -> str:
    """A duration, in a span a notebook test can sanitise with one rule (``<span class='kz-time'>[^<]*</span>``)."""
    return f"<span class='kz-time'>{seconds:.2f} s</span>"


def _number(value: Any, *, percent: bool = False) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return "" if value is None else _e(value)
    return f"{value:.0%}" if percent else f"{value:.2f}"
