"""SQLite memory under stress: a writer killed mid-write, writers on many threads, restarts."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from kaizen_lab.memory import LongTermMemory, MemoryStoreError, SQLiteStorage

# Adds entries as fast as it can, printing each id once its transaction has committed.
_WRITER = textwrap.dedent(
    """
    import sys
    from kaizen_lab.memory import LongTermMemory, SQLiteStorage
    memory = LongTermMemory(SQLiteStorage(sys.argv[1]), embedder=False)
    print("ready", flush=True)
    i = 0
    while True:
        entry = memory.add({"n": i, "payload": "x" * 2000}, importance=0.5)
        print(entry.id, flush=True)
        i += 1
    """
)


@pytest.mark.parametrize("delay", [0.3, 0.7, 1.1])
def test_a_writer_killed_mid_write_loses_at_most_the_entry_being_written(tmp_path, delay):
    db = tmp_path / "memory.db"
    writer = subprocess.Popen([sys.executable, "-c", _WRITER, str(db)], stdout=subprocess.PIPE, text=True)
    assert writer.stdout is not None
    assert writer.stdout.readline().strip() == "ready"
    time.sleep(delay)
    os.kill(writer.pid, signal.SIGKILL)
    writer.wait()
    acknowledged = [line.strip() for line in writer.stdout.read().splitlines() if line.strip()]
    assert len(acknowledged) > 10, "the writer barely started; the test proves nothing"

    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()
    memory = LongTermMemory(SQLiteStorage(db), embedder=False)
    stored = {e.id for e in memory.entries()}
    assert set(acknowledged) <= stored  # every committed add survived
    assert len(stored) - len(acknowledged) <= 1  # at most the one in flight (committed, not yet printed)
    ns = sorted(e.content["n"] for e in memory.entries())
    assert ns == list(range(len(ns)))  # no gaps, no half-written entry
    memory.add("the file is still writable")


def test_writers_on_many_threads_lose_nothing(tmp_path):
    memory = LongTermMemory(SQLiteStorage(tmp_path / "m.db"), embedder=False)
    errors: list[BaseException] = []

    def write(t: int) -> None:
        try:
            for i in range(100):
                memory.add({"thread": t, "i": i})
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=write, args=(t,)) for t in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(memory) == 800
    assert {(e.content["thread"], e.content["i"]) for e in memory.entries()} == {
        (t, i) for t in range(8) for i in range(100)
    }


def test_a_file_that_is_not_a_database_is_a_clear_error(tmp_path):
    bogus = tmp_path / "notes.db"
    bogus.write_text("these are my notes, not a database\n" * 100)
    with pytest.raises(MemoryStoreError, match="Cannot open the memory database"):
        SQLiteStorage(bogus)
    assert bogus.read_text().startswith("these are my notes")  # untouched


def test_a_failed_write_leaves_the_store_unchanged(tmp_path):
    memory = LongTermMemory(SQLiteStorage(tmp_path / "m.db"), embedder=False)
    memory.add("before")
    conn = sqlite3.connect(tmp_path / "m.db")
    # the next insert fails inside the transaction, as a full disk would
    conn.execute(
        "CREATE TRIGGER full BEFORE INSERT ON memories BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END"
    )
    conn.close()
    with pytest.raises(MemoryStoreError, match=r"disk is full.*Nothing was written"):
        memory.add_many([{"content": "a"}, {"content": "b"}])
    assert [e.content for e in memory.entries()] == ["before"]


_BUFFER_WRITER = textwrap.dedent(
    """
    import sys
    from kaizen_lab.memory import PersistentBufferMemory
    buffer = PersistentBufferMemory(sys.argv[1], agent_id=sys.argv[2], persist_every=3)
    for i in range(150):
        buffer.save("shared-session", {"i": i}, {"by": sys.argv[2]})
    buffer.close()
    """
)


def test_two_processes_on_one_persistent_buffer_lose_nothing(tmp_path):
    db = tmp_path / "buffer.db"
    writers = [
        subprocess.Popen([sys.executable, "-c", _BUFFER_WRITER, str(db), agent], stderr=subprocess.PIPE, text=True)
        for agent in ("a", "b")
    ]
    for w in writers:
        assert w.wait(timeout=120) == 0, w.stderr.read() if w.stderr else ""
    from kaizen_lab.memory import PersistentBufferMemory

    buffer = PersistentBufferMemory(db)
    for agent in ("a", "b"):
        assert [t.inputs["i"] for t in buffer.history("shared-session", agent_id=agent)] == list(range(150))
