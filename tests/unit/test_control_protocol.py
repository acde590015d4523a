"""The control protocol with the in-memory transport and the headless policy: answers, timeouts, threads, scripts."""

from __future__ import annotations

import asyncio
import json
import threading
import time

import pytest

from kaizen_lab.control.messages import ControlRequest, ControlResponse
from kaizen_lab.control.policy import POLICY_ENV, HeadlessPolicy
from kaizen_lab.control.protocol import ControlProtocol
from kaizen_lab.control.transport import MemoryTransport
from kaizen_lab.exceptions import ConfigurationError
from kaizen_lab.tools.base import DangerLevel

SHORT = 0.05


async def until_sent(transport: MemoryTransport, count: int = 1) -> ControlRequest:
    """The latest request, once ``count`` have been sent (the waiting coroutine runs as a task)."""
    for _ in range(200):
        if len(transport.sent) >= count:
            return transport.sent[-1]
        await asyncio.sleep(0.005)
    raise AssertionError("the request was never sent")


# -- messages -----------------------------------------------------------------------------------------------------
def test_messages_round_trip_through_json():
    request = ControlRequest("approval", {"action": "write_file", "danger": "MEDIUM"}, timeout=5)
    wire = json.loads(request.to_json())
    assert wire["type"] == "request"
    assert ControlRequest.from_dict(wire) == request
    response = ControlResponse(request.id, {"approved": True}, decided_by="user", reason="looks fine")
    assert ControlResponse.from_dict(json.loads(response.to_json())) == response


@pytest.mark.parametrize("bad", [{}, {"request_id": "x", "data": [1]}, ["request_id"], "request_id"])
def test_a_response_without_id_or_data_object_is_rejected(bad):
    with pytest.raises(ValueError, match="request_id"):
        ControlResponse.from_dict(bad)


# -- approvals ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("data", "approved", "always"),
    [
        ({"approved": True}, True, False),
        ({"approved": False}, False, False),
        ({"approved": True, "always": True}, True, True),
    ],
)
async def test_approval_answers(data, approved, always):
    transport = MemoryTransport(lambda request: data)
    protocol = ControlProtocol(transport)
    approval = await protocol.request_approval("write_file", {"path": "a.txt"}, danger=DangerLevel.MEDIUM)
    assert (approval.approved, approval.always, approval.decided_by, approval.timed_out) == (
        approved,
        always,
        "user",
        False,
    )
    (request,) = transport.sent
    assert request.payload == {"action": "write_file", "details": {"path": "a.txt"}, "danger": "MEDIUM"}
    assert approval.request_id == request.id
    assert transport.responses[0].request_id == request.id  # the transport was told it was resolved
    assert protocol.log == [(request, transport.responses[0])]


async def test_always_is_ignored_on_a_denial():
    protocol = ControlProtocol(MemoryTransport(lambda r: {"approved": False, "always": True}))
    approval = await protocol.request_approval("delete_file")
    assert not approval.approved and not approval.always


@pytest.mark.parametrize("data", [{}, {"approved": "yes"}, {"approved": 1}, {"answer": "y"}])
async def test_malformed_approval_data_is_a_denial(data):
    protocol = ControlProtocol(MemoryTransport(lambda r: data))
    approval = await protocol.request_approval("shell", {"cmd": "rm -rf /"})
    assert approval.approved is False
    assert "malformed" in approval.reason and "denied" in approval.reason


async def test_approval_timeout_denies_and_says_so():
    transport = MemoryTransport()
    protocol = ControlProtocol(transport, timeout=SHORT)
    approval = await protocol.request_approval("write_file")
    assert (approval.approved, approval.timed_out, approval.decided_by) == (False, True, "timeout")
    assert "timed out" in approval.reason and "0.05 s" in approval.reason and "denied" in approval.reason
    assert transport.responses[0].decided_by == "timeout"
    assert transport.sent[0].timeout == SHORT


async def test_per_call_timeout_overrides_the_default():
    protocol = ControlProtocol(MemoryTransport(), timeout=60)
    started = time.monotonic()
    approval = await protocol.request_approval("write_file", timeout=SHORT)
    assert approval.timed_out and time.monotonic() - started < 5


async def test_a_late_answer_after_a_timeout_is_ignored():
    transport = MemoryTransport()
    protocol = ControlProtocol(transport, timeout=SHORT)
    approval = await protocol.request_approval("write_file")
    transport.respond(approval.request_id, {"approved": True})  # too late: nobody is waiting
    await asyncio.sleep(0.01)
    assert approval.approved is False
    assert [r.decided_by for _, r in protocol.log] == ["timeout"]
    assert protocol._pending == {}


async def test_unknown_ids_are_ignored():
    transport = MemoryTransport()
    ControlProtocol(transport)
    transport.respond("no-such-request", {"approved": True})  # no error, nothing to wake


async def test_an_answer_from_another_thread_wakes_the_waiting_coroutine_promptly():
    transport = MemoryTransport()
    protocol = ControlProtocol(transport, timeout=10)
    task = asyncio.create_task(protocol.request_approval("write_file"))
    request = await until_sent(transport)
    timer = threading.Timer(0.02, transport.respond, args=(request.id, {"approved": True}))
    started = time.monotonic()
    timer.start()
    approval = await asyncio.wait_for(task, 2)
    timer.join()
    assert approval.approved and approval.decided_by == "user"
    assert time.monotonic() - started < 1  # woken by the answer, not by the 10 s timeout


async def test_concurrent_requests_are_matched_by_id():
    transport = MemoryTransport()
    protocol = ControlProtocol(transport, timeout=5)
    first = asyncio.create_task(protocol.request_approval("write_file"))
    second = asyncio.create_task(protocol.ask_user_question("Which?", ["a", "b"]))
    await until_sent(transport, 2)
    by_kind = {r.kind: r for r in transport.sent}
    transport.respond(by_kind["question"].id, {"answer": "b"})
    transport.respond(by_kind["approval"].id, {"approved": True})
    assert (await first).approved and (await second).answer == "b"


async def test_cancelling_the_waiting_task_marks_the_request_cancelled_and_re_raises():
    transport = MemoryTransport()
    protocol = ControlProtocol(transport, timeout=10)
    task = asyncio.create_task(protocol.request_approval("shell"))
    request = await until_sent(transport)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    (logged_request, cancelled) = protocol.log[0]
    assert logged_request is request
    assert cancelled is not None and cancelled.decided_by == "cancelled" and cancelled.data == {"approved": False}
    assert transport.responses == [cancelled] and transport.pending == []
    assert protocol._pending == {}
    transport.respond(request.id, {"approved": True})  # late: ignored


async def test_a_failing_ui_update_does_not_mask_the_cancellation():
    class Broken(MemoryTransport):
        async def resolved(self, request, response):
            raise RuntimeError("widget gone")

    transport = Broken()
    protocol = ControlProtocol(transport)
    task = asyncio.create_task(protocol.request_approval("shell"))
    await until_sent(transport)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_a_deliver_after_the_loop_closed_is_harmless():
    transport = MemoryTransport()
    protocol = ControlProtocol(transport)
    loop = asyncio.new_event_loop()
    future = loop.create_future()
    protocol._pending["gone"] = future
    loop.close()
    transport.respond("gone", {"approved": True})  # must not raise "Event loop is closed" in the caller's thread
    assert not future.done()


# -- questions ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"answer": "blue"}, "blue"),
        ({"answer": 1}, "green"),
        ({"answer": 0}, "red"),
        ({"answer": "free text"}, "free text"),
    ],
)
async def test_question_answers_by_text_or_index(data, expected):
    transport = MemoryTransport(lambda r: data)
    protocol = ControlProtocol(transport)
    answer = await protocol.ask_user_question("Colour?", ["red", "green", "blue"], default="red")
    assert answer.answer == expected and answer.decided_by == "user" and not answer.timed_out
    assert transport.sent[0].payload == {"question": "Colour?", "options": ["red", "green", "blue"], "default": "red"}


async def test_an_index_out_of_range_is_taken_as_text():
    protocol = ControlProtocol(MemoryTransport(lambda r: {"answer": 7}))
    assert (await protocol.ask_user_question("How many?", ["1", "2"])).answer == "7"


@pytest.mark.parametrize("data", [{"answer": True}, {"answer": None}, {"answer": ["a"]}])
async def test_a_malformed_answer_falls_back_to_the_default(data):
    protocol = ControlProtocol(MemoryTransport(lambda r: data))
    answer = await protocol.ask_user_question("Colour?", ["red", "green"], default="green")
    assert answer.answer == "green" and "malformed" in answer.reason


@pytest.mark.parametrize(("default", "expected"), [("green", "green"), (None, "")])
async def test_question_timeout_uses_the_default(default, expected):
    protocol = ControlProtocol(MemoryTransport(), timeout=SHORT)
    answer = await protocol.ask_user_question("Colour?", ["red", "green"], default=default)
    assert (answer.answer, answer.timed_out, answer.decided_by) == (expected, True, "timeout")
    assert "timed out" in answer.reason and repr(expected) in answer.reason


# -- progress -----------------------------------------------------------------------------------------------------
async def test_progress_is_sent_clamped_and_logged_without_waiting():
    transport = MemoryTransport(lambda r: pytest.fail("progress must not be answered"))
    protocol = ControlProtocol(transport)
    await protocol.report_progress("indexing", 150)
    await protocol.report_progress("thinking")
    assert [r.payload for r in transport.sent] == [
        {"message": "indexing", "percentage": 100.0},
        {"message": "thinking", "percentage": None},
    ]
    assert [resp for _, resp in protocol.log] == [None, None]
    assert transport.pending == []


# -- the headless policy ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("level", "danger", "approved"),
    [
        ("SAFE", "SAFE", True),
        ("SAFE", "LOW", False),
        ("LOW", "LOW", True),
        ("LOW", "MEDIUM", False),
        (DangerLevel.MEDIUM, DangerLevel.MEDIUM, True),
        (2, "HIGH", False),
        ("HIGH", "HIGH", True),
    ],
)
async def test_headless_policy_approves_up_to_its_level(level, danger, approved):
    policy = HeadlessPolicy(level)
    protocol = ControlProtocol(policy, timeout=5)
    approval = await protocol.request_approval("tool", danger=danger)
    assert approval.approved is approved
    assert approval.decided_by == f"policy:{policy.name}"
    assert ("approved" if approved else "denied") in approval.reason and "headless policy" in approval.reason
    assert len(policy.decided) == 1 and not protocol.interactive


@pytest.mark.parametrize("danger", [None, "EXTREME", 42])
async def test_headless_policy_treats_a_missing_or_unknown_danger_as_high(danger):
    extra = {} if danger is None else {"danger": danger}
    assert not (await ControlProtocol(HeadlessPolicy("MEDIUM")).request_approval("tool", **extra)).approved
    assert (await ControlProtocol(HeadlessPolicy("HIGH")).request_approval("tool", **extra)).approved


async def test_headless_policy_scripted_approvals_win_over_levels():
    policy = HeadlessPolicy("HIGH", approvals={"delete_file": False, "read_secret": True})
    protocol = ControlProtocol(policy)
    denied = await protocol.request_approval("delete_file", danger="LOW")
    assert not denied.approved and "scripted denial" in denied.reason
    assert (await protocol.request_approval("read_secret", danger="HIGH")).approved
    assert (await protocol.request_approval("other", danger="HIGH")).approved


async def test_headless_policy_answers_scripted_then_default_then_first_option():
    policy = HeadlessPolicy(answers={"Which model?": "smollm2"})
    protocol = ControlProtocol(policy)
    scripted = await protocol.ask_user_question("Which model?", ["gpt", "smollm2"])
    assert scripted.answer == "smollm2" and scripted.reason == "scripted answer"
    assert (await protocol.ask_user_question("Colour?", ["red", "green"], default="green")).answer == "green"
    assert (await protocol.ask_user_question("Colour?", ["red", "green"])).answer == "red"
    empty = await protocol.ask_user_question("Name?")
    assert empty.answer == "" and "no answer" in empty.reason


async def test_headless_policy_records_progress():
    policy = HeadlessPolicy()
    await ControlProtocol(policy).report_progress("step 1", 10)
    assert [r.payload["message"] for r in policy.progress] == ["step 1"] and policy.decided == []


@pytest.mark.parametrize(
    ("spec", "level", "name"),
    [
        ("deny", DangerLevel.SAFE, "deny"),
        ("DENY", DangerLevel.SAFE, "deny"),
        ("approve:low", DangerLevel.LOW, "approve-up-to-low"),
        ("approve:MEDIUM", DangerLevel.MEDIUM, "approve-up-to-medium"),
        ("approve:all", DangerLevel.HIGH, "approve-up-to-high"),
        (" approve:high ", DangerLevel.HIGH, "approve-up-to-high"),
    ],
)
def test_policy_from_env_specs(spec, level, name, monkeypatch):
    monkeypatch.setenv(POLICY_ENV, spec)
    policy = HeadlessPolicy.from_env()
    assert policy is not None and policy.approve_up_to == level and policy.name == name


def test_policy_from_env_unset_is_none(monkeypatch):
    monkeypatch.delenv(POLICY_ENV, raising=False)
    assert HeadlessPolicy.from_env() is None
    assert HeadlessPolicy.from_env("  ") is None


@pytest.mark.parametrize(
    "spec", ["allow", "deny:all", "approve:extreme", "script:", "approve-all", "approve", "approve:"]
)
def test_a_bad_policy_spec_names_the_allowed_forms(spec):
    with pytest.raises(ConfigurationError) as info:
        HeadlessPolicy.from_env(spec)
    message = str(info.value)
    assert POLICY_ENV in message and repr(spec) in message
    for form in ("'deny'", "'approve:low'", "'approve:medium'", "'approve:all'", "'script:"):
        assert form in message


async def test_policy_from_a_script_file(tmp_path, monkeypatch):
    script = tmp_path / "policy.json"
    script.write_text(
        json.dumps({"approvals": {"write_file": True}, "answers": {"Proceed?": "yes"}, "approve_up_to": "LOW"})
    )
    monkeypatch.setenv(POLICY_ENV, f"script:{script}")
    policy = HeadlessPolicy.from_env()
    assert policy is not None and policy.name == "script:policy.json" and policy.approve_up_to == DangerLevel.LOW
    protocol = ControlProtocol(policy)
    assert (await protocol.request_approval("write_file", danger="HIGH")).approved
    assert (await protocol.request_approval("read_file", danger="LOW")).approved
    assert not (await protocol.request_approval("shell", danger="MEDIUM")).approved
    assert (await protocol.ask_user_question("Proceed?", ["yes", "no"], default="no")).answer == "yes"


@pytest.mark.parametrize(
    ("content", "match"),
    [
        (None, "Cannot read"),
        ("{not json", "Cannot read"),
        ("[1, 2]", "JSON object"),
        ('{"approvals": ["write_file"]}', "JSON object"),
        ('{"approvals": {"write_file": "false"}}', "true or false"),
        ('{"approve_up_to": "EXTREME"}', "danger level"),
    ],
)
def test_a_bad_script_is_a_configuration_error(tmp_path, content, match):
    script = tmp_path / "policy.json"
    if content is not None:
        script.write_text(content)
    with pytest.raises(ConfigurationError, match=match):
        HeadlessPolicy.from_env(f"script:{script}")
