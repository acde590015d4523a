"""The widgets gallery (docs/widgets.md): every user-facing widget of kaizen_lab_widgets that the other browser tests do
not already photograph, rendered by a real JupyterLab in headless Chromium, one element screenshot each.

The notebook is written at test time from the cells below (as the other browser tests do), so the code that draws a
picture lives in one place, next to the checks on it; test_gallery_page_shows_the_code_that_ran keeps the page's
snippets identical to these cells. The widgets are built from real objects: patterns run by the real engines with
scripted stand-in models (each agent replies from its own script, after a short sleep, so timelines look like calls),
usage and cost from real litellm calls (gpt-4o-mini prices) to an OpenAI-compatible server on 127.0.0.1, a real PDF
in an in-memory chroma store with the packaged embedding model. No model is downloaded and nothing leaves the host.

Regenerate the pictures: .venv/bin/python -m pytest tests/browser/test_gallery.py -q (about a minute).
"""

from __future__ import annotations

import json
import re
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.servers import OpenAICompatibleServer

from ._support import CHROMIUM, Lab
from .test_approvals import run_cell
from .test_jupyterlab import PANEL, STDERR, Cell, write_notebook

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(__file__).parent / "artifacts"
PAGE = ROOT / "docs" / "widgets.md"
PDFS = [ROOT / "notebooks" / "data" / name for name in ("github_sample.pdf", "cython.pdf")]
PLOT = ".jp-RenderedPlotly .main-svg"  # a figure drawn by plotly's own JupyterLab renderer (jupyterlab-plotly)
BROKEN = re.compile(r"Error displaying widget|Traceback|model not found", re.IGNORECASE)


# -- the notebook ------------------------------------------------------------------------------------------------------
SETUP = '''import asyncio

from kaizen_lab import LLM, BaseAgent, FunctionProvider


class Scripted(FunctionProvider):
    """A stand-in model: the next scripted reply, after `seconds` (so a timeline looks like real calls)."""

    def __init__(self, replies, seconds):
        super().__init__(list(replies))
        self.seconds = seconds

    async def acomplete(self, request, model):
        await asyncio.sleep(self.seconds)
        return await super().acomplete(request, model)


def agent(name, *replies, seconds=0.05, **card):
    return BaseAgent(signature="question -> answer", llm=LLM(Scripted(replies, seconds)), name=name, **card)'''

BUILDER = """from kaizen_lab_widgets import SignatureBuilder

builder = SignatureBuilder("review: str, stars: int -> sentiment: Literal['positive', 'negative', 'mixed']")
builder.set_name("Review")
builder.set_instructions("Classify a product review and list the aspects it mentions.")
builder.add_field("aspects", "list[str]", "output", desc="Product aspects mentioned")
builder"""

PROGRESS = """from kaizen_lab import MockProvider
from kaizen_lab_widgets import Progress

reviewer = BaseAgent(signature="review -> sentiment", llm=LLM(MockProvider()))
rows = [{"review": f"review {i}"} for i in range(197)] + [{"text": "a row with the wrong column"}] * 3
progress = Progress(len(rows), "reviews").display()
# the last 120 rows, three of them bad: the bar as it looks in the middle of the run
done = reviewer.run_batch(rows[-120:], return_exceptions=True, on_result=progress.on_result)"""

QUESTION = """from kaizen_lab.control import ControlProtocol
from kaizen_lab_widgets import WidgetTransport

transport = WidgetTransport()
control = ControlProtocol(transport)
display(transport)  # cards appear here
asking = asyncio.ensure_future(
    control.ask_user_question("Which format should the report use?", ["PDF", "HTML", "Markdown"], default="PDF")
)"""

USAGE_SETUP = """summarizer = BaseAgent(
    signature="text -> summary",
    llm_provider="openai",
    model="gpt-4o-mini",
    provider_config={"api_base": "<server url>", "api_key": "test-key-not-secret"},
    name="summarizer",
)
texts = [
    "Kaizen Lab runs agents in notebooks.",
    "Signatures declare inputs and outputs. " * 12,
    "A short note.",
    "Batches of rows run concurrently, with a progress bar and a Cancel button. " * 25,
    "Approvals are cards in the cell's output. " * 6,
]"""

USAGE = """from kaizen_lab_widgets import usage_figure, usage_table

for text in texts:
    summarizer.run(text=text)
display(usage_table(summarizer.usage)[["model", "prompt_tokens", "completion_tokens", "cost", "latency"]])
usage_figure(summarizer.usage)"""

RAG = """from kaizen_lab.rag import VectorStore, extract_document
from kaizen_lab_widgets import RAGExplorer

store = VectorStore(collection="gallery")  # in memory
docs = [
    extract_document(f"data/{name}", chunk_size=120, overlap=20, tokenizer=store.embedder)
    for name in ("github_sample.pdf", "cython.pdf")
]
for doc in docs:
    store.add_chunks(doc.chunks)
explorer = RAGExplorer(store, docs)
explorer.search("When do Class C shares convert to Class A shares?")
explorer"""

DEBATE_SETUP = """pro = agent(
    "pro",
    {"argument": "Code sits next to its output, so a reviewer sees what it does.", "confidence": 0.62},
    {"argument": "Run under nbval, a notebook is as tested as a module.", "confidence": 0.71},
    {"argument": "Moving code out later costs more than writing it testable now.", "confidence": 0.76},
    seconds=0.3,
)
con = agent(
    "con",
    {"argument": "Hidden state and out-of-order cells make notebooks unreliable.", "confidence": 0.68},
    {"argument": "Diffs of notebook JSON are hard to review.", "confidence": 0.57},
    {"argument": "Tools help, but a module with tests is still simpler.", "confidence": 0.46},
    seconds=0.3,
)
judge = agent(
    "judge",
    {"decision": "for", "confidence": 0.7, "reasoning": "The proponent answered the testing and review objections."},
    seconds=0.4,
)"""

DEBATE = """from kaizen_lab.orchestration import DebatePattern

debate = DebatePattern(pro, con, judge, rounds=3).debate("Notebooks are a good place to develop production code")
debate"""

CONSENSUS_SETUP = """def voter(name, proposal, *choices):
    ballots = [{"choice": c, "confidence": 0.7, "reasoning": f"option {c} reads best"} for c in choices]
    return agent(name, {"proposal": proposal, "confidence": 0.6}, *ballots, seconds=0.2)


voters = [voter("ana", "Flowline", 1, 1), voter("ben", "Riverbed", 2, 1), voter("cho", "Conduit", 1, 1)]"""

CONSENSUS = """from kaizen_lab.orchestration import ConsensusPattern

vote = ConsensusPattern(voters, threshold=0.75, max_rounds=3).decide("What should we name the new data pipeline?")
vote"""

SUPERVISOR_SETUP = """coder = agent(
    "coder",
    {"answer": "Read the column with row.get('user_id') and skip rows without one."},
    seconds=0.9,
    description="Fixes bugs in Python code",
    capabilities=["debug an exception in a Python function", "fix a parser"],
)
writer = agent(
    "writer",
    RuntimeError("429: rate limited"),
    {"answer": "Hi all, the CSV parser no longer crashes on rows without a user_id."},
    seconds=0.35,
    description="Writes short emails and announcements",
    capabilities=["draft an email to the team"],
)
analyst = agent(
    "analyst",
    {"answer": "412 of last week's 96,000 rows had no user_id."},
    seconds=0.6,
    description="Analyses data: counts, statistics, charts",
    capabilities=["count rows in a dataset", "summary statistics"],
)
plan = {
    "subtasks": [
        "Fix the KeyError our CSV parser raises on a row without a user_id",
        "Count how many rows in last week's CSV files had no user_id",
        "Draft a short email telling the team the parser is fixed",
    ]
}
answer = {"answer": "The parser is fixed (412 rows were affected last week) and the team has been told."}
lead = SupervisorAgent(llm=LLM(Scripted([plan, answer], 0.4)), name="lead")"""

SUPERVISOR = """from kaizen_lab.orchestration import SupervisorWorkerPattern

team = SupervisorWorkerPattern(lead, [coder, writer, analyst], concurrency=3)
work = team.execute_task("Fix the CSV parser's KeyError, say how many rows it hit, and tell the team")
work"""

JOURNEY_SETUP = '''from kaizen_lab import InputField, OutputField, Signature
from kaizen_lab.journey import IntentTrigger, Journey, Pathway, ReturnToPrevious, Transition


class Intake(Signature):
    """Note the patient's symptoms and name."""

    message: str = InputField(desc="The patient's message")
    reply: str = OutputField(desc="A short reply")
    symptoms: list[str] = OutputField(desc="Symptoms mentioned")
    name: str = OutputField(desc="The patient's name, if given")


class Booking(Signature):
    """Book the patient with a specialist."""

    message: str = InputField(desc="The patient's message")
    symptoms: str = InputField(desc="Symptoms from intake")
    reply: str = OutputField(desc="A reply proposing an appointment")
    specialist: str = OutputField(desc="The kind of specialist")


class FAQ(Signature):
    """Answer a question about the clinic in one sentence."""

    message: str = InputField(desc="The question")
    answer: str = OutputField(desc="One sentence")
    topic: str = OutputField(desc="The topic")


class Clinic(Journey):
    __entry_pathway__ = "intake"
    __transitions__ = [
        Transition(IntentTrigger(patterns=["question about"], use_llm_fallback=False), to_pathway="faq", priority=10)
    ]

    class IntakePath(Pathway):
        __signature__ = Intake
        __agents__ = ["intake_agent"]
        __accumulate__ = ["symptoms", "name"]
        __next__ = "booking"
        __complete_when__ = IntentTrigger(patterns=["that's all"], use_llm_fallback=False)

    class BookingPath(Pathway):
        __signature__ = Booking
        __agents__ = ["booking_agent"]
        __accumulate__ = ["specialist"]

    class FAQPath(Pathway):
        __signature__ = FAQ
        __agents__ = ["faq_agent"]
        __accumulate__ = ["topic"]
        __return_behavior__ = ReturnToPrevious()


def scripted(signature, name, *replies):
    return BaseAgent(signature=signature, llm=LLM(Scripted(replies, 0.05)), name=name)


clinic_agents = {
    "intake_agent": scripted(
        Intake,
        "intake",
        {"reply": "Sorry to hear that. What is your name?", "symptoms": ["headache", "blurred vision"], "name": ""},
        {"reply": "Thank you, Maria.", "symptoms": [], "name": "Maria Lopez"},
    ),
    "booking_agent": scripted(
        Booking, "booking", {"reply": "Dr Chen (neurology), Thursday at 9:00?", "specialist": "neurologist"}
    ),
    "faq_agent": scripted(FAQ, "faq", {"answer": "Parking is free for patients.", "topic": "parking"}),
}'''

JOURNEY = """from kaizen_lab_widgets import JourneyMap

journey = Clinic(session_id="maria-1", agents=clinic_agents)
display(JourneyMap(journey))  # redraws itself after every message
for text in [
    "I have had a headache and blurred vision since Monday.",
    "Quick question about parking: is it free?",
    "My name is Maria Lopez, that's all.",
    "Can I come on Thursday?",
]:
    await journey.process_message(text)"""


# -- what each picture must show ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Shot:
    name: str  # the picture: artifacts/gallery-<name>.png
    code: str  # the cell it is taken of; docs/widgets.md shows exactly this code
    check: Callable[[Locator], None]  # the widget really rendered (and, where it has controls, answers)
    setup: str = ""  # a cell run before it (scripted models, data): not on the page
    then: Callable[[Locator], None] | None = None  # interactions after the picture is taken
    after: str = ""  # a cell run after it: kernel-side assertions (a failure is a traceback, caught below)

    @property
    def png(self) -> Path:
        return ARTIFACTS / f"gallery-{self.name}.png"


def _builder(out: Locator) -> None:
    code = out.locator(".widget-html", has_text="class Review(Signature):")
    expect(code).to_contain_text('sentiment: Literal["positive", "negative", "mixed"] = OutputField()')
    expect(code).to_contain_text('aspects: list[str] = OutputField(desc="Product aspects mentioned")')
    expect(out.locator(".widget-select select option")).to_have_count(4)  # the field list
    expect(out.get_by_role("tab")).to_have_text(["Python", "Output JSON schema", "Try it"])


def _builder_add(out: Locator) -> None:
    """A field added in the form reaches the kernel, which redraws the source."""
    code = out.locator(".widget-html", has_text="class Review(Signature):")
    out.get_by_placeholder("name", exact=True).fill("summary")
    out.get_by_role("button", name="output", exact=True).click()
    out.get_by_placeholder("description", exact=True).fill("One line")
    out.get_by_role("button", name="Add").click()  # (not exact: the icon's glyph is part of the name)
    expect(code).to_contain_text('summary: str = OutputField(desc="One line")')
    expect(out.locator(".widget-select select option")).to_have_count(5)


def _progress(out: Locator) -> None:
    expect(out).to_contain_text("reviews 120/200 rows · 3 failed")
    expect(out.locator(".progress-bar")).to_be_visible()
    expect(out.get_by_role("button", name="Cancel")).to_be_enabled()


def _progress_cancel(out: Locator) -> None:
    out.get_by_role("button", name="Cancel").click()
    expect(out.get_by_role("button", name="Cancelled")).to_be_disabled()
    expect(out).to_contain_text("cancelled")


def _question(out: Locator) -> None:
    card = out.locator(".kaizen-question")
    expect(card).to_contain_text("Which format should the report use?")
    expect(card.locator(".kaizen-option button, button.kaizen-option")).to_have_text(["PDF", "HTML", "Markdown"])
    expect(card.locator(".kaizen-decision")).to_contain_text("Waiting for your answer")


def _question_answer(out: Locator) -> None:
    card = out.locator(".kaizen-question")
    card.locator(".kaizen-option button, button.kaizen-option").filter(has_text="HTML").click()
    expect(card.locator(".kaizen-decision")).to_contain_text("Answered by you: 'HTML'")


def _usage(out: Locator) -> None:
    expect(out.locator("table.dataframe tbody tr")).to_have_count(5)
    expect(out.locator("table.dataframe tbody")).to_contain_text("gpt-4o-mini")
    expect(out.locator(PLOT).first).to_be_visible()
    expect(out.locator(".js-plotly-plot .legend")).to_contain_text("completion tokens")
    expect(out.locator(".js-plotly-plot .barlayer .point path")).to_have_count(10)  # prompt and completion, per call


def _rag(out: Locator) -> None:
    rows = out.locator(".kaizen-rag-result")
    expect(rows.first).to_contain_text("github_sample.pdf")
    expect(rows.first).to_contain_text("Class C shares")
    expect(out).to_contain_text(re.compile(r"\d+ results for “When do Class C shares convert to Class A shares\?”"))
    expect(out.locator(".kaizen-rag-chart " + PLOT).first).to_be_visible()
    expect(out.locator(".kaizen-rag-page img, img.kaizen-rag-page")).to_be_visible()
    expect(out.locator(".kaizen-rag-detail")).to_contain_text("highlighted region")


def _rag_select(out: Locator) -> None:
    out.locator(".kaizen-rag-result button").nth(1).click()
    expect(out.locator(".kaizen-rag-detail")).to_contain_text("#2 · score")


def _debate(out: Locator) -> None:
    expect(out.locator(".kz-pattern-outputs")).to_contain_text("for — pro wins")
    expect(out.locator(PLOT).first).to_be_visible()
    expect(out.locator(".js-plotly-plot")).to_contain_text("Confidence per round")
    expect(out.locator(".js-plotly-plot .scatterlayer .trace")).to_have_count(3)  # pro, con, the verdict
    expect(out.locator("details.kz-round summary")).to_contain_text(["Round 1", "Round 2", "Round 3", "Verdict"])


def _consensus(out: Locator) -> None:
    expect(out.locator(".kz-pattern-outputs")).to_contain_text("ben (2 → 1, round 2)")
    expect(out.locator(PLOT).first).to_be_visible()
    expect(out.locator(".js-plotly-plot")).to_contain_text("Consensus in 2 round(s): Flowline")
    expect(out.locator(".js-plotly-plot")).to_contain_text("Changed their mind")
    expect(out.locator("details.kz-round summary")).to_contain_text(["Proposals", "Vote 1", "Vote 2"])


def _supervisor(out: Locator) -> None:
    expect(out.locator(".kz-pattern-warnings")).to_contain_text("writer failed")
    plots = out.locator(".js-plotly-plot")
    expect(plots).to_have_count(2)  # the task tree and the timeline
    expect(out.locator(PLOT).first).to_be_visible()
    expect(plots.nth(0)).to_contain_text("Task tree: 3 subtask(s), 3 worker(s)")
    expect(plots.nth(0).locator(".treemaplayer")).to_contain_text("coder")
    expect(plots.nth(1)).to_contain_text("Calls over time")
    expect(plots.nth(1).locator(".legend")).to_contain_text("failed attempt")


def _journey(out: Locator) -> None:
    graph = out.locator("svg.kz-journey-map")
    expect(graph.locator("g.kz-node")).to_have_count(3)
    expect(graph.locator("g.kz-node.kz-current")).to_have_attribute("data-pathway", "booking")
    expect(graph.locator("g.kz-edge")).to_have_count(5)
    expect(out.locator(".kz-context")).to_contain_text("Maria Lopez")
    expect(out.locator(".kz-context")).to_contain_text("neurologist")
    expect(out).to_contain_text("messages: 4")


SHOTS = [
    Shot(
        "signature-builder",
        BUILDER,
        _builder,
        then=_builder_add,
        after='assert builder.field_names[-1] == "summary" and "summary" in builder.signature.output_fields',
    ),
    Shot(
        "progress",
        PROGRESS,
        _progress,
        then=_progress_cancel,
        after="assert progress.cancelled and (progress.done, progress.failed) == (117, 3), progress",
    ),
    Shot(
        "question",
        QUESTION,
        _question,
        then=_question_answer,
        after="answer = await asking\nassert (answer.answer, answer.decided_by) == ('HTML', 'user'), answer",
    ),
    Shot(
        "usage",
        USAGE,
        _usage,
        setup=USAGE_SETUP,
        after='totals = summarizer.usage.totals()\nassert totals["calls"] == 5 and totals["cost"] > 0, totals',
    ),
    Shot(
        "rag-explorer",
        RAG,
        _rag,
        then=_rag_select,
        after="assert explorer.selected is explorer.hits[1] and explorer.page_render.matches >= 1",
    ),
    Shot(
        "debate",
        DEBATE,
        _debate,
        setup=DEBATE_SETUP,
        after='assert [c.role for c in debate.transcript] == ["proponent", "opponent"] * 3 + ["judge"]',
    ),
    Shot(
        "consensus",
        CONSENSUS,
        _consensus,
        setup=CONSENSUS_SETUP,
        after='assert vote["consensus"] and vote["votes"][1] == {"ana": 1, "ben": 1, "cho": 1}, vote',
    ),
    Shot(
        "supervisor",
        SUPERVISOR,
        _supervisor,
        setup="from kaizen_lab.orchestration import SupervisorAgent\n\n" + SUPERVISOR_SETUP,
        after='assert [s["worker"] for s in work["subtasks"]] == ["coder", "analyst", "writer"], work["subtasks"]',
    ),
    Shot(
        "journey",
        JOURNEY,
        _journey,
        setup=JOURNEY_SETUP,
        after='assert journey.current_pathway == "booking" and journey.message_count == 4',
    ),
]
GALLERY_PNGS = [shot.png.name for shot in SHOTS]
# The pictures the other browser tests take (whole pages), also on the gallery page.
OTHER_PNGS = [
    "jupyterlab-magics.png",
    "jupyterlab-approve.png",
    "jupyterlab-deny.png",
    "jupyterlab-cancel.png",
    "jupyterlab-memory-explorer.png",
]


def _cells(url: str) -> tuple[list[Cell], dict[int, Shot]]:
    """The notebook's cells, and which cell each picture is of."""
    cells, at = [Cell(SETUP)], {}
    for shot in SHOTS:
        if shot.setup:
            cells.append(Cell(shot.setup.replace("<server url>", url)))
        at[len(cells)] = shot
        cells.append(Cell(shot.code))
        if shot.after:
            cells.append(Cell(shot.after))
    return cells, at


# -- a scripted OpenAI-compatible model for the usage view -------------------------------------------------------------
def _summarise(body: dict[str, Any]) -> dict[str, Any]:
    """The first sentence of the text, with token counts that grow with the prompt (litellm prices them)."""
    text = str(body["messages"][-1]["content"]).split("text:", 1)[-1].strip()
    content = json.dumps({"summary": text.split(". ")[0].rstrip(".")[:160] + "."})
    prompt = sum(len(str(m.get("content", ""))) for m in body["messages"]) // 4
    completion = max(1, len(content) // 4)
    time.sleep(0.1 + prompt / 2000)  # a model takes longer over a longer prompt: the latency line shows it
    return {
        "id": "chatcmpl-gallery",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body.get("model", ""),
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion},
    }


# -- checks on a picture -----------------------------------------------------------------------------------------------
def assert_picture(path: Path, *, min_width: int = 300, min_height: int = 24) -> None:
    """A real picture: a sensible size, many colours, and not one colour nearly everywhere (a blank panel)."""
    from PIL import Image

    with Image.open(path) as image:
        rgb = image.convert("RGB")
        width, height = rgb.size
        colours = rgb.getcolors(maxcolors=width * height) or []
    assert width >= min_width and height >= min_height, f"{path.name} is {width}x{height}"
    assert len(colours) >= 16, f"{path.name} has {len(colours)} colours: blank or nearly"
    commonest = max(count for count, _ in colours)
    assert commonest / (width * height) < 0.97, f"{path.name} is {commonest / (width * height):.0%} one colour"


def assert_clean(out: Locator, name: str) -> None:
    expect(out.locator(STDERR), f"{name}: error output").to_have_count(0)
    text = out.inner_text()
    assert not BROKEN.search(text), f"{name}: the output shows an error:\n{text[:2000]}"


def _errors(page: Page) -> list[str]:
    return page.locator(PANEL).locator(STDERR).all_inner_texts()


# -- the tests ---------------------------------------------------------------------------------------------------------
@pytest.mark.browser
@pytest.mark.network_loopback
@pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} is missing: apt-get install chromium (see .ci/run)")
def test_widgets_gallery_in_jupyterlab(lab: Lab, page: Page) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.set_viewport_size({"width": 1280, "height": 2000})  # the tallest output (the RAG explorer) fits whole
    with OpenAICompatibleServer(_summarise) as server:
        cells, shots = _cells(server.url)
        write_notebook(lab.root / "gallery.ipynb", cells)
        (lab.root / "data").mkdir()
        for pdf in PDFS:  # where the demo notebooks keep them: data/ beside the notebook
            shutil.copy(pdf, lab.root / "data" / pdf.name)
        page.goto(lab.lab_url("gallery.ipynb"))
        panel = page.locator(PANEL)
        expect(panel.locator(".jp-CodeCell")).to_have_count(len(cells))
        expect(page.locator("#jp-main-statusbar")).to_contain_text("Idle")
        taken = []
        try:
            for index in range(len(cells)):
                run_cell(page, index)
                errors = _errors(page)
                assert not errors, f"cell {index} failed:\n{cells[index].source}\n\n" + "\n".join(errors)
                shot = shots.get(index)
                if shot is None:
                    continue
                out = panel.locator(".jp-CodeCell").nth(index).locator(".jp-Cell-outputArea")
                shot.check(out)
                assert_clean(out, shot.name)
                page.mouse.move(0, 0)  # no hover label, plotly toolbar or focused button in the picture
                page.evaluate("document.activeElement && document.activeElement.blur()")
                page.wait_for_timeout(300)  # plotly's transitions settle
                out.screenshot(path=shot.png, animations="disabled")
                assert_picture(shot.png)
                if shot.then is not None:
                    shot.then(out)
                    assert_clean(out, shot.name)
                taken.append(shot.png.name)
            expect(page.locator("#jp-main-statusbar")).to_contain_text("Idle")
            assert not _errors(page), "\n".join(_errors(page))
        except BaseException:
            page.screenshot(path=ARTIFACTS / "jupyterlab-gallery-failed.png", full_page=True)  # not on the page
            raise
    assert taken == GALLERY_PNGS
    assert len(server.requests) == 5  # the usage view's calls, and nothing else went to a model server


def test_gallery_page_shows_the_code_that_ran() -> None:
    """docs/widgets.md shows each picture with exactly the cell that drew it, and every picture it refers to is one a
    browser test takes."""
    text = PAGE.read_text()
    blocks = [b.strip("\n") for b in re.findall(r"^```\{code-block\} python\n(.*?)^```$", text, re.M | re.S)]
    for shot in SHOTS:
        assert shot.code in blocks, f"docs/widgets.md does not show the code of gallery-{shot.name}.png verbatim"
    pictures = re.findall(r"\.\./tests/browser/artifacts/([\w.-]+\.png)", text)
    assert sorted(set(pictures)) == sorted(GALLERY_PNGS + OTHER_PNGS), pictures
    assert SETUP in blocks, "docs/widgets.md does not show the stand-in models' code verbatim"
    assert not re.search(r"^```(python|\{code-cell\})", text, re.M)  # nothing on this page runs at build time
