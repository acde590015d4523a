"""Pattern views: real PatternResults from running the patterns with scripted models (as in
tests/unit/test_orchestration.py), checked through the figures' data and the HTML — no browser."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Sequence

import plotly.graph_objects as go
import pytest
from kaizen_lab_widgets import patterns
from kaizen_lab_widgets.patterns import (
    export_pattern,
    mind_changes,
    pattern_figure,
    pattern_html,
    supervisor_timeline,
)
from plotly.offline import get_plotlyjs

from kaizen_lab import LLM, BaseAgent, ConfigurationError, FunctionProvider, InputField, OutputField, Signature
from kaizen_lab.orchestration import (
    CapabilityMatcher,
    ConsensusPattern,
    DebatePattern,
    HandoffPattern,
    PatternResult,
    SequentialPattern,
    SupervisorAgent,
    SupervisorWorkerPattern,
)
from kaizen_lab.rag.embeddings import Embedder

SCRIPT = "<script>alert('x')</script>"


def scripted(name, replies, signature="question -> answer", **kw):
    provider = FunctionProvider(replies)
    return BaseAgent(signature=signature, llm=LLM(provider), name=name, **kw), provider


class KeywordEmbedder(Embedder):
    """One dimension per keyword: routing in these tests is decided by the words, not by a model."""

    WORDS = ("python", "bug", "test", "sales", "trend", "data", "email", "write", "team")

    name = "keywords"
    dimension = len(WORDS)
    max_tokens = 512

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        return [[float(text.lower().count(w)) for w in self.WORDS] for text in texts]


def trace(fig: go.Figure, name: str) -> go.BaseTraceType:
    found = [t for t in fig.data if t.name == name]
    assert len(found) == 1, [t.name for t in fig.data]
    return found[0]


# -- the results -------------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def debate() -> PatternResult:
    pro, _ = scripted(
        "pro", [{"argument": f"pro point {i} {SCRIPT}", "confidence": c} for i, c in enumerate([0.7, 0.8, 0.9])]
    )
    con_replies: list = [{"argument": f"con point {i}", "confidence": c} for i, c in enumerate([0.6, 0.5, 0.3])]
    con_replies.insert(1, RuntimeError("the model fell over"))  # round 2 fails once, then succeeds
    con, _ = scripted("con", con_replies)
    judge, _ = scripted("judge", [{"decision": "for", "confidence": 0.8, "reasoning": "pro answered every point"}])
    return DebatePattern(pro, con, judge, rounds=3).debate("Tabs are better than spaces")


@pytest.fixture(scope="module")
def consensus() -> PatternResult:
    answers = {
        "a": "Use PostgreSQL for the orders database",
        "b": "Use SQLite",
        "c": "Use PostgreSQL for the orders database",
    }
    votes = {"a": [1, 1], "b": [2, 1], "c": [1, 1]}

    def voter(name):
        def reply(messages, request):
            if "proposals" not in request.messages[0]["content"]:
                return {"proposal": answers[name], "confidence": 0.7}
            return {"choice": votes[name].pop(0), "confidence": 0.6, "reasoning": f"{name} thinks so"}

        return scripted(name, reply)[0]

    return ConsensusPattern([voter("a"), voter("b"), voter("c")], threshold=1.0, max_rounds=3).decide("Which DB?")


SUBTASKS = [
    "Fix the Python bug that breaks the unit test",
    "Compute the sales trend from the data",
    "Write an email to the team",
]


@pytest.fixture(scope="module")
def supervised() -> PatternResult:
    coder, _ = scripted("coder", [RuntimeError("model crashed"), {"answer": "fixed"}], capabilities=["Python bug test"])
    analyst, _ = scripted("analyst", lambda m, r: {"answer": "sales rise 4%"}, capabilities=["sales trend data"])
    writer, _ = scripted("writer", lambda m, r: {"answer": "Dear team, ..."}, capabilities=["write email team"])

    def lead(messages, request):
        asked = request.messages[0]["content"]
        return {"subtasks": SUBTASKS} if "subtasks" in asked else {"answer": "fixed; sales +4%; email sent"}

    supervisor = SupervisorAgent(
        llm=LLM(FunctionProvider(lead)), name="lead", matcher=CapabilityMatcher(KeywordEmbedder())
    )
    pattern = SupervisorWorkerPattern(supervisor, [coder, analyst, writer], retries=1)
    return pattern.execute_task("Fix the bug, report the sales trend and tell the team")


@pytest.fixture(autouse=True)
def fresh_notebook(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts as a fresh kernel: plotly.js has not been sent yet."""
    monkeypatch.setattr(patterns, "_plotlyjs_sent", False)


# -- debate ------------------------------------------------------------------------------------------------------------
def test_debate_figure_has_a_line_per_debater_the_verdict_and_usage_bars(debate):
    fig = pattern_figure(debate)
    assert [t.name for t in fig.data] == ["pro (for)", "con (against)", "verdict (judge)", "tokens", "cost ($)"]
    frame = debate.transcript.to_frame()
    for name, speaker in (("pro (for)", "pro"), ("con (against)", "con")):
        said = frame[(frame.speaker == speaker) & frame.error.isna()]
        line = trace(fig, name)
        assert list(line.x) == said["round"].tolist() == [1, 2, 3]
        assert list(line.y) == said["confidence"].tolist()
    assert list(trace(fig, "pro (for)").y) == [0.7, 0.8, 0.9]
    assert list(trace(fig, "con (against)").y) == [0.6, 0.5, 0.3]
    hover = " ".join(trace(fig, "pro (for)").hovertext)
    assert "pro point 2" in hover and "&lt;script&gt;" in hover and "<script>" not in hover
    verdict = trace(fig, "verdict (judge)")
    assert (list(verdict.x), list(verdict.y)) == ([4], [0.8])
    assert any("verdict: <b>for</b> (pro)" in a.text for a in fig.layout.annotations)
    usage = debate.usage_by_agent()
    assert list(trace(fig, "tokens").x) == ["pro", "con", "judge"]
    assert list(trace(fig, "tokens").y) == [usage[a]["tokens"] for a in ("pro", "con", "judge")]
    assert list(trace(fig, "cost ($)").y) == [usage[a]["cost"] for a in ("pro", "con", "judge")]
    assert trace(fig, "cost ($)").yaxis != trace(fig, "tokens").yaxis  # its own axis: dollars, not tokens


def test_debate_html_escapes_shows_warnings_and_a_details_per_round(debate):
    page = pattern_html(debate)
    assert SCRIPT not in page
    assert "pro point 0 &lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page
    assert page.count("<details") == len(debate.transcript.rounds()) == 4
    summaries = re.findall(r"<summary><b>([^<]+)</b>", page)
    assert summaries == ["Round 1", "Round 2", "Round 3", "Verdict"]
    warnings = page[page.index("kz-pattern-warnings") :]
    assert debate.warnings == ["con failed as opponent; succeeded on attempt 2."]
    assert "con failed as opponent; succeeded on attempt 2." in warnings[: warnings.index("</div>")]
    assert page.index("kz-pattern-warnings") < page.index("kz-pattern-figure")  # above the figure, not under it
    assert "RuntimeError: the model fell over" in page  # the failed attempt in its round
    assert "<b>for</b> — pro wins" in page and "pro answered every point" in page
    assert f"{debate.tokens:,} tokens" in page
    times = re.findall(r"<span class='kz-time'>([^<]*)</span>", page)  # one rule sanitises every duration
    assert len(times) == 1 + len(debate.transcript) and all(t.endswith(" s") for t in times)


def test_the_embedded_figure_is_the_figure(debate):
    page = pattern_html(debate, plotlyjs=False)
    embedded = json.loads(re.search(r"var fig=(\{.*?\});var id=", page).group(1))
    assert embedded["data"][0]["y"] == [0.7, 0.8, 0.9]
    assert embedded["data"] == json.loads(pattern_figure(debate).to_json())["data"]
    assert "</script" not in re.search(r"var fig=(.*?);var id=", page).group(1)


def test_plotlyjs_goes_into_the_first_output_only(debate, consensus):
    marker = get_plotlyjs()[:300]  # the bundle's licence header
    first, second = pattern_html(debate), pattern_html(consensus)
    assert first.count(marker) == 1 and marker not in second
    assert "window.Plotly" in second  # the later figure waits for the bundle
    assert pattern_html(debate, plotlyjs=True).count(marker) == 1  # standalone HTML, on request
    assert marker not in pattern_html(debate, plotlyjs=False)


def test_a_pattern_result_renders_with_these_views(debate):
    assert "kz-pattern" in debate._repr_html_()
    assert isinstance(debate.figure(), go.Figure)


# -- consensus ---------------------------------------------------------------------------------------------------------
def test_consensus_figure_stacks_the_votes_and_names_who_changed_their_mind(consensus):
    assert consensus["votes"] == [{"a": 1, "b": 2, "c": 1}, {"a": 1, "b": 1, "c": 1}]
    fig = pattern_figure(consensus)
    assert fig.layout.barmode == "stack"
    bars = [t for t in fig.data if t.type == "bar"]
    assert [t.name for t in bars] == ["1. Use PostgreSQL for the orders database", "2. Use SQLite"]
    for option, bar in enumerate(bars, 1):
        assert list(bar.x) == [1, 2]
        assert list(bar.y) == [sum(1 for o in ballot.values() if o == option) for ballot in consensus["votes"]]
    assert list(bars[0].y) == [2, 3] and list(bars[1].y) == [1, 0]
    assert bars[0].text[0].startswith("1. Use PostgreSQL") and bars[1].text == ("2. Use SQLite", "")
    threshold = trace(fig, "threshold (100% of the votes)")
    assert {y for y in threshold.y if y is not None} == {3.0}
    assert mind_changes(consensus) == [{"voter": "b", "round": 2, "from": 2, "to": 1}]
    notes = " ".join(a.text for a in fig.layout.annotations)
    assert "Changed their mind" in notes and "b: option 2 → 1 (round 2)" in notes
    assert "b (was 2)" in bars[0].hovertext[1]
    assert "Consensus in 2 round(s)" in fig.layout.title.text


def test_consensus_html_has_proposals_and_votes_rounds(consensus):
    page = pattern_html(consensus)
    assert re.findall(r"<summary><b>([^<]+)</b>", page) == ["Proposals", "Vote 1", "Vote 2"]
    assert "b (2 → 1, round 2)" in page
    assert "b thinks so" in page and "kz-pattern-warnings" not in page  # no warnings, no warning box


# -- supervisor-worker -------------------------------------------------------------------------------------------------
def test_supervisor_tree_has_every_subtask_and_worker_with_scores(supervised):
    assert [s["worker"] for s in supervised["subtasks"]] == ["coder", "analyst", "writer"]
    fig = pattern_figure(supervised)
    (tree,) = fig.data
    assert tree.type == "treemap"
    labels = dict(zip(tree.ids, tree.labels, strict=True))
    parents = dict(zip(tree.ids, tree.parents, strict=True))
    assert labels["task"] == "Fix the bug, report the sales trend and tell the team" and parents["task"] == ""
    for n, sub in enumerate(supervised["subtasks"], 1):
        assert labels[f"subtask {n}"] == f"{n}. {sub['task']}" and parents[f"subtask {n}"] == "task"
        leaf = f"subtask {n}/{sub['worker']}"
        assert labels[leaf].startswith(f"{sub['worker']} · {sub['score']:.2f}")
        assert parents[leaf] == f"subtask {n}"
    assert labels["subtask 1/coder"].endswith("(1 failed)")  # retried, and the tree says so
    colors = dict(zip(tree.ids, tree.marker.colors, strict=True))
    assert colors["subtask 1/coder"] != colors["subtask 2/analyst"]


def test_supervisor_timeline_bars_are_the_transcript_timings(supervised):
    fig = supervisor_timeline(supervised)
    assert fig.layout.barmode == "overlay"
    bars = sorted((y, base, width, t.name) for t in fig.data for y, base, width in zip(t.y, t.base, t.x, strict=True))
    expected = sorted(
        (c.speaker, c.started, c.ended - c.started, "failed attempt" if c.error else c.role)
        for c in supervised.transcript
    )
    assert [b[0] for b in bars] == [e[0] for e in expected] and [b[3] for b in bars] == [e[3] for e in expected]
    assert [v for b in bars for v in b[1:3]] == pytest.approx([v for e in expected for v in e[1:3]])
    failed = trace(fig, "failed attempt")
    (attempt,) = [c for c in supervised.transcript if c.error]
    assert list(failed.y) == ["coder"] and list(failed.base) == pytest.approx([attempt.started])
    assert failed.marker.color != trace(fig, "worker").marker.color
    assert "model crashed" in failed.hovertext[0]
    assert {t.name for t in fig.data} == {"supervisor", "worker", "failed attempt"}


def test_supervisor_html_shows_both_figures_the_retry_and_three_rounds(supervised):
    page = pattern_html(supervised)
    assert page.count("class='kz-pattern-figure'") == 2 and page.count(get_plotlyjs()[:300]) == 1
    assert re.findall(r"<summary><b>([^<]+)</b>", page) == ["Plan", "Workers", "Synthesis"]
    assert "coder failed as worker on &#x27;Fix the Python bug that breaks the unit test&#x27;" in page
    assert "succeeded on attempt 2" in page
    assert "RuntimeError: model crashed" in page


# -- handoff and sequential ------------------------------------------------------------------------------------------
def test_handoff_timeline_shows_who_held_the_conversation():
    support, _ = scripted(
        "support",
        lambda m, r: {"answer": "Let me get billing.", "handoff_to": "write an email"},
        capabilities=["python bug"],
    )
    billing, _ = scripted(
        "billing", lambda m, r: {"answer": "Refund on its way.", "handoff_to": ""}, capabilities=["write email"]
    )
    pattern = HandoffPattern([support, billing], entry=support, matcher=CapabilityMatcher(KeywordEmbedder()))
    result = pattern.send("I was charged twice")
    fig = pattern_figure(result)
    (holders,) = fig.data
    assert list(holders.y) == ["support", "billing"]
    assert list(holders.base) == [c.started for c in result.transcript]
    assert "hands off" in holders.text[0] and "hands off" not in holders.text[1]
    assert fig.layout.title.text == "Handoff: support → billing"
    assert "support → billing" in pattern_html(result)


class Extract(Signature):
    """Extract the key facts."""

    document: str = InputField()
    facts: list[str] = OutputField()


class Summarise(Signature):
    """Summarise the facts."""

    summary: str = OutputField()
    facts: list[str] = InputField()


def test_sequential_timeline_has_a_bar_per_stage():
    extract, _ = scripted("extract", [{"facts": ["sales up 4%", "costs flat"]}], signature=Extract)
    summarise, _ = scripted("summarise", [{"summary": "Profit grows."}], signature=Summarise)
    result = SequentialPattern([extract, summarise]).run(document="Q3 report ...")
    fig = pattern_figure(result)
    (stages,) = fig.data
    assert list(stages.y) == ["1. extract", "2. summarise"]
    assert list(stages.x) == pytest.approx([c.ended - c.started for c in result.transcript])
    page = pattern_html(result)
    assert re.findall(r"<summary><b>([^<]+)</b>", page) == ["Stage 1: extract", "Stage 2: summarise"]
    assert "Profit grows." in page and "extract → summarise" in page


# -- export ------------------------------------------------------------------------------------------------------------
def test_export_html_is_a_standalone_page_with_the_data(debate, supervised, tmp_path):
    written = export_pattern(debate, tmp_path / "debate.html")
    page = written.read_text(encoding="utf-8")
    assert written == tmp_path / "debate.html"
    assert "con point 2" in page and "[0.7,0.8,0.9]" in page
    assert get_plotlyjs()[:300] in page  # works offline
    timeline = export_pattern(supervised, tmp_path / "timeline.html", timeline=True).read_text(encoding="utf-8")
    assert "failed attempt" in timeline


def test_image_export_without_kaleido_says_how_to_get_it(debate, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "kaleido", None)  # as if not installed, whether or not it is
    with pytest.raises(ImportError, match="pip install kaleido"):
        export_pattern(debate, tmp_path / "debate.png")
    assert not (tmp_path / "debate.png").exists()
    with pytest.raises(ConfigurationError, match=r"\.html or an image"):
        export_pattern(debate, tmp_path / "debate.docx")
