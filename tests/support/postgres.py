"""A throw-away PostgreSQL cluster for the tests: Debian's binaries, a temp dir, a free port.

The cluster is started by the tests themselves (never a system service): ``initdb`` on a fresh
temporary directory, ``pg_ctl start`` listening on 127.0.0.1 only, on a free port, with the
socket directory inside the temp dir. ``initdb`` refuses to run as root, so when the tests run as
root every server command runs as the ``postgres`` system user (``runuser -u postgres --``) on a
directory that user owns. Authentication is ``trust`` on loopback — a disposable test cluster.

Use the session fixture ``postgres_cluster`` (one cluster per pytest-xdist worker, started on
first use, stopped and removed at the end of the session) and ask it for fresh databases::

    def test_x(postgres_cluster):
        url = postgres_cluster.create_database()   # postgresql+psycopg://...

There is no skip: without PostgreSQL installed the fixture fails and names the Debian package
(CI's ``.ci/system-deps`` installs it).
"""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

__all__ = ["PostgresCluster", "find_pg_bin", "postgres_cluster"]

_SUPERUSER = "crossmargin"
_START_TIMEOUT_S = 30


def find_pg_bin() -> Path:
    """Directory of the newest installed PostgreSQL server binaries (Debian layout).

    Raises
    ------
    RuntimeError
        PostgreSQL is not installed (message says how to install it).
    """
    env = os.environ.get("CROSSMARGIN_PG_BIN")
    found = [str(p) for p in Path("/usr/lib/postgresql").glob("*/bin")]
    candidates = [env] if env else sorted(found, key=_version)
    for cand in reversed(candidates):
        if cand and (Path(cand) / "initdb").exists() and (Path(cand) / "pg_ctl").exists():
            return Path(cand)
    raise RuntimeError(
        "PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin: install Debian's "
        "'postgresql' package (apt-get install postgresql; .ci/system-deps does it) or set "
        "CROSSMARGIN_PG_BIN"
    )


def _version(path: str) -> tuple[int, ...]:
    parts = Path(path).parent.name.split(".")
    return tuple(int(p) for p in parts if p.isdigit())


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PostgresCluster:
    """A disposable PostgreSQL cluster on 127.0.0.1 (see the module docstring).

    Parameters
    ----------
    base
        Directory that will hold the cluster (created, removed by :meth:`stop`); default: a
        new temporary directory.
    """

    def __init__(self, base: Path | None = None) -> None:
        self.bin = find_pg_bin()
        self._as_postgres = os.geteuid() == 0
        self.base = Path(base) if base else Path(tempfile.mkdtemp(prefix="cm-pg-", dir=self._tmp()))
        self.data = self.base / "data"
        self.log = self.base / "server.log"
        self.port = 0
        self._counter = itertools.count(1)
        self._running = False

    def _tmp(self) -> str:
        """A temp root the ``postgres`` user can traverse (a root-only TMPDIR would not do)."""
        tmp = Path(tempfile.gettempdir()).resolve()
        if self._as_postgres and not all(p.stat().st_mode & 0o001 for p in [tmp, *tmp.parents]):
            return "/tmp"
        return str(tmp)

    # -- commands -------------------------------------------------------------------------
    def _run(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        cmd = list(args)
        if self._as_postgres:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)

    def _check(self, proc: subprocess.CompletedProcess[str], what: str) -> None:
        if proc.returncode != 0:
            log = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
            raise RuntimeError(
                f"PostgreSQL {what} failed (exit {proc.returncode}): "
                f"{proc.stderr.strip()[-2000:]}\n{log}"
            )

    def start(self) -> PostgresCluster:
        """Run initdb, start the server on a free port and wait (bounded) until it accepts."""
        self.base.mkdir(parents=True, exist_ok=True)
        if self._as_postgres:
            shutil.chown(self.base, "postgres", "postgres")
        self.base.chmod(0o700)
        proc = self._run(
            str(self.bin / "initdb"),
            "-D",
            str(self.data),
            "-U",
            _SUPERUSER,
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C",
            "--no-sync",
        )
        self._check(proc, "initdb")
        last = ""
        for _ in range(5):  # a free port can be taken between probe and bind: retry
            self.port = _free_port()
            opts = (
                f"-c listen_addresses=127.0.0.1 -p {self.port} "
                f"-c unix_socket_directories={self.base} -c max_connections=200 "
                "-c shared_buffers=64MB"
            )
            proc = self._run(
                str(self.bin / "pg_ctl"),
                "-D",
                str(self.data),
                "-l",
                str(self.log),
                "-o",
                opts,
                "-w",
                "-t",
                str(_START_TIMEOUT_S),
                "start",
                timeout=_START_TIMEOUT_S + 10,
            )
            if proc.returncode == 0:
                self._running = True
                self._wait_ready()
                return self
            last = proc.stderr
        self._check(subprocess.CompletedProcess([], 1, "", last), "start")
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + _START_TIMEOUT_S
        while True:
            proc = self._run(
                str(self.bin / "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port), timeout=10
            )
            if proc.returncode == 0:
                return
            if time.monotonic() > deadline:
                self._check(proc, "readiness wait")
            time.sleep(0.1)

    def url(self, database: str = "postgres") -> str:
        """SQLAlchemy URL (psycopg 3 driver) of a database of this cluster."""
        return f"postgresql+psycopg://{_SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def create_database(self, prefix: str = "t") -> str:
        """Create a fresh, empty database and return its SQLAlchemy URL."""
        import psycopg

        name = f"{prefix}_{os.getpid()}_{next(self._counter)}"
        conninfo = f"host=127.0.0.1 port={self.port} user={_SUPERUSER} dbname=postgres"
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        """Stop the server (immediate shutdown) and remove the cluster directory."""
        if self._running:
            self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop")
            self._running = False
        shutil.rmtree(self.base, ignore_errors=True)

    def __enter__(self) -> PostgresCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[PostgresCluster]:
    """One PostgreSQL cluster per test session (per xdist worker), started on first use."""
    cluster = PostgresCluster()
    try:
        cluster.start()
    except BaseException:
        with contextlib.suppress(Exception):
            cluster.stop()
        raise
    try:
        yield cluster
    finally:
        cluster.stop()
