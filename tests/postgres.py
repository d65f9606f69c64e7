"""A private PostgreSQL for the tests, and the project log's URL on each backend it supports.

The session starts one cluster in a temporary directory: ``initdb`` and ``pg_ctl`` run as the ``postgres``
user when the tests run as root (postgres refuses root), the socket lives in that directory and the server
listens on 127.0.0.1 at a free port, with a random password. Each test that asks for ``postgres_url`` gets a
database of its own, dropped after it. Missing server binaries fail the tests with the fix: a test never skips
for a missing service.

Loaded by tests/conftest.py (``pytest_plugins``), so unit and lab tests alike can ask for::

    postgres       the session's cluster (PostgresCluster)
    postgres_url   a fresh database: 'postgresql+psycopg://itpm:...@127.0.0.1:PORT/itpm_test_3'
    log_url        a fresh project log URL, once on SQLite and once on PostgreSQL (parametrized)
"""

from __future__ import annotations

import itertools
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

__all__ = ["PostgresCluster", "find_bindir", "log_url", "postgres", "postgres_url"]

SETUP_FIX = "`make setup` installs them (apt package postgresql)"

# A test cluster: nothing in it outlives the session, so it trades crash safety for speed. The time zone is
# off UTC by a fraction of an hour so that a naive/aware time mix-up shows up as a wrong time in the tests.
_SETTINGS = """
listen_addresses = '127.0.0.1'
unix_socket_directories = '{directory}'
fsync = off
full_page_writes = off
timezone = 'America/St_Johns'
"""


def find_bindir() -> Path | None:
    """Return the newest installed PostgreSQL server's bin directory: ``Path('/usr/lib/postgresql/15/bin')``."""
    versions = [path.parent for path in Path("/usr/lib/postgresql").glob("*/bin/initdb")]
    versions.sort(key=lambda bindir: int(bindir.parent.name) if bindir.parent.name.isdigit() else 0)
    if versions:
        return versions[-1]
    on_path = shutil.which("initdb")
    return Path(on_path).parent if on_path else None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class PostgresCluster:
    """A running PostgreSQL cluster of the test session; ``create_database`` makes a fresh database in it."""

    user = "itpm"

    def __init__(self, bindir: Path, directory: Path, password: str) -> None:
        self.bindir = bindir
        self.directory = directory
        self.data = directory / "data"
        self.logfile = directory / "server.log"
        self.password = password
        self.port = 0
        self._names = itertools.count(1)
        # Postgres refuses to run as root; as any other user the binaries run as that user.
        self._as_owner = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    def url(self, database: str, driver: str = "postgresql+psycopg") -> str:
        """Return the URL of ``database``: ``'postgresql+psycopg://itpm:PASSWORD@127.0.0.1:PORT/NAME'``."""
        return f"{driver}://{self.user}:{self.password}@127.0.0.1:{self.port}/{database}"

    def run(self, program: str, *args: str) -> subprocess.CompletedProcess[str]:
        """Run one of the server's programs as the cluster's owner; return its completed process."""
        return subprocess.run(
            [*self._as_owner, str(self.bindir / program), *args],
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )

    def start(self) -> None:
        """Create and start the cluster (on a port found free; another one if that was taken meanwhile)."""
        password_file = self.directory / "password"
        password_file.write_text(self.password)
        if self._as_owner:
            owner = pwd.getpwnam("postgres")
            for path in (self.directory, password_file):
                os.chown(path, owner.pw_uid, owner.pw_gid)
        self._check(
            self.run(
                "initdb",
                f"--pgdata={self.data}",
                f"--username={self.user}",
                f"--pwfile={password_file}",
                "--auth=scram-sha-256",
                "--encoding=UTF8",
                "--locale=C",
                "--no-sync",
                "--no-instructions",
            )
        )
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write(_SETTINGS.format(directory=self.directory))
        for _attempt in range(3):
            self.port = _free_port()
            started = self.run(
                "pg_ctl",
                "start",
                "--wait",
                "--timeout=60",
                f"--pgdata={self.data}",
                f"--log={self.logfile}",
                f"--options=-p {self.port}",
            )
            if started.returncode == 0:
                return
        self._check(started)

    def stop(self) -> None:
        """Stop the server at once (rolling back what is open), if it runs."""
        if (self.data / "postmaster.pid").exists():
            self.run("pg_ctl", "stop", "--wait", "--mode=fast", f"--pgdata={self.data}")

    def _check(self, done: subprocess.CompletedProcess[str]) -> None:
        if done.returncode != 0:
            log = self.logfile.read_text()[-3000:] if self.logfile.exists() else ""
            pytest.fail(
                f"{' '.join(done.args)} exited {done.returncode}:\n{done.stdout}{done.stderr}\n{log}", pytrace=False
            )

    def create_database(self) -> str:
        """Create an empty database; return its name: ``'itpm_test_3'``."""
        name = f"itpm_test_{next(self._names)}"
        self._admin(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return name

    def drop_database(self, name: str) -> None:
        """Drop ``name``, ending the connections a test (or a process it killed) left open."""
        self._admin(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))

    def _admin(self, statement: sql.Composed) -> None:
        # CREATE and DROP DATABASE cannot run in a transaction.
        with psycopg.connect(self.url("postgres", driver="postgresql"), autocommit=True) as connection:
            connection.execute(statement)


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresCluster]:
    """Yield the session's PostgreSQL cluster, started on first use and stopped at the end of the session."""
    bindir = find_bindir()
    if bindir is None:
        pytest.fail(f"PostgreSQL server programs (initdb, pg_ctl) are not installed: {SETUP_FIX}", pytrace=False)
    # Not under pytest's temporary directory: that one is private to root, and the server runs as postgres.
    cluster = PostgresCluster(bindir, Path(tempfile.mkdtemp(prefix="itpm-test-pg-")), secrets.token_hex(16))
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(cluster.directory, ignore_errors=True)


@pytest.fixture
def postgres_url(postgres: PostgresCluster) -> Iterator[str]:
    """Yield the SQLAlchemy URL of a fresh database, dropped after the test."""
    name = postgres.create_database()
    yield postgres.url(name)
    postgres.drop_database(name)


@pytest.fixture(params=["sqlite", "postgresql"])
def log_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Return the URL of a fresh, empty project log database: SQLite in ``tmp_path``, then PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'log.sqlite'}"
    url: str = request.getfixturevalue("postgres_url")
    return url
