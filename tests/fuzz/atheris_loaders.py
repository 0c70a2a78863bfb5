"""Coverage-guided fuzzing of the public loaders with atheris (libFuzzer for Python).

Usage (from the repository root)::

    python -m tests.fuzz.atheris_loaders -atheris_runs=200000 -max_len=65536 [CORPUS_DIR]

The first byte of each input chooses the loader (portfolio, market, configuration, positions
table in CSV or JSON, collateral table, price history for var/es and for the backtest, shock,
backtest book, Derive case, SPAN file, oracle records); the rest is the file. The seed corpus is
the bundled examples (:mod:`tests.fuzz.corpus`), written into ``CORPUS_DIR`` (default
``.fuzz-corpus``) on first use. The contract: a loader returns, or raises a
:class:`~crossmargin.errors.CrossMarginError` with a path on one line. Anything else is a
failure: the run goes on, the first input of each distinct cause is saved in ``.fuzz-crashes/``
and the counts (inputs, loader calls, clean errors, failures by cause) are printed as JSON at the
end (``-atheris_runs`` reached or Ctrl-C).
"""

from __future__ import annotations

import atexit
import hashlib
import json
import sys
import tempfile
from pathlib import Path

import atheris

with atheris.instrument_imports(include=["crossmargin"]):
    from tests.fuzz import corpus
    from tests.fuzz.contract import LOADERS, _call, signature

KINDS: tuple[tuple[str, str], ...] = (
    ("portfolio", ".json"),
    ("market", ".json"),
    ("config", ".yaml"),
    ("positions", ".csv"),
    ("positions", ".json"),
    ("collateral", ".csv"),
    ("history", ".csv"),
    ("shock", ".json"),
    ("backtest_book", ".json"),
    ("derive_case", ".json"),
    ("span_file", ".json"),
    ("oracles", ".json"),
)
_DIR = Path(tempfile.mkdtemp(prefix="cm-atheris-"))


CRASHES = Path(".fuzz-crashes")
COUNTS: dict[str, int] = {}
CAUSES: dict[str, int] = {}


def _count(key: str) -> None:
    COUNTS[key] = COUNTS.get(key, 0) + 1


def test_one_input(data: bytes) -> None:
    """libFuzzer entry point: every loader of the chosen kind on the input."""
    if not data:
        return
    _count("inputs")
    kind, suffix = KINDS[data[0] % len(KINDS)]
    p = _DIR / f"input{suffix}"
    p.write_bytes(data[1:])
    for fn in LOADERS[kind]:
        status, detail = _call(fn, p)
        _count(f"loader_{status}")
        if status == "failure":
            sig = signature(f"{kind}{suffix}", detail)
            CAUSES[sig] = CAUSES.get(sig, 0) + 1
            if CAUSES[sig] == 1:
                CRASHES.mkdir(exist_ok=True)
                name = hashlib.sha1(sig.encode()).hexdigest()[:12]
                (CRASHES / f"{name}{suffix}").write_bytes(data[1:])
                (CRASHES / f"{name}.txt").write_text(f"{sig}\n\n{detail}")


def _summary() -> None:
    print(json.dumps({**COUNTS, "failures": sum(CAUSES.values()), "causes": CAUSES}, indent=1))


def seed_corpus(directory: Path) -> None:
    """Write the bundled examples as the starting corpus (one file per loader kind)."""
    directory.mkdir(parents=True, exist_ok=True)
    if any(directory.iterdir()):
        return
    seeds: list[corpus.Seed] = [
        *(s for pair in corpus.portfolios() for s in pair),
        corpus.config(),
        corpus.small_config(),
        *corpus.tables(),
        corpus.history(),
        corpus.shock(),
        *corpus.backtest_books(),
        *corpus.venue_cases(),
        corpus.oracle_records(),
    ]
    for n, s in enumerate(seeds):
        suffix = Path(s.name).suffix
        k = next(i for i, (kind, suf) in enumerate(KINDS) if kind == s.kind and suf == suffix)
        (directory / f"seed-{n:03d}").write_bytes(bytes([k]) + s.data)


def main() -> None:
    """Run libFuzzer over the loaders (arguments as for libFuzzer)."""
    args = [a for a in sys.argv[1:] if a.startswith("-")]
    dirs = [a for a in sys.argv[1:] if not a.startswith("-")] or [".fuzz-corpus"]
    seed_corpus(Path(dirs[0]))
    atexit.register(_summary)
    atheris.Setup([sys.argv[0], *args, *dirs], test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
