"""Data cleaning of a price history, with a record of every point dropped and why.

Two defects of real daily data are removed (each switchable, each reported):

* **stale repeats** — a run of ``stale_run`` or more identical consecutive closes (the bundled
  Bitfinex BTC series repeats 350, 340 and 288.99 for 6, 21 and 5 days in Dec 2014 – Jan 2015):
  the first close of the run is kept, the repeats are dropped (they would otherwise be fake zero
  returns);
* **bad prints** (spike-and-revert) — a close whose log return ``r_t`` and the next one
  ``r_{t+1}`` are both at least ``max(min_spike, spike_sigmas × σ̂)`` in size, of opposite sign,
  with ``|r_{t+1}| ≥ reversion × |r_t|``; ``σ̂ = 1.4826 × MAD`` of the ``robust_window``
  returns before ``t``. The 2015-01-14 Bitfinex BTC close of 120 (260 the day before, 211.91 the
  day after) is the case in the bundled data; the real two-day fall it sits in is kept.

Dropped points become missing (NaN) — never interpolated. Cleaning is an *ex-post* vendor-style
correction: deciding that a close was a bad print uses the next close. ``user_drops`` removes
named points (``ASSET:YYYY-MM-DD``) the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Literal

import numpy as np

from crossmargin.errors import InputError
from crossmargin.market.history import PriceHistory

__all__ = ["CleaningRules", "DroppedPoint", "clean_history", "parse_drop"]

Reason = Literal["stale_repeat", "bad_print", "user"]


@dataclass(frozen=True, slots=True)
class CleaningRules:
    """Cleaning switches and thresholds (module docstring)."""

    bad_prints: bool = True
    spike_sigmas: float = 8.0
    min_spike: float = 0.20
    reversion: float = 0.5
    robust_window: int = 60
    stale_run: int = 3
    user_drops: tuple[tuple[str, np.datetime64], ...] = ()


@dataclass(frozen=True, slots=True)
class DroppedPoint:
    """One close removed by cleaning."""

    asset: str
    date: str
    value: float
    reason: Reason
    detail: str

    def as_dict(self) -> dict[str, object]:
        """JSON form: the fields, in order."""
        return asdict(self)


def parse_drop(text: str) -> tuple[str, np.datetime64]:
    """Parse ``ASSET:YYYY-MM-DD``.

    Raises
    ------
    InputError
        If the text is not of that form.
    """
    asset, sep, day = text.partition(":")
    try:
        if not sep or not asset.strip():
            raise ValueError
        d = np.datetime64(day.strip(), "D")
    except ValueError:
        raise InputError(f"expected ASSET:YYYY-MM-DD, got {text!r}", path="--drop-print") from None
    return asset.strip().upper(), d


def _stale(values: np.ndarray, run: int) -> np.ndarray:
    """Indices (into ``values``) of repeats inside runs of ``run`` or more identical values."""
    if run < 2 or values.size < run:
        return np.zeros(0, dtype=np.int64)
    same = np.concatenate([[False], values[1:] == values[:-1]])
    start = np.flatnonzero(~same)
    lengths = np.diff(np.concatenate([start, [values.size]]))
    out: list[np.ndarray] = []
    for s, n in zip(start[lengths >= run], lengths[lengths >= run], strict=True):
        out.append(np.arange(s + 1, s + n))
    return np.concatenate(out) if out else np.zeros(0, dtype=np.int64)


def _bad_prints(values: np.ndarray, rules: CleaningRules) -> tuple[np.ndarray, np.ndarray]:
    """Indices of spike-and-revert closes and the threshold used at each."""
    if values.size < 3:
        return np.zeros(0, dtype=np.int64), np.zeros(0)
    r = np.diff(np.log(values))  # r[i] = return into observation i + 1
    n = r.size
    # robust scale of the returns before each one (trailing window, at least 10 returns)
    scale = np.full(n, np.nan)
    w = rules.robust_window
    for i in np.flatnonzero(np.abs(r) >= rules.min_spike):
        past = r[max(0, i - w) : i]
        if past.size >= 10:
            med = np.median(past)
            scale[i] = 1.4826 * float(np.median(np.abs(past - med)))
    thr = np.maximum(rules.min_spike, rules.spike_sigmas * np.nan_to_num(scale, nan=np.inf))
    nxt = np.concatenate([r[1:], [0.0]])
    hit = (
        (np.abs(r) >= thr)
        & (np.abs(nxt) >= thr)
        & (np.sign(nxt) == -np.sign(r))
        & (np.abs(nxt) >= rules.reversion * np.abs(r))
    )
    hit[-1] = False
    idx = np.flatnonzero(hit)
    return (idx + 1).astype(np.int64), thr[idx]


def _drop(
    dropped: list[DroppedPoint], point: tuple[str, str, float], reason: Reason, detail: str
) -> None:
    dropped.append(DroppedPoint(*point, reason, detail))


def clean_history(
    hist: PriceHistory, rules: CleaningRules, *, columns: Sequence[str] | None = None
) -> tuple[PriceHistory, tuple[DroppedPoint, ...]]:
    """Apply the cleaning rules to ``columns`` (all by default); return the result and the drops."""
    values = hist.prices.copy()
    dropped: list[DroppedPoint] = []
    names = list(columns) if columns is not None else list(hist.assets)
    for asset, day in rules.user_drops:
        if asset not in hist.assets:
            raise InputError(f"no column {asset} in the history", path="--drop-print")
        hit = np.flatnonzero(hist.dates == day)
        k = hist.assets.index(asset)
        if hit.size == 0 or np.isnan(values[hit[0], k]):
            raise InputError(f"{asset} has no close on {day}", path="--drop-print")
        dropped.append(DroppedPoint(asset, str(day), float(values[hit[0], k]), "user", "named"))
        values[hit[0], k] = np.nan
    for asset in names:
        k = hist.assets.index(asset)
        obs = np.flatnonzero(~np.isnan(values[:, k]))
        v = values[obs, k]
        st = _stale(v, rules.stale_run)

        for i in st:
            _drop(
                dropped,
                (asset, str(hist.dates[obs[i]]), float(v[i])),
                "stale_repeat",
                f"repeats the close of {hist.dates[obs[i - 1]]} "
                f"(run of >= {rules.stale_run} identical closes)",
            )
        values[obs[st], k] = np.nan
        if not rules.bad_prints:
            continue
        obs = np.flatnonzero(~np.isnan(values[:, k]))
        v = values[obs, k]
        bad, thr = _bad_prints(v, rules)
        for i, t in zip(bad, thr, strict=True):
            _drop(
                dropped,
                (asset, str(hist.dates[obs[i]]), float(v[i])),
                "bad_print",
                f"{v[i - 1]:g} -> {v[i]:g} -> {v[i + 1]:g}: log moves "
                f"{np.log(v[i] / v[i - 1]):+.3f}, {np.log(v[i + 1] / v[i]):+.3f} "
                f"beyond +-{t:.3f} and reverting",
            )
        values[obs[bad], k] = np.nan
    dropped.sort(key=lambda d: (d.date, d.asset))
    return hist.with_prices(values), tuple(dropped)
