"""Netting assumptions on trial: whether the cross-underlying credits were justified by the data.

For every day the replay margins the book twice — whole, and one underlying at a time — so for
any model the **netting benefit** is ``Σ_u M_u − M`` (zero for ``isolated``/``cross``, whose
requirements add up). Each offsetting pair of underlyings is then checked against the realised
correlation of their returns:

* the **assumed correlation** of a pair is read from the model's own explicit credit where it has
  one: a SPAN-style inter-commodity credit ``c`` between two equal-vol legs held 1:1 is worth the
  diversification of correlation ``ρ = 1 − 2 (1 − c)²`` (the equivalence stated with the
  defaults in ``default_risk.yaml``: BTC/ETH 50 % ⇔ ρ 0.50, SPX/NDX 75 % ⇔ ρ 0.875); for a model
  without explicit credits (VaR/ES) and a two-underlying book it is *implied* from the margins,
  ``M² = a² + b² ∓ 2 ρ a b`` (``−`` for a hedge, ``+`` for legs in the same direction, ``a``,
  ``b`` the stand-alone margins);
* the **realised correlation** is the Pearson correlation of the two underlyings' calendar-step
  log returns over the ``window`` steps ending at the end of each margin period (ex post: it
  includes the move the margin had to cover);
* a day is **flagged** when the model took a credit for the pair and the realised correlation was
  on the wrong side of the assumption (below it for a hedge, above it for same-direction legs);
  consecutive flagged days form the reported windows.

Attribution of exceedances: an exceedance is a **broken offset** when the loss would have been
covered without netting (``loss ≤ Σ_u M_u``) — the credit, not the stand-alone risk, failed. The
shortfall attributable to netting is ``min(loss − M, Σ_u M_u − M)``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from crossmargin._typing import BoolArray, FloatArray, IntArray
from crossmargin.config import RiskConfig

__all__ = [
    "NettingReport",
    "PairCheck",
    "credit_correlation",
    "netting_report",
    "rolling_correlation",
]


def credit_correlation(credit: float) -> float:
    """Correlation at which a SPAN inter-commodity credit ``credit`` matches diversification."""
    return 1.0 - 2.0 * (1.0 - credit) ** 2


def rolling_correlation(x: FloatArray, y: FloatArray, window: int) -> FloatArray:
    """Pearson correlation of ``x`` and ``y`` over the ``window`` values ending at each index."""
    n = x.shape[0]
    out = np.full(n, np.nan)
    if n < window or window < 3:
        return out

    def roll(v: FloatArray) -> FloatArray:
        c = np.concatenate([[0.0], np.cumsum(v)])
        return np.asarray(c[window:] - c[:-window], dtype=np.float64)

    sx, sy = roll(x), roll(y)
    sxx, syy, sxy = roll(x * x), roll(y * y), roll(x * y)
    cov = sxy - sx * sy / window
    vx = sxx - sx * sx / window
    vy = syy - sy * sy / window
    with np.errstate(divide="ignore", invalid="ignore"):
        r = cov / np.sqrt(vx * vy)
    out[window - 1 :] = np.where((vx > 1e-300) & (vy > 1e-300), np.clip(r, -1.0, 1.0), np.nan)
    return out


@dataclass(frozen=True, slots=True, eq=False)
class PairCheck:
    """The credit of one pair of underlyings against realised correlation.

    Attributes
    ----------
    legs
        The two underlyings.
    source
        ``credit`` (the model's explicit pair credit) or ``implied`` (from the margins).
    assumed
        Assumed correlation per day (NaN where no credit was taken).
    realised
        Realised rolling correlation per day (window ending at the end of the margin period).
    direction
        +1 hedge (opposite delta signs), −1 same direction, 0 a leg flat.
    credit
        The credit per day (explicit credit, or the netting benefit for ``implied``).
    flagged
        Credit taken and not justified by the realised correlation.
    windows
        Runs of flagged days ``(first, last, days, worst realised correlation)``.
    """

    legs: tuple[str, str]
    source: Literal["credit", "implied"]
    assumed: FloatArray
    realised: FloatArray
    direction: FloatArray
    credit: FloatArray
    flagged: BoolArray
    windows: tuple[tuple[str, str, int, float], ...]


@dataclass(frozen=True, slots=True, eq=False)
class NettingReport:
    """Netting benefit, pair checks and exceedance attribution of one model."""

    benefit: FloatArray
    standalone: FloatArray
    pairs: tuple[PairCheck, ...]
    exceedances: int
    broken_offsets: int
    shortfall: float
    shortfall_from_offsets: float
    exceedances_on_flagged_days: int

    @property
    def avg_benefit_share(self) -> float | None:
        """Mean netting benefit as a share of the stand-alone margins."""
        s = float(np.nansum(self.standalone))
        return float(np.nansum(self.benefit)) / s if s > 0 else None


def _windows(
    flag: BoolArray, realised: FloatArray, direction: FloatArray, dates: np.ndarray
) -> tuple[tuple[str, str, int, float], ...]:
    if not flag.any():
        return ()
    f = flag.astype(np.int8)
    edges = np.diff(np.concatenate([[0], f, [0]]))
    starts = np.flatnonzero(edges == 1)
    ends = np.flatnonzero(edges == -1) - 1
    out = []
    for s, e in zip(starts, ends, strict=True):
        seg = realised[s : e + 1] * np.where(direction[s : e + 1] < 0, -1.0, 1.0)
        worst = float(np.nanmin(seg)) * (-1.0 if direction[s] < 0 else 1.0)
        out.append((str(dates[s]), str(dates[e]), int(e - s + 1), worst))
    return tuple(out)


def netting_report(
    *,
    underlyings: Sequence[str],
    dates: np.ndarray,
    margin: FloatArray,
    margin_by_und: FloatArray,
    loss: FloatArray,
    used: BoolArray,
    delta_by_und: FloatArray,
    credits: Mapping[str, FloatArray],
    step_returns: FloatArray,
    window_end: IntArray,
    window: int,
    config: RiskConfig,
) -> NettingReport:
    """Check one model's netting (module docstring).

    Parameters
    ----------
    underlyings
        The book's underlyings (columns of the per-underlying arrays).
    dates
        Evaluation dates.
    margin, margin_by_und
        The model's margin of the whole book and of each underlying alone, per day.
    loss, used
        Realised loss per window and whether the window counts in the statistics.
    delta_by_und
        Net delta notional per day and underlying.
    credits
        Explicit pair credits per day, keyed ``A/B`` (positive amounts).
    step_returns
        ``(n_calendar − 1, n_underlyings)`` calendar-step log returns.
    window_end
        Calendar index of each window's end (the realised correlation window ends there).
    window
        Correlation window in calendar steps.
    config
        Risk configuration (explicit credit rates).
    """
    standalone = margin_by_und.sum(axis=1)
    benefit = standalone - margin
    exceed = used & (loss > margin)
    broken = exceed & (loss <= standalone)
    short = np.maximum(loss - margin, 0.0)
    from_offsets = np.where(exceed, np.minimum(short, np.maximum(benefit, 0.0)), 0.0)
    index = {u: i for i, u in enumerate(underlyings)}
    rates = {"/".join(p.legs): p.credit for p in config.inter_commodity} | {
        "/".join(reversed(p.legs)): p.credit for p in config.inter_commodity
    }
    pairs: list[PairCheck] = []

    def check(
        a: str,
        b: str,
        source: Literal["credit", "implied"],
        assumed: FloatArray,
        credit: FloatArray,
    ) -> None:
        ia, ib = index[a], index[b]
        rho = rolling_correlation(step_returns[:, ia], step_returns[:, ib], window)
        realised = rho[window_end - 1] if rho.size else np.full(dates.shape[0], np.nan)
        direction = -np.sign(delta_by_und[:, ia] * delta_by_und[:, ib])
        took = (credit > 1e-9 * np.maximum(margin, 1.0)) & np.isfinite(assumed) & (direction != 0)
        wrong = direction * (realised - assumed) < 0
        flag = took & np.isfinite(realised) & wrong
        pairs.append(
            PairCheck(
                legs=(a, b),
                source=source,
                assumed=np.where(took, assumed, np.nan),
                realised=realised,
                direction=direction,
                credit=credit,
                flagged=flag,
                windows=_windows(flag, realised, direction, dates),
            )
        )

    for label, amount in credits.items():
        a, _, b = label.partition("/")
        if a not in index or b not in index:
            continue
        c = rates.get(label)
        assumed = np.full(dates.shape[0], credit_correlation(c) if c is not None else np.nan)
        check(a, b, "credit", assumed, amount)
    nets = benefit > 1e-9 * np.maximum(np.nan_to_num(standalone), 1.0)
    if not credits and len(underlyings) == 2 and np.any(nets):
        a, b = underlyings
        ma, mb = margin_by_und[:, 0], margin_by_und[:, 1]
        direction = -np.sign(delta_by_und[:, 0] * delta_by_und[:, 1])
        with np.errstate(divide="ignore", invalid="ignore"):
            implied = direction * (ma * ma + mb * mb - margin * margin) / (2.0 * ma * mb)
        implied = np.where((ma > 0) & (mb > 0), np.clip(implied, -1.0, 1.0), np.nan)
        check(a, b, "implied", implied, np.maximum(benefit, 0.0))
    flagged_any = np.zeros(dates.shape[0], dtype=np.bool_)
    for p in pairs:
        flagged_any |= p.flagged
    return NettingReport(
        benefit=benefit,
        standalone=standalone,
        pairs=tuple(pairs),
        exceedances=int(exceed.sum()),
        broken_offsets=int(broken.sum()),
        shortfall=float(short[exceed].sum()),
        shortfall_from_offsets=float(from_offsets.sum()),
        exceedances_on_flagged_days=int(np.sum(exceed & flagged_any)),
    )
