"""Child of the kill -9 tests: a fork server whose children append as fast as they can.

Run as ``python crash_child.py URL``. It imports the store once (the package import is the slow
part), prints ``ready`` and reads commands on stdin:

``go RUN``   fork a writer child for run number RUN; prints ``pid PID``
``reap PID`` wait for that child (the test has SIGKILLed it); prints ``dead PID STATUS``
``exit``     leave

A writer child opens the store (migrating on the first run) and, from several threads, appends
journal records (every fifth together with an event, atomically), printing ``ack SEQ RUN T I
EVENT_SEQ`` only after the append returned, while another thread writes chunked snapshots and
prints ``snap ID SEQ RUN K``. Every line is one ``os.write`` of less than PIPE_BUF bytes, so
lines are never torn, and it is in the pipe before the next append starts.
"""

from __future__ import annotations

import hashlib
import os
import sys
import threading
import time
import types
from pathlib import Path


def _import_store_alone() -> None:
    """Import crossmargin.store without running crossmargin/__init__ (the whole engine).

    Fast start-up, and a run-time check of the layering: the store must work with nothing of
    crossmargin loaded but ``crossmargin.errors``.
    """
    if "crossmargin" not in sys.modules:
        pkg = types.ModuleType("crossmargin")
        pkg.__path__ = [str(Path(__file__).resolve().parents[2] / "src" / "crossmargin")]
        sys.modules["crossmargin"] = pkg
    import crossmargin.store  # noqa: F401

    loaded = {m for m in sys.modules if m.startswith("crossmargin.")}
    strays = {
        m for m in loaded if m != "crossmargin.errors" and not m.startswith("crossmargin.store")
    }
    assert not strays, f"crossmargin.store imported {sorted(strays)}"
    # imported once here, not in every child
    import alembic.command  # noqa: F401
    import psycopg  # noqa: F401
    import sqlalchemy.dialects.postgresql.psycopg  # noqa: F401


THREADS = 4
SNAPSHOT_BYTES = 40_000


def payload(run: int, t: int, i: int) -> dict[str, object]:
    """The deterministic record a writer appends (checked by the test)."""
    return {
        "run": run,
        "t": t,
        "i": i,
        "pad": hashlib.sha256(f"{run}/{t}/{i}".encode()).hexdigest(),
    }


def snapshot_bytes(run: int, k: int, seq: int) -> bytes:
    """The deterministic snapshot a writer stores."""
    block = hashlib.sha256(f"{run}/{k}/{seq}".encode()).digest()
    return (block * (SNAPSHOT_BYTES // len(block) + 1))[:SNAPSHOT_BYTES]


def _out(line: str) -> None:
    os.write(1, (line + "\n").encode())


def _writer_child(url: str, run: int) -> None:
    from crossmargin.store import Store, StoreConfig

    store = Store.open(url, config=StoreConfig(snapshot_chunk_bytes=4096, keep_snapshots=3))
    _out(f"open {run}")

    def produce(t: int) -> None:
        i = 0
        while True:
            rec = store.record(
                "trade", payload(run, t, i), account=f"r{run}t{t}", source=f"run{run}"
            )
            evs = [store.event("margin_call", {"run": run, "t": t, "i": i})] if i % 5 == 0 else []
            receipt = store.submit([rec], evs).result()
            ev = receipt.event_seqs[0] if evs else 0
            _out(f"ack {receipt.journal_seqs[0]} {run} {t} {i} {ev}")
            i += 1

    def snapshot() -> None:
        k = 0
        while True:
            seq = store.last_seq()
            info = store.write_snapshot(
                seq, snapshot_bytes(run, k, seq), meta={"run": run, "k": k}, format="test"
            )
            _out(f"snap {info.id} {seq} {run} {k}")
            k += 1
            time.sleep(0.01)

    for target, args in [(produce, (t,)) for t in range(THREADS)] + [(snapshot, ())]:
        threading.Thread(target=_guard, args=(target, args), daemon=True).start()
    while True:
        time.sleep(60)


def _guard(target, args) -> None:  # type: ignore[no-untyped-def]
    try:
        target(*args)
    except BaseException as exc:  # any failure is a test failure: say so and die
        _out(f"error {type(exc).__name__}: {exc}")
        os._exit(3)


def main() -> None:
    url = sys.argv[1]
    _import_store_alone()
    _out("ready")
    for line in sys.stdin:
        cmd, _, arg = line.strip().partition(" ")
        if cmd == "go":
            pid = os.fork()
            if pid == 0:
                try:
                    _writer_child(url, int(arg))
                finally:
                    os._exit(4)
            _out(f"pid {pid}")
        elif cmd == "reap":
            _, status = os.waitpid(int(arg), 0)
            _out(f"dead {arg} {status}")
        elif cmd == "exit":
            return


if __name__ == "__main__":
    main()
