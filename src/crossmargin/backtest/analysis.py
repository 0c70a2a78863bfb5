"""Statistics of one model's replay: coverage tests, ES, procyclicality, efficiency, netting.

Which windows count: every evaluation window on which the model produced a margin, except — with
``gaps="exclude"`` (default) — gap windows, which span more missing days of a 7-day series than
tolerated (default 1: a window around one dropped bad print still counts, a window across the
three-week stale stretch of Dec 2014 does not; :mod:`crossmargin.backtest.calendar`). Excluded
windows are listed with their outcome, never silently dropped.

* Exceedance count, rate and the Basel zone use **all** counted windows; for an MPOR ``h > 1``
  consecutive windows overlap, so the zone bounds are widened (:func:`~.stats.traffic_light`) and
  the Kupiec test is also reported on the **non-overlapping** subsample (every ``h``-th window),
  which is the one whose χ² distribution holds. Christoffersen's independence test is run on the
  non-overlapping subsample (overlap alone would make exceedances cluster).
* ``worst_250``: the most exceedances in any 250 consecutive counted windows and its zone — the
  Basel one-year view of the worst year.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from crossmargin._typing import BoolArray
from crossmargin.backtest.netting import NettingReport, netting_report
from crossmargin.backtest.procyclicality import (
    Efficiency,
    Procyclicality,
    efficiency,
    procyclicality,
)
from crossmargin.backtest.replay import BookReplay, ModelRun
from crossmargin.backtest.stats import (
    ChristoffersenTest,
    ESBacktest,
    LikelihoodRatio,
    TrafficLight,
    Zone,
    christoffersen,
    es_backtest,
    kupiec_pof,
    traffic_light,
)
from crossmargin.config import RiskConfig

__all__ = ["GapPolicy", "ModelResult", "Worst250", "analyse", "used_windows"]

GapPolicy = Literal["exclude", "include"]

#: Windows of the Basel one-year view.
BASEL_WINDOWS = 250


@dataclass(frozen=True, slots=True)
class Worst250:
    """The worst 250 consecutive counted windows."""

    exceedances: int
    zone: Zone
    first: str
    last: str


@dataclass(frozen=True, slots=True, eq=False)
class ModelResult:
    """Backtest of one model on one book.

    Attributes
    ----------
    run
        The margins (``None`` if the model failed; then ``error`` says why).
    used
        Windows counted in the statistics.
    exceeded, mm_exceeded
        Loss above IM / above MM per window.
    """

    model: str
    run: ModelRun | None
    error: str | None
    confidence: float
    used: BoolArray
    exceeded: BoolArray
    mm_exceeded: BoolArray
    kupiec: LikelihoodRatio | None
    kupiec_independent: LikelihoodRatio | None
    christoffersen: ChristoffersenTest | None
    traffic: TrafficLight | None
    worst_250: Worst250 | None
    es: ESBacktest | None
    procyclicality: Procyclicality | None
    efficiency: Efficiency | None
    netting: NettingReport | None

    @property
    def ok(self) -> bool:
        """The model produced margins."""
        return self.run is not None

    @property
    def windows(self) -> int:
        """Counted windows."""
        return int(self.used.sum())

    @property
    def exceedances(self) -> int:
        """Counted exceedances of IM."""
        return int(np.sum(self.exceeded & self.used))

    @property
    def zone(self) -> Zone | None:
        """Basel zone of the whole period."""
        return self.traffic.zone(self.exceedances) if self.traffic is not None else None


def used_windows(rep: BookReplay, gaps: GapPolicy) -> BoolArray:
    """Windows counted in the statistics under the gap policy."""
    if gaps == "include":
        return np.ones(rep.n_days, dtype=np.bool_)
    return np.asarray(~rep.gap, dtype=np.bool_)


def failed(
    model: str, error: str, rep: BookReplay, confidence: float, gaps: GapPolicy
) -> ModelResult:
    """The result of a model that could not margin the book."""
    z = np.zeros(rep.n_days, dtype=np.bool_)
    return ModelResult(
        model, None, error, confidence, used_windows(rep, gaps), z, z,
        None, None, None, None, None, None, None, None, None,
    )  # fmt: skip


def _worst_250(exceed: BoolArray, dates: np.ndarray, p: float, h: int) -> Worst250 | None:
    n = exceed.shape[0]
    if n < BASEL_WINDOWS:
        return None
    c = np.concatenate([[0], np.cumsum(exceed.astype(np.int64))])
    counts = c[BASEL_WINDOWS:] - c[:-BASEL_WINDOWS]
    i = int(np.argmax(counts))
    tl = traffic_light(BASEL_WINDOWS, p, overlap=h)
    x = int(counts[i])
    return Worst250(x, tl.zone(x), str(dates[i]), str(dates[i + BASEL_WINDOWS - 1]))


def analyse(
    rep: BookReplay,
    run: ModelRun,
    *,
    isolated: ModelRun | None,
    confidence: float,
    gaps: GapPolicy,
    config: RiskConfig,
    corr_window: int,
) -> ModelResult:
    """All statistics of one model's replay (module docstring)."""
    p = 1.0 - confidence
    h = rep.mpor
    used = used_windows(rep, gaps) & run.available
    loss = rep.loss
    exceeded = loss > run.im
    mm_exceeded = loss > run.mm
    idx = np.flatnonzero(used)
    seq = exceeded[idx]
    n = int(idx.size)
    kup = kupiec_pof(int(seq.sum()), n, p) if n else None
    sub = np.arange(0, rep.n_days, h)
    sub = sub[used[sub]]
    sub_seq = exceeded[sub]
    kup_ind = kupiec_pof(int(sub_seq.sum()), int(sub.size), p) if sub.size else None
    chr_ = christoffersen(sub_seq, p) if sub.size >= 2 else None
    tl = traffic_light(n, p, overlap=h) if n else None
    es = es_backtest(loss[idx], run.im[idx], confidence=confidence) if n else None
    av = run.available
    pro = procyclicality(run.im[av], rep.gross[av], rep.book_vol[av], rep.dates[av])
    eff = efficiency(
        run.im[idx],
        rep.gross[idx],
        isolated.im[idx] if isolated is not None else None,
        loss[idx],
        confidence,
    )
    net = None
    if rep.split_by_underlying:
        net = netting_report(
            underlyings=rep.underlyings,
            dates=rep.dates,
            margin=run.im,
            margin_by_und=run.im_by_und,
            loss=loss,
            used=used,
            delta_by_und=rep.delta_by_und,
            credits=run.credits,
            step_returns=rep.step_returns,
            window_end=rep.daily.days + h,
            window=corr_window,
            config=config,
        )
    return ModelResult(
        model=run.model,
        run=run,
        error=None,
        confidence=confidence,
        used=used,
        exceeded=exceeded,
        mm_exceeded=mm_exceeded,
        kupiec=kup,
        kupiec_independent=kup_ind,
        christoffersen=chr_,
        traffic=tl,
        worst_250=_worst_250(seq, rep.dates[idx], p, h),
        es=es,
        procyclicality=pro,
        efficiency=eff,
        netting=net,
    )
