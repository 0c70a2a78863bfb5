"""Child of the live engine's kill -9 test: a fork server whose children run the engine.

Run as ``python crash_engine_child.py DB DIGEST``. It imports crossmargin and builds the test venue
and input stream once (the slow part), prints ``ready`` and reads commands on stdin:

``go RUN``   fork a worker for run number RUN; prints ``pid PID``
``reap PID`` wait for that worker (the test has SIGKILLed it); prints ``dead PID STATUS``
``exit``     leave

A worker opens the engine on DB (recovering whatever is there), prints ``resume SEQ`` (the
journal seq it resumes after), then feeds the rest of the stream in random chunks — runs of
updates through ``apply_many`` (one group commit each), clock steps through
``advance_clock`` — printing ``ack SEQ`` (the last seq of the chunk) only after the call
returned, i.e. once it is durable. At the end it closes the engine, writes the state digest
to DIGEST (a JSON file) and prints ``done``. Every line is one ``os.write`` shorter than PIPE_BUF.
"""

from __future__ import annotations

import json
import os
import random
import sys
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.live.streams import stream, venue

from crossmargin.live.engine import LiveEngine
from crossmargin.live.settings import LiveSettings

N_ACCOUNTS, VENUE_SEED = 20, 4
N_INPUTS, STREAM_SEED = 900, 12
SETTINGS = {"auto_liquidate": "partial", "snapshot_every": 37}


def inputs() -> tuple[object, list[object]]:
    """The venue and the stream (the test builds the same ones)."""
    v = venue(N_ACCOUNTS, seed=VENUE_SEED)
    return v, stream(v, N_INPUTS, seed=STREAM_SEED, crash=0.5, vol=0.015)  # type: ignore[return-value]


def say(text: str) -> None:
    os.write(1, (text + "\n").encode())


def work(db: str, digest_path: str, run: int, v: object, items: list[object]) -> None:
    engine = LiveEngine.open(
        market=v.market,  # type: ignore[attr-defined]
        accounts=v.book,  # type: ignore[attr-defined]
        store_url=db,
        settings=LiveSettings(**SETTINGS),  # type: ignore[arg-type]
    )
    k = engine.seq
    say(f"resume {k}")
    rng = random.Random(run)
    while k < len(items):
        first = items[k]
        if isinstance(first, datetime):
            engine.advance_clock(first)
            k += 1
        else:
            n = rng.randint(1, 12)
            chunk = []
            while k + len(chunk) < len(items) and len(chunk) < n:
                nxt = items[k + len(chunk)]
                if isinstance(nxt, datetime):
                    break
                chunk.append(nxt)
            acks = engine.apply_many(chunk)  # type: ignore[arg-type]
            assert [a.seq for a in acks] == list(range(k + 1, k + len(chunk) + 1))
            k += len(chunk)
        assert engine.seq == k
        say(f"ack {k}")
    digest = engine.state_digest()
    engine.close()
    Path(digest_path).write_text(json.dumps(digest))
    say("done")


def main() -> None:
    db, digest_path = sys.argv[1], sys.argv[2]
    v, items = inputs()
    say("ready")
    for line in sys.stdin:
        cmd, _, arg = line.strip().partition(" ")
        if cmd == "go":
            pid = os.fork()
            if pid == 0:
                code = 0
                try:
                    work(db, digest_path, int(arg), v, items)
                except BaseException as exc:
                    say(f"error {type(exc).__name__}: {exc}")
                    code = 1
                os._exit(code)
            say(f"pid {pid}")
        elif cmd == "reap":
            _, status = os.waitpid(int(arg), 0)
            say(f"dead {arg} {status}")
        elif cmd == "exit":
            return


if __name__ == "__main__":
    main()
