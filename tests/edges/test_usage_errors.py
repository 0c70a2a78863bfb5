"""Issue 9: usage errors of the command line are one line ``error: <option>: <reason>``, exit
code 2 (click would print a usage block over several lines), and every error names a path."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from .helpers import one_line_error, run


def _liquidate(examples: Path, *extra: object) -> list[object]:
    return ["liquidate", examples / "liquidation_book.json", "-m", examples / "market_crypto.json",
            *extra]  # fmt: skip


def _cascade(examples: Path, *extra: object) -> list[object]:
    return ["cascade", "synthetic:5", "-m", examples / "market_crypto.json", "-s", "BTC=-0.2",
            "--no-progress", *extra]  # fmt: skip


@pytest.mark.parametrize(
    ("extra", "path", "reason"),
    [
        (("--insurance-fund", "-1"), "--insurance-fund", "must be >= 0, got -1"),
        (("--insurance-fund", "inf"), "--insurance-fund", "must be a finite number, got inf"),
        (("--insurance-fund", "nan"), "--insurance-fund", "must be a finite number, got nan"),
        (("--insurance-fund", "abc"), "--insurance-fund", "must be a valid number"),
        (("--policy", "foo"), "--policy", "'foo' is not one of 'full', 'partial'"),
        (("--bogus",), "--bogus", "no such option"),
        (("--polcy", "full"), "--polcy", "no such option; did you mean --policy?"),
        (("--account",), "--account", "requires an argument"),
    ],
)
def test_liquidate_usage_errors(
    examples: Path, extra: tuple[str, ...], path: str, reason: str
) -> None:
    p, why = one_line_error(run(*_liquidate(examples, *extra)))
    assert p == path and reason in why


@pytest.mark.parametrize(
    ("extra", "path", "reason"),
    [
        (("--rounds", "0"), "--rounds", "must be >= 1, got 0"),
        (("--rounds", "1.5"), "--rounds", "must be a valid integer"),
        (("--insurance-fund", "inf"), "--insurance-fund", "must be a finite number"),
        (("--collateral-mode", "x"), "--collateral-mode", "is not one of"),
    ],
)
def test_cascade_usage_errors(
    examples: Path, extra: tuple[str, ...], path: str, reason: str
) -> None:
    p, why = one_line_error(run(*_cascade(examples, *extra)))
    assert p == path and reason in why


@pytest.mark.parametrize(
    ("args", "path", "reason"),
    [
        (("margin",), "--market", "give --market FILE (or read a venue export with --from)"),
        (("margin", "p.json"), "--market", "give --market FILE"),
        (("margin", "a", "b", "-m", "x"), "portfolio", "give exactly one portfolio file"),
        (("price",), "INSTRUMENTS", "required argument is missing"),
        (("nosuch",), "nosuch", "no such command"),
        (("schema", "bogus"), "KIND", "is not one of 'portfolio', 'market', 'config'"),
        (("oracles", "f.json", "--timeout", "0"), "--timeout", "must be > 0"),
        (("oracles", "f.json", "--timeout", "inf"), "--timeout", "must be a finite number"),
        (("backtest", "btc_static", "--mpor", "x"), "--mpor", "must be a valid integer"),
    ],
)
def test_usage_errors_of_other_commands(args: tuple[str, ...], path: str, reason: str) -> None:
    p, why = one_line_error(run(*args))
    assert p == path and reason in why


def test_insurance_fund_inf_is_refused_before_any_work(examples: Path, tmp_path: Path) -> None:
    out = tmp_path / "c.json"
    one_line_error(run(*_cascade(examples, "--insurance-fund", "inf", "--out", out)))
    assert not out.exists()


def test_help_still_works() -> None:
    r = run("margin", "--help")
    assert r.exit_code == 0 and "Usage:" in r.stdout and r.stderr == ""
    r = run()
    assert r.exit_code == 2 and "Commands:" in r.output  # no arguments: the help, as always


def test_whatif_on_several_accounts_names_the_option(examples: Path) -> None:
    args = ["whatif", examples / "venue_accounts.json", "-m", examples / "market_venue.json",
            "-t", "BTC-PERP:1"]  # fmt: skip
    path, reason = one_line_error(run(*args))
    assert path == "--account" and "7 accounts" in reason
    path, reason = one_line_error(run(*args, "--account", "nobody"))
    assert path == "--account" and "no account 'nobody'" in reason


def test_plot_with_a_model_without_scenarios_names_the_option(
    examples: Path, tmp_path: Path
) -> None:
    png = tmp_path / "x.png"
    path, reason = one_line_error(
        run(
            "margin",
            examples / "crypto_book.json",
            "-m",
            examples / "market_crypto.json",
            "--model",
            "isolated",
            "--plot",
            png,
        )
    )
    assert path == "--plot" and "no scenario grid" in reason
    assert list(tmp_path.iterdir()) == []


def test_out_of_memory_is_one_line_and_not_an_input_error(
    examples: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    pos = tmp_path / "p.parquet"
    col = tmp_path / "c.parquet"
    import pandas as pd

    pd.read_csv(examples / "venue_positions.csv").to_parquet(pos)
    pd.read_csv(examples / "venue_collateral.csv").to_parquet(col)

    def no_memory(*args: object, **kwargs: object) -> None:
        raise pa.ArrowMemoryError("malloc of size 1073741824 failed")

    monkeypatch.setattr(pq, "read_table", no_memory)
    out = tmp_path / "r.csv"
    path, reason = one_line_error(
        run("batch", pos, "--collateral", col, "-m", examples / "market_venue.json", "-o", out),
        code=1,
    )
    assert path == "batch" and reason.startswith("out of memory")
    assert "positions table" in reason and "not rejected" in reason
    assert "cannot read" not in reason  # not reported as a bad input
    assert not out.exists()


def test_a_bug_is_one_line_too(examples: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import crossmargin.cli.cmd_margin as cmd

    def bug(*args: object, **kwargs: object) -> None:
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(cmd, "compute_margin", bug)
    monkeypatch.delenv("CROSSMARGIN_TRACEBACK", raising=False)
    args = ("margin", examples / "crypto_book.json", "-m", examples / "market_crypto.json")
    path, reason = one_line_error(run(*args), code=1)
    assert path == "margin" and reason.startswith("internal error ZeroDivisionError")
    assert "CROSSMARGIN_TRACEBACK=1" in reason
    monkeypatch.setenv("CROSSMARGIN_TRACEBACK", "1")
    r = run(*args)
    assert isinstance(r.exception, ZeroDivisionError)  # the traceback, for debugging


def test_arrow_failing_to_allocate_a_string_is_out_of_memory(
    examples: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Under memory pressure Arrow reports ``Unknown error: Wrapping <value> failed``."""
    import pyarrow as pa

    import crossmargin.cli.cmd_batch as cmd

    def no_memory(*args: object, **kwargs: object) -> None:
        raise pa.ArrowException("Unknown error: Wrapping acc-0408670 failed")

    monkeypatch.setattr(cmd, "book_from_frames", no_memory)
    monkeypatch.setattr(cmd, "book_from_frames", no_memory)
    out = tmp_path / "r.csv"
    args = ["batch", examples / "venue_positions.csv", "--collateral",
            examples / "venue_collateral.csv", "-m", examples / "market_venue.json", "-o", out]  # fmt: skip
    path, reason = one_line_error(run(*args), code=1)
    assert path == "batch" and reason.startswith("out of memory (Unknown error: Wrapping")
    assert list(tmp_path.iterdir()) == []


def test_no_memory_to_read_a_small_input_file_is_not_an_input_error(
    examples: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The bounded reader used to turn a MemoryError into ``market file does not fit in memory``
    (exit 2): under memory pressure a 10 kB file was blamed."""
    real_open = Path.open

    class Starved:
        def __init__(self, fh: Any) -> None:
            self.fh = fh

        def __enter__(self) -> Starved:
            return self

        def __exit__(self, *exc: object) -> None:
            self.fh.close()

        def fileno(self) -> int:
            return int(self.fh.fileno())

        def read(self, *args: object) -> bytes:
            raise MemoryError

    def starved_open(self: Path, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        fh = real_open(self, mode, *args, **kwargs)
        return Starved(fh) if self.name == "crypto_book.json" and "b" in mode else fh

    monkeypatch.setattr(Path, "open", starved_open)
    path, reason = one_line_error(
        run("margin", examples / "crypto_book.json", "-m", examples / "market_crypto.json"), code=1
    )
    assert path == "margin" and reason.startswith("out of memory (reading the portfolio file")


# -- fuzz findings: blank paths and huge integers, for every option of every command ---------------
def _params(kind: str) -> list[tuple[str, str, tuple[str, ...]]]:
    """``(command, name, before)`` of every path or int parameter of the command line.

    ``before`` is what precedes the value: the option itself, or the earlier positional
    arguments (a valid choice or ``x``) for an argument.
    """

    from crossmargin.cli.lazy import COMMANDS, load_command
    from crossmargin.cli.params import _kind

    out = []
    for name, cmd in sorted((n, load_command(n)) for n in COMMANDS):
        earlier: list[str] = []
        for p in cmd.params:
            is_arg = p.param_type_name == "argument"
            if _kind(p.type_descriptor.annotation) == kind:
                longs = [o for o in p.opts if o.startswith("--")]
                before = tuple(earlier) if is_arg else (longs[0],)
                out.append((name, p.name.upper() if is_arg else longs[0], before))
            if is_arg:
                choices = p.type_descriptor.choices
                earlier.append(str(getattr(choices[0], "value", choices[0])) if choices else "x")
    return out


PATH_PARAMS = _params("path")
INT_PARAMS = _params("int")


def test_the_generic_checks_see_the_options_of_the_fuzz_findings() -> None:
    assert ("margin", "--history", ("--history",)) in PATH_PARAMS
    assert ("margin", "PORTFOLIO", ()) in PATH_PARAMS  # list[Path]
    assert ("venue-case", "CASE", ("derive-pmrm2",)) in PATH_PARAMS
    assert {("backtest", "--mpor", ("--mpor",)), ("cascade", "--rounds", ("--rounds",))} <= set(
        INT_PARAMS
    )


@pytest.mark.parametrize("value", [" ", "", "\t"])
@pytest.mark.parametrize(("command", "name", "before"), PATH_PARAMS)
def test_a_blank_path_is_refused_naming_the_option(
    command: str, name: str, before: tuple[str, ...], value: str
) -> None:
    path, reason = one_line_error(run(command, *before, value))
    assert path == name, (path, reason)
    assert reason.startswith("must be a file path, got a")


def test_blank_history_of_the_fuzz_run(examples: Path) -> None:
    args = ["margin", examples / "crypto_book.json", "-m", examples / "market_crypto.json",
            "-f", "json", "--history", " "]  # fmt: skip
    assert one_line_error(run(*args)) == (
        "--history",
        "must be a file path, got a blank value (see 'crossmargin margin --help')",
    )


@pytest.mark.parametrize("value", ["999999999999999999999999999999", "-1" + "0" * 30, "1000000001"])
@pytest.mark.parametrize(("command", "name", "before"), INT_PARAMS)
def test_a_huge_integer_is_refused_naming_the_option(
    command: str, name: str, before: tuple[str, ...], value: str
) -> None:
    path, reason = one_line_error(run(command, *before, value))
    assert path == name
    assert reason.startswith("must be an integer between -1000000000 and 1000000000, got")


def test_huge_mpor_of_the_fuzz_run_is_a_usage_error_not_an_overflow() -> None:
    args = ["backtest", "btc_static", "--start", "2019-06-01", "--end", "2019-08-01",
            "--models", "portfolio", "-f", "json", "--mpor", "9" * 30]  # fmt: skip
    path, reason = one_line_error(run(*args))
    assert path == "--mpor" and "must be an integer between" in reason


def test_config_with_nul_bytes_is_one_line(examples: Path, tmp_path: Path) -> None:
    cfg = tmp_path / "small.yaml"
    cfg.write_bytes(b"\x00" * 64)
    args = ["margin", examples / "crypto_book.json", "-m", examples / "market_crypto.json",
            "-f", "json", "-c", cfg]  # fmt: skip
    path, reason = one_line_error(run(*args))
    assert path == str(cfg) and reason.startswith("not valid YAML: unacceptable character #x0000")
