"""kill -9 of the service process during a stream of trades: nothing acknowledged is lost.

Each round starts a service process on the same database (it recovers the engine from the
store), streams trades at it from concurrent clients, and kills it with SIGKILL at a random
moment while requests are in flight. After all the kills a last process recovers and:

* every trade that was answered 2xx is in the state: re-posting its id answers ``duplicate``
  (the idempotency record is part of the journaled trade) — 0 acknowledged trades lost;
* every trade sent (acknowledged or cut off) is then applied exactly once, so the account's
  position equals the opening one plus the sum of every quantity sent, to 1e-9 — nothing is
  applied twice either.

Processes come from a fork server (``forkserver.py``) so that twenty restarts do not spend
their time importing NumPy and FastAPI; each is a separate OS process killed by SIGKILL.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from .helpers import ADMIN_KEY

ACCOUNT = "mm-01"
INSTRUMENT = "BTC-PERP"
OPENING = 12.0  # mm-01's BTC-PERP position in the venue example
KILLS = 20
PG_KILLS = 5  # the same code path on PostgreSQL; fewer rounds keep the suite fast
CLIENTS = 3


class ForkServer:
    """Talk to ``forkserver.py``."""

    def __init__(self) -> None:
        env = {**os.environ, "CROSSMARGIN_ADMIN_KEY": ADMIN_KEY, "OPENBLAS_NUM_THREADS": "1"}
        self.proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).with_name("forkserver.py"))],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )

    def ask(self, **cmd: Any) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        assert line, "the fork server died"
        answer: dict[str, Any] = json.loads(line)
        return answer

    def spawn(self, db: str) -> tuple[int, str]:
        a = self.ask(op="spawn", db=db)
        pid, url = int(a["pid"]), str(a["url"])
        deadline = time.monotonic() + 120
        while True:  # the socket listens already: wait until the service answers
            try:
                with httpx.Client(timeout=30.0) as c:
                    if c.get(url + "/healthz").status_code == 200:
                        return pid, url
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("the service process did not come up")
            time.sleep(0.05)

    def kill(self, pid: int) -> None:
        self.ask(op="kill", pid=pid)

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(30)


@pytest.fixture
def forks() -> Iterator[ForkServer]:
    fs = ForkServer()
    try:
        yield fs
    finally:
        fs.close()


@dataclass
class Tally:
    sent: dict[str, float] = field(default_factory=dict)  # id -> quantity (every attempt)
    acked: set[str] = field(default_factory=set)  # answered 2xx
    cut: int = 0  # requests cut off by the kill
    unexpected: list[str] = field(default_factory=list)  # answers other than 201
    lock: threading.Lock = field(default_factory=threading.Lock)


def _trader(url: str, tally: Tally, stop: threading.Event, seed: int) -> None:
    rng = random.Random(seed)
    with httpx.Client(
        base_url=url, headers={"Authorization": f"Bearer {ADMIN_KEY}"}, timeout=30.0
    ) as c:
        while not stop.is_set():
            tid = f"k{seed}-{len(tally.sent)}-{rng.getrandbits(32):08x}"
            qty = rng.choice([-1, 1]) * rng.randint(1, 50) / 1000
            with tally.lock:
                tally.sent[tid] = qty
            try:
                r = c.post(
                    f"/v1/accounts/{ACCOUNT}/trades",
                    json={"instrument": INSTRUMENT, "quantity": qty, "price": 65020, "id": tid},
                )
            except httpx.TransportError:
                with tally.lock:
                    tally.cut += 1
                return  # the process is gone
            with tally.lock:
                if r.status_code == 201:
                    tally.acked.add(tid)
                else:
                    tally.unexpected.append(f"{r.status_code} {r.text[:300]}")
                    return


@pytest.mark.parametrize(("backend", "kills"), [("sqlite", KILLS), ("postgresql", PG_KILLS)])
def test_kill_9_loses_no_acknowledged_trade(
    forks: ForkServer, tmp_path: Path, request: pytest.FixtureRequest, backend: str, kills: int
) -> None:
    if backend == "sqlite":
        db = str(tmp_path / "kill9.db")
    else:
        db = str(request.getfixturevalue("postgres_cluster").create_database("kill9"))
    tally = Tally()
    rng = random.Random(20261207)
    for k in range(kills):
        pid, url = forks.spawn(db)
        stop = threading.Event()
        threads = [
            threading.Thread(target=_trader, args=(url, tally, stop, k * 100 + i), daemon=True)
            for i in range(CLIENTS)
        ]
        for t in threads:
            t.start()
        # kill at a random point of the stream: after a few acknowledgements of this round
        want = len(tally.acked) + rng.randint(1, 12)
        deadline = time.monotonic() + 60
        while len(tally.acked) < want and time.monotonic() < deadline and not tally.unexpected:
            time.sleep(0.002)
        time.sleep(rng.uniform(0.0, 0.03))
        forks.kill(pid)  # SIGKILL while the clients are sending
        stop.set()
        for t in threads:
            t.join(60)
            assert not t.is_alive()
    assert not tally.unexpected, tally.unexpected[:3]
    assert len(tally.acked) >= kills, "too few trades acknowledged for the test to mean much"
    assert tally.cut >= kills // 2, "the kills should land while requests are in flight"

    pid, url = forks.spawn(db)
    try:
        with httpx.Client(
            base_url=url, headers={"Authorization": f"Bearer {ADMIN_KEY}"}, timeout=60.0
        ) as c:
            lost = []
            for tid, qty in tally.sent.items():
                r = c.post(
                    f"/v1/accounts/{ACCOUNT}/trades",
                    json={"instrument": INSTRUMENT, "quantity": qty, "price": 65020, "id": tid},
                )
                assert r.status_code in (200, 201), r.text[:300]
                if tid in tally.acked and not r.json()["duplicate"]:
                    lost.append(tid)
            assert not lost, f"{len(lost)} acknowledged trades lost: {lost[:5]}"
            margin = c.get(f"/v1/accounts/{ACCOUNT}").json()
        (pos,) = [p for p in margin["positions"] if p["instrument"] == INSTRUMENT]
        expected = OPENING + sum(tally.sent.values())
        assert pos["quantity"] == pytest.approx(expected, abs=1e-9)
    finally:
        forks.kill(pid)
    print(
        f"\n{backend}, {kills} kills: {len(tally.acked)} trades acknowledged, 0 lost; "
        f"{tally.cut} requests cut off; {len(tally.sent)} sent"
    )
