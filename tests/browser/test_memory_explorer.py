"""MemoryExplorer in a real JupyterLab: 10,000 entries, one page of rows in the page; Next and a sort reach the
kernel and come back as the next page."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from ._support import CHROMIUM, WAIT_S, Lab
from .test_approvals import run_cell
from .test_jupyterlab import PANEL, Cell, write_notebook

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} is missing: apt-get install chromium (see .ci/run)"),
]

SCREENSHOT = Path(__file__).parent / "artifacts" / "jupyterlab-memory-explorer.png"
SETUP = """from kaizen_lab.memory import LongTermMemory
from kaizen_lab_widgets import MemoryExplorer

memory = LongTermMemory("memory.db", embedder=False)
memory.add_many(
    {"content": f"note number {i:05d}", "importance": (i % 100) / 100, "kind": ("fact", "turn")[i % 2]}
    for i in range(10_000)
)
explorer = MemoryExplorer(memory)
explorer"""


def test_paging_and_sorting_10k_entries_in_jupyterlab(lab: Lab, page: Page) -> None:
    write_notebook(lab.root / "memory.ipynb", [Cell(SETUP), Cell("explorer.page, explorer.rows[0].importance")])
    page.goto(lab.lab_url("memory.ipynb"))
    panel = page.locator(PANEL)
    expect(panel.locator(".jp-CodeCell")).to_have_count(2)
    expect(page.locator("#jp-main-statusbar")).to_contain_text("Idle")
    run_cell(page, 0)
    out = panel.locator(".jp-CodeCell").nth(0).locator(".jp-Cell-outputArea")
    pager, rows = out.locator(".kaizen-memory-pager"), out.locator(".kz-memory-rows tbody tr")
    try:
        expect(pager).to_contain_text("page 1 of 400 · 10,000 entries")
        expect(rows).to_have_count(25)  # one page of rows in the browser, not 10,000
        expect(rows.first).to_contain_text("note number 09999")

        out.locator(".kaizen-memory-next").click()
        expect(pager).to_contain_text("page 2 of 400")
        expect(rows.first).to_contain_text("note number 09974")
        expect(rows).to_have_count(25)

        out.locator(".kaizen-memory-sort select").select_option(label="importance")
        expect(pager).to_contain_text("page 1 of 400")  # a new order starts at page 1
        expect(rows.first.locator("td").nth(3)).to_have_text("0.99")
        run_cell(page, 1)
        result = panel.locator(".jp-CodeCell").nth(1).locator(".jp-Cell-outputArea")
        expect(result).to_contain_text("(1, 0.99)", timeout=WAIT_S * 1000)
        assert re.search(r"\(1, 0\.99\)", result.inner_text())
    finally:
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=SCREENSHOT, full_page=True)
