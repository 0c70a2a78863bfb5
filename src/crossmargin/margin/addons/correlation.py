"""Correlation-breakdown add-on: credit for a hedge only to the extent it survives a broken correlation.

For every pair of underlyings ``(u, v)`` held together by an account, the account is re-margined
with stressed dependence and the add-on is the excess over its normal requirement, per pair::

    add-on_{u/v} = max(0, max_k R(L − P_v + P_v^(k)) − R(L))

``R`` is the model's measure (VaR or ES), ``L`` the account's scenario losses and ``P_v`` the
scenario P&L of its ``v`` positions; ``P_v^(k)`` is the same after stress ``k``:

(a) **pushed correlation** — leg ``v``'s log returns are rotated so their correlation with ``u``
    becomes ``ρ' = low_factor · ρ`` (against a hedge) or ``min(1, high_factor · ρ)`` (against
    diversification; FRTB's "high" correlation scenario, BCBS MAR21.6). With weighted standard
    scores ``z``: ``z_v' = ρ' z_u + sqrt(1 − ρ'²) (z_v − ρ z_u) / sqrt(1 − ρ²)`` (mean and
    standard deviation of ``v`` kept), then ``v``'s contracts are fully revalued;
(b) **worst window** — the same rotation to the lowest and the highest correlation of any
    rolling ``window_days`` window of daily returns in the whole history; of (a) and (b) the
    lowest and the highest target are used (the most adverse on each side);
(c) **independent legs** — ``v``'s scenario P&L permuted (seeded, within each weight segment), so
    the legs move independently with their own marginal distributions.

Pairs therefore need no configuration: a hedge is charged by (a)/(b)-low and (c), a
diversified book by (a)/(b)-high, and a single-underlying book gets nothing. The per-pair
amounts are added (conservative). The ``portfolio`` model gives cross-underlying credit only
through its inter-commodity spreads, so there the add-on takes back the part of each spread
credit that the stressed correlation would not support: with the correlation implied by the
credit rate ``c`` (two equal-volatility legs: ``c = 1 − sqrt((1 − ρ)/2)``) and
``c' = max(0, 1 − sqrt((1 − ρ')/2))``, ``add-on = credit × (1 − c'/c)`` with ``ρ'`` the lowest
of the enabled stresses.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from crossmargin._typing import FloatArray, IntArray
from crossmargin.config.model import CorrelationBreakdownConfig
from crossmargin.margin.result import AddOnRows
from crossmargin.market.history import PriceHistory, as_datetime64
from crossmargin.market.returns import joint_returns
from crossmargin.resolve.book import ResolvedBook
from crossmargin.scenarios.joint import JointScenarioSet

__all__ = [
    "PairStress",
    "PreparedPair",
    "implied_correlation",
    "portfolio_correlation_addon",
    "prepare_stresses",
    "rotate",
    "window_correlations",
]


@dataclass(frozen=True, slots=True, eq=False)
class PairStress:
    """One stressed version of leg ``v`` of a pair.

    ``spot_v`` is the stressed spot-move row of ``v`` (``None`` for a permutation) and ``perm``
    the scenario permutation applied to ``v``'s P&L (``None`` for a rotation).
    """

    u: str
    v: str
    label: str
    rho: float
    spot_v: FloatArray | None
    perm: IntArray | None


def _wstats(x: FloatArray, w: FloatArray) -> tuple[float, float]:
    m = float(np.sum(w * x))
    s = float(np.sqrt(max(np.sum(w * (x - m) ** 2), 1e-300)))
    return m, s


def weighted_correlation(xu: FloatArray, xv: FloatArray, w: FloatArray) -> float:
    """Probability-weighted correlation of two scenario vectors."""
    mu, su = _wstats(xu, w)
    mv, sv = _wstats(xv, w)
    return float(np.clip(np.sum(w * (xu - mu) * (xv - mv)) / (su * sv), -1.0, 1.0))


def rotate(xu: FloatArray, xv: FloatArray, w: FloatArray, target: float) -> FloatArray:
    """``xv`` re-correlated with ``xu`` to ``target`` (weighted moments of ``xv`` kept)."""
    mu, su = _wstats(xu, w)
    mv, sv = _wstats(xv, w)
    zu, zv = (xu - mu) / su, (xv - mv) / sv
    rho = float(np.clip(np.sum(w * zu * zv), -1.0, 1.0))
    e = (zv - rho * zu) / np.sqrt(max(1.0 - rho * rho, 1e-12))
    t = float(np.clip(target, -1.0, 1.0))
    return np.asarray(mv + sv * (t * zu + np.sqrt(1.0 - t * t) * e), dtype=np.float64)


def window_correlations(
    history: PriceHistory, u: str, v: str, *, until: np.datetime64, window: int
) -> tuple[float, str, float, str] | None:
    """Lowest and highest rolling-window correlation of daily returns of ``u`` and ``v``.

    Returns ``(rho_min, window_min, rho_max, window_max)`` or ``None`` if the history cannot
    provide one full window for both.
    """
    if not (history.has(u) and history.has(v)):
        return None
    jr = joint_returns(history, (u, v), until=until, max_gap_days=5.0)
    x = jr.x[jr.valid]
    t = jr.times[1:][jr.valid]
    n = x.shape[0]
    if n < window:
        return None
    c = np.vstack([np.zeros((1, 5)), np.cumsum(np.column_stack([x, x**2, x[:, 0] * x[:, 1]]), 0)])
    s = c[window:] - c[:-window]
    m1, m2 = s[:, 0] / window, s[:, 1] / window
    cov = s[:, 4] / window - m1 * m2
    v1 = s[:, 2] / window - m1**2
    v2 = s[:, 3] / window - m2**2
    with np.errstate(invalid="ignore", divide="ignore"):
        r = cov / np.sqrt(v1 * v2)
    r = np.where(np.isfinite(r), r, np.nan)
    if not np.isfinite(r).any():
        return None
    lo, hi = int(np.nanargmin(r)), int(np.nanargmax(r))

    def span(i: int) -> str:
        a = np.datetime_as_string(t[i], unit="D")
        b = np.datetime_as_string(t[i + window - 1], unit="D")
        return f"{a}..{b}"

    return float(r[lo]), span(lo), float(r[hi]), span(hi)


def pair_stresses(
    scen: JointScenarioSet,
    pairs: Sequence[tuple[str, str]],
    cfg: CorrelationBreakdownConfig,
    history: PriceHistory,
    until: np.datetime64,
) -> list[PairStress]:
    """All stressed versions of leg ``v`` for every pair (module docstring (a)–(c))."""
    out: list[PairStress] = []
    w = scen.weight
    rng = np.random.default_rng(cfg.seed)
    for u, v in pairs:
        iu, iv = scen.row(u), scen.row(v)
        xu, xv = np.log1p(scen.spot_move[iu]), np.log1p(scen.spot_move[iv])
        rho = weighted_correlation(xu, xv, w)
        low = [(cfg.low_factor * rho, f"correlation {u}/{v} pushed to {{t:.2f}} from {rho:.2f}")]
        high = [
            (
                min(1.0, cfg.high_factor * rho),
                f"correlation {u}/{v} pushed to {{t:.2f}} from {rho:.2f}",
            )
        ]
        if cfg.worst_window:
            ww = window_correlations(history, u, v, until=until, window=cfg.window_days)
            if ww is not None:
                low.append((ww[0], f"worst-window correlation {u}/{v} {{t:.2f}} ({ww[1]})"))
                high.append((ww[2], f"worst-window correlation {u}/{v} {{t:.2f}} ({ww[3]})"))
        # the most adverse correlation on each side (the lowest breaks a hedge, the highest a
        # diversification); revaluing every candidate would cost more and add nothing for
        # books linear in the legs
        lo, hi = min(low), max(high)
        targets = [(lo[1].format(t=lo[0]), lo[0]), (hi[1].format(t=hi[0]), hi[0])]
        for label, t in targets:
            if abs(t - rho) < 1e-9:
                continue
            out.append(PairStress(u, v, label, t, np.expm1(rotate(xu, xv, w, t)), None))
        if cfg.independent:
            perm = np.arange(scen.n_scenarios)
            for g in np.unique(scen.segment):
                ix = np.flatnonzero(scen.segment == g)
                perm[ix] = ix[rng.permutation(ix.size)]
            out.append(PairStress(u, v, f"{u}/{v} legs shocked independently", 0.0, None, perm))
    return out


@dataclass(frozen=True, slots=True, eq=False)
class PreparedPair:
    """The stresses of one pair ``(u, v)`` prepared for the block loop.

    ``specs`` are the pair's stresses in report order, the rotations first: rotation ``j``'s
    risk arrays are columns ``j·S … (j+1)·S`` of ``unit_rot`` — every rotated leg of the pair
    revalued in one call and multiplied by the leg's quantities in one product.
    """

    specs: tuple[PairStress, ...]
    iu: int
    iv: int
    cols: IntArray
    unit_rot: FloatArray | None

    @property
    def n_rot(self) -> int:
        """Number of rotations (the leading ``specs``)."""
        return sum(1 for sp in self.specs if sp.spot_v is not None)


def prepare_stresses(
    book: ResolvedBook,
    scen: JointScenarioSet,
    cols: IntArray,
    core: tuple[str, ...],
    rows: Callable[[JointScenarioSet, IntArray], FloatArray],
) -> list[PreparedPair]:
    """Correlation stresses of every pair of ``core`` (contracts ``cols`` of the combo).

    ``rows(scen, cols)`` revalues contracts ``cols`` under a scenario set (a cache); a pair's
    rotated legs are revalued together, as one set of ``n_rot × S`` scenarios.
    """
    inst, cfg = book.instruments, book.config
    pairs = [(core[i], core[j]) for i in range(len(core)) for j in range(i + 1, len(core))]
    until = as_datetime64(book.snapshot.as_of)
    specs = pair_stresses(
        scen,
        pairs,
        cfg.margin_addons.correlation_breakdown,
        book.snapshot.require_history(needed_by="the correlation-breakdown add-on"),
        until,
    )
    by_pair: dict[tuple[str, str], list[PairStress]] = {}
    for sp in specs:
        by_pair.setdefault((sp.u, sp.v), []).append(sp)
    out = []
    for (u, v), sps in by_pair.items():
        iu, iv = inst.underlyings.index(u), inst.underlyings.index(v)
        local = np.flatnonzero(inst.und[cols] == iv).astype(np.int64)
        rot = [sp for sp in sps if sp.spot_v is not None]
        unit_rot = None
        if rot:
            n = len(rot)
            spot = np.tile(scen.spot_move, n)
            spot[scen.row(v)] = np.concatenate([sp.spot_v for sp in rot if sp.spot_v is not None])
            stacked = JointScenarioSet(
                scen.assets,
                spot,
                np.tile(scen.vol_move, n),
                np.tile(scen.weight, n) / n,
                scen.labels * n,
                np.tile(scen.segment, n),
            )
            unit_rot = rows(stacked, cols[local])
        ordered = (*rot, *(sp for sp in sps if sp.spot_v is None))
        out.append(PreparedPair(ordered, iu, iv, local, unit_rot))
    return out


def implied_correlation(credit: float) -> float:
    """Correlation implied by an inter-commodity credit rate ``c``: ``1 − 2 (1 − c)²``."""
    return 1.0 - 2.0 * (1.0 - credit) ** 2


def portfolio_correlation_addon(
    credit_rows: Sequence[AddOnRows],
    pair_rates: dict[str, float],
    cfg: CorrelationBreakdownConfig,
    worst_rho: dict[str, float],
) -> tuple[AddOnRows, ...]:
    """Take back the part of each inter-commodity credit a stressed correlation would not give.

    Parameters
    ----------
    credit_rows
        The ``inter_commodity_credit`` rows of the portfolio model (negative amounts, per leg).
    pair_rates
        Configured credit rate per pair label ``A/B``.
    cfg
        Add-on configuration.
    worst_rho
        Lowest historical window correlation per pair label (when the history has both legs).
    """
    out: list[AddOnRows] = []
    for rows in credit_rows:
        c = pair_rates.get(rows.pair)
        if c is None or c <= 0:
            continue
        rho = implied_correlation(c)
        cands = [cfg.low_factor * rho]
        if cfg.independent:
            cands.append(0.0)
        if cfg.worst_window and rows.pair in worst_rho:
            cands.append(worst_rho[rows.pair])
        rs = min(cands)
        cs = max(0.0, 1.0 - np.sqrt((1.0 - rs) / 2.0))
        frac = max(0.0, 1.0 - cs / c)
        out.append(
            AddOnRows(
                "correlation_breakdown",
                rows.account,
                rows.label,
                -rows.amount * frac,
                f"credit kept only to correlation {rs:.2f} (credit rate {c:.0%} implies {rho:.2f})",
                rows.pair,
            )
        )
    return tuple(out)
