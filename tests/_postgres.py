"""A PostgreSQL server for tests: ``KAIZEN_TEST_POSTGRES_DSN`` when set, else a throwaway cluster.

The throwaway cluster lives in a temporary directory and listens only on a unix socket inside it (no TCP port), so it
cannot collide with, or be reached by, anything else on the machine. It is made by Debian's ``initdb``/``pg_ctl``
(found on PATH or under /usr/lib/postgresql/*/bin); as root they run as the ``postgres`` system user, because
PostgreSQL refuses to run as root. When no server can be had, tests that need one are skipped saying why.

Use: ``from tests._postgres import postgres_dsn`` in a test module, then ask for the ``postgres_dsn`` fixture.
"""

from __future__ import annotations

import glob
import importlib.util
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

__all__ = ["PASSWORD", "find_postgres_bin", "postgres_dsn", "postgres_password_dsn"]

ENV_DSN = "KAIZEN_TEST_POSTGRES_DSN"
SUPERUSER = "kaizen"
#: The role and password postgres_password_dsn makes (throwaway cluster only).
PASSWORD_ROLE, PASSWORD = "kaizen_pw", "right-Passw0rd"
#: How long initdb + pg_ctl start took, once the throwaway cluster is up (for reports; empty with an external DSN).
STARTUP_SECONDS: list[float] = []


def find_postgres_bin() -> Path | None:
    """The directory holding initdb and pg_ctl: PATH first, then the newest /usr/lib/postgresql/<version>/bin."""
    on_path = shutil.which("initdb")
    if on_path and shutil.which("pg_ctl"):
        return Path(on_path).resolve().parent
    candidates = [Path(p).parent for p in glob.glob("/usr/lib/postgresql/*/bin/initdb")]
    candidates = [c for c in candidates if (c / "pg_ctl").exists()]

    def version(path: Path) -> tuple[int, ...]:
        return tuple(int(part) for part in path.parent.name.split(".") if part.isdigit())

    return max(candidates, key=version) if candidates else None


def _as_postgres_user() -> tuple[list[str], int, int] | str:
    """(command prefix, uid, gid) to run the server binaries with, or why that is impossible."""
    if os.geteuid() != 0:
        return [], -1, -1
    import pwd

    try:
        user = pwd.getpwnam("postgres")
    except KeyError:
        return "running as root and there is no 'postgres' system user to run initdb as (initdb refuses root)"
    runuser = shutil.which("runuser") or ("/usr/sbin/runuser" if os.path.exists("/usr/sbin/runuser") else None)
    if runuser is None:
        return "running as root and `runuser` is missing, so initdb cannot run as the 'postgres' user"
    return [runuser, "-u", "postgres", "--"], user.pw_uid, user.pw_gid


def _run(prefix: list[str], args: list[str], cwd: str, timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*prefix, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False, env=os.environ.copy()
    )


@pytest.fixture(scope="session")
def postgres_dsn() -> Iterator[str]:
    """A libpq DSN for a PostgreSQL server where the tests may create and drop tables."""
    if importlib.util.find_spec("psycopg") is None:
        pytest.skip("psycopg is not installed: pip install -e '.[postgres]'")
    if dsn := os.environ.get(ENV_DSN):
        yield dsn
        return
    bin_dir = find_postgres_bin()
    if bin_dir is None:
        pytest.skip(
            f"no PostgreSQL server: {ENV_DSN} is not set and initdb/pg_ctl are neither on PATH nor under "
            "/usr/lib/postgresql/*/bin (apt-get install postgresql)"
        )
    runner = _as_postgres_user()
    if isinstance(runner, str):
        pytest.skip(f"no PostgreSQL server: {runner}; set {ENV_DSN} to use an existing one")
    prefix, uid, gid = runner

    # short: a unix socket path must stay under ~100 bytes (macOS's $TMPDIR alone is ~50)
    base = tempfile.mkdtemp(prefix="kaizen-pg-", dir="/tmp" if os.path.isdir("/tmp") else None)
    data, log = os.path.join(base, "data"), os.path.join(base, "server.log")
    if uid >= 0:
        os.chown(base, uid, gid)
    started = False
    try:
        t0 = time.monotonic()
        initdb = [str(bin_dir / "initdb"), "-D", data, "-U", SUPERUSER, "-E", "UTF8", "--no-sync"]
        initdb += ["--no-instructions", "--auth-local=trust", "--auth-host=reject"]
        init = _run(prefix, [*initdb, "--locale=C.UTF-8"], base, 120)
        if init.returncode != 0 and "locale" in init.stderr:  # no C.UTF-8 here: plain C (ASCII-only lower())
            shutil.rmtree(data, ignore_errors=True)
            init = _run(prefix, [*initdb, "--no-locale"], base, 120)
        if init.returncode != 0:
            pytest.skip(f"no PostgreSQL server: initdb failed ({init.returncode}): {init.stderr.strip()[-600:]}")
        # the superuser gets in without a password; every other role must give one (see postgres_password_dsn)
        hba = os.path.join(data, "pg_hba.conf")
        Path(hba).write_text(f"local all {SUPERUSER} trust\nlocal all all scram-sha-256\n")
        if uid >= 0:
            os.chown(hba, uid, gid)
        # Unix socket in our own directory only; durability settings off (a throwaway cluster)
        options = (
            f"-c listen_addresses='' -c unix_socket_directories='{base}' -c fsync=off -c synchronous_commit=off "
            "-c full_page_writes=off -c max_connections=50"
        )
        start = _run(
            prefix, [str(bin_dir / "pg_ctl"), "-D", data, "-l", log, "-w", "-t", "60", "-o", options, "start"], base, 90
        )
        started = start.returncode == 0
        if not started:
            tail = Path(log).read_text(errors="replace")[-600:] if os.path.exists(log) else start.stderr[-600:]
            pytest.skip(f"no PostgreSQL server: pg_ctl start failed ({start.returncode}): {tail.strip()}")
        STARTUP_SECONDS.append(time.monotonic() - t0)
        yield f"host={base} port=5432 user={SUPERUSER} dbname=postgres"
    finally:
        if started or os.path.exists(os.path.join(data, "postmaster.pid")):
            _run(prefix, [str(bin_dir / "pg_ctl"), "-D", data, "-m", "immediate", "-w", "stop"], base, 60)
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_password_dsn(postgres_dsn: str) -> str:
    """A DSN (without its password) for a role that must log in with ``PASSWORD``: for testing wrong passwords.
    Only on the throwaway cluster, whose pg_hba.conf is known; an external server may well trust everyone."""
    if os.environ.get(ENV_DSN):
        pytest.skip(f"password checks need the throwaway cluster ({ENV_DSN} points at a server of unknown pg_hba)")
    import psycopg
    from psycopg import sql

    with psycopg.connect(postgres_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(sql.Identifier(PASSWORD_ROLE), PASSWORD))
    return postgres_dsn.replace(f"user={SUPERUSER}", f"user={PASSWORD_ROLE}")
