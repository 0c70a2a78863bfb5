"""Dynamic collateral haircuts: volatility, liquidity and size driven, floored by the static ones.

Per collateral balance of asset ``a`` with market value ``N = amount × price`` (configuration
``dynamic_haircuts``; off by default)::

    h_vol  = z · σ_d(a) · sqrt(horizon_days)                    (z = 2.326 IM / 1.645 MM)
    h_liq  = cost(N) / N       square-root close-out cost of the holding (liquidity/impact.py)
    h_size = 1 − min(1, 1.1 / (1 + f_a · sqrt(|amount|)))       (Drift v2 asset-weight decay)
    h      = min(1, max(h_static, h_vol + h_liq, h_size))

* ``σ_d`` is the asset's daily volatility by the one volatility policy
  (:mod:`crossmargin.market.volatility`): the snapshot's implied ``vol``, else the EWMA
  volatility (λ = ``ewma_lambda``) of its own price history up to ``as_of``, else ``vols``
  (annualised, / √365); none of these is a :class:`~crossmargin.errors.MarketDataError`.
* ``h_size``: Drift's initial asset weight ``A(S) = min(w, 1.1 / (1 + f √S))`` with ``S`` the size
  in tokens (``../shared/methodologies/drift-v2.md`` §2); its haircut is ``1 − A``.
* **Concentration limits**: within an account, the part of one asset's haircut value above
  ``max_share`` × the account's total (positive) haircut collateral value is haircut a further
  ``excess_haircut``.
* The snapshot currency is never haircut; a liability (negative balance) is charged
  ``(1 + h)`` as for static haircuts.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from crossmargin._arrays import sum_by
from crossmargin._typing import FloatArray, IntArray
from crossmargin.collateral.table import CollateralTable
from crossmargin.config import RiskConfig
from crossmargin.liquidity.impact import close_out_cost, impact_params
from crossmargin.market.snapshot import MarketSnapshot
from crossmargin.market.volatility import daily_vol

__all__ = ["DynamicHaircuts", "asset_daily_vol", "dynamic_haircuts"]


def asset_daily_vol(asset: str, snapshot: MarketSnapshot, config: RiskConfig) -> float:
    """Daily volatility of a collateral asset (the one policy, :mod:`crossmargin.market.volatility`).

    Raises
    ------
    MarketDataError
        No implied vol, no price history and no configured volatility.
    """
    dh = config.dynamic_haircuts
    v = daily_vol(
        asset,
        snapshot,
        ewma_lambda=dh.ewma_lambda,
        configured=dh.vols.get(asset),
        needed_by=f"the dynamic haircut of collateral {asset} (or dynamic_haircuts.vols.{asset})",
    )
    assert v is not None  # required
    return v


class DynamicHaircuts:
    """Per-row haircuts and their components (see module docstring)."""

    __slots__ = ("concentration", "im", "liquidity", "mm", "size", "vol_im", "vol_mm")

    def __init__(
        self,
        im: FloatArray,
        mm: FloatArray,
        vol_im: FloatArray,
        vol_mm: FloatArray,
        liquidity: FloatArray,
        size: FloatArray,
        concentration: FloatArray,
    ) -> None:
        self.im, self.mm = im, mm
        self.vol_im, self.vol_mm = vol_im, vol_mm
        self.liquidity, self.size, self.concentration = liquidity, size, concentration


def dynamic_haircuts(
    table: CollateralTable,
    vol_asset: Sequence[str],
    n_accounts: int,
    snapshot: MarketSnapshot,
    config: RiskConfig,
) -> DynamicHaircuts:
    """Dynamic IM/MM haircut per row of ``table`` (module docstring).

    Parameters
    ----------
    table
        The collateral priced with its static haircuts (the floor).
    vol_asset
        Per asset, whose volatility and liquidity to use (itself, or an oracle kind's underlying).
    """
    dh = config.dynamic_haircuts
    assets, account, asset = table.assets, table.account, table.asset
    amount, price = table.amount, table.price
    static_im, static_mm = table.haircut_im, table.haircut_mm
    base = snapshot.base_currency
    n_assets = len(assets)
    used = np.zeros(n_assets, np.bool_)
    used[np.unique(asset)] = True
    sig = np.zeros(n_assets)
    f = np.zeros(n_assets)
    spread = np.zeros(n_assets)
    adv = np.ones(n_assets)
    k = np.zeros(n_assets)
    exempt = np.zeros(n_assets, np.bool_)
    for j, sym in enumerate(assets):
        if not used[j] or sym == base or vol_asset[j] == base:
            exempt[j] = True
            continue
        sig[j] = asset_daily_vol(vol_asset[j], snapshot, config)
        f[j] = dh.size_factor.get(sym, 0.0)
        p = impact_params(config, vol_asset[j])
        spread[j], adv[j], k[j] = p.spread, p.adv, p.impact_k
    a = asset
    mv = amount * price
    h_vol_im = dh.z_im * sig[a] * np.sqrt(dh.horizon_days)
    h_vol_mm = dh.z_mm * sig[a] * np.sqrt(dh.horizon_days)
    h_liq = np.zeros(a.size)
    if dh.liquidity_cost:
        cost = close_out_cost(mv, spread=spread[a], sigma_daily=sig[a], adv=adv[a], k=k[a])
        with np.errstate(divide="ignore", invalid="ignore"):
            h_liq = np.where(mv != 0, cost / np.abs(mv), 0.0)
    h_size = 1.0 - np.minimum(1.0, 1.1 / (1.0 + f[a] * np.sqrt(np.abs(amount))))
    him = np.minimum(1.0, np.maximum.reduce([static_im, h_vol_im + h_liq, h_size]))
    hmm = np.minimum(1.0, np.maximum.reduce([static_mm, h_vol_mm + h_liq, h_size]))
    ex = exempt[a]
    him = np.where(ex, static_im, him)
    hmm = np.where(ex, static_mm, hmm)
    conc = np.zeros(a.size)
    cc = dh.concentration
    share = np.asarray(
        [cc.max_share.get(s, cc.default_max_share or np.inf) for s in assets], np.float64
    )[a]
    if np.isfinite(share).any() and cc.excess_haircut > 0:
        him, c_im = _concentrate(him, mv, account, share, cc.excess_haircut, n_accounts)
        hmm, _ = _concentrate(hmm, mv, account, share, cc.excess_haircut, n_accounts)
        conc = c_im
    return DynamicHaircuts(him, hmm, h_vol_im, h_vol_mm, h_liq, h_size, conc)


def _concentrate(
    h: FloatArray,
    mv: FloatArray,
    account: IntArray,
    share: FloatArray,
    excess_haircut: float,
    n_accounts: int,
) -> tuple[FloatArray, FloatArray]:
    """Raise haircuts of rows above their share of the account's haircut collateral value."""
    pos = mv > 0
    v = np.where(pos, mv * (1.0 - h), 0.0)
    total = sum_by(account, v, n_accounts)[account]
    excess = np.where(pos, np.maximum(v - share * total, 0.0), 0.0)
    v2 = v - excess * excess_haircut
    with np.errstate(divide="ignore", invalid="ignore"):
        h2 = np.where(pos & (excess > 0), 1.0 - v2 / mv, h)
    return h2, h2 - h
