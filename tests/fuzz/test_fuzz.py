"""The short fuzz run of ``make test`` (seeded, deterministic): a few hundred cases over every
command and loader must keep the contract — no traceback, one-line errors naming a path, nothing
written on error, no margin silently smaller than the unmutated input's.

The long run is ``python -m tests.fuzz.run --cases 20000`` (docs/validation.md, "Fuzzing").
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .cases import Case, make_case
from .contract import Tally, run_case
from .run import Harness, _generated

SEED = 20261207
PARTS = 4
PER_PART = 50


def _report(t: Tally) -> str:
    return json.dumps({"counts": t.counts, "failures": t.failures}, indent=1)[:20000]


@pytest.mark.slow
@pytest.mark.parametrize("part", range(PARTS))
def test_mutation_corpus(part: int) -> None:
    h = Harness(subprocess_every=PER_PART)  # one real `python -m crossmargin` process per part
    for i in range(part * PER_PART, (part + 1) * PER_PART):
        h.run(make_case(SEED, i))
    assert h.tally.counts["cases"] == PER_PART
    assert h.tally.counts.get("subprocess_runs", 0) == 1
    assert h.tally.failure_count() == 0, _report(h.tally)


@pytest.mark.slow
def test_cases_generated_from_the_schemas() -> None:
    t = _generated((SEED, 40))
    assert t.counts["cases"] == 40
    assert t.failure_count() == 0, _report(t)


def test_cases_are_deterministic() -> None:
    a, b = make_case(SEED, 7), make_case(SEED, 7)
    assert (a.argv, a.files, a.label) == (b.argv, b.files, b.label)
    commands = {make_case(SEED, i).command for i in range(300)}
    assert commands >= {"margin", "compare", "explain", "whatif", "price", "batch", "liquidate",
                        "cascade", "backtest", "history", "oracles", "venue-case"}  # fmt: skip


# -- the checker itself can fail -------------------------------------------------------------------
def _margin_case(examples: Path, *extra: str) -> Case:
    return Case("margin", ["margin", str(examples / "crypto_book.json"), "-m",
                           str(examples / "market_crypto.json"), "-f", "json", *extra])  # fmt: skip


def test_contract_detects_a_traceback(examples: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import crossmargin.cli.cmd_margin as cmd

    def boom(*args: object, **kwargs: object) -> None:
        raise ValueError("unhandled")

    monkeypatch.setattr(cmd, "compute_margin", boom)
    out = run_case(_margin_case(examples))
    assert out.kind == "tracebacks" and "ValueError: unhandled" in out.detail


def test_contract_detects_files_left_on_error(
    examples: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from crossmargin.cli.files import OutputFiles

    monkeypatch.setattr(OutputFiles, "close", lambda self: None)  # leaves its lock file
    case = _margin_case(examples, "--model", "isolated", "--plot", "{out}/p.png")
    out = run_case(case)
    assert out.kind == "files_on_error" and ".p.png.crossmargin-lock" in out.detail


def test_contract_detects_a_bad_error_line(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    import typer

    import crossmargin.cli.cmd_info as info

    def two_lines(kind: str) -> None:
        print("something went wrong\nsee above", file=sys.stderr)
        raise typer.Exit(2)

    monkeypatch.setattr(info, "json_schema", two_lines)
    assert run_case(Case("schema", ["schema", "market"])).kind == "bad_errors"


def test_contract_detects_a_silently_smaller_margin(examples: Path) -> None:
    market = json.loads((examples / "market_crypto.json").read_text())
    base_files = {"p.json": (examples / "crypto_book.json").read_bytes(),
                  "m.json": json.dumps(market).encode()}  # fmt: skip
    market["assets"]["BTC"]["expiries"]["26DEC26"]["smile"]["vols"] = [0.2, 0.2, 0.2, 0.2]
    argv = ["margin", "{in}/p.json", "-m", "{in}/m.json", "-f", "json"]
    base = Case("margin", argv, base_files)
    lowered = Case("margin", argv, {**base_files, "m.json": json.dumps(market).encode()},
                   "vols lowered, flagged as a corruption", corrupts=True, baseline=base)  # fmt: skip
    h = Harness()
    out = h.run(lowered)
    assert out.kind == "silent_smaller" and h.tally.counts["silent_smaller"] == 1
    assert h.tally.failures[0]["label"] == lowered.label
