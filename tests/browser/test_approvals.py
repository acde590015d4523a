"""The one hard problem, in a real JupyterLab: an agent asks to write a file, a person clicks Approve or Deny on
the card in the cell's output, and the kernel — free, because the run is a task on its loop — hears the click.

The model is a scripted OpenAI-compatible server on 127.0.0.1 reached through litellm (the real provider path), so
the agent's requests are the same every run; the tool, the approval card and the kernel are all real.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.servers import OpenAICompatibleServer, Text, ToolCalls

from ._support import CHROMIUM, WAIT_S, Lab
from .test_jupyterlab import PANEL, Cell, write_notebook

pytestmark = [
    pytest.mark.browser,
    pytest.mark.network_loopback,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} is missing: apt-get install chromium (see .ci/run)"),
]

ARTIFACTS = Path(__file__).parent / "artifacts"


def cells(url: str, workspace: Path) -> list[Cell]:
    setup = f"""from kaizen_lab import ReActAgent
agent = ReActAgent(llm_provider="openai", model="gpt-4o-mini", tools=["write_file"], workspace={str(workspace)!r},
                   provider_config={{"api_base": {url!r}, "api_key": "test-key-not-secret"}}, retry_attempts=0)
type(agent.control.transport).__name__"""
    return [
        Cell(setup, shows=("WidgetTransport",)),
        Cell('live = agent.run(task="Save a greeting to approved.txt")\nlive'),
        Cell("live.result['answer'], live.result.transcript[0].decided_by"),
        Cell('again = agent.run(task="Save a greeting to denied.txt")'),
        Cell("again.result['answer'], again.result.transcript[0].outcome"),
        Cell("%load_ext kaizen_lab"),
        Cell("%%kaizen agent -o res\nSave a greeting to magic.txt"),
        Cell("type(res).__name__, res['answer']"),
    ]


def run_cell(page: Page, index: int) -> None:
    cell = page.locator(PANEL).locator(".jp-CodeCell").nth(index)
    cell.locator(".jp-InputArea-editor").click()
    page.keyboard.press("Shift+Enter")
    expect(cell.locator(".jp-InputArea-prompt")).to_have_text(re.compile(r"^\[\d+\]:$"), timeout=WAIT_S * 1000)


def test_approve_then_deny_a_file_write_in_jupyterlab(lab: Lab, page: Page, tmp_path: Path) -> None:
    workspace = tmp_path / "workspace"
    with OpenAICompatibleServer() as server:
        server.script = [
            ToolCalls([("write_file", {"path": "approved.txt", "content": "hello from the agent"})], "Writing it."),
            ToolCalls([("finish", {"answer": "saved approved.txt"})]),
            ToolCalls([("write_file", {"path": "denied.txt", "content": "should not exist"})]),
            Text('{"answer": "the write was denied"}'),
            ToolCalls([("write_file", {"path": "magic.txt", "content": "from the magic"})]),
            ToolCalls([("finish", {"answer": "saved magic.txt"})]),
        ]
        write_notebook(lab.root / "approvals.ipynb", cells(server.url, workspace))
        page.goto(lab.lab_url("approvals.ipynb"))
        panel = page.locator(PANEL)
        outputs = panel.locator(".jp-CodeCell .jp-Cell-outputArea")
        expect(panel.locator(".jp-CodeCell")).to_have_count(8)
        expect(page.locator("#jp-main-statusbar")).to_contain_text("Idle")
        run_cell(page, 0)
        expect(outputs.nth(0)).to_contain_text("WidgetTransport")

        # Approve: the cell has returned (its prompt shows a number) while the card waits for the click.
        run_cell(page, 1)
        card = outputs.nth(1).locator(".kaizen-approval")
        expect(card).to_contain_text("write_file")
        expect(card).to_contain_text("MEDIUM")
        expect(card).to_contain_text("hello from the agent")  # the diff preview / parameters
        assert not (workspace / "approved.txt").exists()
        card.locator(".kaizen-approve button, button.kaizen-approve").first.click()
        expect(card.locator(".kaizen-decision")).to_contain_text("Approved by you")
        expect(outputs.nth(1)).to_contain_text("saved approved.txt")  # the result, under the card
        expect(outputs.nth(1)).to_contain_text("Done: 2 step(s)")  # the progress line ends
        expect(outputs.nth(1)).not_to_contain_text("is running")  # no stale status from the `live` line
        page.screenshot(path=ARTIFACTS / "jupyterlab-approve.png", full_page=True)
        assert (workspace / "approved.txt").read_text() == "hello from the agent"
        run_cell(page, 2)
        expect(outputs.nth(2)).to_contain_text("('saved approved.txt', 'user')")

        # Deny: no file, and a clean "denied" result.
        run_cell(page, 3)
        card = outputs.nth(3).locator(".kaizen-approval")
        expect(card).to_contain_text("denied.txt")
        card.locator(".kaizen-deny button, button.kaizen-deny").first.click()
        expect(card.locator(".kaizen-decision")).to_contain_text("Denied by you")
        expect(outputs.nth(3)).to_contain_text("the write was denied")
        page.screenshot(path=ARTIFACTS / "jupyterlab-deny.png", full_page=True)
        run_cell(page, 4)
        expect(outputs.nth(4)).to_contain_text("('the write was denied', 'denied')")
        assert not (workspace / "denied.txt").exists()
        told = server.requests[3]["messages"][-1]
        assert told["role"] == "tool" and told["content"].startswith("DENIED")

        # %%kaizen with a tool-using agent: the same card; -o names the AgentResult once the run is done.
        run_cell(page, 5)
        run_cell(page, 6)
        card = outputs.nth(6).locator(".kaizen-approval")
        expect(card).to_contain_text("magic.txt")
        card.locator(".kaizen-approve button, button.kaizen-approve").first.click()
        expect(outputs.nth(6)).to_contain_text("saved magic.txt")
        run_cell(page, 7)
        expect(outputs.nth(7)).to_contain_text("('AgentResult', 'saved magic.txt')")
        assert (workspace / "magic.txt").read_text() == "from the magic"
