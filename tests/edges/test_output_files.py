"""Issue 9 (files): every output of a command is written as a unit or not at all, no two outputs
of one command may be the same file, and concurrent writers of one file cannot both succeed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from crossmargin.cli.files import OutputFiles, write_text
from crossmargin.errors import InputError
from crossmargin.scale.dataset import MANIFEST

from .helpers import files_in, one_line_error, run

CASCADE = ("cascade", "synthetic:40:3", "--shock", "*=-0.3", "--no-progress")


def _cascade(examples: Path, *extra: object) -> list[object]:
    return [*CASCADE, "--market", examples / "market_venue.json", *extra]


def test_cascade_with_an_unwritable_ledger_leaves_no_report(examples: Path, tmp_path: Path) -> None:
    out = tmp_path / "c.json"
    r = run(*_cascade(examples, "--out", out, "--ledger", tmp_path / "nodir" / "l.csv"))
    path, reason = one_line_error(r)
    assert path == str(tmp_path / "nodir" / "l.csv") and "--ledger" in reason
    assert files_in(tmp_path) == set()


def test_a_failing_plot_leaves_no_report_and_no_ledger(
    examples: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import crossmargin.liquidation.plot as plot

    def broken(res: object, path: Path) -> None:
        Path(path).write_bytes(b"half a png")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(plot, "plot_cascade", broken)
    out, led, png = tmp_path / "c.json", tmp_path / "l.csv", tmp_path / "c.png"
    path, reason = one_line_error(
        run(*_cascade(examples, "--out", out, "--ledger", led, "--plot", png))
    )
    assert path == str(png) and "No space left on device" in reason
    assert files_in(tmp_path) == set()


def test_existing_outputs_are_kept_when_the_command_fails(
    examples: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out, led = tmp_path / "c.json", tmp_path / "l.csv"
    out.write_text("old report")
    led.write_text("old ledger")
    import crossmargin.cli.files as files

    real = Path.replace
    calls: list[Path] = []

    def flaky(self: Path, target: Path) -> Path:  # the second rename fails
        calls.append(Path(target))
        if len(calls) == 2 and Path(target).name == "l.csv":
            raise OSError(5, "Input/output error", str(target))
        return real(self, target)

    monkeypatch.setattr(files.Path, "replace", flaky)
    _, reason = one_line_error(run(*_cascade(examples, "--out", out, "--ledger", led)))
    assert "Input/output error" in reason
    assert out.read_text() == "old report" and led.read_text() == "old ledger"  # rolled back
    assert files_in(tmp_path) == {"c.json", "l.csv"}


@pytest.mark.parametrize("second", ["--ledger", "--plot"])
def test_two_outputs_on_one_file_are_refused(examples: Path, tmp_path: Path, second: str) -> None:
    target = tmp_path / "x.json"
    other = target if second == "--ledger" else tmp_path / "x.png"
    if second == "--plot":  # the same file through a symbolic link
        (tmp_path / "x.png").symlink_to(target)
        target.write_text("keep")
    path, reason = one_line_error(run(*_cascade(examples, "--out", target, second, other)))
    assert "also the output of --out" in reason and path == str(other)
    assert target.read_text() == "keep" if second == "--plot" else not target.exists()


def test_same_file_through_a_hard_link_is_refused(tmp_path: Path) -> None:
    a = tmp_path / "a.json"
    a.write_text("{}")
    os.link(a, tmp_path / "b.json")
    with OutputFiles() as files, pytest.raises(InputError, match="also the output of --one"):
        files.declare("--one", a)
        files.declare("--two", tmp_path / "b.json")
    assert files_in(tmp_path) == {"a.json", "b.json"}


def test_backtest_out_into_an_unwritable_directory(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        r = run("backtest", "btc_static", "--out", locked / "report", "--start", "2019-06-01")
        if os.geteuid() == 0:  # root writes anyway: the contract is then a normal success
            assert r.exit_code == 0, r.stderr
        else:
            _, reason = one_line_error(r)
            assert "not writable" in reason
            assert files_in(locked) == set()
    finally:
        locked.chmod(0o700)


def test_backtest_out_whose_parent_is_missing(tmp_path: Path) -> None:
    path, reason = one_line_error(run("backtest", "btc_static", "--out", tmp_path / "a" / "b"))
    assert path == str(tmp_path / "a" / "b") and "does not exist" in reason
    assert files_in(tmp_path) == set()


def test_backtest_directory_appears_whole(tmp_path: Path) -> None:
    out = tmp_path / "report"
    r = run("backtest", "btc_static", "--out", out, "--start", "2019-06-01", "--report", "none")
    assert r.exit_code == 0, r.stderr
    assert files_in(tmp_path) == {"report", "report/btc_static.json", "report/btc_static_daily.csv"}


def test_helper_commits_all_or_nothing(tmp_path: Path) -> None:
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    with pytest.raises(RuntimeError), OutputFiles() as files:
        files.declare("--a", a)
        files.declare("--b", b)
        files.stage("--a", write_text("A"))
        raise RuntimeError("the computation failed after one output was staged")
    assert files_in(tmp_path) == set()
    with OutputFiles() as files:
        files.declare("--a", a)
        files.declare("--b", b)
        files.stage("--a", write_text("A"))
        files.stage("--b", write_text("B"))
        assert {p.name for p in tmp_path.iterdir()} - {"a.txt", "b.txt"}  # staged, hidden
        assert not a.exists() and not b.exists()
        files.commit()
    assert a.read_text() == "A" and b.read_text() == "B"
    assert files_in(tmp_path) == {"a.txt", "b.txt"}  # no lock, temporary or backup file left
    assert oct(a.stat().st_mode & 0o777) != oct(0o600)  # a normal file's permissions


def test_a_lock_left_by_a_killed_writer_is_taken_over(tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    (tmp_path / ".r.json.crossmargin-lock").write_text("12345\n")  # no process holds it
    with OutputFiles() as files:
        files.declare("--out", out)
        files.stage("--out", write_text("{}"))
        files.commit()
    assert files_in(tmp_path) == {"r.json"}


_WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from crossmargin.cli.files import OutputFiles, write_text
    from crossmargin.errors import InputError

    out, tag, wait = Path(sys.argv[1]), sys.argv[2], sys.argv[3] == "wait"
    try:
        with OutputFiles() as files:
            files.declare("--out", out)
            print("declared", flush=True)
            if wait:  # the computation, until the test says so
                sys.stdin.readline()
            files.stage("--out", write_text(tag))
            files.commit()
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    """
)


def test_concurrent_writers_cannot_both_succeed(tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    first = subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(out), "first", "wait"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    assert first.stdout is not None and first.stdout.readline().strip() == "declared"
    second = subprocess.run(
        [sys.executable, "-c", _WRITER, str(out), "second", "go"],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    _, err = first.communicate("go\n", timeout=120)
    assert first.returncode == 0, err
    assert second.returncode == 2
    assert "being written by another crossmargin process" in second.stderr
    assert second.stderr.count("\n") == 1
    assert out.read_text() == "first"  # the one that reported success wrote the file
    assert files_in(tmp_path) == {"r.json"}


def test_two_cli_processes_on_one_out(examples: Path, tmp_path: Path) -> None:
    """Two real ``crossmargin`` processes writing one --out: each success is its own file."""
    out = tmp_path / "c.json"
    cmd = [sys.executable, "-m", "crossmargin", *map(str, _cascade(examples, "--out", out))]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    procs = [
        subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        for _ in range(2)
    ]
    results = [(p.wait(timeout=300), p.stderr.read() if p.stderr else "") for p in procs]
    codes = sorted(code for code, _ in results)
    assert codes in ([0, 0], [0, 2]), results
    for code, err in results:
        if code == 2:
            assert "being written by another crossmargin process" in err and err.count("\n") == 1
    json.loads(out.read_text())  # a complete report, never a mix
    assert files_in(tmp_path) == {"c.json"}


def _venue_tables(d: Path, *, bad_collateral: bool = False) -> tuple[Path, Path]:
    d.mkdir()
    pos, col = d / "positions.csv", d / "collateral.csv"
    pos.write_text("account,instrument,quantity\na1,BTC-PERP,1\na2,ETH-PERP,-2\na3,BTC-PERP,3\n")
    col.write_text(
        "account,asset,quantity\na1,USDC,100\n"  # a wrong column: fails after the positions
        if bad_collateral
        else "account,asset,amount\na1,USDC,100\na2,USDC,50\n"
    )
    return pos, col


def test_partition_out_appears_whole(tmp_path: Path) -> None:
    pos, col = _venue_tables(tmp_path / "in")
    out = tmp_path / "out"
    out.mkdir()
    r = run("partition", pos, "--collateral", col, "--out", out / "ds", "-n", "2", "--quiet")
    assert r.exit_code == 0, r.stderr
    names = files_in(out)
    assert {"ds", f"ds/{MANIFEST}", "ds/positions", "ds/collateral"} <= names
    assert all(n == "ds" or n.startswith("ds/") for n in names)  # no lock or temporary left


def test_a_failing_partition_leaves_nothing_behind(tmp_path: Path) -> None:
    pos, col = _venue_tables(tmp_path / "in", bad_collateral=True)
    out = tmp_path / "out"
    out.mkdir()
    _, reason = one_line_error(run("partition", pos, "--collateral", col, "--out", out / "ds"))
    assert "amount" in reason
    assert files_in(out) == set()  # the positions already hashed are gone, lock released


def test_partition_out_being_written_by_another_process_is_refused(tmp_path: Path) -> None:
    pos, col = _venue_tables(tmp_path / "in")
    out = tmp_path / "out"
    out.mkdir()
    with OutputFiles() as held:
        held.declare_dir("--out", out / "ds")
        r = run("partition", pos, "--collateral", col, "--out", out / "ds")
        path, reason = one_line_error(r)
        assert path == str(out / "ds") and "being written by another crossmargin process" in reason
    assert files_in(out) == set()


def test_partition_out_that_exists_is_refused_before_any_work(tmp_path: Path) -> None:
    pos, col = _venue_tables(tmp_path / "in")
    (tmp_path / "ds").mkdir()
    (tmp_path / "ds" / "mine.txt").write_text("keep")
    path, reason = one_line_error(
        run("partition", pos, "--collateral", col, "--out", tmp_path / "ds")
    )
    assert path == str(tmp_path / "ds") and "already exists" in reason
    assert files_in(tmp_path / "ds") == {"mine.txt"}
    assert {p.name for p in tmp_path.iterdir()} == {"in", "ds"}
