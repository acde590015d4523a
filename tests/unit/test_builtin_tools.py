"""The builtin file and shell tools, called the way an agent calls them: ``await tool.acall({...})``."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path
from typing import Any

import pytest

from kaizen_lab.exceptions import SandboxError
from kaizen_lab.tools.base import DangerLevel, Tool
from kaizen_lab.tools.builtin import builtin_tools, files
from kaizen_lab.tools.sandbox import Sandbox

EXPECTED = {
    "read_file": ("file", DangerLevel.LOW),
    "write_file": ("file", DangerLevel.MEDIUM),
    "delete_file": ("file", DangerLevel.HIGH),
    "list_directory": ("file", DangerLevel.SAFE),
    "file_exists": ("file", DangerLevel.SAFE),
    "http_get": ("http", DangerLevel.LOW),
    "http_post": ("http", DangerLevel.MEDIUM),
    "http_put": ("http", DangerLevel.MEDIUM),
    "http_delete": ("http", DangerLevel.HIGH),
    "bash_command": ("system", DangerLevel.HIGH),
    "fetch_url": ("web", DangerLevel.LOW),
    "extract_links": ("web", DangerLevel.LOW),
}


@pytest.fixture
def sandbox(tmp_path: Path) -> Sandbox:
    return Sandbox(root=tmp_path / "ws", bash_timeout=10, max_output_chars=1000, max_file_bytes=10_000)


@pytest.fixture
def tools(sandbox: Sandbox) -> dict[str, Tool]:
    return {t.name: t for t in builtin_tools(sandbox)}


async def call(tools: dict[str, Tool], name: str, **params: Any) -> Any:
    return await tools[name].acall(params)


# -- the set of tools -----------------------------------------------------------------------------------------------


def test_exactly_the_twelve_tools_with_their_category_and_danger(sandbox: Sandbox) -> None:
    listed = builtin_tools(sandbox)
    assert [t.name for t in listed] == list(EXPECTED)
    assert {t.name: (t.category, t.danger) for t in listed} == EXPECTED
    assert all(t.function.__name__ == t.name for t in listed)


def test_every_tool_and_argument_is_described_for_the_model(tools: dict[str, Tool]) -> None:
    for t in tools.values():
        assert len(t.description) > 20, t.name
        assert t.parameters["type"] == "object"
        for arg, schema in t.parameters["properties"].items():
            assert schema.get("description"), f"{t.name}.{arg} has no description"
        assert t.openai_schema()["function"]["name"] == t.name


def test_bad_arguments_are_reported_by_name(tools: dict[str, Tool]) -> None:
    with pytest.raises(ValueError, match="invalid arguments for write_file: content"):
        tools["write_file"].validate({"path": "x.txt"})


# -- files ----------------------------------------------------------------------------------------------------------


async def test_write_then_read_creates_folders(tools: dict[str, Tool], sandbox: Sandbox) -> None:
    assert await call(tools, "write_file", path="notes/day 1/todo.txt", content="héllo\n") == (
        "wrote 7 bytes to notes/day 1/todo.txt"
    )
    assert (sandbox.root / "notes" / "day 1" / "todo.txt").read_text() == "héllo\n"
    assert await call(tools, "read_file", path="notes/day 1/todo.txt") == "héllo\n"


async def test_write_replaces_and_keeps_the_file_mode(tools: dict[str, Tool], sandbox: Sandbox) -> None:
    target = sandbox.root / "script.sh"
    target.write_text("old")
    target.chmod(0o750)
    await call(tools, "write_file", path="script.sh", content="new")
    assert target.read_text() == "new" and (target.stat().st_mode & 0o777) == 0o750
    assert os.listdir(sandbox.root) == ["script.sh"]  # no temporary file left behind


async def test_a_failed_write_keeps_the_original_and_leaves_no_temp_file(
    tools: dict[str, Tool], sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    (sandbox.root / "data.txt").write_text("original")

    def crash(src: object, dst: object) -> None:
        raise OSError("disk on fire")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="disk on fire"):
        await call(tools, "write_file", path="data.txt", content="half-written")
    assert (sandbox.root / "data.txt").read_text() == "original"
    assert os.listdir(sandbox.root) == ["data.txt"]


async def test_write_refusals(tools: dict[str, Tool], sandbox: Sandbox) -> None:
    with pytest.raises(SandboxError, match="outside the workspace"):
        await call(tools, "write_file", path="../evil.txt", content="x")
    with pytest.raises(SandboxError, match="over the 10000 bytes file limit; split it"):
        await call(tools, "write_file", path="big.txt", content="x" * 10_001)
    (sandbox.root / "folder").mkdir()
    with pytest.raises(IsADirectoryError, match="'folder' is a directory"):
        await call(tools, "write_file", path="folder", content="x")
    assert not (sandbox.root.parent / "evil.txt").exists()


async def test_read_errors_say_what_to_do(tools: dict[str, Tool], sandbox: Sandbox) -> None:
    with pytest.raises(FileNotFoundError, match=r"no file 'missing\.txt'.*list_directory"):
        await call(tools, "read_file", path="missing.txt")
    (sandbox.root / "image.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00")
    with pytest.raises(ValueError, match="not UTF-8 text"):
        await call(tools, "read_file", path="image.png")
    (sandbox.root / "latin1.txt").write_bytes("café".encode("latin-1"))
    with pytest.raises(ValueError, match="not UTF-8 text"):
        await call(tools, "read_file", path="latin1.txt")
    (sandbox.root / "huge.txt").write_text("x" * 10_001)
    with pytest.raises(SandboxError, match=r"over the 10000 bytes file limit.*head -c"):
        await call(tools, "read_file", path="huge.txt")
    with pytest.raises(IsADirectoryError):
        await call(tools, "read_file", path=".")
    with pytest.raises(SandboxError):
        await call(tools, "read_file", path="/etc/passwd")


async def test_read_cuts_long_files_and_says_so(tools: dict[str, Tool], sandbox: Sandbox) -> None:
    (sandbox.root / "long.txt").write_text("a" * 1500)
    text = await call(tools, "read_file", path="long.txt")
    assert text.startswith("a" * 1000) and "[500 more characters cut" in text
    assert await call(tools, "read_file", path="long.txt", max_chars=2000) == "a" * 1500


async def test_read_refuses_a_fifo(tools: dict[str, Tool], sandbox: Sandbox) -> None:
    os.mkfifo(sandbox.root / "pipe")
    with pytest.raises(OSError, match="not a regular file"):
        await call(tools, "read_file", path="pipe")


async def test_delete_removes_files_only(tools: dict[str, Tool], sandbox: Sandbox) -> None:
    (sandbox.root / "sub").mkdir()
    (sandbox.root / "sub" / "a.txt").write_text("a")
    assert await call(tools, "delete_file", path="sub/a.txt") == "deleted sub/a.txt"
    assert not (sandbox.root / "sub" / "a.txt").exists()
    with pytest.raises(IsADirectoryError, match="'sub' is a directory"):
        await call(tools, "delete_file", path="sub")
    with pytest.raises(IsADirectoryError):
        await call(tools, "delete_file", path=".")
    with pytest.raises(FileNotFoundError, match=r"no file 'sub/a\.txt'"):
        await call(tools, "delete_file", path="sub/a.txt")
    with pytest.raises(SandboxError):
        await call(tools, "delete_file", path=str(sandbox.root.parent / "x"))
    assert sandbox.root.is_dir() and (sandbox.root / "sub").is_dir()


async def test_delete_removes_a_link_not_its_target(tools: dict[str, Tool], sandbox: Sandbox) -> None:
    (sandbox.root / "report-v3.txt").write_text("keep me")
    (sandbox.root / "latest.txt").symlink_to("report-v3.txt")
    await call(tools, "delete_file", path="latest.txt")
    assert not (sandbox.root / "latest.txt").is_symlink()
    assert (sandbox.root / "report-v3.txt").read_text() == "keep me"


async def test_list_directory(tools: dict[str, Tool], sandbox: Sandbox) -> None:
    for name in ("b.txt", "a.txt", "C.md"):
        (sandbox.root / name).write_text("")
    (sandbox.root / "zdir").mkdir()
    (sandbox.root / "zdir" / "inner.txt").write_text("")
    assert await call(tools, "list_directory") == ["C.md", "a.txt", "b.txt", "zdir/"]
    assert await call(tools, "list_directory", path="zdir") == ["inner.txt"]
    with pytest.raises(NotADirectoryError, match=r"'a\.txt' is a file"):
        await call(tools, "list_directory", path="a.txt")
    with pytest.raises(NotADirectoryError, match="'nope' does not exist"):
        await call(tools, "list_directory", path="nope")
    with pytest.raises(SandboxError):
        await call(tools, "list_directory", path="..")


async def test_list_directory_caps_the_count(
    tools: dict[str, Tool], sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(files, "MAX_ENTRIES", 3)
    for i in range(5):
        (sandbox.root / f"f{i}").write_text("")
    assert await call(tools, "list_directory") == ["f0", "f1", "f2", "… and 2 more entries"]


async def test_file_exists(tools: dict[str, Tool], sandbox: Sandbox) -> None:
    (sandbox.root / "here.txt").write_text("")
    assert await call(tools, "file_exists", path="here.txt") is True
    assert await call(tools, "file_exists", path="gone.txt") is False
    assert await call(tools, "file_exists", path=".") is True
    with pytest.raises(SandboxError):
        await call(tools, "file_exists", path="../../etc/passwd")


# -- bash -----------------------------------------------------------------------------------------------------------


def _running(pid: int) -> bool:
    """Whether ``pid`` is a live process (a zombie waiting to be reaped counts as dead)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False


async def test_bash_runs_in_the_workspace(tools: dict[str, Tool], sandbox: Sandbox) -> None:
    result = await call(tools, "bash_command", command="pwd; echo oops >&2; exit 3")
    assert result == {"exit_code": 3, "stdout": f"{sandbox.root}\n", "stderr": "oops\n"}
    await call(tools, "bash_command", command="echo made > by_bash.txt")
    assert (sandbox.root / "by_bash.txt").read_text() == "made\n"


async def test_bash_timeout_kills_the_command_and_its_children(tools: dict[str, Tool], sandbox: Sandbox) -> None:
    sandbox.bash_timeout = 1
    started = time.monotonic()
    with pytest.raises(TimeoutError, match=r"did not finish within 1 s and was stopped") as info:
        await call(tools, "bash_command", command="sleep 30 & echo child=$!; sleep 30")
    assert time.monotonic() - started < 5
    child = int(re.search(r"child=(\d+)", str(info.value)).group(1))  # type: ignore[union-attr]
    deadline = time.monotonic() + 2
    while _running(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _running(child)


async def test_bash_background_jobs_end_with_the_call(tools: dict[str, Tool]) -> None:
    started = time.monotonic()
    result = await call(tools, "bash_command", command="sleep 30 & echo $!")
    assert time.monotonic() - started < 5
    child = int(result["stdout"])
    deadline = time.monotonic() + 2
    while _running(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _running(child)


async def test_bash_output_is_capped_and_says_how_much_was_cut(tools: dict[str, Tool]) -> None:
    result = await call(tools, "bash_command", command="head -c 5000 /dev/zero | tr '\\0' a; echo boom >&2")
    assert result["stderr"] == "boom\n"  # a flood on stdout does not hide the error
    assert result["stdout"].startswith("a" * 995)
    assert "[4005 more characters cut" in result["stdout"]
    assert "limited to 1000 characters" in result["stdout"]


async def test_bash_flood_is_counted_not_kept(tools: dict[str, Tool]) -> None:
    result = await call(tools, "bash_command", command="head -c 20000000 /dev/zero | tr '\\0' b")
    assert result["exit_code"] == 0
    assert "[19999000 more characters cut" in result["stdout"]
    assert len(result["stdout"]) < 1200


async def test_bash_environment_has_no_secrets(
    tools: dict[str, Tool], sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    sandbox.max_output_chars = 1_000_000  # the whole environment, so nothing hides behind the cap
    secrets = {
        "OPENAI_API_KEY": "sk-fake-openai-0123456789",
        "GITHUB_TOKEN": "ghp_fake_token_value",
        "DB_PASSWORD": "hunter2-fake",
        "AWS_SECRET_ACCESS_KEY": "fake-aws-secret",
        "my_client_secret": "fake-lowercase-secret",
    }
    for name, value in secrets.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("KAIZEN_TEST_VISIBLE", "plain-value")
    out = (await call(tools, "bash_command", command="env"))["stdout"]
    for name, value in secrets.items():
        assert name not in out and value not in out
    assert "cut" not in out and "KAIZEN_TEST_VISIBLE=plain-value" in out and "PATH=" in out


async def test_bash_refuses_catastrophic_and_empty_commands(tools: dict[str, Tool]) -> None:
    with pytest.raises(SandboxError, match="Refused command 'rm -rf /'") as info:
        await call(tools, "bash_command", command="rm -rf /")
    assert info.value.tool == "bash_command"
    with pytest.raises(ValueError, match="empty"):
        await call(tools, "bash_command", command="  ")


def test_approval_previews_show_the_change_without_making_it(tools: dict[str, Tool], sandbox: Sandbox) -> None:
    (sandbox.root / "a.txt").write_text("old line\nkept\n")
    write, delete = tools["write_file"].preview, tools["delete_file"].preview
    assert write is not None and delete is not None
    diff = write({"path": "a.txt", "content": "new line\nkept\n"})
    assert "-old line" in diff and "+new line" in diff and " kept" in diff
    assert (sandbox.root / "a.txt").read_text() == "old line\nkept\n"  # previewing changes nothing
    assert write({"path": "fresh.txt", "content": "x\n"}).startswith("--- /dev/null")
    assert write({"path": "a.txt", "content": "old line\nkept\n"}) == "(no change)"
    assert "-kept" in delete({"path": "a.txt"}) and "+++ /dev/null" in delete({"path": "a.txt"})
    assert write({"path": "../escape.txt", "content": "x"}).startswith("(this call will be refused:")
