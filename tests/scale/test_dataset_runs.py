"""Partitioned runs in process and on a local process pool: same numbers, failures named."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from crossmargin.account.report import summary_table
from crossmargin.engine import margin_book
from crossmargin.errors import ExecutionError, InputError, MarketDataError
from crossmargin.io.tables import book_from_frames
from crossmargin.scale import (
    InProcessExecutor,
    LocalPoolExecutor,
    margin_dataset,
    open_dataset,
    write_dataset,
)
from crossmargin.scale.context import risk_arrays_computed
from crossmargin.scale.dataset import read_partition
from crossmargin.scale.executors import RunResult, executor_from_spec
from crossmargin.scale.output import RESULTS_MANIFEST

from .helpers import (
    MODEL_VENUES,
    assert_same_results,
    read_results,
    venue_config,
    venue_market,
    venue_tables,
    write_tables,
)


def reference(pos: pd.DataFrame, col: pd.DataFrame, model: str) -> pd.DataFrame:
    """The single-process path: the whole venue in one book, one process."""
    book = book_from_frames(pos, col)
    res = margin_book(book, venue_market(), model=model, config=venue_config())
    return pd.DataFrame(summary_table(res))


def corrupt(path: Path) -> None:
    """Overwrite the middle fifth of a file (same size: the manifest's size check passes)."""
    data = bytearray(path.read_bytes())
    a, b = len(data) * 2 // 5, len(data) * 3 // 5
    data[a:b] = bytes((x ^ 0x5A) for x in data[a:b])
    path.write_bytes(bytes(data))


@pytest.fixture(scope="module")
def venue(tmp_path_factory: pytest.TempPathFactory) -> tuple[pd.DataFrame, pd.DataFrame, Path]:
    d = tmp_path_factory.mktemp("venue")
    pos, col = venue_tables(240, 2400)
    p, c = write_tables(d / "in", pos, col)
    write_dataset(p, c, d / "ds", partitions=4)
    return pos, col, d


def test_in_process_streaming_reproduces_the_single_process_numbers_bitwise(
    venue: tuple[pd.DataFrame, pd.DataFrame, Path], tmp_path: Path
) -> None:
    pos, col, d = venue
    res = margin_dataset(
        open_dataset(d / "ds"), venue_market(), out=tmp_path / "out", config=venue_config()
    )
    assert res.accounts == 240 and res.positions == 2400 and len(res.partitions) == 4
    assert_same_results(read_results(tmp_path / "out"), reference(pos, col, "portfolio"))
    files = sorted(f.name for f in (tmp_path / "out").iterdir())
    assert files == [RESULTS_MANIFEST, *(f"part-0000{k}.parquet" for k in range(4))]
    doc = json.loads((tmp_path / "out" / RESULTS_MANIFEST).read_text())
    assert doc["accounts"] == 240 and doc["model"] == "portfolio"
    assert sum(doc["statuses"].values()) == 240
    assert [f["rows"] for f in doc["files"]] == [p.accounts for p in res.partitions]


@pytest.mark.parametrize("model", ["var", "es"])
def test_risk_arrays_are_computed_once_for_all_partitions_of_a_run(
    model: str,
    venue: tuple[pd.DataFrame, pd.DataFrame, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The venue's contract x scenario P&L is per-partition invariant: one process margining
    four partitions computes each array once (not once per partition), same numbers."""
    import crossmargin.margin.var_engine as engine

    pos, col, d = venue
    calls: list[int] = []
    real = engine.joint_unit_pnl

    def counting(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(engine, "joint_unit_pnl", counting)
    before = risk_arrays_computed()
    res = margin_dataset(
        open_dataset(d / "ds"), venue_market(), out=tmp_path / "out", model=model,
        config=venue_config(),
    )  # fmt: skip
    grown = {k: n - before.get(k, 0) for k, n in risk_arrays_computed().items()}
    grown = {k: n for k, n in grown.items() if n}
    assert len(res.partitions) == 4
    # every array went through the run's store, each computed exactly once
    assert grown and set(grown.values()) == {1} and len(calls) == len(grown)
    # without the store each partition computes them all again
    calls.clear()
    for part in open_dataset(d / "ds").partitions:
        p, c = read_partition(part)
        margin_book(book_from_frames(p, c), venue_market(), model=model, config=venue_config())
    assert len(calls) >= 3 * len(grown)
    monkeypatch.undo()
    assert_same_results(read_results(tmp_path / "out"), reference(pos, col, model))


@pytest.mark.parametrize("model", sorted(MODEL_VENUES))
def test_margin_book_over_account_slices_equals_one_call(model: str) -> None:
    pos, col = venue_tables(120, 1200, shape=MODEL_VENUES[model], seed=5)
    book = book_from_frames(pos, col)
    ref = margin_book(book, venue_market(), model=model, config=venue_config())
    got = margin_book(
        book, venue_market(), model=model, config=venue_config(), executor=InProcessExecutor()
    )
    assert_same_results(pd.DataFrame(summary_table(got)), pd.DataFrame(summary_table(ref)))
    # the joined batch explains accounts like the single call: the same breakdown and the same
    # add-on rows (a pair add-on of a var/es account may be listed in another order)
    from crossmargin.account.report import account_dict

    for i in (0, 37, 119):
        a, b = account_dict(ref, i), account_dict(got, i)
        key = lambda d: json.dumps(d, sort_keys=True)  # noqa: E731
        assert sorted(map(key, a.pop("addons"))) == sorted(map(key, b.pop("addons"))), model
        assert a == b, model


def test_a_scanned_directory_with_a_glob_and_a_single_file_input(tmp_path: Path) -> None:
    pos, col = venue_tables(100, 800, seed=3)
    d = tmp_path / "d"
    (d / "p").mkdir(parents=True)
    (d / "c").mkdir()
    accounts = sorted(set(col["account"]))
    for k in range(3):
        keep = set(accounts[k::3])
        pos[pos["account"].isin(keep)].to_parquet(d / "p" / f"x{k}.parquet")
        col[col["account"].isin(keep)].to_parquet(d / "c" / f"y{k}.parquet")
    ref = reference(pos, col, "cross")
    ds = open_dataset(str(d / "p" / "*.parquet"), d / "c")
    stages: list[str] = []
    res = margin_dataset(
        ds,
        venue_market(),
        out=tmp_path / "out",
        model="cross",
        config=venue_config(),
        progress=lambda s, _d, _t: stages.append(s),
    )
    assert stages[0] == "scanning" and any(s.startswith("margining") for s in stages)
    got = read_results(tmp_path / "out")
    # contracts are numbered in the dataset's order: bitwise equal to one process reading the
    # same partitions in order; against the original file's order sums may run in another order
    parts = [pd.read_parquet(d / "p" / f"x{k}.parquet") for k in range(3)]
    cols = [pd.read_parquet(d / "c" / f"y{k}.parquet") for k in range(3)]
    assert_same_results(got, reference(pd.concat(parts), pd.concat(cols), "cross"))
    assert_same_results(got, ref, rtol=1e-12)
    assert [p.name for p in res.partitions] == ["x0", "x1", "x2"]
    # one pair of files is one partition; the results go to one file of the given format
    p, c = write_tables(tmp_path / "one", pos, col)
    margin_dataset(
        open_dataset(p, c),
        venue_market(),
        out=tmp_path / "r.csv",
        model="cross",
        config=venue_config(),
    )
    from_csv = pd.read_csv(tmp_path / "r.csv").fillna({"warnings": ""})  # "" reads back as NaN
    assert_same_results(from_csv, ref, rtol=1e-15)


def test_a_corrupt_partition_is_retried_then_named_with_its_account_range(
    venue: tuple[pd.DataFrame, pd.DataFrame, Path], tmp_path: Path
) -> None:
    _, _, d = venue
    ds_dir = tmp_path / "ds"
    import shutil

    shutil.copytree(d / "ds", ds_dir)
    ds = open_dataset(ds_dir)
    bad = ds.partitions[2]
    corrupt(bad.positions)
    attempts: list[tuple[str, bool]] = []

    class Counting(InProcessExecutor):
        def run(self, fn, shared, items, *, retries=2, progress=None):  # type: ignore[no-untyped-def]
            out: RunResult[object] = super().run(
                fn, shared, items, retries=retries, progress=progress
            )
            attempts.extend((k, True) for k in out.retried)
            return out

    with pytest.raises(InputError) as err:
        margin_dataset(
            ds, venue_market(), out=tmp_path / "out", config=venue_config(), executor=Counting()
        )
    msg = str(err.value)
    facts = bad.facts
    assert facts is not None
    assert msg.startswith(
        f"{bad.positions}: partition part-00002 failed to margin after 3 attempts"
    )
    assert (
        f"accounts {facts.first_account!r} .. {facts.last_account!r} ({facts.accounts} accounts)"
        in msg
    )
    assert "3 of 4 partitions written, the run is incomplete" in msg
    assert "\n" not in msg
    assert attempts == [("part-00002", True)]
    out = sorted(f.name for f in (tmp_path / "out").iterdir())
    assert out == ["part-00000.parquet", "part-00001.parquet", "part-00003.parquet"]


def test_a_truncated_file_of_an_unmanaged_dataset_fails_its_scan(tmp_path: Path) -> None:
    pos, col = venue_tables(60, 400, seed=9)
    (tmp_path / "p").mkdir()
    (tmp_path / "c").mkdir()
    pos.iloc[:200].to_parquet(tmp_path / "p" / "a.parquet")
    pos.iloc[200:].to_parquet(tmp_path / "p" / "b.parquet")
    col.to_parquet(tmp_path / "c" / "a.parquet")
    col.iloc[:0].to_parquet(tmp_path / "c" / "b.parquet")
    raw = (tmp_path / "p" / "b.parquet").read_bytes()
    (tmp_path / "p" / "b.parquet").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(InputError) as err:
        margin_dataset(
            open_dataset(tmp_path / "p", tmp_path / "c"),
            venue_market(),
            out=tmp_path / "out",
            config=venue_config(),
        )
    assert "partition b failed to scan after 3 attempts (account range unknown" in str(err.value)
    assert "nothing was margined" in str(err.value)
    assert not (tmp_path / "out").exists()  # nothing written, not even the directory


def test_market_data_missing_for_a_contract_fails_before_any_partition(
    venue: tuple[pd.DataFrame, pd.DataFrame, Path], tmp_path: Path
) -> None:
    _, _, d = venue
    from dataclasses import replace

    snap = venue_market()
    assets = dict(snap.assets)
    del assets["SPX"]
    ds = open_dataset(d / "ds")
    with pytest.raises(MarketDataError, match="SPX"):
        margin_dataset(
            ds, replace(snap, assets=assets), out=tmp_path / "out", config=venue_config()
        )
    assert not (tmp_path / "out").exists()
    # an unknown instrument names the partition file and its row
    name, k, row = next(x for x in ds.instruments or () if x[0].startswith("SPX"))
    assert name and ds.partitions[k].positions.exists() and row >= 0


def test_results_directory_rules(
    venue: tuple[pd.DataFrame, pd.DataFrame, Path], tmp_path: Path
) -> None:
    _, _, d = venue
    ds = open_dataset(d / "ds")
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    with pytest.raises(InputError, match="holds no crossmargin results"):
        margin_dataset(ds, venue_market(), out=other)
    out = tmp_path / "out"
    margin_dataset(ds, venue_market(), out=out, model="isolated", config=venue_config())
    first = read_results(out)
    # a run that fails before margining leaves an earlier run's results alone
    from dataclasses import replace

    snap = venue_market()
    no_spx = replace(snap, assets={k: v for k, v in snap.assets.items() if k != "SPX"})
    with pytest.raises(MarketDataError):
        margin_dataset(ds, no_spx, out=out, model="cross", config=venue_config())
    assert (out / RESULTS_MANIFEST).exists()
    assert_same_results(read_results(out), first)
    # a new run over an earlier run's results replaces them (manifest removed first)
    margin_dataset(ds, venue_market(), out=out, model="cross", config=venue_config())
    again = read_results(out)
    assert set(first["model"]) == {"isolated"} and set(again["model"]) == {"cross"}
    assert json.loads((out / RESULTS_MANIFEST).read_text())["model"] == "cross"
    assert not [f for f in out.iterdir() if f.name.startswith(".")]


def test_a_local_process_pool_gives_the_same_numbers(
    venue: tuple[pd.DataFrame, pd.DataFrame, Path], tmp_path: Path
) -> None:
    pos, col, d = venue
    with executor_from_spec("processes:2") as ex:
        assert isinstance(ex, LocalPoolExecutor) and ex.workers == 2
        res = margin_dataset(
            open_dataset(d / "ds"), venue_market(), out=tmp_path / "out", model="es",
            config=venue_config(), executor=ex,
        )  # fmt: skip
    assert_same_results(read_results(tmp_path / "out"), reference(pos, col, "es"))
    assert res.executor == "local-pool:2" and len(res.peak_rss) <= 2


def test_executor_specs_are_validated() -> None:
    for bad in ("local", "local:x", "local:0", "processes:-1", "http://x:1", "spark"):
        with pytest.raises(InputError, match="--cluster"):
            executor_from_spec(bad)
    assert isinstance(executor_from_spec(None), InProcessExecutor)
    with pytest.raises(ExecutionError, match="cannot reach the Dask scheduler"):
        from crossmargin.scale.executors import DaskExecutor

        DaskExecutor.connect("tcp://127.0.0.1:9", timeout=1.0)


def test_the_retry_loop_retries_reports_and_carries_on() -> None:
    calls: dict[str, int] = {}

    def flaky(shared: int, item: str) -> str:
        calls[item] = calls.get(item, 0) + 1
        if item == "always":
            raise OSError("disk on fire")
        if item == "once" and calls[item] == 1:
            raise RuntimeError("transient")
        return f"{item}+{shared}"

    seen: list[tuple[str, bool]] = []
    items = {k: k for k in ("a", "once", "always", "b")}
    run = InProcessExecutor().run(
        flaky, 7, items, retries=2, progress=lambda k, ok: seen.append((k, ok))
    )
    assert run.values == {"a": "a+7", "once": "once+7", "b": "b+7"}
    assert set(run.failures) == {"always"} and run.failures["always"].attempts == 3
    assert isinstance(run.failures["always"].error, OSError)
    assert run.retried == {"once": 1, "always": 2}
    assert calls == {"a": 1, "once": 2, "always": 3, "b": 1}
    assert sorted(seen) == [("a", True), ("always", False), ("b", True), ("once", True)]
    with pytest.raises(InputError, match="retries"):
        InProcessExecutor().run(flaky, 7, items, retries=-1)
