"""kill -9 at random points: nothing acknowledged is lost, nothing duplicated, no gaps.

A fork server (``crash_child.py``) starts writer processes on one database; each is SIGKILLed
at a random moment — during open/migration, mid-batch, mid-snapshot — and the next one resumes
on the same database. Afterwards every acknowledged record, event and snapshot must be there,
intact; the journal and the events must be gapless; records and their events must have been
committed together.
"""

from __future__ import annotations

import json
import os
import queue
import random
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from crossmargin.store import Store

from .crash_child import THREADS, payload, snapshot_bytes

CHILD = Path(__file__).with_name("crash_child.py")


@dataclass
class Acks:
    records: dict[int, tuple[int, int, int, int]] = field(default_factory=dict)
    snapshots: dict[int, tuple[int, int, int]] = field(default_factory=dict)
    opened: int = 0


class Server:
    def __init__(self, url: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(CHILD), url],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            bufsize=1,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()
        assert self.next_line(60) == "ready"

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))

    def send(self, cmd: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(cmd + "\n")
        self.proc.stdin.flush()

    def next_line(self, timeout: float) -> str:
        return self.lines.get(timeout=timeout)

    def close(self) -> None:
        self.send("exit")
        self.proc.wait(30)


def _record(acks: Acks, line: str) -> None:
    kind, *f = line.split()
    if kind == "ack":
        seq, run, t, i, ev = map(int, f)
        assert seq not in acks.records, f"seq {seq} acknowledged twice"
        acks.records[seq] = (run, t, i, ev)
    elif kind == "snap":
        sid, seq, run, k = map(int, f)
        acks.snapshots[sid] = (seq, run, k)
    elif kind == "open":
        acks.opened += 1
    elif kind == "error":
        raise AssertionError(f"writer child failed: {line}")


def _kill_runs(url: str, runs: int, seed: int, most_acks: int) -> Acks:
    rng = random.Random(seed)
    acks = Acks()
    server = Server(url)
    try:
        for run in range(runs):
            server.send(f"go {run}")
            pid = None
            # kill points: right away (during open / migration), after a few acks, after many
            target = rng.choice([0, rng.randint(1, 30), rng.randint(30, most_acks)])
            extra_delay = rng.uniform(0, 0.05)
            seen = 0
            deadline = time.monotonic() + 60  # generous: CI machines can be slow
            while pid is None or seen < target:
                line = server.next_line(max(0.1, deadline - time.monotonic()))
                if line.startswith("pid "):
                    pid = int(line.split()[1])
                    continue
                _record(acks, line)
                seen += line.startswith("ack ")
            time.sleep(extra_delay)
            os.kill(pid, signal.SIGKILL)
            server.send(f"reap {pid}")
            while True:
                line = server.next_line(30)
                if line.startswith("dead "):
                    status = int(line.split()[2])
                    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL, line
                    break
                _record(acks, line)
    finally:
        server.close()
    return acks


def _check(url: str, acks: Acks) -> None:
    with Store.open(url) as store:
        records = list(store.journal_after(0))
        events = list(store.iter_events(0))
        assert [r.seq for r in records] == list(range(1, len(records) + 1)), "gap in the journal"
        assert [e.seq for e in events] == list(range(1, len(events) + 1)), "gap in the events"
        by_seq = {r.seq: r for r in records}
        keys = [tuple(json.loads(r.payload)[k] for k in ("run", "t", "i")) for r in records]
        assert len(set(keys)) == len(keys), "a record was journaled twice"
        for r, (run, t, i) in zip(records, keys, strict=True):
            assert json.loads(r.payload) == payload(run, t, i), f"record {r.seq} corrupt"
            assert (r.account, r.source) == (f"r{run}t{t}", f"run{run}")
        for seq, (run, t, i, _) in acks.records.items():
            assert seq in by_seq, f"acknowledged record {seq} lost"
            assert json.loads(by_seq[seq].payload)["i"] == i and keys[seq - 1] == (run, t, i)
        # each writer thread appends one record at a time: what is stored is a prefix 0..m
        stored: dict[tuple[int, int], list[int]] = {}
        for run, t, i in keys:
            stored.setdefault((run, t), []).append(i)
        for (run, t), ii in stored.items():
            assert ii == list(range(len(ii))), f"run {run} thread {t}: hole in {ii[:20]}"
        # records and their events were committed together
        ev_keys = {(e.data()["run"], e.data()["t"], e.data()["i"]): e.seq for e in events}
        assert len(ev_keys) == len(events)
        assert set(ev_keys) == {k for k in keys if k[2] % 5 == 0}
        for run, t, i, ev in acks.records.values():
            if i % 5 == 0:
                assert ev_keys[(run, t, i)] == ev
        # snapshots: the latest is complete and intact, and at least as new as any acknowledged
        latest = store.latest_snapshot()
        if acks.snapshots:
            assert latest is not None
            assert latest.seq >= max(seq for seq, _, _ in acks.snapshots.values())
        if latest is not None:
            meta = latest.info.meta_data()
            assert latest.data == snapshot_bytes(meta["run"], meta["k"], latest.seq)
        for info in store.snapshots():
            if info.id in acks.snapshots:
                seq, run, k = acks.snapshots[info.id]
                assert store.read_snapshot(info.id).data == snapshot_bytes(run, k, seq)
    assert len(acks.records) > 0 and acks.opened >= 1


@pytest.mark.slow
@pytest.mark.parametrize(
    ("backend", "runs", "most_acks"),
    [("sqlite", 24, 150), ("postgresql", 6, 80)],
    indirect=["backend"],
)
def test_kill_9_loses_nothing_acknowledged(
    db_url: str, backend: str, runs: int, most_acks: int
) -> None:
    seed = random.randrange(1 << 30)
    try:
        acks = _kill_runs(db_url, runs, seed, most_acks)
        _check(db_url, acks)
    except AssertionError as exc:
        raise AssertionError(f"{exc} (seed {seed}, {THREADS} threads)") from exc
