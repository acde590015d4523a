"""One contract for every memory storage backend: InMemoryStorage, SQLiteStorage (a real file) and PostgresStorage
(a real server: KAIZEN_TEST_POSTGRES_DSN, or a throwaway cluster started by tests/_postgres.py).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from kaizen_lab.exceptions import MemoryStoreError
from kaizen_lab.memory.entry import MemoryEntry, encode_content
from kaizen_lab.memory.storage import Filter, InMemoryStorage, MemoryStorage, SQLiteStorage, pack, unpack
from tests._postgres import PASSWORD, postgres_dsn, postgres_password_dsn  # noqa: F401  (fixtures, asked for by name)

BACKENDS = ["memory", "sqlite", "postgres"]
PERSISTENT = ["sqlite", "postgres"]
REPO = Path(__file__).resolve().parents[2]


# ------------------------------------------------------------------------------------------------------ fixtures
@dataclass
class Backend:
    """Opens storages of one kind on one place: a second open() sees what the first wrote (when persistent)."""

    kind: str
    open_new: Callable[[], MemoryStorage]
    where: str = ""  # the SQLite file or the PostgreSQL DSN
    table: str = ""  # PostgreSQL only
    opened: list[MemoryStorage] = field(default_factory=list)

    def open(self) -> MemoryStorage:
        store = self.open_new()
        self.opened.append(store)
        return store


def _drop_tables(dsn: str, table: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP TABLE IF EXISTS {}, {}").format(sql.Identifier(table), sql.Identifier(table + "_meta"))
        )


def _make_backend(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    if kind == "memory":
        shared = InMemoryStorage()  # per process: "reopening" hands back the same dict
        return Backend(kind, lambda: shared)
    if kind == "sqlite":
        path = tmp_path / "memory.db"
        return Backend(kind, lambda: SQLiteStorage(path), where=str(path))
    from kaizen_lab.memory.postgres import PostgresStorage

    dsn = request.getfixturevalue("postgres_dsn")
    table = f"kz_{uuid.uuid4().hex[:16]}"  # a fresh table per test: tests never see each other's rows
    return Backend(kind, lambda: PostgresStorage(dsn, table=table), where=dsn, table=table)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    b = _make_backend(request.param, request, tmp_path)
    yield b
    for store in b.opened:
        store.close()
    if b.kind == "postgres":
        _drop_tables(b.where, b.table)


@pytest.fixture
def store(backend: Backend) -> MemoryStorage:
    return backend.open()


def item(content: Any, *, vector: list[float] | None = None, **fields: Any) -> tuple[MemoryEntry, str]:
    entry = MemoryEntry(content=content, embedding=vector, **fields)
    return entry, encode_content(content)


def ids(entries: list[MemoryEntry]) -> list[str]:
    return [e.id for e in entries]


def vector_ids(store: MemoryStorage) -> list[str]:
    return [row[1] for row in store.vectors_after(0, -1).rows]


# ------------------------------------------------------------------------------------------------------ add/get
def test_add_then_get_round_trips_every_field(store: MemoryStorage) -> None:
    content = {"zeta": "last key first", "alpha": [1, 2.5, None, True], "nested": {"ü": "Grüße 👋", "q": 'a "b"'}}
    entry, content_json = item(
        content,
        importance=0.8125,
        kind="correction",
        session_id="s-1",
        agent_id="agent-7",
        user_id="user-3",
        metadata={"source": "chat", "tags": ["x", "y"], "score": 0.1},
        id="entry-1",
        created_at=1717171717.123456789,
        last_accessed=1717171800.5,
        access_count=3,
    )
    store.add([(entry, content_json)])

    got = store.get("entry-1")
    assert got == entry  # every field (the embedding is not part of equality)
    assert list(got.content) == ["zeta", "alpha", "nested"]  # key order survives (it shapes the prompt text)
    assert got.created_at == 1717171717.123456789
    assert got.embedding is None
    assert store.get("no-such-id") is None
    # the content JSON comes back byte for byte (an embedder is fed exactly what was stored)
    assert store.missing_vectors(10) == [("entry-1", content_json)]


def test_plain_string_content_and_defaults(store: MemoryStorage) -> None:
    entry, content_json = item("Alice prefers tea", id="s")
    store.add([(entry, content_json)])
    got = store.get("s")
    assert got is not None
    assert (got.content, got.kind, got.importance, got.metadata) == ("Alice prefers tea", "fact", 0.5, {})
    assert (got.session_id, got.agent_id, got.user_id, got.last_accessed, got.access_count) == (None,) * 4 + (0,)


def test_add_nothing_is_a_no_op(store: MemoryStorage) -> None:
    store.add([])
    assert store.count() == 0


def test_a_duplicate_id_rolls_back_the_whole_batch(store: MemoryStorage) -> None:
    store.add([item("first", id="a", vector=[1.0, 0.0])])
    batch = [item("b", id="b", vector=[0.0, 1.0]), item("again", id="a"), item("c", id="c", vector=[1.0, 1.0])]
    with pytest.raises(MemoryStoreError):
        store.add(batch)
    assert store.count() == 1
    assert store.get("b") is None and store.get("c") is None
    assert store.get("a").content == "first"  # type: ignore[union-attr]
    assert vector_ids(store) == ["a"]  # no vector of the failed batch either
    # and the store still takes writes afterwards
    store.add([item("d", id="d", vector=[0.5, 0.5])])
    assert vector_ids(store) == ["a", "d"]


def test_a_duplicate_id_error_says_what_is_wrong(
    store: MemoryStorage, backend: Backend, request: pytest.FixtureRequest
) -> None:
    store.add([item("first", id="a")])
    with pytest.raises(MemoryStoreError, match="already stored; ids must be unique"):
        store.add([item("again", id="a")])


def test_a_duplicate_id_inside_one_batch_stores_nothing(
    store: MemoryStorage, backend: Backend, request: pytest.FixtureRequest
) -> None:
    with pytest.raises(MemoryStoreError):
        store.add([item("one", id="twice"), item("two", id="twice"), item("other", id="x")])
    assert store.count() == 0


# ------------------------------------------------------------------------------------------------------ update
def test_update_changes_allowed_fields_only_for_known_ids(store: MemoryStorage) -> None:
    store.add([item({"k": "v"}, id="u", vector=[1.0, 0.0], created_at=10.0), item("other", id="o", created_at=11.0)])
    assert store.update("u", importance=0.9, metadata={"why": "confirmed"}, kind="preference") is True
    assert store.update("u", session_id="s2", agent_id="a2", user_id="u2") is True
    got = store.get("u")
    assert got is not None
    assert (got.importance, got.metadata, got.kind) == (0.9, {"why": "confirmed"}, "preference")
    assert (got.session_id, got.agent_id, got.user_id) == ("s2", "a2", "u2")
    assert (got.content, got.created_at) == ({"k": "v"}, 10.0)  # untouched
    assert vector_ids(store) == ["u"]  # a metadata-only change keeps the vector
    assert store.get("o").importance == 0.5  # type: ignore[union-attr]
    assert store.update("missing", importance=0.1) is False
    assert store.update("missing", content_json=json.dumps("x")) is False


def test_updating_content_drops_the_vector(store: MemoryStorage) -> None:
    store.add([item("old text", id="u", vector=[1.0, 0.0], importance=0.3)])
    new_json = encode_content({"text": "new text"})
    assert store.update("u", content_json=new_json) is True
    got = store.get("u")
    assert got is not None and got.content == {"text": "new text"} and got.importance == 0.3
    assert vector_ids(store) == []
    assert store.missing_vectors(5) == [("u", new_json)]


@pytest.mark.parametrize("name", ["bogus", "created_at", "id", "access_count", "content", "embedding"])
def test_update_refuses_fields_that_cannot_change(
    store: MemoryStorage, backend: Backend, request: pytest.FixtureRequest, name: str
) -> None:
    store.add([item("keep", id="u", created_at=5.0)])
    with pytest.raises(MemoryStoreError, match="Cannot change"):
        store.update("u", **{name: 1.0})
    got = store.get("u")
    assert got is not None and (got.id, got.created_at, got.access_count, got.content) == ("u", 5.0, 0, "keep")


# ------------------------------------------------------------------------------------------------------- touch
def test_touch_counts_accesses_and_keeps_the_latest_time(store: MemoryStorage) -> None:
    store.add([item("a", id="a", vector=[1.0, 0.0]), item("b", id="b"), item("c", id="c")])
    before = store.vectors_after(0, -1)
    store.touch(["a", "b", "unknown"], at=100.0)
    store.touch(["a"], at=250.5)
    store.touch([], at=999.0)
    a, b, c = store.get("a"), store.get("b"), store.get("c")
    assert a is not None and b is not None and c is not None
    assert (a.access_count, a.last_accessed) == (2, 250.5)
    assert (b.access_count, b.last_accessed) == (1, 100.0)
    assert (c.access_count, c.last_accessed) == (0, None)
    after = store.vectors_after(before.rows[-1][0], before.generation)
    assert (after.generation, after.rows) == (before.generation, [])  # an access is not an edit


def test_touch_counts_one_access_per_call_for_a_repeated_id(
    store: MemoryStorage, backend: Backend, request: pytest.FixtureRequest
) -> None:
    store.add([item("a", id="a")])
    store.touch(["a", "a", "a"], at=1.0)
    assert store.get("a").access_count == 1  # type: ignore[union-attr]


# ------------------------------------------------------------------------------------------------------ delete
def test_delete_by_ids(store: MemoryStorage) -> None:
    store.add([item(f"e{i}", id=f"e{i}", vector=[float(i), 1.0]) for i in range(4)])
    assert store.delete(["e1", "e3", "nope"]) == 2
    assert store.delete(["e1"]) == 0
    assert store.delete([]) == 0
    assert sorted(ids(store.query())) == ["e0", "e2"]
    assert vector_ids(store) == ["e0", "e2"]


def test_delete_by_filter_and_everything(store: MemoryStorage) -> None:
    store.add(
        [
            item("t1", id="t1", kind="turn", session_id="s1"),
            item("t2", id="t2", kind="turn", session_id="s2"),
            item("f1", id="f1", kind="fact", session_id="s1"),
        ]
    )
    assert store.delete(where=Filter(kind="turn", session_id="s1")) == 1
    assert sorted(ids(store.query())) == ["f1", "t2"]
    assert store.delete(where=Filter(kind="nothing-like-this")) == 0
    assert store.delete() == 2
    assert store.count() == 0


# ------------------------------------------------------------------------------------------------ query, count
@pytest.fixture
def populated(store: MemoryStorage) -> MemoryStorage:
    store.add(
        [
            item(
                "Alice likes TEA", id="t1", kind="fact", session_id="s1", agent_id="a1", user_id="alice", created_at=1.0
            ),
            item({"note": "tea at five"}, id="t2", kind="turn", session_id="s1", agent_id="a1", created_at=2.0),
            item(
                "Bob drinks coffee", id="c1", kind="fact", session_id="s2", agent_id="a2", user_id="bob", created_at=3.0
            ),
            item("100% sure", id="p1", kind="fact", session_id="s2", created_at=4.0),
            item("1000 sure", id="p2", kind="fact", created_at=5.0),
            item("snake_case and snakeXcase", id="u1", kind="turn", user_id="alice", created_at=6.0),
        ]
    )
    return store


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        (Filter(), ["u1", "p2", "p1", "c1", "t2", "t1"]),
        (Filter(kind="fact"), ["p2", "p1", "c1", "t1"]),
        (Filter(session_id="s1"), ["t2", "t1"]),
        (Filter(agent_id="a2"), ["c1"]),
        (Filter(user_id="alice"), ["u1", "t1"]),
        (Filter(since=3.0), ["u1", "p2", "p1", "c1"]),
        (Filter(contains="tea"), ["t2", "t1"]),  # "TEA" matches: case-insensitive
        (Filter(contains="TeA aT"), ["t2"]),
        (Filter(contains='"note"'), ["t2"]),  # searched in the stored JSON text
        (Filter(contains="100%"), ["p1"]),  # % and _ are plain characters, not wildcards
        (Filter(contains="e_c"), ["u1"]),
        (Filter(contains="zzz"), []),
        (Filter(kind="fact", session_id="s2", since=4.0), ["p1"]),
        (Filter(kind="turn", user_id="alice", contains="SNAKE"), ["u1"]),
    ],
)
def test_query_and_count_filter(populated: MemoryStorage, where: Filter, expected: list[str]) -> None:
    assert ids(populated.query(where)) == expected  # newest first by default
    assert populated.count(where) == len(expected)


def test_contains_folds_case_beyond_ascii(
    store: MemoryStorage, backend: Backend, request: pytest.FixtureRequest
) -> None:
    if backend.kind == "postgres":
        _skip_if_c_locale(backend.where)
    store.add([item("CAFÉ ÜBER ALLES", id="x"), item("cafe", id="y")])
    assert ids(store.query(Filter(contains="café über"))) == ["x"]


def _skip_if_c_locale(dsn: str) -> None:
    import psycopg

    with psycopg.connect(dsn) as conn:
        ctype = conn.execute("SELECT datctype FROM pg_database WHERE datname = current_database()").fetchone()
    if ctype and ctype[0] in ("C", "POSIX"):
        pytest.skip("this database's LC_CTYPE is C: PostgreSQL lower() then folds ASCII only")


@pytest.fixture
def ranked(store: MemoryStorage) -> MemoryStorage:
    # (id, created_at, importance, touched at, touches)
    rows = [("a", 1.0, 0.2, 50.0, 1), ("b", 2.0, 0.9, None, 0), ("c", 3.0, 0.5, 10.0, 4), ("d", 4.0, 0.7, 30.0, 2)]
    store.add([item(i, id=i, created_at=t, importance=imp) for i, t, imp, _, _ in rows])
    for entry_id, _, _, at, touches in rows:
        for _ in range(touches):
            store.touch([entry_id], at=at)  # type: ignore[arg-type]
    return store


@pytest.mark.parametrize(
    ("order_by", "descending_order"),
    [
        ("created_at", ["d", "c", "b", "a"]),
        ("importance", ["b", "d", "c", "a"]),
        ("last_accessed", ["a", "d", "c", "b"]),  # never accessed sorts lowest
        ("access_count", ["c", "d", "a", "b"]),
    ],
)
def test_query_orders_both_ways(ranked: MemoryStorage, order_by: Any, descending_order: list[str]) -> None:
    assert ids(ranked.query(order_by=order_by)) == descending_order
    assert ids(ranked.query(order_by=order_by, descending=False)) == descending_order[::-1]


def test_query_breaks_ties_newest_first(store: MemoryStorage) -> None:
    store.add([item(i, id=i, importance=0.5, created_at=float(n)) for n, i in enumerate(["x", "y", "z"])])
    assert ids(store.query(order_by="importance")) == ["z", "y", "x"]
    assert ids(store.query(order_by="importance", descending=False)) == ["x", "y", "z"]


def test_query_breaks_exact_ties_by_insertion_order(
    store: MemoryStorage, backend: Backend, request: pytest.FixtureRequest
) -> None:
    store.add([item(i, id=i, created_at=7.0) for i in ["x", "y", "z"]])
    assert ids(store.query()) == ["z", "y", "x"]
    assert ids(store.query(descending=False)) == ["x", "y", "z"]


def test_query_pages_with_limit_and_offset(store: MemoryStorage) -> None:
    store.add([item(f"n{i}", id=f"n{i:02d}", created_at=float(i)) for i in range(23)])
    newest_first = [f"n{i:02d}" for i in reversed(range(23))]
    pages = [ids(store.query(limit=5, offset=offset)) for offset in range(0, 25, 5)]
    assert [len(p) for p in pages] == [5, 5, 5, 5, 3]
    assert [i for page in pages for i in page] == newest_first
    assert ids(store.query(limit=2, offset=3, descending=False)) == ["n03", "n04"]
    assert ids(store.query(offset=20)) == newest_first[20:]
    assert store.query(limit=0) == []
    assert store.query(offset=100) == []
    assert ids(store.query(Filter(since=20.0), limit=10)) == ["n22", "n21", "n20"]


@pytest.mark.parametrize("order_by", ["seq", "content", "created_at; DROP TABLE memories", ""])
def test_query_refuses_unknown_order(store: MemoryStorage, order_by: str) -> None:
    store.add([item("x", id="x")])
    with pytest.raises(MemoryStoreError, match="order_by must be one of"):
        store.query(order_by=order_by)  # type: ignore[arg-type]
    assert store.count() == 1


# ----------------------------------------------------------------------------------------------------- vectors
def test_vectors_after_is_incremental(store: MemoryStorage) -> None:
    first = store.vectors_after(0, 0)
    assert (first.rows, first.model) == ([], None)
    store.add(
        [item("a", id="a", vector=[0.25, -1.5, 3.0]), item("b", id="b"), item("c", id="c", vector=[1.0, 2.0, 4.0])]
    )
    full = store.vectors_after(0, first.generation)
    assert full.generation == first.generation
    assert [(r[1], unpack(r[2])) for r in full.rows] == [("a", [0.25, -1.5, 3.0]), ("c", [1.0, 2.0, 4.0])]
    assert full.rows[0][2] == pack([0.25, -1.5, 3.0])
    assert full.rows[0][0] < full.rows[1][0]
    last = full.rows[-1][0]
    assert store.vectors_after(last, full.generation).rows == []

    store.set_vectors([("b", encode_content("b"), pack([9.0, 9.0, 9.0]))], "mini-lm")
    newer = store.vectors_after(last, full.generation)
    assert [(r[1], unpack(r[2])) for r in newer.rows] == [("b", [9.0, 9.0, 9.0])]
    assert newer.rows[0][0] > last and newer.model == "mini-lm" and newer.generation == full.generation
    assert store.vectors_after(newer.rows[0][0], newer.generation).rows == []


@pytest.mark.parametrize("change", ["delete", "delete_where", "update_content"])
def test_a_delete_or_edit_moves_the_generation_so_readers_reload_everything(store: MemoryStorage, change: str) -> None:
    store.add([item(i, id=i, vector=[float(n), 1.0], kind="fact") for n, i in enumerate(["a", "b", "c"])])
    seen = store.vectors_after(0, 0)
    seen = store.vectors_after(0, seen.generation)
    top = seen.rows[-1][0]
    if change == "delete":
        assert store.delete(["b"]) == 1
    elif change == "delete_where":
        assert store.delete(where=Filter(contains='"b"')) == 1
    else:
        assert store.update("b", content_json=encode_content("B!")) is True
    moved = store.vectors_after(top, seen.generation)
    assert moved.generation != seen.generation
    assert [r[1] for r in moved.rows] == ["a", "c"]  # everything, not just rows after `top`
    assert store.vectors_after(moved.rows[-1][0], moved.generation).rows == []


def test_editing_importance_or_metadata_keeps_the_vectors_and_the_generation(store: MemoryStorage) -> None:
    store.add([item(i, id=i, vector=[float(n), 1.0]) for n, i in enumerate(["a", "b"])])
    seen = store.vectors_after(0, -1)
    assert store.update("b", importance=0.99, metadata={"k": 1}) is True
    after = store.vectors_after(seen.rows[-1][0], seen.generation)
    assert (after.generation, after.rows) == (seen.generation, [])  # no reload of the index for a new importance


def test_a_vector_for_content_edited_meanwhile_is_not_stored(store: MemoryStorage) -> None:
    store.add([item("old text", id="a")])
    [(entry_id, embedded_from)] = store.missing_vectors(1)
    store.update("a", content_json=encode_content("new text"))  # another process edits while we embed
    store.set_vectors([(entry_id, embedded_from, pack([1.0]))], "m")
    assert store.vectors_after(0, -1).rows == []
    assert store.missing_vectors(5) == [("a", encode_content("new text"))]  # embedded again next time


def test_deleting_nothing_keeps_the_generation(store: MemoryStorage) -> None:
    store.add([item("a", id="a", vector=[1.0])])
    before = store.vectors_after(0, -1)
    assert store.delete(["nope"]) == 0 and store.delete([]) == 0 and store.delete(where=Filter(kind="zzz")) == 0
    assert store.update("nope", importance=0.1) is False
    after = store.vectors_after(before.rows[-1][0], before.generation)
    assert (after.generation, after.rows) == (before.generation, [])


def test_missing_vectors_oldest_first_with_a_limit(store: MemoryStorage) -> None:
    store.add([item(f"m{i}", id=f"m{i}", created_at=100.0 - i) for i in range(5)])  # insertion order != created_at
    store.add([item("has one", id="v", vector=[1.0])])
    assert store.missing_vectors(3) == [(f"m{i}", json.dumps(f"m{i}")) for i in range(3)]
    store.set_vectors([("m0", encode_content("m0"), pack([0.0])), ("m2", encode_content("m2"), pack([2.0]))], "model")
    assert [i for i, _ in store.missing_vectors(10)] == ["m1", "m3", "m4"]
    assert store.missing_vectors(0) == []


def test_set_vectors_refuses_another_model(store: MemoryStorage) -> None:
    store.add([item("a", id="a"), item("b", id="b")])
    store.set_vectors([("a", encode_content("a"), pack([1.0, 0.0]))], "model-one")
    with pytest.raises(MemoryStoreError, match="'model-one', not 'model-two'"):
        store.set_vectors([("b", encode_content("b"), pack([0.0, 1.0]))], "model-two")
    with pytest.raises(MemoryStoreError, match="cannot be compared"):
        store.set_model("model-two")
    assert vector_ids(store) == ["a"]  # b's vector of the other model was not stored
    assert store.vectors_after(0, -1).model == "model-one"
    store.set_model("model-one")
    store.set_vectors([("b", encode_content("b"), pack([0.0, 1.0]))], "model-one")
    assert vector_ids(store) == ["a", "b"]


def test_set_model_records_the_model_for_vectors_given_to_add(store: MemoryStorage) -> None:
    store.set_model("m")
    store.add([item("a", id="a", vector=[1.0])])
    assert store.vectors_after(0, -1).model == "m"
    with pytest.raises(MemoryStoreError):
        store.set_vectors([], "other")


def test_set_vectors_skips_unknown_ids(store: MemoryStorage) -> None:
    store.add([item("a", id="a")])
    store.set_vectors([("ghost", encode_content("ghost"), pack([1.0])), ("a", encode_content("a"), pack([2.0]))], "m")
    rows = store.vectors_after(0, -1).rows
    assert [(r[1], unpack(r[2])) for r in rows] == [("a", [2.0])]
    assert store.get("ghost") is None


def test_set_vectors_keeps_a_vector_already_there(
    store: MemoryStorage, backend: Backend, request: pytest.FixtureRequest
) -> None:
    store.add([item("a", id="a", vector=[1.0])])
    store.set_vectors([("a", encode_content("a"), pack([5.0]))], "m")
    assert [unpack(r[2]) for r in store.vectors_after(0, -1).rows] == [[1.0]]


# ------------------------------------------------------------------------------------------ lifecycle, threads
def test_persistence_flag_and_reopening(backend: Backend) -> None:
    store = backend.open()
    assert store.persistent is (backend.kind in PERSISTENT)
    store.add([item({"kept": True}, id="k", vector=[1.0, 2.0], importance=0.7)])
    store.set_model("m")
    store.delete(["nothing"])
    store.add([item("gone", id="g")])
    store.delete(["g"])
    before = store.vectors_after(0, -1)
    store.close()

    again = backend.open()
    got = again.get("k")
    assert got is not None and got.content == {"kept": True} and got.importance == 0.7
    after = again.vectors_after(0, -1)
    assert (after.generation, after.model, after.rows) == (before.generation, "m", before.rows)


def test_context_manager_returns_the_store(backend: Backend, request: pytest.FixtureRequest) -> None:
    with backend.open() as store:  # type: ignore[attr-defined]
        store.add([item("x", id="x")])
    assert backend.open().count() == 1


def test_threads_share_one_store(store: MemoryStorage) -> None:
    errors: list[BaseException] = []

    def writer(t: int) -> None:
        try:
            for i in range(40):
                store.add([item(f"{t}-{i}", id=f"{t}-{i}", vector=[float(t), float(i)])])
                if i % 10 == 0:
                    store.query(limit=3)
                    store.touch([f"{t}-{i}"], at=float(i))
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=writer, args=(t,)) for t in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    rows = store.vectors_after(0, -1).rows
    assert store.count() == 200 and len(rows) == 200
    assert len({r[0] for r in rows}) == 200


# ------------------------------------------------------------------------------------------------ two processes
_WORKER = textwrap.dedent(
    """
    import os, sys, time
    from kaizen_lab.memory.entry import MemoryEntry, encode_content

    kind, where, table, prefix, go = sys.argv[1:6]
    if kind == "sqlite":
        from kaizen_lab.memory.storage import SQLiteStorage
        store = SQLiteStorage(where)
    else:
        from kaizen_lab.memory.postgres import PostgresStorage
        store = PostgresStorage(where, table=table)
    print("ready", flush=True)
    deadline = time.monotonic() + 60
    while not os.path.exists(go) and time.monotonic() < deadline:
        time.sleep(0.002)
    for i in range(200):
        entry = MemoryEntry(content=f"{prefix} {i}", id=f"{prefix}-{i}", embedding=[float(i), 1.0])
        store.add([(entry, encode_content(entry.content))])
    store.close()
    print("done", flush=True)
    """
)


@pytest.mark.parametrize("kind", PERSISTENT)
def test_two_processes_adding_at_once_get_unique_ordered_vseqs(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    backend = _make_backend(kind, request, tmp_path)
    reader = backend.open()  # tables made first: this test is about adding (opening at once has its own test)
    go = tmp_path / "go"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", _WORKER, kind, backend.where, backend.table, prefix, str(go)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd=REPO,
        )
        for prefix in ("p1", "p2")
    ]
    try:
        for worker in workers:
            assert worker.stdout is not None
            line = worker.stdout.readline()
            assert line.strip() == "ready", worker.stderr.read() if worker.stderr else ""
        go.touch()
        # a reader catching up incrementally while both write must end up with every vector: numbers are handed
        # out in commit order, so nothing can commit below a number the reader has already passed
        seen: dict[str, int] = {}
        last, generation = 0, reader.vectors_after(0, -1).generation
        polls = 0
        while True:
            running = any(w.poll() is None for w in workers)
            rows = reader.vectors_after(last, generation)
            assert rows.generation == generation
            for number, entry_id, _ in rows.rows:
                assert entry_id not in seen
                seen[entry_id] = number
                last = max(last, number)
            polls += 1
            if not running:
                break
            time.sleep(0.003)
        outputs = [w.communicate(timeout=60) for w in workers]
        for worker, (out, err) in zip(workers, outputs, strict=True):
            assert worker.returncode == 0, err
            assert out.strip() == "done"

        expected = {f"{p}-{i}" for p in ("p1", "p2") for i in range(200)}
        everything = reader.vectors_after(0, -1).rows
        assert reader.count() == 400
        assert {r[1] for r in everything} == expected
        assert len({r[0] for r in everything}) == 400  # unique vseq
        assert set(seen) == expected, f"the incremental reader missed {sorted(expected - set(seen))[:5]}"
        for prefix in ("p1", "p2"):  # each writer's own vectors got increasing numbers
            own = [seen[f"{prefix}-{i}"] for i in range(200)]
            assert own == sorted(own)
        assert polls > 1
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
                worker.communicate()
        for store in backend.opened:
            store.close()
        if kind == "postgres":
            _drop_tables(backend.where, backend.table)


_OPENER = textwrap.dedent(
    """
    import os, sys, time
    kind, where, table, name, go = sys.argv[1:6]
    from kaizen_lab.memory.entry import MemoryEntry, encode_content
    from kaizen_lab.memory.storage import SQLiteStorage
    from kaizen_lab.memory.postgres import PostgresStorage
    if kind == "postgres":
        import psycopg  # imported now, so that the openers start level
    print("ready", flush=True)
    deadline = time.monotonic() + 60
    while not os.path.exists(go) and time.monotonic() < deadline:
        pass  # spin: all openers start within microseconds of each other
    store = SQLiteStorage(where) if kind == "sqlite" else PostgresStorage(where, table=table)
    store.add([(MemoryEntry(content=name, id=name), encode_content(name))])
    store.close()
    """
)


@pytest.mark.parametrize("kind", PERSISTENT)
def test_processes_opening_a_fresh_store_at_once_all_succeed(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    for round_ in range(4):
        folder = tmp_path / f"round{round_}"
        folder.mkdir()
        backend = _make_backend(kind, request, folder)
        go = folder / "go"
        openers = [
            subprocess.Popen(
                [sys.executable, "-c", _OPENER, kind, backend.where, backend.table, f"n{i}", str(go)],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=env,
                cwd=REPO,
            )
            for i in range(3)
        ]
        try:
            for opener in openers:  # started and imported
                assert opener.stdout is not None and opener.stdout.readline().strip() == "ready"
            go.touch()
            errors = [opener.communicate(timeout=60)[1] for opener in openers]
            assert [o.returncode for o in openers] == [0, 0, 0], "\n".join(e.strip()[-400:] for e in errors if e)
            store = backend.open()
            assert sorted(ids(store.query())) == ["n0", "n1", "n2"]
        finally:
            for opener in openers:
                if opener.poll() is None:
                    opener.kill()
                    opener.communicate()
            for store in backend.opened:
                store.close()
            if kind == "postgres":
                _drop_tables(backend.where, backend.table)


# ------------------------------------------------------------------------------------------- PostgreSQL only
def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_importing_kaizen_lab_does_not_import_psycopg() -> None:
    code = "import sys, kaizen_lab, kaizen_lab.memory, kaizen_lab.memory.postgres; print('psycopg' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("table", ["Memories", "1abc", "a-b", "x; DROP TABLE users", "a" * 49, "", "schema.table"])
def test_postgres_refuses_a_bad_table_name_before_connecting(table: str) -> None:
    from kaizen_lab.memory.postgres import PostgresStorage

    with pytest.raises(MemoryStoreError, match="table must be"):
        PostgresStorage("host=/nonexistent", table=table)


@pytest.mark.parametrize(
    "dsn",
    [
        "host=127.0.0.1 port={port} user=kaizen password=Sup3r-S3cret dbname=app connect_timeout=5",
        "postgresql://kaizen:Sup3r-S3cret@127.0.0.1:{port}/app?connect_timeout=5",
        "postgresql://kaizen:Sup3r%2FS3cret@127.0.0.1:{port}/app",
        "host=127.0.0.1 port={port} password='Sup3r S3cret' user=kaizen",
    ],
)
def test_postgres_connection_refused_is_actionable_and_hides_the_password(dsn: str) -> None:
    pytest.importorskip("psycopg", reason="psycopg is not installed: pip install -e '.[postgres]'")
    from kaizen_lab.memory.postgres import PostgresStorage

    with pytest.raises(MemoryStoreError) as caught:
        PostgresStorage(dsn.format(port=_free_port()))
    message = str(caught.value)
    assert "S3cret" not in message and "Sup3r" not in message
    assert "Cannot connect to PostgreSQL" in message and "127.0.0.1" in message and "user=kaizen" in message
    assert "server is running" in message
    assert caught.value.__cause__ is None


def test_postgres_unreadable_dsn_hides_the_password() -> None:
    pytest.importorskip("psycopg", reason="psycopg is not installed: pip install -e '.[postgres]'")
    from kaizen_lab.memory.postgres import PostgresStorage

    with pytest.raises(MemoryStoreError, match="cannot be read") as caught:
        PostgresStorage("host=db password=Sup3r S3cret")
    assert "Sup3r" not in str(caught.value) and "S3cret" not in str(caught.value)


def test_postgres_server_side_refusal_hides_the_password(postgres_dsn: str) -> None:  # noqa: F811
    from kaizen_lab.memory.postgres import PostgresStorage

    with pytest.raises(MemoryStoreError, match="Cannot connect") as caught:
        PostgresStorage(postgres_dsn + " dbname=no_such_db_here password=Sup3r-S3cret")
    assert "no_such_db_here" in str(caught.value) and "S3cret" not in str(caught.value)
    # with the password accepted (trust), the repr still never shows it
    table = f"kz_{uuid.uuid4().hex[:16]}"
    with PostgresStorage(postgres_dsn + " password=Sup3r-S3cret", table=table) as store:
        assert "S3cret" not in repr(store) and table in repr(store)
    _drop_tables(postgres_dsn, table)


def test_postgres_wrong_password_is_actionable_and_hidden(postgres_password_dsn: str) -> None:  # noqa: F811
    from kaizen_lab.memory.postgres import PostgresStorage

    for dsn in (f"{postgres_password_dsn} password=Wr0ng-S3cret", f"{postgres_password_dsn} password='Wr0ng S3cret'"):
        with pytest.raises(MemoryStoreError) as caught:
            PostgresStorage(dsn)
        message = str(caught.value)
        assert "password authentication failed" in message and "user=kaizen_pw" in message
        assert "S3cret" not in message and "Wr0ng" not in message
        assert "user, password and database name" in message
    table = f"kz_{uuid.uuid4().hex[:16]}"
    with pytest.raises(MemoryStoreError, match="cannot create or read the memory table"):
        PostgresStorage(f"{postgres_password_dsn} password={PASSWORD}", table=table)  # logs in, may not CREATE


def test_postgres_refuses_a_foreign_table(postgres_dsn: str) -> None:  # noqa: F811
    import psycopg

    from kaizen_lab.memory.postgres import PostgresStorage

    table = f"kz_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(postgres_dsn, autocommit=True) as conn:
        conn.execute(f"CREATE TABLE {table} (id INTEGER, name TEXT)")  # a fresh hex name: safe to inline here
    try:
        with pytest.raises(MemoryStoreError, match="not a kaizen memory table"):
            PostgresStorage(postgres_dsn, table=table)
    finally:
        _drop_tables(postgres_dsn, table)


def test_postgres_reconnects_after_the_server_drops_the_connection(postgres_dsn: str) -> None:  # noqa: F811
    import psycopg

    from kaizen_lab.memory.postgres import PostgresStorage

    table = f"kz_{uuid.uuid4().hex[:16]}"
    name = f"kaizen-test-{uuid.uuid4().hex[:8]}"

    def kill_session() -> None:
        with psycopg.connect(postgres_dsn, autocommit=True) as conn:
            killed = conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s", (name,)
            ).fetchall()
        assert killed == [(True,)]

    with PostgresStorage(postgres_dsn, table=table, application_name=name) as store:
        store.add([item("a", id="a", vector=[1.0])])
        kill_session()
        assert store.count() == 1  # a read reconnects
        kill_session()
        store.add([item("b", id="b", vector=[2.0])])  # a write that had not begun reconnects too
        assert vector_ids(store) == ["a", "b"]
    with pytest.raises(MemoryStoreError, match="is closed"):
        store.count()
    _drop_tables(postgres_dsn, table)


def test_kinds_count_entries_per_kind(store: MemoryStorage) -> None:
    assert store.kinds() == {}
    store.add([item("a", id="a"), item("b", id="b", kind="turn"), item("c", id="c", kind="turn")])
    assert store.kinds() == {"fact": 1, "turn": 2}
    store.delete(["b"])
    assert store.kinds() == {"fact": 1, "turn": 1}
