"""The command line: ``partition``, ``batch DATASET --cluster``, ``backtest --cluster``."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from crossmargin.history import load_daily_closes
from crossmargin.scale.executors import DaskExecutor

from .helpers import (
    assert_same_results,
    invoke,
    market_obj,
    read_results,
    venue_tables,
    write_tables,
)
from .test_dataset_runs import corrupt

pytestmark = pytest.mark.xdist_group("dask")


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("cli")
    pos, col = venue_tables(200, 2000, seed=4)
    p, c = write_tables(d / "in", pos, col)
    m = d / "market.json"
    m.write_text(json.dumps({**market_obj(), "timestamp": "2026-11-22T07:59:00Z"}))
    h = d / "history.csv"
    load_daily_closes()[["BTC", "ETH", "SPX"]].dropna().reset_index().to_csv(h, index=False)
    r = invoke("partition", p, "--collateral", c, "--out", d / "ds", "--partitions", "4")
    assert r.exit_code == 0, r.stderr
    assert "200 accounts, 2000 positions" in r.stdout and "4 partitions" in r.stdout
    return {"positions": p, "collateral": c, "market": m, "dataset": d / "ds", "history": h}


def test_batch_of_a_dataset_on_a_running_scheduler_equals_the_single_file_batch(
    files: dict[str, Path], dask_executor: DaskExecutor, tmp_path: Path
) -> None:
    single = tmp_path / "single.parquet"
    r = invoke(
        "batch", files["positions"], "--collateral", files["collateral"], "--market",
        files["market"], "--out", single,
    )  # fmt: skip
    assert r.exit_code == 0, r.stderr
    address = dask_executor.client.scheduler.address
    out = tmp_path / "results"
    r = invoke(
        "batch", files["dataset"], "--market", files["market"], "--out", out,
        "--cluster", address,
    )  # fmt: skip
    assert r.exit_code == 0, r.stderr
    lines = r.stdout.strip().splitlines()
    assert lines[0].startswith(f"200 accounts, 2000 positions (portfolio) → {out}")
    assert lines[1].startswith(
        f"4 partitions on dask:{address} (2 workers); peak memory per worker"
    )
    assert_same_results(read_results(out), pd.read_parquet(single))


def test_var_with_a_history_file_on_the_cluster_equals_the_single_file_batch(
    files: dict[str, Path], dask_executor: DaskExecutor, tmp_path: Path
) -> None:
    stale_ok = tmp_path / "stale_ok.yaml"  # the test history ends before as_of: opted in
    stale_ok.write_text("var:\n  allow_stale_history: true\n")
    common = ("--market", files["market"], "--model", "var", "--history", files["history"],
              "--config", stale_ok)  # fmt: skip
    single = tmp_path / "single.parquet"
    r = invoke(
        "batch", files["positions"], "--collateral", files["collateral"], *common, "--out", single
    )
    assert r.exit_code == 0, r.stderr
    r = invoke(
        "batch", files["dataset"], *common, "--out", tmp_path / "out",
        "--cluster", dask_executor.client.scheduler.address,
    )  # fmt: skip
    assert r.exit_code == 0, r.stderr
    got = read_results(tmp_path / "out")
    assert set(got["model"]) == {"var"}
    assert_same_results(got, pd.read_parquet(single))


def test_a_corrupt_partition_is_one_line_exit_2_naming_it(
    files: dict[str, Path], dask_executor: DaskExecutor, tmp_path: Path
) -> None:
    ds = tmp_path / "ds"
    shutil.copytree(files["dataset"], ds)
    victim = ds / "positions" / "part-00003.parquet"
    corrupt(victim)
    r = invoke(
        "batch", ds, "--market", files["market"], "--out", tmp_path / "out",
        "--cluster", dask_executor.client.scheduler.address, "--retries", "1",
    )  # fmt: skip
    assert r.exit_code == 2, (r.stdout, r.stderr)
    assert r.stdout == ""
    assert r.stderr.startswith(
        f"error: {victim}: partition part-00003 failed to margin after 2 attempts (accounts 'acct-"
    ), r.stderr
    assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
    assert "3 of 4 partitions written, the run is incomplete" in r.stderr


def test_in_process_dataset_run_quiet_and_bad_options(
    files: dict[str, Path], tmp_path: Path
) -> None:
    out = tmp_path / "out"
    r = invoke("batch", files["dataset"], "--market", files["market"], "--out", out, "--quiet")
    assert r.exit_code == 0 and r.stdout == "" and r.stderr == ""
    assert len(read_results(out)) == 200
    for args, msg in (
        (("--cluster", "local:zero"), "--cluster: expected local:N"),
        (("--retries", "-1"), "--retries: must be >= 0"),
        (("--collateral", files["collateral"]), "--collateral: a dataset written by"),
    ):
        r = invoke(
            "batch", files["dataset"], "--market", files["market"], "--out", tmp_path / "o2", *args
        )
        assert r.exit_code == 2 and r.stderr.startswith(f"error: {msg}"), r.stderr
    # a second writer of the same results directory is refused before any work
    from crossmargin.cli.files import OutputFiles

    with OutputFiles() as held:
        held.declare_dir("--out", out)
        r = invoke("batch", files["dataset"], "--market", files["market"], "--out", out)
    assert r.exit_code == 2 and "being written by another crossmargin process" in r.stderr
    assert r.stderr.count("\n") == 1
    assert len(read_results(out)) == 200  # the earlier results are untouched
    r = invoke(
        "partition",
        files["positions"],
        "--collateral",
        files["collateral"],
        "--out",
        files["dataset"],
    )
    assert r.exit_code == 2 and "already exists" in r.stderr


def _strip_seconds(x: Any) -> Any:
    if isinstance(x, dict):
        return {k: _strip_seconds(v) for k, v in x.items() if k != "seconds"}
    if isinstance(x, list):
        return [_strip_seconds(v) for v in x]
    return x


def test_backtest_of_books_by_models_on_the_cluster_equals_in_process(
    dask_executor: DaskExecutor,
) -> None:
    args = (
        "backtest", "btc_static", "spx_ndx_book", "--models", "portfolio,isolated,okx-pm",
        "--start", "2018-06-01", "--report", "none", "-f", "json",
    )  # fmt: skip
    local = invoke(*args)
    assert local.exit_code == 0, local.stderr
    remote = invoke(*args, "--cluster", dask_executor.client.scheduler.address)
    assert remote.exit_code == 0, remote.stderr
    a, b = json.loads(local.stdout), json.loads(remote.stdout)
    assert [m["model"] for m in b["books"][0]["models"]] == ["portfolio", "isolated", "okx-pm"]
    assert _strip_seconds(a) == _strip_seconds(b)


def test_local_cluster_started_by_the_command(files: dict[str, Path], tmp_path: Path) -> None:
    exe = Path(sys.executable).parent / "crossmargin"
    out = tmp_path / "out"
    p = subprocess.run(
        [str(exe), "batch", str(files["dataset"]), "--market", str(files["market"]), "--out",
         str(out), "--model", "cross", "--cluster", "local:1", "--worker-memory", "1GiB"],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert p.returncode == 0, p.stderr
    assert "4 partitions on local:1 (1 worker)" in p.stdout
    assert p.stderr == ""
    got = read_results(out)
    assert len(got) == 200 and set(got["model"]) == {"cross"}
