"""On a Dask LocalCluster (processes, 2 workers × 1 thread): the single-process numbers for every
model, the contracts shipped once per worker, failures named, a killed worker survived."""

from __future__ import annotations

import json
import os
import shutil
import signal
import time
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest

from crossmargin.account.report import summary_table
from crossmargin.engine import margin_book
from crossmargin.errors import InputError
from crossmargin.io.tables import book_from_frames
from crossmargin.scale import margin_dataset, open_dataset, write_dataset
from crossmargin.scale.context import received_count, risk_arrays_computed
from crossmargin.scale.executors import (
    LOCAL_CLUSTER_CONFIG,
    WORKER_MALLOC_ENV,
    DaskExecutor,
    worker_environ,
)
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
from .test_dataset_runs import corrupt, reference

pytestmark = pytest.mark.xdist_group("dask")

SHAPES = ("full", "perps_options", "perps")


@pytest.fixture(scope="module")
def venues(
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, tuple[pd.DataFrame, pd.DataFrame, Path]]:
    """Each venue shape as tables and as a dataset of 5 partitions."""
    out = {}
    for shape in SHAPES:
        d = tmp_path_factory.mktemp(shape)
        pos, col = venue_tables(300, 3000, shape=shape, seed=21)
        p, c = write_tables(d / "in", pos, col)
        write_dataset(p, c, d / "ds", partitions=5)
        out[shape] = (pos, col, d / "ds")
    return out


def test_worker_processes_start_with_the_allocator_settings(dask_executor: DaskExecutor) -> None:
    """glibc reads MALLOC_* at process start: they must be in each worker's environment from
    its first instruction (Dask's pre-spawn environment), next to Dask's own trim setting; a
    single-process baseline gets the same variables from ``worker_environ``."""
    names = (*WORKER_MALLOC_ENV, "MALLOC_TRIM_THRESHOLD_", "CROSSMARGIN_THREADS")
    seen = dask_executor.client.run(lambda: {k: os.environ.get(k) for k in names})
    assert len(seen) == 2
    expected = worker_environ(1)
    for env in seen.values():
        for k, v in WORKER_MALLOC_ENV.items():
            assert env[k] == v
        assert env["MALLOC_TRIM_THRESHOLD_"] is not None
        assert env == {k: expected[k] for k in names}


def test_workers_run_with_the_quiet_local_cluster_settings(dask_executor: DaskExecutor) -> None:
    """The workers received the local cluster's Dask settings (no profiler, slow ticks)."""

    def settings() -> dict[str, object]:
        import dask.config

        return {k: dask.config.get(k) for k in LOCAL_CLUSTER_CONFIG}

    for got in dask_executor.client.run(settings).values():
        assert got == LOCAL_CLUSTER_CONFIG


@pytest.mark.parametrize("model", list(MODEL_VENUES))
def test_every_model_on_the_cluster_equals_the_single_process_bitwise(
    model: str,
    venues: dict[str, tuple[pd.DataFrame, pd.DataFrame, Path]],
    dask_executor: DaskExecutor,
    tmp_path: Path,
) -> None:
    pos, col, ds = venues[MODEL_VENUES[model]]
    res = margin_dataset(
        open_dataset(ds), venue_market(), out=tmp_path / "out", model=model,
        config=venue_config(), executor=dask_executor,
    )  # fmt: skip
    got = read_results(tmp_path / "out")
    ref = reference(pos, col, model)
    assert_same_results(got, ref)  # warnings column included
    assert got["warnings"].str.contains("no_timestamp").any()
    if MODEL_VENUES[model] != "perps":
        assert got["warnings"].str.contains("vol_interpolated").any()
    if model in ("var", "es"):
        # the bundled history ends before the market date: every account holding a position says so
        held = got["account"].isin(pos["account"])
        assert got.loc[held, "warnings"].str.contains("history_stale").all()
    assert len(res.partitions) == 5 and res.accounts == 300 and res.positions == 3000
    # the partitions ran on the cluster's worker processes, not here
    workers = {r.worker.rsplit(":", 1)[1] for r in res.partitions}
    assert str(os.getpid()) not in workers and 1 <= len(workers) <= 2
    # and the in-memory seam gives the same numbers too
    book = book_from_frames(pos, col)
    mb = margin_book(
        book, venue_market(), model=model, config=venue_config(), executor=dask_executor
    )
    assert_same_results(pd.DataFrame(summary_table(mb)), ref)


def test_contracts_snapshot_and_config_are_shipped_once_per_worker(
    venues: dict[str, tuple[pd.DataFrame, pd.DataFrame, Path]],
    dask_executor: DaskExecutor,
    tmp_path: Path,
) -> None:
    _, _, ds = venues["full"]
    client = dask_executor.client
    before = client.run(received_count)
    res = margin_dataset(
        open_dataset(ds), venue_market(), out=tmp_path / "out", config=venue_config(),
        executor=dask_executor,
    )  # fmt: skip
    after = client.run(received_count)
    assert len(res.partitions) == 5
    # five partitions, two workers: each worker unpickled the venue's contracts exactly once
    assert {w: after[w] - before.get(w, 0) for w in after} == {w: 1 for w in after}
    # and nothing of the run stays in the workers' memory (the scattered data is released)
    deadline = time.monotonic() + 30
    while any(client.has_what().values()) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(client.has_what().values())


@pytest.mark.parametrize("model", ["var", "es"])
def test_risk_arrays_are_computed_once_per_worker_and_change_no_number(
    model: str,
    venues: dict[str, tuple[pd.DataFrame, pd.DataFrame, Path]],
    dask_executor: DaskExecutor,
    tmp_path: Path,
) -> None:
    pos, col, ds = venues["full"]
    client = dask_executor.client
    pids = client.run(os.getpid)
    before = client.run(risk_arrays_computed)
    res = margin_dataset(
        open_dataset(ds), venue_market(), out=tmp_path / "out", model=model,
        config=venue_config(), executor=dask_executor,
    )  # fmt: skip
    after = client.run(risk_arrays_computed)
    assert_same_results(read_results(tmp_path / "out"), reference(pos, col, model))
    ran = Counter(int(r.worker.rsplit(":", 1)[1]) for r in res.partitions)
    assert sum(ran.values()) == 5 and max(ran.values()) >= 3  # a worker margined several
    for w, computed in after.items():
        grown = {k: n - before.get(w, {}).get(k, 0) for k, n in computed.items()}
        grown = {k: n for k, n in grown.items() if n}
        if ran[pids[w]]:
            # each of the venue's risk arrays once on this worker, whatever its partitions
            assert grown and set(grown.values()) == {1}, (w, ran[pids[w]], grown)
        else:
            assert not grown


def test_a_corrupt_partition_on_the_cluster_is_named_and_nothing_else_is_lost(
    venues: dict[str, tuple[pd.DataFrame, pd.DataFrame, Path]],
    dask_executor: DaskExecutor,
    tmp_path: Path,
) -> None:
    pos, col, ds = venues["full"]
    copy = tmp_path / "ds"
    shutil.copytree(ds, copy)
    dataset = open_dataset(copy)
    bad = dataset.partitions[1]
    corrupt(bad.positions)
    with pytest.raises(InputError) as err:
        margin_dataset(
            dataset, venue_market(), out=tmp_path / "out", config=venue_config(),
            executor=dask_executor,
        )  # fmt: skip
    msg = str(err.value)
    assert bad.facts is not None
    assert msg.startswith(
        f"{bad.positions}: partition part-00001 failed to margin after 3 attempts"
    )
    assert bad.facts.describe() in msg and "\n" not in msg
    written = sorted(f.name for f in (tmp_path / "out").iterdir())
    assert written == [f"part-0000{k}.parquet" for k in (0, 2, 3, 4)]  # no manifest, no temp
    # what was written is complete and correct
    ref = reference(pos, col, "portfolio")
    got = read_results(tmp_path / "out")
    assert_same_results(got, ref[ref["account"].isin(got["account"])].reset_index(drop=True))


def test_a_worker_killed_mid_run_still_gives_a_complete_correct_result(
    venues: dict[str, tuple[pd.DataFrame, pd.DataFrame, Path]],
    dask_executor: DaskExecutor,
    tmp_path: Path,
) -> None:
    pos, col, ds = venues["full"]
    client = dask_executor.client
    pids = client.run(os.getpid)
    victim = sorted(pids.values())[0]
    killed: list[int] = []

    def kill_after_first(stage: str, done: int, _total: int) -> None:
        # as soon as the first partition is margined, SIGKILL one worker process: it holds a
        # running task (both workers are busy with the next partitions) and its queue
        if stage.startswith("margining") and done == 1 and not killed:
            os.kill(victim, signal.SIGKILL)
            killed.append(victim)

    res = margin_dataset(
        open_dataset(ds), venue_market(), out=tmp_path / "out", model="es",
        config=venue_config(), executor=dask_executor, progress=kill_after_first,
    )  # fmt: skip
    assert killed == [victim]
    assert_same_results(read_results(tmp_path / "out"), reference(pos, col, "es"))
    assert json.loads((tmp_path / "out" / RESULTS_MANIFEST).read_text())["accounts"] == 300
    assert not [f for f in (tmp_path / "out").iterdir() if f.name.startswith(".")]
    assert len(res.partitions) == 5
    assert victim not in client.run(os.getpid).values()  # its nanny starts a new one
