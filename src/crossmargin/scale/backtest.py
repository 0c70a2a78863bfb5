"""Backtests of many books × models on an executor: each (book, model) pair is one task.

The books, the history, the configuration and the replay settings are shipped to each worker
once; a task runs :func:`~crossmargin.backtest.run.run_backtest` of one book under one model
(with the ``isolated`` baseline every model's capital-efficiency figures are measured against)
and returns that model's :class:`~crossmargin.backtest.analysis.ModelResult`. The client puts
each book's results back in the requested model order. The numbers are those of the
in-process run: the replay (cleaning, calendar, snapshots, rolls, realised P&L) is a pure
function of the book, the history and the settings, and so is each model's run on it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Unpack

from crossmargin.errors import InputError
from crossmargin.scale.executors import Executor, raise_first_failure

if TYPE_CHECKING:
    from crossmargin.backtest.analysis import ModelResult
    from crossmargin.backtest.run import BacktestResult, BacktestSettings
    from crossmargin.backtest.spec import BacktestBook
    from crossmargin.market.history import PriceHistory

__all__ = ["BacktestJob", "backtest_task", "run_backtests"]


@dataclass(frozen=True, slots=True)
class BacktestJob:
    """What every (book, model) task shares (shipped once per worker)."""

    books: tuple[BacktestBook, ...]
    history: PriceHistory
    settings: BacktestSettings
    strict: bool


def backtest_task(
    job: BacktestJob, item: tuple[int, str, bool]
) -> tuple[ModelResult, BacktestResult | None]:
    """Backtest book ``item[0]`` under model ``item[1]`` (a task function).

    Returns the model's result, and the whole result (with the book's replay) when ``item[2]``
    (one task per book).
    """
    from crossmargin.backtest.run import run_backtest

    i, model, whole = item
    res = run_backtest(job.books[i], job.history, models=[model], strict=job.strict, **job.settings)
    return res.models[0], (res if whole else None)


def run_backtests(
    books: Sequence[BacktestBook],
    history: PriceHistory | None = None,
    *,
    models: str | Sequence[str] = "all",
    executor: Executor | None = None,
    retries: int = 1,
    progress: Callable[[str, int, int], None] | None = None,
    **settings: Unpack[BacktestSettings],
) -> list[BacktestResult]:
    """Backtest every book under every model; on ``executor``, one task per (book, model).

    ``models`` and ``settings`` are those of :func:`~crossmargin.backtest.run.run_backtest`;
    ``executor`` (none: in process, book after book), ``retries`` and
    ``progress(stage, done, total)`` as in :func:`~crossmargin.scale.batch.margin_dataset`.

    Raises
    ------
    CrossMarginError
        What the in-process run raises (a model error under explicitly named models, bad
        settings), or :class:`~crossmargin.errors.ExecutionError` for a task that still failed
        for another reason.
    """
    from crossmargin.backtest.run import load_history, resolve_models, run_backtest

    hist = history if history is not None else load_history()
    names, fatal = resolve_models(models)
    if executor is None:
        return [run_backtest(b, hist, models=names, strict=fatal, **settings) for b in books]
    if len({b.name for b in books}) != len(books):
        raise InputError("two books have the same name", path="BOOK")
    t0 = time.perf_counter()
    job = BacktestJob(tuple(books), hist, settings, fatal)
    items = {
        f"{b.name}/{m}": (i, m, j == 0) for i, b in enumerate(books) for j, m in enumerate(names)
    }
    total = len(items)
    done = [0]
    if progress is not None:
        progress("backtesting (book × model)", 0, total)

    def tick(_key: str, _ok: bool) -> None:
        done[0] += 1
        if progress is not None:
            progress("backtesting (book × model)", done[0], total)

    run = executor.run(backtest_task, job, items, retries=retries, progress=tick)
    if run.failures:
        raise_first_failure(run, list(items))
    seconds = time.perf_counter() - t0
    out = []
    for b in books:
        values: list[tuple[Any, Any]] = [run.values[f"{b.name}/{m}"] for m in names]
        whole = values[0][1]
        out.append(replace(whole, models=tuple(v[0] for v in values), seconds=seconds))
    return out
