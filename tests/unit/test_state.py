"""Agent state and checkpoints: real files in tmp_path, a real SQLite database, real threads."""

from __future__ import annotations

import datetime
import gzip
import importlib.util
import json
import logging
import os
import sqlite3
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from kaizen_lab.exceptions import ConfigurationError
from kaizen_lab.hooks import HookContext, HookEvent, HookManager, HookResult
from kaizen_lab.state import (
    AgentState,
    CheckpointCorruptError,
    CheckpointNotFoundError,
    CheckpointStorage,
    FilesystemStorage,
    SQLiteStorage,
    StateManager,
)

HAS_ZSTD = importlib.util.find_spec("zstandard") is not None
needs_zstd = pytest.mark.skipif(not HAS_ZSTD, reason="zstandard is not installed (pip install zstandard)")


def make_state(agent_id: str = "agent-1", step: int = 0, **kw: Any) -> AgentState:
    """A state with every field set (``kw`` overrides any)."""
    fields: dict[str, Any] = dict(
        inputs={"task": "Summarise the report"},
        conversation=[
            {"role": "user", "content": "Summarise the report ü"},
            {"role": "assistant", "content": None, "tool_calls": [{"name": "read", "args": {"path": "r.txt"}}]},
        ],
        memory={"notes": ["a", "b"], "scores": {"x": 1.5}},
        pending_actions=[{"tool": "write", "args": {"path": "out.md"}}],
        completed_actions=[{"tool": "read", "ok": True}],
        budget_spent=0.0125,
        approval_history=[{"tool": "write", "approved": False, "by": "policy"}],
        tool_usage={"read": 1},
        strategy_state={"transcript": [{"thought": "read it", "action": "read"}], "cycle": 2},
        metadata={"model": "mock"},
    )
    return AgentState(agent_id=agent_id, step=step, **(fields | kw))


# -- AgentState -----------------------------------------------------------------------------------------------------
def test_to_dict_from_dict_round_trips_through_json() -> None:
    state = make_state(status="interrupted", parent_checkpoint_id="abc")
    again = AgentState.from_dict(json.loads(json.dumps(state.to_dict())))
    assert again == state
    assert again.to_dict() == state.to_dict()


def test_to_dict_is_a_deep_copy() -> None:
    state = make_state()
    data = state.to_dict()
    data["memory"]["notes"].append("c")
    assert state.memory["notes"] == ["a", "b"]


def test_unknown_keys_are_kept_in_extra_and_written_back() -> None:
    data = make_state().to_dict() | {"schema_version": 2, "cost_breakdown": {"llm": 0.01}}
    state = AgentState.from_dict(data)
    assert state.extra == {"cost_breakdown": {"llm": 0.01}}
    assert state.to_dict()["cost_breakdown"] == {"llm": 0.01}
    assert state.to_dict()["schema_version"] == 1


def test_an_older_checkpoint_with_few_fields_loads_with_defaults() -> None:
    state = AgentState.from_dict({"agent_id": "old", "checkpoint_id": "c1", "step": 4})
    assert (state.step, state.status, state.conversation, state.tool_usage) == (4, "running", [], {})


@pytest.mark.parametrize(
    ("changes", "path", "kind"),
    [
        ({"memory": {"notes": [{"when": datetime.date(2024, 1, 2)}]}}, "AgentState.memory.notes[0].when", "date"),
        ({"strategy_state": {"odd key": {1, 2}}}, "AgentState.strategy_state['odd key']", "set"),
        ({"metadata": {3: "x"}}, "AgentState.metadata[3]", "int"),
        ({"budget_spent": float("nan")}, "AgentState.budget_spent", "NaN"),
        ({"extra": {"later": object()}}, "AgentState.extra.later", "object"),
    ],
)
def test_a_non_json_value_is_named_by_its_path(changes: dict[str, Any], path: str, kind: str) -> None:
    state = make_state()
    for name, value in changes.items():
        setattr(state, name, value)
    with pytest.raises(ConfigurationError, match="not JSON-serialisable") as info:
        state.to_dict()
    assert path in str(info.value) and kind in str(info.value)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"status": "paused"}, "status must be one of"), ({"step": -1}, "step must be"), ({"agent_id": ""}, "agent_id")],
)
def test_bad_fields_are_refused(kwargs: dict[str, Any], message: str) -> None:
    fields = {"agent_id": "a"} | kwargs
    with pytest.raises(ConfigurationError, match=message):
        AgentState(**fields)


def test_from_dict_without_agent_id_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="agent_id"):
        AgentState.from_dict({"step": 1})


# -- storages -------------------------------------------------------------------------------------------------------
STORAGES: dict[str, Callable[[Path], CheckpointStorage]] = {
    "files": lambda p: FilesystemStorage(p / "ckpt"),
    "files-gzip": lambda p: FilesystemStorage(p / "ckpt", compress="gzip"),
    "files-zstd": lambda p: FilesystemStorage(p / "ckpt", compress="zstd"),
    "sqlite": lambda p: SQLiteStorage(p / "ckpt.db"),
    "sqlite-gzip": lambda p: SQLiteStorage(p / "ckpt.db", compress="gzip"),
}


@pytest.fixture(
    params=[pytest.param(name, marks=[needs_zstd] if "zstd" in name else []) for name in STORAGES],
)
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[CheckpointStorage]:
    store = STORAGES[request.param](tmp_path)
    yield store
    store.close()


def test_save_then_load_round_trips(storage: CheckpointStorage) -> None:
    state = make_state(step=3)
    info = storage.save(state)
    loaded = storage.load(state.checkpoint_id)
    assert loaded == state
    assert (info.checkpoint_id, info.agent_id, info.step, info.status) == (state.checkpoint_id, "agent-1", 3, "running")
    assert info.size_bytes > 0


def test_list_is_newest_first_and_latest_and_delete_agree(storage: CheckpointStorage) -> None:
    states = [make_state(step=i, created_at=1000.0 + i) for i in range(3)]
    for state in states:
        storage.save(state)
    storage.save(make_state("other-agent"))
    infos = storage.list("agent-1")
    assert [i.step for i in infos] == [2, 1, 0]
    assert [i.checkpoint_id for i in infos] == [s.checkpoint_id for s in reversed(states)]
    assert infos[0].created_at == 1002.0 and infos[0].parent_checkpoint_id is None
    latest = storage.latest("agent-1")
    assert latest is not None and latest.checkpoint_id == states[2].checkpoint_id
    assert storage.delete(states[2].checkpoint_id) is True
    assert storage.delete(states[2].checkpoint_id) is False
    assert [i.step for i in storage.list("agent-1")] == [1, 0]
    assert storage.latest("nobody") is None and storage.list("nobody") == []


def test_saving_the_same_id_replaces_it(storage: CheckpointStorage) -> None:
    state = make_state(step=1)
    storage.save(state)
    state.step = 2
    storage.save(state)
    assert storage.load(state.checkpoint_id).step == 2
    assert len(storage.list("agent-1")) == 1


def test_a_missing_checkpoint_is_a_clear_error(storage: CheckpointStorage) -> None:
    with pytest.raises(CheckpointNotFoundError, match="no checkpoint deadbeef") as info:
        storage.load("deadbeef")
    assert info.value.checkpoint_id == "deadbeef"


def test_a_checkpoint_id_that_is_not_a_safe_name_is_refused(storage: CheckpointStorage) -> None:
    with pytest.raises(ConfigurationError, match="checkpoint_id must be"):
        storage.save(make_state(checkpoint_id="../escape"))


@pytest.mark.parametrize(
    ("compress", "suffix", "magic"),
    [
        (False, ".json", b"{"),
        ("gzip", ".json.gz", b"\x1f\x8b"),
        pytest.param("zstd", ".json.zst", b"\x28\xb5\x2f\xfd", marks=needs_zstd),
    ],
)
def test_files_are_named_and_compressed_as_asked(tmp_path: Path, compress: Any, suffix: str, magic: bytes) -> None:
    state = make_state()
    FilesystemStorage(tmp_path, compress=compress).save(state)
    path = tmp_path / "agent-1" / f"{state.checkpoint_id}{suffix}"
    assert path.read_bytes().startswith(magic)
    assert [p.name for p in (tmp_path / "agent-1").iterdir()] == [path.name]


def test_compression_is_read_from_the_bytes_and_a_resave_drops_the_old_file(tmp_path: Path) -> None:
    state = make_state()
    FilesystemStorage(tmp_path).save(state)
    gz = FilesystemStorage(tmp_path, compress="gzip")
    assert gz.load(state.checkpoint_id) == state
    gz.save(state)
    assert sorted(p.name for p in (tmp_path / "agent-1").iterdir()) == [f"{state.checkpoint_id}.json.gz"]


def test_zstd_without_the_module_says_how_to_get_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "zstandard", None)  # makes `import zstandard` fail
    with pytest.raises(ConfigurationError, match=r"pip install zstandard.*compress='gzip'"):
        FilesystemStorage(tmp_path, compress="zstd")
    with pytest.raises(ConfigurationError, match="pip install zstandard"):
        SQLiteStorage(tmp_path / "db.sqlite", compress="zstd")
    with pytest.raises(ConfigurationError, match="compress must be"):
        FilesystemStorage(tmp_path, compress="brotli")  # type: ignore[arg-type]


def test_list_sees_files_changed_by_another_writer(tmp_path: Path) -> None:
    mine, theirs = FilesystemStorage(tmp_path), FilesystemStorage(tmp_path)
    state = make_state(step=1)
    mine.save(state)
    assert [i.step for i in mine.list("agent-1")] == [1]
    state.step = 5
    theirs.save(state)
    extra = make_state(step=9)
    theirs.save(extra)
    assert [i.step for i in mine.list("agent-1")] == [9, 5]
    theirs.delete(extra.checkpoint_id)
    assert [i.step for i in mine.list("agent-1")] == [5]


def test_agent_ids_cannot_escape_the_base_dir(tmp_path: Path) -> None:
    store = FilesystemStorage(tmp_path / "base")
    for agent_id in ("../../etc", "team/agent", ".", ".."):
        state = make_state(agent_id)
        store.save(state)
        assert store.load(state.checkpoint_id).agent_id == agent_id
        assert [i.agent_id for i in store.list(agent_id)] == [agent_id]
    assert sorted(p.parent.parent for p in (tmp_path / "base").rglob("*.json")) == [tmp_path / "base"] * 4
    assert list(tmp_path.iterdir()) == [tmp_path / "base"]


# -- atomic writes and corrupt files ----------------------------------------------------------------------------------
@pytest.mark.parametrize("compress", [False, "gzip"])
def test_a_failed_write_leaves_the_old_checkpoint_and_no_temp_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, compress: Any
) -> None:
    store = FilesystemStorage(tmp_path, compress=compress)
    state = make_state(step=1)
    store.save(state)
    before = {p.name: p.read_bytes() for p in (tmp_path / "agent-1").iterdir()}

    def crash(src: Any, dst: Any) -> None:
        raise OSError("disk gone")

    monkeypatch.setattr(os, "replace", crash)
    state.step = 2
    with pytest.raises(OSError, match="disk gone"):
        store.save(state)
    monkeypatch.undo()
    assert {p.name: p.read_bytes() for p in (tmp_path / "agent-1").iterdir()} == before
    assert store.load(state.checkpoint_id).step == 1


def test_a_write_that_dies_mid_file_leaves_nothing_visible(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = FilesystemStorage(tmp_path)
    real_fsync = os.fsync

    def crash(fd: int) -> None:
        real_fsync(fd)
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "fsync", crash)
    with pytest.raises(KeyboardInterrupt):
        store.save(make_state())
    monkeypatch.undo()
    assert list((tmp_path / "agent-1").iterdir()) == []
    assert store.list("agent-1") == []


@pytest.mark.parametrize(
    ("compress", "damage"),
    [
        (False, lambda b: b"{not json"),
        (False, lambda b: b[: len(b) // 2]),
        ("gzip", lambda b: b[:20]),
        (False, lambda b: b"[1, 2]"),
    ],
    ids=["garbage", "truncated-json", "truncated-gzip", "not-a-state"],
)
def test_a_corrupt_file_names_the_id_and_path(
    tmp_path: Path, compress: Any, damage: Callable[[bytes], bytes], caplog: pytest.LogCaptureFixture
) -> None:
    store = FilesystemStorage(tmp_path, compress=compress)
    good, bad = make_state(step=1), make_state(step=2)
    store.save(good)
    store.save(bad)
    path = next((tmp_path / "agent-1").glob(f"{bad.checkpoint_id}.*"))
    path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(CheckpointCorruptError) as info:
        store.load(bad.checkpoint_id)
    message = str(info.value)
    assert bad.checkpoint_id in message and str(path) in message and "corrupt" in message
    assert not isinstance(info.value, json.JSONDecodeError)
    with caplog.at_level(logging.WARNING, logger="kaizen_lab.state"):
        assert [i.checkpoint_id for i in store.list("agent-1")] == [good.checkpoint_id]
    assert bad.checkpoint_id in caplog.text


def test_a_file_holding_another_checkpoint_is_reported(tmp_path: Path) -> None:
    store = FilesystemStorage(tmp_path)
    state = make_state()
    store.save(state)
    (tmp_path / "agent-1" / f"{state.checkpoint_id}.json").rename(tmp_path / "agent-1" / "feed.json")
    with pytest.raises(CheckpointCorruptError, match=f"holds checkpoint {state.checkpoint_id}"):
        store.load("feed")


def test_a_corrupt_sqlite_row_names_the_id_and_database(tmp_path: Path) -> None:
    db = tmp_path / "ckpt.db"
    with SQLiteStorage(db) as store:
        state = make_state()
        store.save(state)
        with sqlite3.connect(db) as conn:
            conn.execute(
                "UPDATE checkpoints SET data = ? WHERE checkpoint_id = ?", (b"\x1f\x8bxx", state.checkpoint_id)
            )
        conn.close()
        with pytest.raises(CheckpointCorruptError, match=f"checkpoint {state.checkpoint_id} at {db}"):
            store.load(state.checkpoint_id)


# -- SQLite ---------------------------------------------------------------------------------------------------------
def test_sqlite_uses_wal_and_the_documented_table(tmp_path: Path) -> None:
    db = tmp_path / "ckpt.db"
    SQLiteStorage(db).close()
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        columns = [row[1] for row in conn.execute("PRAGMA table_info(checkpoints)")]
        assert columns == ["checkpoint_id", "agent_id", "step", "status", "created_at", "parent", "data"]
    finally:
        conn.close()


def test_threads_saving_to_sqlite_at_once_lose_nothing(tmp_path: Path) -> None:
    threads, per_thread = 8, 25
    errors: list[BaseException] = []
    with SQLiteStorage(tmp_path / "ckpt.db") as store:
        start = threading.Barrier(threads)

        def work(n: int) -> None:
            try:
                start.wait()
                for i in range(per_thread):
                    state = make_state(f"agent-{n % 2}", step=i)
                    store.save(state)
                    assert store.load(state.checkpoint_id).step == i
                    store.list(state.agent_id)
            except BaseException as e:
                errors.append(e)

        workers = [threading.Thread(target=work, args=(n,)) for n in range(threads)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        assert errors == []
        assert len(store.list("agent-0")) + len(store.list("agent-1")) == threads * per_thread
    # and a second connection (another process, say) sees every row
    again = SQLiteStorage(tmp_path / "ckpt.db")
    assert len(again.list("agent-0")) == threads * per_thread // 2
    again.close()


# -- StateManager ---------------------------------------------------------------------------------------------------
@pytest.fixture
def files(tmp_path: Path) -> FilesystemStorage:
    return FilesystemStorage(tmp_path / "ckpt")


async def test_frequency_skips_steps_but_never_the_end_or_a_forced_save(files: FilesystemStorage) -> None:
    manager = StateManager(files, checkpoint_frequency=3, retention_count=None)
    state = make_state()
    saved = []
    for step in range(8):
        state.step = step
        if await manager.save_checkpoint(state):
            saved.append(step)
    assert saved == [0, 3, 6]
    assert await manager.save_checkpoint(state, force=True)
    state.status = "completed"
    assert await manager.save_checkpoint(state)
    assert [i.step for i in await manager.list_checkpoints("agent-1")] == [7, 7, 6, 3, 0]


async def test_each_save_is_a_new_checkpoint_chained_to_the_last(files: FilesystemStorage) -> None:
    manager = StateManager(files)
    state = make_state()
    first_id = state.checkpoint_id
    first = await manager.save_checkpoint(state)
    assert first == first_id == state.checkpoint_id and state.parent_checkpoint_id is None
    state.step = 1
    state.conversation.append({"role": "assistant", "content": "done"})
    second = await manager.save_checkpoint(state)
    assert second != first and state.checkpoint_id == second and state.parent_checkpoint_id == first
    assert (await manager.load_checkpoint(first)).step == 0
    loaded = await manager.load_checkpoint(second)
    assert loaded.parent_checkpoint_id == first and loaded.conversation[-1]["content"] == "done"


async def test_retention_keeps_the_newest_per_agent(files: FilesystemStorage) -> None:
    manager = StateManager(files, retention_count=3)
    state, other = make_state(), make_state("agent-2")
    await manager.save_checkpoint(other)
    ids = []
    for step in range(6):
        state.step = step
        ids.append(await manager.save_checkpoint(state))
    assert [i.checkpoint_id for i in await manager.list_checkpoints("agent-1")] == ids[:2:-1]
    assert len(await manager.list_checkpoints("agent-2")) == 1
    assert await manager.cleanup_old_checkpoints("agent-1", keep=1) == 2
    assert [i.checkpoint_id for i in await manager.list_checkpoints("agent-1")] == [ids[-1]]
    assert await StateManager(files, retention_count=None).cleanup_old_checkpoints("agent-1") == 0


async def test_resume_from_latest_then_save_adds_a_child(tmp_path: Path) -> None:
    with SQLiteStorage(tmp_path / "ckpt.db") as store:
        manager = StateManager(store)
        assert await manager.resume_from_latest("agent-1") is None
        state = make_state()
        for step in range(3):
            state.step = step
            await manager.save_checkpoint(state)
        resumed = await manager.resume_from_latest("agent-1")
        assert resumed is not None and resumed == state and resumed.step == 2
        resumed.step = 3
        child = await manager.save_checkpoint(resumed)
        assert child != state.checkpoint_id and resumed.parent_checkpoint_id == state.checkpoint_id
        assert [i.step for i in await manager.list_checkpoints("agent-1")] == [3, 2, 1, 0]


async def test_fork_copies_a_checkpoint_under_a_new_id_and_agent(files: FilesystemStorage) -> None:
    manager = StateManager(files)
    state = make_state(step=4)
    source = await manager.save_checkpoint(state)
    fork = await manager.fork_from_checkpoint(source, new_agent_id="agent-b")
    assert fork.checkpoint_id != source and fork.parent_checkpoint_id == source and fork.agent_id == "agent-b"
    assert fork.conversation == state.conversation and fork.step == 4
    assert await manager.list_checkpoints("agent-b") == []  # not stored until saved
    fork.memory["notes"].append("branch")
    assert await manager.save_checkpoint(fork) == fork.checkpoint_id
    [info] = await manager.list_checkpoints("agent-b")
    assert info.parent_checkpoint_id == source
    assert (await manager.load_checkpoint(source)).memory["notes"] == ["a", "b"]
    same_agent = await manager.fork_from_checkpoint(source)
    assert same_agent.agent_id == "agent-1" and same_agent.checkpoint_id not in (source, fork.checkpoint_id)


async def test_a_non_json_state_fails_before_anything_is_written(files: FilesystemStorage) -> None:
    manager = StateManager(files)
    state = make_state(metadata={"started": datetime.datetime(2024, 1, 1)})
    old_id = state.checkpoint_id
    with pytest.raises(ConfigurationError, match=r"AgentState\.metadata\.started"):
        await manager.save_checkpoint(state)
    assert state.checkpoint_id == old_id and await manager.list_checkpoints("agent-1") == []


async def test_storage_io_runs_off_the_event_loop_thread(
    files: FilesystemStorage, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[str] = []
    real_save = files.save

    def save(state: AgentState) -> Any:
        seen.append(threading.current_thread().name)
        return real_save(state)

    monkeypatch.setattr(files, "save", save)
    await StateManager(files).save_checkpoint(make_state())
    assert seen and seen[0] != threading.current_thread().name


async def test_a_pre_hook_can_veto_and_a_post_hook_gets_the_size(files: FilesystemStorage) -> None:
    hooks = HookManager()
    posted: list[dict[str, Any]] = []
    veto = {"on": True}

    def pre(ctx: HookContext) -> HookResult | None:
        return HookResult.block("read-only run") if veto["on"] else None

    async def post(ctx: HookContext) -> None:
        posted.append({"agent_id": ctx.agent_id, **ctx.data})

    hooks.register(HookEvent.PRE_CHECKPOINT_SAVE, pre)
    hooks.register(HookEvent.POST_CHECKPOINT_SAVE, post)
    manager = StateManager(files, hooks=hooks)
    state = make_state(step=2)
    old_id = state.checkpoint_id
    assert await manager.save_checkpoint(state) == ""
    assert await manager.list_checkpoints("agent-1") == [] and posted == []
    assert state.checkpoint_id == old_id

    veto["on"] = False
    checkpoint_id = await manager.save_checkpoint(state)
    [info] = await manager.list_checkpoints("agent-1")
    assert posted == [
        {
            "agent_id": "agent-1",
            "checkpoint_id": checkpoint_id,
            "step": 2,
            "status": "running",
            "size_bytes": info.size_bytes,
        }
    ]
    assert list(hooks.errors) == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"checkpoint_frequency": 0}, "checkpoint_frequency"),
        ({"checkpoint_frequency": 1.5}, "checkpoint_frequency"),
        ({"retention_count": 0}, "retention_count"),
    ],
)
def test_manager_settings_are_checked(files: FilesystemStorage, kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        StateManager(files, **kwargs)


def test_gzip_checkpoints_are_smaller_than_plain_ones(tmp_path: Path) -> None:
    state = make_state()
    state.conversation = [{"role": "user", "content": "The quick brown fox jumps over the lazy dog. " * 20}] * 10
    plain = FilesystemStorage(tmp_path / "plain").save(state).size_bytes
    gz = FilesystemStorage(tmp_path / "gz", compress="gzip").save(state).size_bytes
    assert gz < plain / 5
    path = next((tmp_path / "gz").rglob("*.gz"))
    assert path.stat().st_size == gz
    assert json.loads(gzip.decompress(path.read_bytes()))["checkpoint_id"] == state.checkpoint_id
