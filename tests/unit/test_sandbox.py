"""The sandbox refuses hostile paths, URLs and commands, and lets ordinary ones through."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from kaizen_lab.exceptions import ConfigurationError, SandboxError, ToolDeniedError
from kaizen_lab.tools.sandbox import Sandbox


@pytest.fixture
def sandbox(tmp_path: Path) -> Sandbox:
    """A workspace with links that stay inside and links that lead out, next to an 'outside' folder and a sibling
    whose name shares the workspace's prefix (ws2 vs ws)."""
    root, outside = tmp_path / "ws", tmp_path / "outside"
    (root / "real" / "deep").mkdir(parents=True)
    (root / "real" / "file.txt").write_text("inside")
    outside.mkdir()
    (outside / "secret.txt").write_text("secret")
    (tmp_path / "ws2").mkdir()
    (root / "link_to_etc").symlink_to("/etc")
    (root / "escape_dir").symlink_to(outside)
    (root / "escape_file").symlink_to(outside / "secret.txt")
    (root / "dangling").symlink_to(outside / "not-yet-there.txt")
    (root / "hop1").symlink_to("hop2")
    (root / "hop2").symlink_to("../outside")
    (root / "relative_escape").symlink_to("../../..")
    (root / "rel_inside").symlink_to("real")
    (root / "abs_inside").symlink_to(root / "real")
    (root / "real" / "up").symlink_to("..")  # back to the root: still inside
    return Sandbox(root=root)


HOSTILE_PATHS = [
    pytest.param("../etc/passwd", id="dotdot"),
    pytest.param("a/../../x", id="dotdot-after-a-dir"),
    pytest.param("real/deep/../../../outside/secret.txt", id="dotdot-deep"),
    pytest.param("../" * 20 + "etc/passwd", id="many-dotdots"),
    pytest.param("..", id="parent"),
    pytest.param("../ws2/x", id="sibling-with-same-prefix"),
    pytest.param("{tmp}/ws2/x", id="absolute-sibling-with-same-prefix"),
    pytest.param("/etc/passwd", id="absolute"),
    pytest.param("/", id="filesystem-root"),
    pytest.param("//etc/passwd", id="double-slash-absolute"),
    pytest.param("{tmp}/outside/secret.txt", id="absolute-outside"),
    pytest.param("~/.ssh/id_rsa", id="home"),
    pytest.param("~", id="home-itself"),
    pytest.param("~root/.bashrc", id="other-users-home"),
    pytest.param("link_to_etc/passwd", id="symlink-to-etc"),
    pytest.param("link_to_etc", id="symlink-final-component"),
    pytest.param("escape_dir/secret.txt", id="symlinked-dir-escaping"),
    pytest.param("escape_dir/new.txt", id="new-file-in-symlinked-dir"),
    pytest.param("escape_file", id="symlink-to-outside-file"),
    pytest.param("dangling", id="dangling-symlink-to-outside"),
    pytest.param("hop1/secret.txt", id="symlink-chain"),
    pytest.param("relative_escape/etc/passwd", id="relative-symlink-escaping"),
    pytest.param("\x00", id="nul"),
    pytest.param("notes.txt\x00.png", id="nul-in-name"),
    pytest.param("", id="empty"),
    pytest.param("   ", id="blank"),
]


@pytest.mark.parametrize("path", HOSTILE_PATHS)
def test_hostile_paths_are_refused(sandbox: Sandbox, tmp_path: Path, path: str) -> None:
    with pytest.raises(SandboxError) as info:
        sandbox.resolve(path.format(tmp=tmp_path), tool="read_file")
    assert isinstance(info.value, ToolDeniedError) and isinstance(info.value, PermissionError)
    assert info.value.tool == "read_file" and info.value.reason
    assert "workspace" in str(info.value)  # the message says where paths must be


def test_refusal_messages_say_what_to_do(sandbox: Sandbox) -> None:
    with pytest.raises(SandboxError, match=r"'\.\./x' is outside the workspace .*use a path relative to the workspace"):
        sandbox.resolve("../x")
    with pytest.raises(SandboxError, match="symbolic link"):
        sandbox.resolve("escape_dir/secret.txt")


SAFE_PATHS = [
    ("notes.txt", "notes.txt"),
    ("a/b/c.txt", "a/b/c.txt"),
    ("./a/./b//c.txt", "a/b/c.txt"),
    ("a/../b.txt", "b.txt"),
    ("..%2fetc%2fpasswd", "..%2fetc%2fpasswd"),  # percent-encoding is not decoded: just a strange file name
    ("...", "..."),
    ("..foo", "..foo"),
    ("dir with spaces/ünïcode.txt", "dir with spaces/ünïcode.txt"),
    ("rel_inside/file.txt", "real/file.txt"),
    ("abs_inside/deep", "real/deep"),
    ("real/up/real/file.txt", "real/file.txt"),
    ("real/up/../outside", "real/outside"),  # '..' folds lexically first, so it cannot climb out through a link
    (".", "."),
    ("real/..", "."),
]


@pytest.mark.parametrize(("path", "expected"), SAFE_PATHS)
def test_ordinary_paths_stay_inside(sandbox: Sandbox, path: str, expected: str) -> None:
    resolved = sandbox.resolve(path)
    assert resolved == sandbox.root / expected
    assert resolved.is_relative_to(sandbox.root)
    assert sandbox.relative(resolved) == expected


def test_absolute_path_inside_the_workspace_is_allowed(sandbox: Sandbox) -> None:
    assert sandbox.resolve(str(sandbox.root / "real" / "file.txt")) == sandbox.root / "real" / "file.txt"


def test_follow_final_false_keeps_the_link_but_still_checks_it(sandbox: Sandbox) -> None:
    assert sandbox.resolve("rel_inside", follow_final=False) == sandbox.root / "rel_inside"
    assert sandbox.resolve("rel_inside", follow_final=True) == sandbox.root / "real"
    with pytest.raises(SandboxError):
        sandbox.resolve("escape_file", follow_final=False)


def test_symlink_loop_is_a_clear_error(sandbox: Sandbox) -> None:
    (sandbox.root / "loop").symlink_to("loop")
    with pytest.raises(OSError, match="loop"):
        sandbox.resolve("loop/x")


def test_root_is_created_and_stored_resolved(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "alias").symlink_to(tmp_path / "real")
    box = Sandbox(root=tmp_path / "alias" / "new" / "ws")
    assert box.root == (tmp_path / "real" / "new" / "ws").resolve() and box.root.is_dir()
    assert Sandbox(root=str(tmp_path / "s")).root == (tmp_path / "s").resolve()  # type: ignore[arg-type]


def test_default_workspace_honours_kaizen_workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAIZEN_WORKSPACE", str(tmp_path / "spaces"))
    box = Sandbox.default("agent-1", bash_timeout=5)
    assert box.root == (tmp_path / "spaces" / "agent-1").resolve() and box.root.is_dir()
    assert box.bash_timeout == 5


def test_default_workspace_is_under_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KAIZEN_WORKSPACE", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert Sandbox.default("a").root == (tmp_path / ".kaizen_lab" / "workspaces" / "a").resolve()


@pytest.mark.parametrize("agent_id", ["", ".", "..", "../escape", "a/b", "/abs", "a\x00b", "-rf"])
def test_default_refuses_agent_ids_that_are_not_a_folder_name(
    agent_id: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KAIZEN_WORKSPACE", str(tmp_path))
    with pytest.raises(ConfigurationError, match="Agent id"):
        Sandbox.default(agent_id)
    assert os.listdir(tmp_path) == []


# -- URLs -----------------------------------------------------------------------------------------------------------

HOSTILE_URLS = [
    pytest.param("file:///etc/passwd", id="file"),
    pytest.param("FILE:///etc/passwd", id="file-uppercase"),
    pytest.param("ftp://allowed.example/x", id="ftp"),
    pytest.param("gopher://allowed.example/", id="gopher"),
    pytest.param("javascript:alert(1)", id="javascript"),
    pytest.param("data:text/html,<script>", id="data"),
    pytest.param("//allowed.example/x", id="no-scheme"),
    pytest.param("allowed.example/x", id="bare-host"),
    pytest.param("http:///etc/passwd", id="no-host"),
    pytest.param("http://evil.example/", id="host-not-allowed"),
    pytest.param("http://allowed.example@evil.example/", id="userinfo-trick"),
    pytest.param("http://user:pw@allowed.example/", id="credentials"),
    pytest.param("http://evil.example\\@allowed.example/", id="backslash-userinfo"),
    pytest.param("http://allowed.example.evil.example/", id="allowed-as-subdomain"),
    pytest.param("http://evil.example/?allowed.example", id="allowed-in-query"),
    pytest.param("http://evil.example#@allowed.example", id="allowed-in-fragment"),
    pytest.param("http://allowed.example:99999/", id="bad-port"),
    pytest.param("http://allowed example/", id="space"),
    pytest.param("http://allowed.example/\r\nX-Injected: 1", id="crlf"),
    pytest.param(" http://allowed.example/", id="leading-space"),
]


@pytest.mark.parametrize("url", HOSTILE_URLS)
def test_hostile_urls_are_refused(url: str, tmp_path: Path) -> None:
    box = Sandbox(root=tmp_path, allowed_hosts=frozenset({"allowed.example", "127.0.0.1"}))
    with pytest.raises(SandboxError) as info:
        box.check_url(url, tool="http_get")
    assert info.value.tool == "http_get" and info.value.reason


def test_url_refusals_say_what_to_do(tmp_path: Path) -> None:
    box = Sandbox(root=tmp_path, allowed_hosts=frozenset({"allowed.example"}))
    with pytest.raises(SandboxError, match=r"only http:// and https://"):
        box.check_url("file:///etc/passwd")
    with pytest.raises(SandboxError, match=r"'evil\.example' is not allowed .*allowed: allowed\.example"):
        box.check_url("http://evil.example/")


@pytest.mark.parametrize(
    "url",
    [
        "http://allowed.example/x",
        "https://allowed.example/a?b=c#d",
        "HTTPS://ALLOWED.EXAMPLE/Path",
        "http://Allowed.Example.:8080/",
        "http://127.0.0.1:8000/",
    ],
)
def test_allowed_urls_pass_unchanged(url: str, tmp_path: Path) -> None:
    box = Sandbox(root=tmp_path, allowed_hosts=frozenset({"Allowed.Example", "127.0.0.1"}))
    assert box.check_url(url) == url


def test_without_allowlist_any_http_host_is_fine(tmp_path: Path) -> None:
    box = Sandbox(root=tmp_path)
    assert box.check_url("https://anything.example/") == "https://anything.example/"
    with pytest.raises(SandboxError):
        box.check_url("file:///etc/passwd")


# -- shell commands -------------------------------------------------------------------------------------------------

CATASTROPHIC_COMMANDS = [
    "rm -rf /",
    "rm -rf /*",
    "rm -rf / ",
    "rm -fr ~",
    "rm -rf ~/",
    "rm -rf $HOME",
    "rm -rf ${HOME}/*",
    "rm -rf build /",  # the classic stray space
    "sudo rm -rf --no-preserve-root /",
    "cd /tmp && rm -rf /",
    "r''m -rf '/'",
    'rm -rf "/"',
    ":(){ :|:& };:",
    "bomb(){ bomb | bomb & }; bomb",
    "mkfs.ext4 /dev/sda1",
    "sudo mkfs -t ext4 /dev/sdb",
    "dd if=/dev/zero of=/dev/sda bs=1M",
    "dd if=/dev/urandom of=/dev/nvme0n1",
    "cat image.iso > /dev/sdb",
    "echo x | tee /dev/sda",
    "shutdown -h now",
    "sudo reboot",
    "ls; /sbin/poweroff",
    "halt",
    "systemctl reboot",
    "init 0",
]


@pytest.mark.parametrize("command", CATASTROPHIC_COMMANDS)
def test_catastrophic_commands_are_refused(sandbox: Sandbox, command: str) -> None:
    with pytest.raises(SandboxError, match="Refused command") as info:
        sandbox.check_command(command, tool="bash_command")
    assert info.value.tool == "bash_command" and info.value.reason == "command"


@pytest.mark.parametrize(
    "command",
    [
        "ls -la /",
        "rm -rf build/",
        "rm -rf ./tmp /tmp/kaizen-scratch",
        "echo reboot",
        "grep -n shutdown server.log",
        "dd if=input.bin of=/dev/null bs=1M",
        "python -c 'print(1)'",
        "cat notes.txt > copy.txt",
        "f(){ echo hi; }; f",
    ],
)
def test_ordinary_commands_pass(sandbox: Sandbox, command: str) -> None:
    assert sandbox.check_command(command) == command
