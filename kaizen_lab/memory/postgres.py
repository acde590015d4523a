"""Memory entries in a PostgreSQL table, shared by every kernel and machine that can reach the server.

``PostgresStorage`` answers exactly what ``SQLiteStorage`` answers (see ``storage.py``); it needs the ``postgres``
extra (``pip install 'kaizen-lab[postgres]'``), and psycopg is imported only when one is opened.

Layout: one table (``kaizen_memories`` unless ``table=`` says otherwise) and a ``<table>_meta`` key/value table
beside it holding the generation, the last vector sequence number and the embedding model. Content and metadata are
stored as the JSON text they were given (so they round-trip byte for byte), vectors as packed float32 ``BYTEA``.

Concurrency: every write is one transaction. Vector sequence numbers come from a counter row in the meta table that
the writing transaction keeps locked until it commits, so writers in any number of processes take numbers one after
another *in commit order*: a search index that has seen vector ``n`` never later finds a committed vector below
``n``. A (unique) index on ``vseq`` makes a duplicate impossible rather than merely unlikely.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote

from ..exceptions import MemoryStoreError
from .entry import MemoryEntry
from .storage import (
    Filter,
    MemoryStorage,
    OrderBy,
    VectorRows,
    _check_fields,
    _check_model,
    _check_order,
    _entry,
    pack,
)

if TYPE_CHECKING:
    import psycopg
    from psycopg import sql

__all__ = ["PostgresStorage"]

T = TypeVar("T")

#: Lower-case letters, digits and underscores, starting with a letter or underscore; short enough that the derived
#: names (``<table>_meta``, ``<table>_session``, ...) stay under PostgreSQL's 63-byte identifier limit.
_TABLE_NAME = re.compile(r"[a-z_][a-z0-9_]{0,47}")
_COLUMNS = (
    "id",
    "kind",
    "content",
    "importance",
    "session_id",
    "agent_id",
    "user_id",
    "metadata",
    "created_at",
    "last_accessed",
    "access_count",
)
_SCHEMA_VERSION = "1"
_DEFAULT_CONNECT_TIMEOUT = 10
_EVERYTHING = Filter()


# ------------------------------------------------------------------------------------------------ DSN, masked
_PASSWORD_KV = re.compile(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", re.IGNORECASE)
_PASSWORD_URL = re.compile(r"(://[^:/@\s]*:)[^@\s]*@")


def _mask(text: str, password: str | None) -> str:
    """``text`` with the DSN's password (plain or URL-encoded) and anything shaped like one replaced by ***."""
    if password and len(password) >= 4:  # a shorter one would mask every "a" in the message; regexes still apply
        for form in {password, quote(password, safe=""), quote(password)}:
            text = text.replace(form, "***")
    text = _PASSWORD_KV.sub(r"\1***", text)
    return _PASSWORD_URL.sub(r"\1***@", text)


def _describe(params: dict[str, Any]) -> str:
    """Where the server is, for messages: ``host=db.example port=5432 dbname=app user=kaizen`` (never a password)."""
    shown = [f"{key}={params[key]}" for key in ("host", "hostaddr", "port", "dbname", "user") if params.get(key)]
    return " ".join(shown) or "the default local server (libpq defaults / PG* environment variables)"


# --------------------------------------------------------------------------------------------------- storage
class PostgresStorage(MemoryStorage):
    """Entries in a PostgreSQL table: persistent, shared between processes and machines.

    ``dsn`` is a libpq connection string (``"host=db dbname=app user=kaizen password=..."``) or URL
    (``"postgresql://kaizen:...@db/app"``); an empty string uses the PG* environment variables. The table and its
    indexes are created when missing. One connection, guarded by a lock, serves every thread; it is reopened by the
    next call after the server dropped it. Errors (cannot connect, no permission, server gone) are
    ``MemoryStoreError`` whose message names the server but never the password.
    """

    persistent = True

    def __init__(
        self,
        dsn: str,
        *,
        table: str = "kaizen_memories",
        connect_timeout: int | None = None,
        application_name: str = "kaizen-lab",
    ) -> None:
        if not isinstance(table, str) or not _TABLE_NAME.fullmatch(table):
            raise MemoryStoreError(
                f"table must be 1-48 lower-case letters, digits or underscores, starting with a letter or "
                f"underscore (e.g. 'kaizen_memories'); got {table!r}"
            )
        try:
            import psycopg
            from psycopg import sql
            from psycopg.conninfo import conninfo_to_dict
        except ImportError:
            raise MemoryStoreError(
                "PostgresStorage needs psycopg 3: pip install 'kaizen-lab[postgres]' (or 'psycopg[binary]>=3.2')."
            ) from None
        self.table = table
        self._dsn = dsn
        try:
            params = dict(conninfo_to_dict(dsn))
        except psycopg.Error as e:
            # libpq quotes the fragment it choked on, which may be the password: say nothing of the DSN then
            secret = _PASSWORD_KV.search(dsn) or _PASSWORD_URL.search(dsn)
            detail = "; its text is not shown because it holds a password" if secret else f": {e}"
            raise MemoryStoreError(
                f"This PostgreSQL DSN cannot be read{detail}. Use 'host=... port=5432 dbname=... user=... "
                "password=...' (quote values with spaces in single quotes) or 'postgresql://user:password@host/dbname'."
            ) from None
        self._password = str(params.pop("password", "") or "") or None
        self._where = _describe(params)
        self._connect_options: dict[str, Any] = {}
        if "connect_timeout" not in params:
            self._connect_options["connect_timeout"] = connect_timeout or _DEFAULT_CONNECT_TIMEOUT
        elif connect_timeout is not None:
            self._connect_options["connect_timeout"] = connect_timeout
        if "application_name" not in params:
            self._connect_options["application_name"] = application_name
        self._lock = threading.RLock()
        self._conn: psycopg.Connection[Any] | None = None
        self._closed = False
        self._schema_ready = False
        self._q = _Statements(sql, table)
        with self._lock:
            self._connection()

    def __repr__(self) -> str:
        return f"PostgresStorage({self._where!r}, table={self.table!r})"

    # -------------------------------------------------------------------------------------------- connection
    def _connection(self) -> psycopg.Connection[Any]:
        """The open connection (caller holds the lock), reconnecting when the server dropped the last one."""
        if self._closed:
            raise MemoryStoreError(f"{self!r} is closed; open a new PostgresStorage to use this memory again.")
        if self._conn is not None and not self._conn.closed:
            return self._conn
        import psycopg

        if self._conn is not None:  # broken: the server went away or restarted
            self._conn.close()
            self._conn = None
        try:
            conn = psycopg.connect(self._dsn, autocommit=True, **self._connect_options)
        except psycopg.Error as e:
            raise MemoryStoreError(
                f"Cannot connect to PostgreSQL ({self._where}): {self._clean(e)}. Check that the server is running "
                "and reachable from here, and the user, password and database name in the DSN (a password can also "
                "come from PGPASSWORD or ~/.pgpass)."
            ) from None
        try:
            if not self._schema_ready:
                self._create_schema(conn)
                self._schema_ready = True
        except BaseException:
            conn.close()
            raise
        self._conn = conn
        return conn

    def _create_schema(self, conn: psycopg.Connection[Any]) -> None:
        import psycopg

        # CREATE ... IF NOT EXISTS is not safe against itself in two sessions: a transaction-scoped advisory lock
        # per table name makes the first opener create and the others wait, then find everything there.
        key = int.from_bytes(hashlib.blake2b(f"kaizen_lab.memory:{self.table}".encode(), digest_size=8).digest(), "big")
        key -= 1 << 63  # a signed bigint
        try:
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (key,))
                for statement in self._q.schema:
                    conn.execute(statement)
                conn.execute(self._q.shape_check)
                row = conn.execute(self._q.meta_get, ("schema",)).fetchone()
        except psycopg.errors.InsufficientPrivilege as e:
            raise MemoryStoreError(
                f"The PostgreSQL user cannot create or read the memory table {self.table!r} ({self._where}): "
                f"{self._clean(e)}. Grant it CREATE on the schema (or create the tables once as an owner), or pass "
                "table= naming a table it may use."
            ) from None
        except (psycopg.errors.UndefinedColumn, psycopg.errors.WrongObjectType, psycopg.errors.DatatypeMismatch) as e:
            raise MemoryStoreError(
                f"A table named {self.table!r} (or {self.table + '_meta'!r}) already exists in this database "
                f"({self._where}) but is not a kaizen memory table ({self._clean(e)}); pass another table= name."
            ) from None
        except psycopg.Error as e:
            raise MemoryStoreError(
                f"Cannot prepare the memory table {self.table!r} on PostgreSQL ({self._where}): {self._clean(e)}."
            ) from None
        if row is None or row[0] != _SCHEMA_VERSION:
            raise MemoryStoreError(
                f"The memory table {self.table!r} ({self._where}) has schema version {row[0] if row else None!r}; "
                f"this kaizen-lab reads version {_SCHEMA_VERSION}. Upgrade kaizen-lab or pass another table= name."
            )

    def _clean(self, error: BaseException) -> str:
        message = " ".join(str(error).split()) or type(error).__name__
        return _mask(message, self._password)

    def _fail(self, error: Exception, action: str) -> MemoryStoreError:
        import psycopg

        if isinstance(error, psycopg.OperationalError):
            return MemoryStoreError(
                f"PostgreSQL ({self._where}) failed while {action}: {self._clean(error)}. A write that failed was "
                "rolled back (if the connection dropped while committing, check with get() before retrying); the "
                "next call reconnects once the server is reachable."
            )
        return MemoryStoreError(f"PostgreSQL ({self._where}) refused {action}: {self._clean(error)}. Nothing changed.")

    def _write(self, action: str, work: Callable[[psycopg.Cursor[Any]], T]) -> T:
        """Run ``work`` in one transaction: all of it commits, or none. Retried once on a fresh connection when the
        server had dropped the old one before the transaction began (nothing was sent, so nothing can repeat)."""
        import psycopg

        with self._lock:
            for attempt in (1, 2):
                conn = self._connection()
                began = False
                try:
                    with conn.transaction(), conn.cursor() as cur:
                        began = True
                        return work(cur)
                except psycopg.OperationalError as e:
                    if attempt == 1 and not began and conn.closed and not self._closed:
                        continue
                    raise self._fail(e, action) from e
                except psycopg.Error as e:
                    raise self._fail(e, action) from e
            raise AssertionError("unreachable")

    def _read(self, action: str, work: Callable[[psycopg.Cursor[Any]], T], *, snapshot: bool = False) -> T:
        """Run read-only ``work`` (in one REPEATABLE READ snapshot when asked); retried once on a fresh connection
        when the server had dropped the old one."""
        import psycopg

        with self._lock:
            for attempt in (1, 2):
                conn = self._connection()
                try:
                    with conn.transaction(), conn.cursor() as cur:
                        if snapshot:
                            cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                        return work(cur)
                except psycopg.OperationalError as e:
                    if attempt == 1 and conn.closed and not self._closed:
                        continue
                    raise self._fail(e, action) from e
                except psycopg.Error as e:
                    raise self._fail(e, action) from e
            raise AssertionError("unreachable")

    def _allocate_vseq(self, cur: psycopg.Cursor[Any], count: int) -> int:
        """Reserve ``count`` vector numbers; returns the one before the first. The counter row stays locked until
        this transaction ends, which is what puts numbers in commit order across processes."""
        row = cur.execute(self._q.vseq_allocate, (count,)).fetchone()
        if row is None:
            raise MemoryStoreError(f"The memory table {self.table}_meta lost its 'vseq' row; recreate the table.")
        return int(row[0]) - count

    # ------------------------------------------------------------------------------------------------ writes
    def add(self, entries: Sequence[tuple[MemoryEntry, str]]) -> None:
        import psycopg

        if not entries:
            return
        with_vectors = sum(1 for entry, _ in entries if entry.embedding is not None)

        def work(cur: psycopg.Cursor[Any]) -> None:
            vseq = self._allocate_vseq(cur, with_vectors) if with_vectors else 0
            rows = []
            for entry, content_json in entries:
                blob = number = None
                if entry.embedding is not None:
                    vseq += 1
                    blob, number = pack(entry.embedding), vseq
                rows.append(
                    (
                        entry.id,
                        entry.kind,
                        content_json,
                        entry.importance,
                        entry.session_id,
                        entry.agent_id,
                        entry.user_id,
                        _json(entry.metadata),
                        entry.created_at,
                        entry.last_accessed,
                        entry.access_count,
                        blob,
                        number,
                    )
                )
            cur.executemany(self._q.insert, rows)

        try:
            self._write(f"adding {len(entries)} memory entries", work)
        except MemoryStoreError as e:
            cause = e.__cause__
            if isinstance(cause, psycopg.errors.UniqueViolation) and cause.diag.constraint_name == self._q.id_key:
                raise MemoryStoreError("An entry with this id is already stored; ids must be unique.") from None
            raise

    def update(self, entry_id: str, *, content_json: str | None = None, **fields: Any) -> bool:
        from psycopg import sql

        sets: list[sql.Composable] = []
        params: list[Any] = []
        _check_fields(fields)
        for name, value in fields.items():
            sets.append(sql.SQL("{} = %s").format(sql.Identifier(name)))
            params.append(_json(value) if name == "metadata" else value)
        if content_json is not None:
            sets.append(sql.SQL("content = %s, embedding = NULL, vseq = NULL"))
            params.append(content_json)
        if not sets:
            return self.get(entry_id) is not None
        statement = sql.SQL("UPDATE {} SET {} WHERE id = %s").format(self._q.t, sql.SQL(", ").join(sets))

        def work(cur: psycopg.Cursor[Any]) -> bool:
            cur.execute(statement, (*params, entry_id))
            changed = cur.rowcount > 0
            if changed and content_json is not None:  # only a new content drops a vector an index may hold
                cur.execute(self._q.bump)
            return changed

        return self._write("updating a memory entry", work)

    def touch(self, entry_ids: Sequence[str], at: float) -> None:
        if entry_ids:
            self._write(
                "recording memory accesses",
                lambda cur: cur.execute(self._q.touch, (at, list(entry_ids))) and None,
            )

    def delete(self, entry_ids: Sequence[str] | None = None, where: Filter | None = None) -> int:
        from psycopg import sql

        if entry_ids is not None:
            if not entry_ids:
                return 0
            statement: sql.Composed = self._q.delete_ids
            params: list[Any] = [list(entry_ids)]
        else:
            clause, params = _where_sql(where or _EVERYTHING)
            statement = sql.SQL("DELETE FROM {}{}").format(self._q.t, clause)

        def work(cur: psycopg.Cursor[Any]) -> int:
            cur.execute(statement, params)
            gone = cur.rowcount
            if gone:
                cur.execute(self._q.bump)
            return max(gone, 0)

        return self._write("deleting memory entries", work)

    def set_vectors(self, vectors: Sequence[tuple[str, str, bytes]], model: str) -> None:
        def work(cur: psycopg.Cursor[Any]) -> None:
            # Lock the counter first: concurrent set_vectors (and adds) run one after another, so two processes
            # with different models cannot both see "no model yet".
            if vectors:
                first = self._allocate_vseq(cur, len(vectors)) + 1
            else:
                cur.execute(self._q.vseq_lock)
            row = cur.execute(self._q.meta_get, ("embedding_model",)).fetchone()
            _check_model(row[0] if row else None, model)
            if row is None:
                cur.execute(self._q.meta_insert, ("embedding_model", model))
            if vectors:
                cur.executemany(
                    self._q.set_vector,
                    [
                        (bytes(blob), first + i, entry_id, content_json)
                        for i, (entry_id, content_json, blob) in enumerate(vectors)
                    ],
                )

        self._write("storing memory vectors", work)

    # ------------------------------------------------------------------------------------------------- reads
    def get(self, entry_id: str) -> MemoryEntry | None:
        row = self._read("reading a memory entry", lambda cur: cur.execute(self._q.get, (entry_id,)).fetchone())
        return _entry(row) if row else None

    def query(
        self,
        where: Filter = _EVERYTHING,
        *,
        order_by: OrderBy = "created_at",
        descending: bool = True,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[MemoryEntry]:
        from psycopg import sql

        column = sql.Identifier(_check_order(order_by))
        if (limit is not None and limit < 0) or offset < 0:
            raise MemoryStoreError(f"limit and offset cannot be negative; got limit={limit}, offset={offset}")
        clause, params = _where_sql(where)
        # NULL (never accessed) sorts as the smallest value, as in SQLite and InMemoryStorage
        order = sql.SQL("DESC NULLS LAST" if descending else "ASC NULLS FIRST")
        direction = sql.SQL("DESC" if descending else "ASC")
        statement = sql.SQL("SELECT {} FROM {}{} ORDER BY {} {}, seq {} LIMIT %s OFFSET %s").format(
            self._q.columns, self._q.t, clause, column, order, direction
        )
        rows = self._read(
            "querying memory entries", lambda cur: cur.execute(statement, (*params, limit, offset)).fetchall()
        )
        return [_entry(row) for row in rows]

    def count(self, where: Filter = _EVERYTHING) -> int:
        from psycopg import sql

        clause, params = _where_sql(where)
        statement = sql.SQL("SELECT COUNT(*) FROM {}{}").format(self._q.t, clause)
        row = self._read("counting memory entries", lambda cur: cur.execute(statement, params).fetchone())
        return int(row[0]) if row else 0

    def kinds(self) -> dict[str, int]:
        from psycopg import sql

        statement = sql.SQL("SELECT kind, COUNT(*) FROM {} GROUP BY kind ORDER BY kind").format(self._q.t)
        rows = self._read("counting memory kinds", lambda cur: cur.execute(statement).fetchall())
        return {str(kind): int(n) for kind, n in rows}

    def vectors_after(self, vseq: int, generation: int) -> VectorRows:
        def work(cur: psycopg.Cursor[Any]) -> VectorRows:  # one snapshot: generation and rows read together
            meta = dict(cur.execute(self._q.meta_all).fetchall())
            current = int(meta.get("generation") or 0)
            floor = vseq if current == generation else 0
            rows = cur.execute(self._q.vectors_after, (floor,)).fetchall()
            return VectorRows(current, meta.get("embedding_model"), [(r[0], r[1], bytes(r[2])) for r in rows])

        return self._read("reading memory vectors", work, snapshot=True)

    def missing_vectors(self, limit: int) -> list[tuple[str, str]]:
        rows = self._read(
            "listing entries without vectors", lambda cur: cur.execute(self._q.missing, (limit,)).fetchall()
        )
        return [(row[0], row[1]) for row in rows]

    # --------------------------------------------------------------------------------------------- lifecycle
    def close(self) -> None:
        with self._lock:
            self._closed = True
            if self._conn is not None:
                self._conn.close()
                self._conn = None


# ------------------------------------------------------------------------------------------------------- SQL
def _json(value: Any) -> str:
    import json

    return json.dumps(value, ensure_ascii=False)


def _where_sql(where: Filter) -> tuple[sql.Composable, list[Any]]:
    from psycopg import sql

    clauses: list[sql.Composable] = []
    params: list[Any] = []
    for column in ("kind", "session_id", "agent_id", "user_id"):
        if (value := getattr(where, column)) is not None:
            clauses.append(sql.SQL("{} = %s").format(sql.Identifier(column)))
            params.append(value)
    if where.since is not None:
        clauses.append(sql.SQL("created_at >= %s"))
        params.append(where.since)
    if where.contains:
        clauses.append(sql.SQL("strpos(lower(content), lower(%s)) > 0"))
        params.append(where.contains)
    if not clauses:
        return sql.SQL(""), params
    return sql.SQL(" WHERE ") + sql.SQL(" AND ").join(clauses), params


class _Statements:
    """Every fixed statement, composed once with the (validated, quoted) table names."""

    def __init__(self, sql: Any, table: str) -> None:
        ident = sql.Identifier
        self.t = t = ident(table)
        m = ident(f"{table}_meta")
        self.id_key = f"{table}_id_key"  # PostgreSQL's name for the UNIQUE constraint on id
        self.columns = sql.SQL(", ").join(ident(c) for c in _COLUMNS)
        self.schema = [
            sql.SQL(
                """CREATE TABLE IF NOT EXISTS {} (
                    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                    id TEXT NOT NULL,
                    kind TEXT NOT NULL,
                    content TEXT NOT NULL,
                    importance DOUBLE PRECISION NOT NULL,
                    session_id TEXT,
                    agent_id TEXT,
                    user_id TEXT,
                    metadata TEXT NOT NULL,
                    created_at DOUBLE PRECISION NOT NULL,
                    last_accessed DOUBLE PRECISION,
                    access_count BIGINT NOT NULL DEFAULT 0,
                    embedding BYTEA,
                    vseq BIGINT,
                    CONSTRAINT {} UNIQUE (id)
                )"""
            ).format(t, ident(self.id_key)),
            sql.SQL("CREATE INDEX IF NOT EXISTS {} ON {} (session_id, kind, created_at)").format(
                ident(f"{table}_session"), t
            ),
            sql.SQL("CREATE INDEX IF NOT EXISTS {} ON {} (kind, created_at)").format(ident(f"{table}_kind"), t),
            sql.SQL("CREATE INDEX IF NOT EXISTS {} ON {} (user_id, kind)").format(ident(f"{table}_user"), t),
            sql.SQL("CREATE UNIQUE INDEX IF NOT EXISTS {} ON {} (vseq) WHERE vseq IS NOT NULL").format(
                ident(f"{table}_vseq"), t
            ),
            sql.SQL("CREATE INDEX IF NOT EXISTS {} ON {} (seq) WHERE embedding IS NULL").format(
                ident(f"{table}_missing"), t
            ),
            sql.SQL("CREATE TABLE IF NOT EXISTS {} (key TEXT PRIMARY KEY, value TEXT NOT NULL)").format(m),
            sql.SQL(
                "INSERT INTO {} (key, value) VALUES ('schema', {}), ('generation', '0'), ('vseq', '0') "
                "ON CONFLICT (key) DO NOTHING"
            ).format(m, sql.Literal(_SCHEMA_VERSION)),
        ]
        self.shape_check = sql.SQL("SELECT {}, embedding, vseq, seq FROM {} LIMIT 0").format(self.columns, t)
        self.meta_get = sql.SQL("SELECT value FROM {} WHERE key = %s").format(m)
        self.meta_all = sql.SQL("SELECT key, value FROM {} WHERE key IN ('generation', 'embedding_model')").format(m)
        self.meta_insert = sql.SQL("INSERT INTO {} (key, value) VALUES (%s, %s)").format(m)
        self.vseq_allocate = sql.SQL(
            "UPDATE {} SET value = (value::bigint + %s)::text WHERE key = 'vseq' RETURNING value::bigint"
        ).format(m)
        self.vseq_lock = sql.SQL("SELECT value FROM {} WHERE key = 'vseq' FOR UPDATE").format(m)
        self.bump = sql.SQL("UPDATE {} SET value = (value::bigint + 1)::text WHERE key = 'generation'").format(m)
        self.insert = sql.SQL("INSERT INTO {} ({}, embedding, vseq) VALUES ({})").format(
            t, self.columns, sql.SQL(", ").join(sql.Placeholder() * (len(_COLUMNS) + 2))
        )
        self.get = sql.SQL("SELECT {} FROM {} WHERE id = %s").format(self.columns, t)
        self.touch = sql.SQL(
            "UPDATE {} SET last_accessed = %s, access_count = access_count + 1 WHERE id = ANY(%s)"
        ).format(t)
        self.delete_ids = sql.SQL("DELETE FROM {} WHERE id = ANY(%s)").format(t)
        self.set_vector = sql.SQL(
            "UPDATE {} SET embedding = %s, vseq = %s WHERE id = %s AND embedding IS NULL AND content = %s"
        ).format(t)
        self.vectors_after = sql.SQL("SELECT vseq, id, embedding FROM {} WHERE vseq > %s ORDER BY vseq").format(t)
        self.missing = sql.SQL("SELECT id, content FROM {} WHERE embedding IS NULL ORDER BY seq LIMIT %s").format(t)
