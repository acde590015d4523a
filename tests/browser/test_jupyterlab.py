"""The notebook surface in a real browser: JupyterLab runs the magics in this venv's kernel, headless Chromium
renders them, and we read what a user would see."""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest
from playwright.sync_api import Locator, Page, expect

from ._support import CHROMIUM, WAIT_S, Lab

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} is missing: apt-get install chromium (see .ci/run)"),
]

NOTEBOOK = "magics.ipynb"
SCREENSHOT = Path(__file__).parent / "artifacts" / "jupyterlab-magics.png"
PANEL = ".jp-NotebookPanel:not(.lm-mod-hidden)"  # the notebook tab on show
PROMPT = ".jp-CodeCell .jp-InputArea-prompt"
STDERR = '.jp-RenderedText[data-mime-type="application/vnd.jupyter.stderr"]'  # stderr and tracebacks


@dataclass(frozen=True)
class Cell:
    source: str
    shows: tuple[str, ...] = ()  # texts the cell's rendered output must contain
    check: Callable[[Locator], None] | None = None  # more checks on the cell's output area


def agent_result_table(output: Locator) -> None:
    result = output.locator(".kaizen-result")
    expect(result.locator("table th")).to_have_text(["answer", "confidence"])
    expect(result.locator(":scope > div").last).to_contain_text("mock/mock-model")  # the footer


REVIEW = '''%%signature Review
"""Classify a product review."""
text: str = input("The review text")
stars: int = input("1-5", default=3)
sentiment: Literal["positive", "negative", "neutral"] = output("Sentiment")'''
REVIEW_REPR = "<Signature Review: text: str, stars: int -> sentiment: Literal['positive', 'negative', 'neutral']>"

CELLS = [
    Cell("import sys\nsys.prefix", shows=(repr(sys.prefix),)),  # the kernel is this venv's python
    Cell("%load_ext kaizen_lab"),
    Cell('country = "France"'),
    Cell(
        '%%agent -s "question -> answer, confidence: float" --provider mock -o res\nWhat is the capital of {country}?',
        check=agent_result_table,
    ),
    Cell('res.provider, type(res["confidence"]).__name__', shows=("('mock', 'float')",)),
    Cell(REVIEW, shows=(REVIEW_REPR,)),
    Cell("Review", shows=(REVIEW_REPR,)),
    Cell(
        "from kaizen_lab_widgets import SignatureBuilder\nbuilder = SignatureBuilder(Review)\nbuilder",
        shows=("class Review(Signature):", 'sentiment: Literal["positive", "negative", "neutral"] = OutputField('),
    ),
    Cell('builder.add_field("summary", kind="output", desc="One line")\nbuilder.signature', shows=("summary: str",)),
]

ALL_RAN_OR_FAILED = """([panel, prompt, stderr, n]) => {
    const p = document.querySelector(panel);
    if (!p) return false;
    if (p.querySelector(stderr)) return true;
    const prompts = [...p.querySelectorAll(prompt)];
    return prompts.length === n && prompts.every((e) => /^\\[\\d+\\]:$/.test(e.textContent.trim()));
}"""


def write_notebook(path: Path, cells: list[Cell]) -> None:
    kernelspec = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": kernelspec})
    nb.cells = [nbformat.v4.new_code_cell(cell.source) for cell in cells]
    nbformat.write(nb, path)


def run_all_cells(page: Page) -> None:
    page.locator("#jp-menu-panel").get_by_role("menuitem", name="Run", exact=True).click()
    page.get_by_role("menuitem", name="Run All Cells", exact=True).click()


def test_magics_render_in_jupyterlab(lab: Lab, page: Page) -> None:
    write_notebook(lab.root / NOTEBOOK, CELLS)
    page.goto(lab.lab_url(NOTEBOOK))
    panel, status = page.locator(PANEL), page.locator("#jp-main-statusbar")
    expect(panel.locator(".jp-CodeCell")).to_have_count(len(CELLS))
    expect(status).to_contain_text("Idle")  # the kernel is up

    run_all_cells(page)
    try:
        page.wait_for_function(ALL_RAN_OR_FAILED, arg=[PANEL, PROMPT, STDERR, len(CELLS)], timeout=WAIT_S * 1000)
        expect(status).to_contain_text("Idle")
        errors = panel.locator(STDERR).all_inner_texts()
        assert not errors, "error output in the notebook:\n" + "\n".join(errors)
        expect(panel.locator(PROMPT)).to_have_text([re.compile(r"^\[\d+\]:$")] * len(CELLS))
        for i, cell in enumerate(CELLS):
            output = panel.locator(".jp-CodeCell").nth(i).locator(".jp-Cell-outputArea")
            for text in cell.shows:
                expect(output).to_contain_text(text)
            if cell.check:
                cell.check(output)
    finally:
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=SCREENSHOT, full_page=True)


SLOW_BATCH = [
    "%load_ext kaizen_lab",
    """import asyncio

import pandas as pd

from kaizen_lab import LLM, BaseAgent, FunctionProvider


class Slow(FunctionProvider):
    async def acomplete(self, request, model):
        await asyncio.sleep(0.25)
        return await super().acomplete(request, model)


slow = BaseAgent(signature="text -> label", llm=LLM(Slow(lambda m, q: {"label": "ok"})))
rows = pd.DataFrame({"text": [f"row {i}" for i in range(200)]})""",
    "%%kaizen slow --over rows --concurrency 1 --background -o labelled\n# one row per text",
    'done = int(labelled["error"].isna().sum())\nf"{done} done, {200 - done} cancelled"',
]


def test_cancel_button_stops_a_background_batch(lab: Lab, page: Page) -> None:
    """The one hard problem: a click must reach the kernel. The batch runs after its cell returned, so it does."""
    write_notebook(lab.root / "cancel.ipynb", [Cell(source) for source in SLOW_BATCH])
    page.goto(lab.lab_url("cancel.ipynb"))
    panel, status = page.locator(PANEL), page.locator("#jp-main-statusbar")
    cells = panel.locator(".jp-CodeCell")
    expect(cells).to_have_count(len(SLOW_BATCH))
    expect(status).to_contain_text("Idle")
    for i in range(3):  # run the set-up and start the batch, one cell at a time
        cells.nth(i).locator(".jp-InputArea-editor").click()
        page.keyboard.press("Shift+Enter")
        prompt = cells.nth(i).locator(".jp-InputArea-prompt")
        expect(prompt).to_have_text(re.compile(r"^\[\d+\]:$"), timeout=WAIT_S * 1000)
    batch = cells.nth(2).locator(".jp-Cell-outputArea")
    cancel = batch.get_by_role("button", name="Cancel")
    expect(batch).to_contain_text("rows", timeout=WAIT_S * 1000)
    page.wait_for_timeout(1500)  # let a few rows finish
    cancel.click()
    expect(batch.get_by_role("button", name="Cancelled")).to_be_visible(timeout=WAIT_S * 1000)
    expect(batch).to_contain_text("labelled: 200 rows", timeout=WAIT_S * 1000)  # the report after the batch ended
    cells.nth(3).locator(".jp-InputArea-editor").click()
    page.keyboard.press("Shift+Enter")
    result = cells.nth(3).locator(".jp-Cell-outputArea")
    expect(result).to_contain_text("cancelled", timeout=WAIT_S * 1000)
    done = int(re.search(r"(\d+) done", result.inner_text()).group(1))
    page.screenshot(path=SCREENSHOT.with_name("jupyterlab-cancel.png"), full_page=True)
    assert 1 <= done < 200, f"expected some rows done and the rest cancelled, got {done} done"
