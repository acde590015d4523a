"""The terminal and JSON-lines transports, driven through the real protocol with fake input and real pipes."""

from __future__ import annotations

import asyncio
import io
import json
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from kaizen_lab.control.cli import CLITransport
from kaizen_lab.control.messages import ControlResponse
from kaizen_lab.control.protocol import ControlProtocol
from kaizen_lab.control.stdio import StdioTransport
from kaizen_lab.tools.base import DangerLevel


async def eventually(condition: Callable[[], object], timeout: float = 2.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.005)


class FakeInput:
    """Stands in for ``input()``: returns the scripted lines, then raises EOFError like a closed stdin."""

    def __init__(self, *lines: str) -> None:
        self.lines = list(lines)
        self.prompts: list[str] = []

    def __call__(self, prompt: str) -> str:
        self.prompts.append(prompt)
        if not self.lines:
            raise EOFError
        return self.lines.pop(0)


def cli(*lines: str, timeout: float = 5) -> tuple[ControlProtocol, FakeInput, io.StringIO]:
    fake, out = FakeInput(*lines), io.StringIO()
    return ControlProtocol(CLITransport(fake, out), timeout=timeout), fake, out


# -- CLITransport -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("line", "approved", "always"),
    [("y", True, False), ("YES", True, False), (" n ", False, False), ("no", False, False), ("a", True, True)],
)
async def test_cli_approval_answers(line, approved, always):
    protocol, fake, out = cli(line)
    approval = await protocol.request_approval(
        "write_file",
        {"path": "notes.txt", "content": "hi"},
        danger=DangerLevel.MEDIUM,
        reason="the agent wants to save its notes",
        preview="--- a/notes.txt\n+++ b/notes.txt\n+hi",
    )
    assert (approval.approved, approval.always, approval.decided_by) == (approved, always, "user")
    shown = out.getvalue()
    assert "write_file" in shown and "MEDIUM" in shown and "the agent wants to save its notes" in shown
    assert '"path": "notes.txt"' in shown and "+++ b/notes.txt" in shown
    assert fake.prompts == ["Approve? [y]es / [n]o / [a]lways: "]


async def test_cli_reprompts_on_invalid_input_then_accepts():
    protocol, fake, out = cli("maybe", "", "y")
    assert (await protocol.request_approval("shell", {"cmd": "ls"}, danger="HIGH")).approved
    assert len(fake.prompts) == 3 and "Not understood: 'maybe'" in out.getvalue()


async def test_cli_denies_after_too_many_invalid_answers():
    protocol, fake, _ = cli("maybe", "perhaps", "later", "y")
    approval = await protocol.request_approval("shell")
    assert not approval.approved and approval.decided_by == "cli"
    assert "no valid answer in 3 attempts" in approval.reason and "denied" in approval.reason
    assert fake.lines == ["y"]  # never read


async def test_cli_end_of_input_denies_with_a_clear_reason():
    protocol, _, out = cli()
    approval = await protocol.request_approval("delete_file", {"path": "x"})
    assert not approval.approved and not approval.timed_out
    assert "end of input" in approval.reason and "denied" in approval.reason
    assert "end of input" in out.getvalue()


async def test_cli_a_broken_input_is_a_denial_not_a_crash():
    def broken(prompt: str) -> str:
        raise OSError("terminal went away")

    protocol = ControlProtocol(CLITransport(broken, io.StringIO()), timeout=5)
    approval = await protocol.request_approval("shell")
    assert not approval.approved and "terminal went away" in approval.reason


@pytest.mark.parametrize(
    ("lines", "expected"),
    [(["2"], "green"), (["Blue"], "blue"), (["purple"], "purple"), ([""], "red"), (["9", "0", "3"], "blue")],
)
async def test_cli_question_by_number_or_text(lines, expected):
    protocol, fake, out = cli(*lines)
    answer = await protocol.ask_user_question("Colour?", ["red", "green", "blue"], default="red")
    assert answer.answer == expected and answer.decided_by == "user"
    assert "Colour?" in out.getvalue() and "  1. red\n  2. green\n  3. blue" in out.getvalue()
    assert fake.prompts[0] == "Answer: "


async def test_cli_question_without_default_needs_an_answer():
    protocol, _, _ = cli("", "Ada")
    assert (await protocol.ask_user_question("Name?")).answer == "Ada"


async def test_cli_question_end_of_input_uses_the_default():
    protocol, _, _ = cli()
    answer = await protocol.ask_user_question("Colour?", ["red", "green"], default="green")
    assert answer.answer == "green" and "end of input" in answer.reason


async def test_cli_prints_progress_on_one_line():
    protocol, fake, out = cli()
    await protocol.report_progress("indexing documents", 42.4)
    await protocol.report_progress("thinking")
    assert out.getvalue() == "[progress] indexing documents (42%)\n[progress] thinking\n"
    assert fake.prompts == []


async def test_cli_does_not_block_the_event_loop():
    release = threading.Event()

    def slow_input(prompt: str) -> str:
        release.wait(5)
        return "y"

    protocol = ControlProtocol(CLITransport(slow_input, io.StringIO()), timeout=5)
    task = asyncio.create_task(protocol.request_approval("shell"))
    await asyncio.sleep(0.05)  # the loop runs while input() blocks
    assert not task.done()
    release.set()
    assert (await asyncio.wait_for(task, 2)).approved


async def test_cli_concurrent_requests_are_asked_one_at_a_time():
    protocol, _, out = cli("y", "n")
    first, second = await asyncio.gather(protocol.request_approval("first"), protocol.request_approval("second"))
    assert first.approved and not second.approved
    shown = out.getvalue()
    assert shown.index("first") < shown.index("second")


class Blocking:
    """An ``input()`` that waits until the test "types" a line."""

    def __init__(self) -> None:
        self.calls = 0
        self.typed: list[str] = []
        self.ready = threading.Semaphore(0)

    def type(self, line: str) -> None:
        self.typed.append(line)
        self.ready.release()

    def __call__(self, prompt: str) -> str:
        self.calls += 1
        if not self.ready.acquire(timeout=5):
            raise EOFError
        return self.typed.pop(0)


async def test_cli_timeout_stops_asking_and_reuses_the_waiting_read():
    user, out = Blocking(), io.StringIO()
    protocol = ControlProtocol(CLITransport(user, out), timeout=0.05)
    timed_out = await protocol.request_approval("first")
    assert timed_out.timed_out and "[timeout]" in out.getvalue()
    task = asyncio.create_task(protocol.request_approval("second", timeout=5))
    await eventually(lambda: out.getvalue().count("Approve?") == 1)  # the second prompt is shown on its own
    user.type("y")  # typed at the second prompt
    assert (await asyncio.wait_for(task, 2)).approved
    assert user.calls == 1  # one reader, not two racing for the line


async def test_cli_a_line_typed_while_no_prompt_shows_is_dropped():
    user, out = Blocking(), io.StringIO()
    transport = CLITransport(user, out)
    protocol = ControlProtocol(transport, timeout=0.05)
    assert (await protocol.request_approval("first")).timed_out
    user.type("y")  # too late for "first"; must not approve "second"
    await eventually(lambda: transport._line is not None and transport._line.done())
    task = asyncio.create_task(protocol.request_approval("second", timeout=5))
    await eventually(lambda: user.calls == 2)
    user.type("n")
    assert not (await asyncio.wait_for(task, 2)).approved


async def test_cli_close_cancels_open_prompts():
    user = Blocking()
    transport = CLITransport(user, io.StringIO())
    protocol = ControlProtocol(transport, timeout=0.2)
    task = asyncio.create_task(protocol.request_approval("shell"))
    await eventually(lambda: user.calls == 1)
    await protocol.close()
    approval = await task
    assert approval.timed_out and transport._tasks == {}
    user.type("y")  # release the reader thread


# -- StdioTransport -----------------------------------------------------------------------------------------------
@pytest.fixture
def pipe() -> Iterator[tuple[io.TextIOWrapper, io.FileIO]]:
    """A real pipe: the transport reads the text end, the test (the "host") writes raw bytes to the other."""
    read_fd, write_fd = os.pipe()
    with os.fdopen(read_fd, "r", encoding="utf-8") as reader, io.FileIO(write_fd, "w") as host:
        yield reader, host


def lines_of(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


async def test_stdio_round_trip_through_a_pipe(pipe):
    reader, host = pipe
    out, errors = io.StringIO(), io.StringIO()
    transport = StdioTransport(reader, out, error_stream=errors)
    protocol = ControlProtocol(transport, timeout=5)
    task = asyncio.create_task(protocol.request_approval("write_file", {"path": "a"}, danger="MEDIUM"))
    await eventually(lambda: out.getvalue())
    (request,) = lines_of(out)
    assert request["type"] == "request" and request["kind"] == "approval"
    assert request["payload"]["action"] == "write_file" and request["payload"]["danger"] == "MEDIUM"
    answer = json.dumps({"request_id": request["id"], "data": {"approved": True, "always": True}})
    host.write(answer[:10].encode())  # a line split across writes is put back together
    await asyncio.sleep(0.02)
    host.write((answer[10:] + "\n").encode())
    approval = await asyncio.wait_for(task, 2)
    assert approval.approved and approval.always and approval.decided_by == "user"
    resolved = lines_of(out)[1]
    assert resolved["type"] == "resolved" and resolved["request_id"] == request["id"]
    await protocol.close()
    assert errors.getvalue() == "" and transport.errors == []


async def test_stdio_malformed_lines_are_reported_and_skipped(pipe):
    reader, host = pipe
    out, errors = io.StringIO(), io.StringIO()
    transport = StdioTransport(reader, out, error_stream=errors)
    protocol = ControlProtocol(transport, timeout=5)
    task = asyncio.create_task(protocol.ask_user_question("Colour?", ["red", "green"]))
    await eventually(lambda: out.getvalue())
    request_id = lines_of(out)[0]["id"]
    bad = ["not json", '{"data": {}}', "[1, 2]", '{"type": "request", "request_id": "x"}', "\xff\xfe"]
    good = json.dumps({"request_id": request_id, "data": {"answer": 1}})
    host.write(("\n".join([*bad, "", good]) + "\n").encode())
    assert (await asyncio.wait_for(task, 2)).answer == "green"
    assert len(transport.errors) == len(bad)
    assert errors.getvalue().count("kaizen: ignored a malformed response line") == len(bad)
    await protocol.close()


async def test_stdio_progress_is_one_line_and_not_resolved():
    out = io.StringIO()
    transport = StdioTransport(io.StringIO(), out, error_stream=None)
    protocol = ControlProtocol(transport)
    await protocol.report_progress("halfway", 50)
    (line,) = lines_of(out)
    assert line["kind"] == "progress" and line["payload"] == {"message": "halfway", "percentage": 50.0}
    await protocol.close()


async def test_stdio_close_stops_the_reader_promptly(pipe):
    reader, _host = pipe  # the host keeps its end open: the reader is blocked waiting for data
    transport = StdioTransport(reader, io.StringIO(), error_stream=None)
    transport.attach(lambda response: None)
    transport.start()
    thread = transport._thread
    assert thread is not None and thread.is_alive()
    started = time.monotonic()
    await transport.close()
    assert not thread.is_alive() and time.monotonic() - started < 1
    await transport.close()  # twice is fine


def test_stdio_stops_at_end_of_input(pipe):
    reader, host = pipe
    received: list[ControlResponse] = []
    transport = StdioTransport(reader, io.StringIO(), error_stream=None)
    transport.attach(received.append)
    transport.start()
    host.write(b'{"request_id": "r1", "data": {"approved": false}}\n{"request_id": "r2", "data": {}}')
    host.close()  # EOF; the last line has no newline and still counts
    assert transport._thread is not None
    transport._thread.join(2)
    assert not transport._thread.is_alive()
    assert [(r.request_id, r.data) for r in received] == [("r1", {"approved": False}), ("r2", {})]


def test_stdio_over_a_socket_pair():
    ours, host = socket.socketpair()
    with ours, host, ours.makefile("r", encoding="utf-8") as reader:
        got = threading.Event()
        received: list[ControlResponse] = []
        transport = StdioTransport(reader, io.StringIO(), error_stream=None)
        transport.attach(lambda r: (received.append(r), got.set()))
        transport.start()
        host.sendall(b'{"request_id": "s1", "data": {"answer": "ok"}, "decided_by": "ide"}\n')
        assert got.wait(2)
        transport.stop()
    assert received[0].decided_by == "ide" and received[0].data == {"answer": "ok"}


def test_stdio_without_a_file_descriptor_reads_lines_in_a_thread():
    received: list[ControlResponse] = []
    transport = StdioTransport(io.StringIO('{"request_id": "m1", "data": {"approved": true}}\n'), io.StringIO())
    transport.attach(received.append)
    transport.start()
    assert transport._thread is not None
    transport._thread.join(2)
    assert [r.request_id for r in received] == ["m1"]


def test_stdio_a_failing_deliver_does_not_kill_the_reader(pipe):
    reader, host = pipe
    received: list[str] = []

    def deliver(response: ControlResponse) -> None:
        if response.request_id == "boom":
            raise RuntimeError("protocol exploded")
        received.append(response.request_id)

    transport = StdioTransport(reader, io.StringIO(), error_stream=None)
    transport.attach(deliver)
    transport.start()
    host.write(b'{"request_id": "boom", "data": {}}\n{"request_id": "fine", "data": {}}\n')
    host.close()
    assert transport._thread is not None
    transport._thread.join(2)
    assert received == ["fine"] and "protocol exploded" in transport.errors[0]
