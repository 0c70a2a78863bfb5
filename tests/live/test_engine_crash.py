"""kill -9 of a running engine, again and again: nothing acknowledged is lost, the state is exact.

A fork server (``crash_engine_child.py``) starts engine workers on one database (SQLite, and a
real PostgreSQL 15); each
worker recovers (snapshot + journal), feeds the rest of a 900-input stream (ticks through a
crash with auto-liquidation, trades, transfers, new accounts, clock steps) in group-committed
chunks and prints each acknowledgement. The test SIGKILLs it at a random point — after a
random number of acknowledgements, or a random delay that lands anywhere (recovery, a
commit in flight, a snapshot being written) — at least 20 times, then lets a last worker
finish. Checks:

* every worker resumes at or after the last acknowledged input (0 acknowledged inputs lost);
* the final state equals, to the cent, an uninterrupted in-memory run of the same stream;
* the events table holds exactly the uninterrupted run's events (none lost, none twice).
"""

from __future__ import annotations

import json
import os
import random
import select
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from crossmargin.live.engine import LiveEngine
from crossmargin.live.settings import LiveSettings
from crossmargin.store import Store

from . import crash_engine_child as child
from .streams import feed

KILLS = 22
CHILD = Path(child.__file__)


class Server:
    def __init__(self, db: str, digest: Path) -> None:
        env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
        env["CROSSMARGIN_THREADS"] = "1"
        self.proc = subprocess.Popen(
            [sys.executable, str(CHILD), db, str(digest)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
        )
        self.buf = b""
        assert self.line(300) == "ready"

    def send(self, text: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write((text + "\n").encode())
        self.proc.stdin.flush()

    def line(self, timeout: float) -> str | None:
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        end = time.monotonic() + timeout
        while b"\n" not in self.buf:
            left = end - time.monotonic()
            if left <= 0:
                return None
            ready, _, _ = select.select([fd], [], [], left)
            if ready:
                chunk = os.read(fd, 65536)
                assert chunk, "fork server died"
                self.buf += chunk
        head, _, self.buf = self.buf.partition(b"\n")
        return head.decode()

    def close(self) -> None:
        self.send("exit")
        self.proc.wait(timeout=60)


def _close(a: Any, b: Any, path: str = "") -> None:
    """Equal, numbers to the cent (a money amount) or 1e-9 relative."""
    if isinstance(a, float) or isinstance(b, float):
        assert abs(a - b) <= max(0.005, 1e-9 * abs(a)), (path, a, b)
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), path
        for k in a:
            _close(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, list | tuple):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _close(x, y, f"{path}[{i}]")
    else:
        assert a == b, (path, a, b)


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh database of each backend."""
    if request.param == "sqlite":
        return str(tmp_path / "crash.db")
    return str(request.getfixturevalue("postgres_cluster").create_database("crash"))


def test_kill_minus_9_loses_nothing(db: str, tmp_path: Path) -> None:
    v, items = child.inputs()
    reference = LiveEngine.open(
        market=v.market,  # type: ignore[attr-defined]
        accounts=v.book,  # type: ignore[attr-defined]
        settings=LiveSettings(**child.SETTINGS),  # type: ignore[arg-type]
    )
    ref_events = [e.to_obj() for es in feed(reference, items) for e in es]  # type: ignore[arg-type]
    ref_state = json.loads(json.dumps(reference.state_digest()))

    server = Server(db, tmp_path / "digest.json")
    rng = random.Random(20261207)
    acked = 0
    kills = 0
    done = False
    try:
        run = 0
        while kills < KILLS and not done:
            run += 1
            server.send(f"go {run}")
            pid = int((server.line(60) or "pid -1").split()[1])
            wait_acks = rng.choice([0, 1, 2, 3, 5, 8])
            delay = rng.uniform(0.0, 1.5) if wait_acks == 0 else 0.0
            seen = 0
            deadline = time.monotonic() + delay if delay else None
            while True:
                timeout = 120.0 if deadline is None else max(0.0, deadline - time.monotonic())
                line = server.line(timeout)
                if line is None:
                    break  # the random delay elapsed: kill wherever it is
                kind, _, arg = line.partition(" ")
                assert kind != "error", line
                if kind == "resume":
                    assert int(arg) >= acked, f"acknowledged input lost: {arg} < {acked}"
                elif kind == "ack":
                    acked = max(acked, int(arg))
                    seen += 1
                    if deadline is None and seen >= wait_acks:
                        break
                elif kind == "done":
                    done = True
                    break
            os.kill(pid, signal.SIGKILL)
            server.send(f"reap {pid}")
            while not (server.line(60) or "").startswith("dead"):
                pass
            if not done:
                kills += 1
        assert kills >= 20 or done
        if not done:
            server.send(f"go {run + 1}")
            server.line(60)
            while True:
                line = server.line(600)
                assert line is not None, "the last worker did not finish"
                kind, _, arg = line.partition(" ")
                assert kind != "error", line
                if kind == "resume":
                    assert int(arg) >= acked
                if kind == "done":
                    break
    finally:
        server.close()
    assert kills >= 20, f"only {kills} kills before the stream ended"
    state = json.loads((tmp_path / "digest.json").read_text())
    _close(state, ref_state)
    with Store.open(db) as store:
        stored = [e.data() for e in store.iter_events()]
        assert store.last_seq() == len(items)
    _close(stored, ref_events)
