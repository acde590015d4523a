"""The HTTP control transport on a real server on 127.0.0.1: SSE events, answers, auth and errors."""

from __future__ import annotations

import asyncio
import http.client
import json
import logging
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from kaizen_lab.control.http import HTTPTransport
from kaizen_lab.control.protocol import ControlProtocol

pytestmark = pytest.mark.network_loopback
TOKEN = "s3cret-test-token"


@pytest.fixture
def transport() -> Iterator[HTTPTransport]:
    t = HTTPTransport()
    yield t
    t.stop()


def call(
    transport: HTTPTransport, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
) -> tuple[int, Any]:
    """One request; the status and the decoded JSON body."""
    conn = http.client.HTTPConnection("127.0.0.1", transport.port, timeout=5)
    try:
        raw = body if isinstance(body, (bytes, str)) or body is None else json.dumps(body)
        all_headers = {"Content-Type": "application/json", **(headers or {})}
        conn.request(method, path, body=raw, headers=all_headers)
        response = conn.getresponse()
        return response.status, json.loads(response.read() or b"null")
    finally:
        conn.close()


class EventStream:
    """A ``GET /events`` client: yields ``(event, data)`` pairs parsed from the SSE stream."""

    def __init__(self, transport: HTTPTransport, path: str = "/events", headers: dict[str, str] | None = None):
        transport.start()
        self.conn = http.client.HTTPConnection("127.0.0.1", transport.port, timeout=5)
        self.conn.request("GET", path, headers=headers or {})
        self.response = self.conn.getresponse()

    def __iter__(self) -> Iterator[tuple[str, dict[str, Any]]]:
        event, data = "message", ""
        for raw in self.response:
            line = raw.decode().rstrip("\n")
            if line.startswith(":"):
                continue
            if line.startswith("event: "):
                event = line[len("event: ") :]
            elif line.startswith("data: "):
                data += line[len("data: ") :]
            elif not line and data:
                yield event, json.loads(data)
                event, data = "message", ""

    def take(self, count: int) -> list[tuple[str, dict[str, Any]]]:
        events = []
        for item in self:
            events.append(item)
            if len(events) == count:
                break
        return events

    def close(self) -> None:
        self.conn.close()


async def until_pending(transport: HTTPTransport, count: int = 1) -> None:
    for _ in range(400):
        if len(transport.pending) >= count:
            return
        await asyncio.sleep(0.005)
    raise AssertionError("the request never became pending")


async def test_approval_round_trip_over_server_sent_events(transport):
    protocol = ControlProtocol(transport, timeout=10)
    task = asyncio.create_task(protocol.request_approval("write_file", {"path": "notes.txt"}, danger="MEDIUM"))

    def user() -> list[tuple[str, dict[str, Any]]]:
        stream = EventStream(transport)
        try:
            assert stream.response.status == 200
            assert stream.response.getheader("Content-Type") == "text/event-stream"
            events = iter(stream)
            first = next(events)
            status, body = call(
                transport, "POST", "/respond", {"request_id": first[1]["id"], "data": {"approved": True}}
            )
            assert (status, body) == (200, {"ok": True, "request_id": first[1]["id"]})
            return [first, next(events)]
        finally:
            stream.close()

    (event, request), (resolved_event, resolved) = await asyncio.wait_for(asyncio.to_thread(user), 10)
    approval = await asyncio.wait_for(task, 5)
    assert approval.approved and approval.decided_by == "user"
    assert event == "request" and request["kind"] == "approval" and request["id"] == approval.request_id
    assert request["payload"] == {"action": "write_file", "details": {"path": "notes.txt"}, "danger": "MEDIUM"}
    assert resolved_event == "resolved" and resolved["request_id"] == approval.request_id
    assert resolved["data"] == {"approved": True}
    assert transport.pending == []


async def test_a_new_subscriber_first_gets_every_pending_request(transport):
    protocol = ControlProtocol(transport, timeout=10)
    approval = asyncio.create_task(protocol.request_approval("shell", {"cmd": "ls"}, danger="HIGH"))
    await until_pending(transport, 1)
    question = asyncio.create_task(protocol.ask_user_question("Colour?", ["red", "green"], default="red"))
    await until_pending(transport, 2)

    def subscribe() -> list[tuple[str, dict[str, Any]]]:
        stream = EventStream(transport)
        try:
            return stream.take(2)
        finally:
            stream.close()

    events = await asyncio.to_thread(subscribe)
    assert [(e, d["kind"]) for e, d in events] == [("request", "approval"), ("request", "question")]
    for _, request in events:
        data = {"approved": False} if request["kind"] == "approval" else {"answer": 1}
        assert call(transport, "POST", "/respond", {"request_id": request["id"], "data": data})[0] == 200
    assert not (await approval).approved
    assert (await question).answer == "green"


async def test_pending_lists_the_waiting_requests(transport):
    protocol = ControlProtocol(transport, timeout=10)
    task = asyncio.create_task(protocol.ask_user_question("Name?"))
    await until_pending(transport)
    status, pending = await asyncio.to_thread(call, transport, "GET", "/pending")
    assert status == 200 and len(pending) == 1
    assert pending[0]["kind"] == "question" and pending[0]["payload"]["question"] == "Name?"
    answer = {"request_id": pending[0]["id"], "data": {"answer": "Ada"}, "decided_by": "user:ide"}
    assert (await asyncio.to_thread(call, transport, "POST", "/respond", answer))[0] == 200
    result = await task
    assert (result.answer, result.decided_by) == ("Ada", "user:ide")
    assert await asyncio.to_thread(call, transport, "GET", "/pending") == (200, [])


async def test_an_answer_twice_or_to_an_unknown_id_is_404(transport):
    protocol = ControlProtocol(transport, timeout=10)
    task = asyncio.create_task(protocol.request_approval("write_file"))
    await until_pending(transport)
    answer = {"request_id": transport.pending[0].id, "data": {"approved": True}}
    assert call(transport, "POST", "/respond", answer)[0] == 200
    status, body = call(transport, "POST", "/respond", answer)
    assert status == 404 and "already answered" in body["error"]
    status, body = call(transport, "POST", "/respond", {"request_id": "nope", "data": {"approved": True}})
    assert status == 404 and "'nope'" in body["error"]
    assert (await task).approved


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ("{not json", "malformed"),
        ("[1, 2]", "request_id"),
        ({"data": {"approved": True}}, "request_id"),
        ({"request_id": "ID", "data": "yes"}, "data"),
        ({"request_id": "ID", "data": {"approved": "yes"}}, '"approved": true or false'),
        ({"request_id": "ID", "data": {}}, '"approved": true or false'),
    ],
)
async def test_a_malformed_answer_is_400_with_a_clear_error(transport, body, fragment):
    protocol = ControlProtocol(transport, timeout=10)
    task = asyncio.create_task(protocol.request_approval("write_file"))
    await until_pending(transport)
    request_id = transport.pending[0].id
    if isinstance(body, dict):
        body = {k: request_id if v == "ID" else v for k, v in body.items()}
    status, reply = call(transport, "POST", "/respond", body)
    assert status == 400 and fragment in reply["error"]
    assert len(transport.pending) == 1  # still waiting for a proper answer
    call(transport, "POST", "/respond", {"request_id": request_id, "data": {"approved": False}})
    assert not (await task).approved


async def test_a_question_needs_a_text_answer(transport):
    protocol = ControlProtocol(transport, timeout=10)
    task = asyncio.create_task(protocol.ask_user_question("Name?"))
    await until_pending(transport)
    request_id = transport.pending[0].id
    status, reply = call(transport, "POST", "/respond", {"request_id": request_id, "data": {"approved": True}})
    assert status == 400 and '"answer"' in reply["error"]
    call(transport, "POST", "/respond", {"request_id": request_id, "data": {"answer": "Ada"}})
    assert (await task).answer == "Ada"


def test_a_post_that_is_not_json_is_refused(transport):
    transport.start()
    status, reply = call(transport, "POST", "/respond", "request_id=x", {"Content-Type": "text/plain"})
    assert status == 415 and "application/json" in reply["error"]


def test_unknown_endpoints_are_404(transport):
    transport.start()
    assert call(transport, "GET", "/secrets")[0] == 404
    assert call(transport, "POST", "/pending", {})[0] == 404


def test_a_foreign_host_header_is_refused(transport):
    transport.start()
    status, reply = call(transport, "GET", "/pending", headers={"Host": "evil.example:80"})
    assert status == 403 and "loopback" in reply["error"]
    assert call(transport, "GET", "/pending", headers={"Host": f"localhost:{transport.port}"})[0] == 200


async def test_the_token_is_required_when_configured(caplog):
    transport = HTTPTransport(token=TOKEN)
    try:
        transport.start()
        status, reply = call(transport, "GET", "/pending")
        assert status == 401 and "token" in reply["error"] and TOKEN not in json.dumps(reply)
        assert call(transport, "GET", "/pending", headers={"Authorization": "Bearer wrong"})[0] == 401
        assert call(transport, "GET", "/pending?token=wrong")[0] == 401
        assert call(transport, "POST", "/respond", {"request_id": "x", "data": {}})[0] == 401
        assert call(transport, "GET", "/pending", headers={"Authorization": f"Bearer {TOKEN}"}) == (200, [])
        with caplog.at_level(logging.DEBUG, logger="kaizen_lab.control.http"):
            assert call(transport, "GET", f"/pending?token={TOKEN}") == (200, [])
            # EventSource cannot send headers, so the stream takes the token in the query
            protocol = ControlProtocol(transport, timeout=10)
            task = asyncio.create_task(protocol.request_approval("shell"))
            await until_pending(transport)
            stream = EventStream(transport, f"/events?token={TOKEN}")
            try:
                ((event, request),) = await asyncio.to_thread(stream.take, 1)
            finally:
                stream.close()
            assert event == "request"
            answer = {"request_id": request["id"], "data": {"approved": True}}
            headers = {"Authorization": f"Bearer {TOKEN}"}
            assert call(transport, "POST", "/respond", answer, headers)[0] == 200
            assert (await task).approved
        assert "/pending?token=***" in caplog.text and TOKEN not in caplog.text
        assert TOKEN not in repr(transport) and TOKEN not in transport.url
    finally:
        transport.stop()


async def test_a_timeout_is_announced_and_the_request_leaves_pending(transport):
    protocol = ControlProtocol(transport, timeout=0.1)
    stream = EventStream(transport)  # connected before anything is asked
    try:
        approval = await protocol.request_approval("delete_file")
        events = await asyncio.to_thread(stream.take, 2)
    finally:
        stream.close()
    assert approval.timed_out and transport.pending == []
    assert [e for e, _ in events] == ["request", "resolved"]
    assert events[1][1]["decided_by"] == "timeout"
    late = {"request_id": approval.request_id, "data": {"approved": True}}
    assert call(transport, "POST", "/respond", late)[0] == 404


async def test_progress_is_streamed_but_never_pending(transport):
    protocol = ControlProtocol(transport)
    stream = EventStream(transport)
    try:
        await protocol.report_progress("indexing", 25)
        ((event, data),) = await asyncio.to_thread(stream.take, 1)
    finally:
        stream.close()
    assert event == "progress" and data["payload"] == {"message": "indexing", "percentage": 25.0}
    assert transport.pending == []


async def test_close_ends_event_streams_promptly(transport):
    transport.start()
    stream = EventStream(transport)
    ended = threading.Event()

    def drain() -> None:
        list(stream)  # returns when the server ends the stream
        ended.set()

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    started = time.monotonic()
    await ControlProtocol(transport).close()
    assert ended.wait(2) and time.monotonic() - started < 2
    stream.close()
    with pytest.raises(OSError):
        call(transport, "GET", "/pending")


def test_binds_to_loopback_with_a_free_port_by_default(transport):
    url = transport.url  # starts the server
    assert transport.host == "127.0.0.1" and transport.port > 0
    assert url == f"http://127.0.0.1:{transport.port}"
    assert transport._server is not None and transport._server.server_address[0] == "127.0.0.1"
    assert transport.start() == url  # idempotent
