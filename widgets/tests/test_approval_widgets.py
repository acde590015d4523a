"""Approval and question cards through the real ControlProtocol: clicks from other threads, answering once, timeouts,
cancellation, escaping of model-written text, and what reaches the frontend over the comms."""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any

import ipywidgets as w
import pytest
from kaizen_lab_widgets.approval import ApprovalCard, QuestionCard, WidgetTransport

from kaizen_lab.control.messages import ControlRequest, ControlResponse
from kaizen_lab.control.protocol import ControlProtocol


async def next_card(transport: WidgetTransport, count: int = 1) -> Any:
    """The ``count``-th card, once the protocol's task has sent it."""
    for _ in range(2000):
        if len(transport.cards) >= count:
            return list(transport.cards.values())[count - 1]
        await asyncio.sleep(0.001)
    raise AssertionError("no card appeared")


def click_from_thread(button: w.Button) -> None:
    """As JupyterLab does on ipykernel 7.0–7.3: the click handler runs on a subshell thread, not the loop's."""
    thread = threading.Thread(target=button.click)
    thread.start()
    thread.join()


def updates(comms: dict[str, Any], widget: w.Widget) -> list[dict[str, Any]]:
    return comms[widget.model_id].updates()


def shown_transport() -> WidgetTransport:
    """A transport whose own view has been displayed (as when a cell shows it), so cards are appended there."""
    transport = WidgetTransport()
    transport._repr_mimebundle_()
    return transport


def approval_request(**payload: Any) -> ControlRequest:
    return ControlRequest("approval", {"action": "write_file", "details": {"path": "a.txt"}, **payload}, timeout=300)


async def test_approve_from_another_thread_resolves_the_task_and_updates_the_frontend(comms):
    transport = shown_transport()
    protocol = ControlProtocol(transport)
    task = asyncio.create_task(
        protocol.request_approval("write_file", {"path": "a.txt"}, danger="MEDIUM", reason="Writes a file", timeout=5)
    )
    card = await next_card(transport)
    assert isinstance(card, ApprovalCard)
    assert card in transport.view.children
    assert f"IPY_MODEL_{card.model_id}" in updates(comms, transport.view)[-1]["children"]
    assert "kaizen-approval" in card._dom_classes
    assert "MEDIUM" in card.body.value and "a.txt" in card.body.value
    assert "denied if none comes within 5 s" in card.decision.value
    assert transport.pending == [card.request]

    click_from_thread(card.approve_button)
    approval = await asyncio.wait_for(task, 2)

    assert (approval.approved, approval.always, approval.decided_by, approval.timed_out) == (True, False, "user", False)
    assert "Approved by you" in card.decision.value
    assert transport.history == [(card.request, card.response)]
    assert transport.pending == []
    for button in (card.approve_button, card.deny_button, card.always_button):
        assert button.disabled
        assert {"disabled": True} in updates(comms, button), "the frontend is told to disable every button"
    assert any("Approved by you" in u.get("value", "") for u in updates(comms, card.decision))


async def test_deny_and_always(comms):
    transport = shown_transport()
    protocol = ControlProtocol(transport)

    denied = asyncio.create_task(protocol.request_approval("delete_file", {"path": "x"}, danger="HIGH", timeout=5))
    card = await next_card(transport)
    click_from_thread(card.deny_button)
    approval = await asyncio.wait_for(denied, 2)
    assert (approval.approved, approval.always, approval.decided_by) == (False, False, "user")
    assert "Denied by you" in card.decision.value

    always = asyncio.create_task(protocol.request_approval("shell", {"cmd": "ls"}, danger="LOW", timeout=5))
    card = await next_card(transport, 2)
    assert card.always_button.description == "Always allow shell this session"
    click_from_thread(card.always_button)
    approval = await asyncio.wait_for(always, 2)
    assert (approval.approved, approval.always) == (True, True)
    assert "Approved by you — shell is allowed for the rest of this session" in card.decision.value
    assert len(transport.view.children) == 2 and len(transport.history) == 2


def test_double_clicks_answer_once_even_from_racing_threads(comms):
    answers: list[dict[str, Any]] = []
    card = ApprovalCard(approval_request(danger="LOW"), answers.append)
    start = threading.Barrier(6)

    def click(button: w.Button) -> None:
        start.wait()
        button.click()

    buttons = [card.approve_button, card.approve_button, card.deny_button, card.always_button] * 2
    threads = [threading.Thread(target=click, args=(b,)) for b in buttons[:6]]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(answers) == 1
    assert card.answered
    card.deny_button.click()  # a late click that was already in flight in the page
    assert len(answers) == 1


async def test_a_click_reaches_the_protocol_once(comms):
    transport = shown_transport()
    protocol = ControlProtocol(transport)
    delivered: list[ControlResponse] = []
    real = protocol.deliver
    transport.attach(lambda r: (delivered.append(r), real(r)))
    task = asyncio.create_task(protocol.request_approval("write_file", {}, timeout=5))
    card = await next_card(transport)
    card.approve_button.click()
    card.approve_button.click()
    card.deny_button.click()
    assert (await asyncio.wait_for(task, 2)).approved
    assert len(delivered) == 1


async def test_timeout_marks_the_card_and_later_clicks_are_ignored(comms):
    transport = shown_transport()
    protocol = ControlProtocol(transport)
    approval = await protocol.request_approval("write_file", {"path": "a.txt"}, danger="MEDIUM", timeout=0.05)
    assert (approval.approved, approval.timed_out) == (False, True)
    card = next(iter(transport.cards.values()))
    assert "Denied — no answer within 0.05 s" in card.decision.value
    assert all(b.disabled for b in (card.approve_button, card.deny_button, card.always_button))
    card.approve_button.click()  # too late: nothing is sent, nothing raises
    assert "Denied — no answer" in card.decision.value


async def test_cancelling_the_run_marks_the_card(comms):
    transport = shown_transport()
    protocol = ControlProtocol(transport)
    task = asyncio.create_task(protocol.request_approval("write_file", {}, timeout=5))
    card = await next_card(transport)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert "Cancelled — the run was stopped" in card.decision.value
    assert card.approve_button.disabled


def test_a_policy_decision_says_which_policy_and_why(comms):
    request = approval_request(danger="HIGH")
    card = ApprovalCard(request, lambda data: None)
    card.resolve(ControlResponse(request.id, {"approved": False}, decided_by="policy:deny", reason="HIGH > SAFE"))
    assert "Denied by policy:deny" in card.decision.value
    assert "HIGH &gt; SAFE" in card.decision.value
    assert card.deny_button.disabled


def test_model_written_text_is_escaped(comms):
    evil = "<script>alert(1)</script>"
    request = approval_request(
        action="<b>write</b>",
        details={"content": evil, "nested": [evil]},
        danger="<img src=x onerror=alert(1)>",
        reason=evil,
        category=evil,
        preview=f"--- a\n+++ b\n@@ -1 +1 @@\n-{evil}\n+{evil}\n",
    )
    card = ApprovalCard(request, lambda data: None)
    card.resolve(ControlResponse(request.id, {"approved": False}, decided_by="policy:<i>x</i>", reason=evil))
    for value in (card.body.value, card.decision.value):
        assert "<script>" not in value and "<img" not in value and "<i>" not in value
    assert "&lt;script&gt;" in card.body.value
    assert "&lt;b&gt;write&lt;/b&gt;" in card.body.value
    assert "HIGH" in card.body.value, "an unknown danger level is shown as the worst case"
    sent = json.dumps([m for c in comms.values() for m in c.messages])
    assert "<script>" not in sent and "<img" not in sent


def test_diff_preview_is_tinted_and_capped(comms):
    added = "\n".join(f"+line {i}" for i in range(1000))
    card = ApprovalCard(approval_request(preview=f"--- a\n+++ b\n@@ -0,0 +1,1000 @@\n{added}"), lambda data: None)
    body = card.body.value
    assert "rgba(46,160,67" in body  # added lines are tinted green
    assert "+line 0" in body and "+line 999" not in body
    assert "more lines not shown" in body


async def test_question_with_options(comms):
    transport = shown_transport()
    protocol = ControlProtocol(transport)
    task = asyncio.create_task(protocol.ask_user_question("Which <db>?", ["postgres", "sqlite"], timeout=5))
    card = await next_card(transport)
    assert isinstance(card, QuestionCard) and "kaizen-question" in card._dom_classes
    assert "Which &lt;db&gt;?" in card.body.value
    assert [b.description for b in card.option_buttons] == ["postgres", "sqlite"]
    assert all("kaizen-option" in b._dom_classes for b in card.option_buttons)
    assert card.text is None
    click_from_thread(card.option_buttons[1])
    answer = await asyncio.wait_for(task, 2)
    assert (answer.answer, answer.decided_by) == ("sqlite", "user")
    assert "Answered by you: 'sqlite'" in card.decision.value
    assert all({"disabled": True} in updates(comms, b) for b in card.option_buttons)


async def test_free_text_question(comms):
    transport = shown_transport()
    protocol = ControlProtocol(transport)
    task = asyncio.create_task(protocol.ask_user_question("Name the branch", default="main", timeout=5))
    card = await next_card(transport)
    assert card.text is not None and card.submit_button is not None
    assert card.text.value == "main" and "kaizen-answer-text" in card.text._dom_classes
    assert "kaizen-submit" in card.submit_button._dom_classes
    card.text.value = "feature/x"
    click_from_thread(card.submit_button)
    answer = await asyncio.wait_for(task, 2)
    assert answer.answer == "feature/x"
    assert card.text.disabled and card.submit_button.disabled
    assert {"disabled": True} in updates(comms, card.text)


async def test_question_timeout_uses_the_default(comms):
    transport = shown_transport()
    protocol = ControlProtocol(transport)
    answer = await protocol.ask_user_question("Continue?", ["yes", "no"], default="no", timeout=0.05)
    assert (answer.answer, answer.timed_out) == ("no", True)
    card = next(iter(transport.cards.values()))
    assert "No answer within 0.05 s — used 'no'" in card.decision.value


async def test_progress_updates_one_bar(comms):
    transport = shown_transport()
    protocol = ControlProtocol(transport)
    await protocol.report_progress("Reading <files>", 25)
    await protocol.report_progress("Writing", 100)
    await protocol.report_progress("Done")
    assert len(transport.view.children) == 1
    row = transport.view.children[0]
    assert "kaizen-progress" in row._dom_classes
    bar, label = row.children
    assert bar.value == 100 and bar.bar_style == "success"
    assert label.value == "Done"
    assert {"value": 25.0} in updates(comms, bar)
    assert any(u.get("value") == "Reading &lt;files&gt; — 25 %" for u in updates(comms, label))
    assert transport.history == [], "progress is not a decision"


def test_agent_loop_on_a_background_thread(comms):
    """The agent's loop in a worker thread builds and resolves the cards; the click comes from this thread."""
    transport = shown_transport()
    protocol = ControlProtocol(transport)
    result: list[Any] = []

    async def run() -> None:
        await protocol.report_progress("thinking", 10)
        result.append(await protocol.request_approval("write_file", {"path": "a"}, timeout=5))

    worker = threading.Thread(target=asyncio.run, args=(run(),))
    worker.start()
    for _ in range(2000):
        if transport.cards:
            break
        threading.Event().wait(0.001)
    card = next(iter(transport.cards.values()))
    card.approve_button.click()
    worker.join(5)
    assert not worker.is_alive()
    assert result[0].approved and result[0].decided_by == "user"
    assert "Approved by you" in card.decision.value
    assert len(transport.view.children) == 2


def test_displays_as_its_view(comms):
    transport = shown_transport()
    bundle = transport._repr_mimebundle_()
    assert bundle["application/vnd.jupyter.widget-view+json"]["model_id"] == transport.view.model_id
    assert bundle["text/plain"] == "<WidgetTransport: 0 requests, 0 waiting>"
    assert "kaizen-control" in transport.view._dom_classes


async def test_cards_of_each_run_go_to_that_runs_container(comms):
    from kaizen_lab.control.transport import run_view

    transport = WidgetTransport()
    protocol = ControlProtocol(transport, timeout=0.05)
    views = [transport.new_view(), transport.new_view()]

    async def run(view: w.VBox, action: str) -> None:
        token = run_view.set(view)
        try:
            await protocol.request_approval(action, {}, danger="HIGH")
        finally:
            run_view.reset(token)

    await asyncio.gather(run(views[0], "first"), run(views[1], "second"))
    assert [c.request.payload["action"] for c in views[0].children] == ["first"]
    assert [c.request.payload["action"] for c in views[1].children] == ["second"]
    assert transport.view.children == ()


async def test_a_card_with_no_container_is_displayed_where_the_call_is_awaited(comms, monkeypatch):
    shown: list[Any] = []
    monkeypatch.setattr("IPython.display.display", lambda obj, **kw: shown.append(obj))
    transport = WidgetTransport()  # never displayed itself: e.g. `await agent.execute_tool(...)` in a cell
    protocol = ControlProtocol(transport, timeout=0.05)
    await protocol.request_approval("write_file", {"path": "a"}, danger="MEDIUM")
    assert len(shown) == 1 and isinstance(shown[0], ApprovalCard)
    assert transport.view.children == ()
