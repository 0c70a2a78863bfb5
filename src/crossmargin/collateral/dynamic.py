"""Dynamic collateral haircuts: volatility, liquidity and size driven, floored by the static ones.

Per collateral balance of asset ``a`` with market value ``N = amount × price`` (configuration
``dynamic_haircuts``; off by default)::

    h_vol  = z · σ_d(a) · sqrt(horizon_days)                    (z = 2.326 IM / 1.645 MM)
    h_liq  = cost(N) / N       square-root close-out cost of the holding (liquidity/impact.py)
    h_size = 1 − min(1, 1.1 / (1 + f_a · sqrt(|amount|)))       (Drift v2 asset-weight decay)
    h      = min(1, max(h_static, h_vol + h_liq, h_size))

* ``σ_d`` is the EWMA daily volatility (λ = ``ewma_lambda``) of the asset's own price history
  up to ``as_of``; assets without history use ``vols`` (annualised, / √365), then the snapshot's
  implied ``vol``; none of these is a :class:`~crossmargin.errors.ConfigError`.
* ``h_size``: Drift's initial asset weight ``A(S) = min(w, 1.1 / (1 + f √S))`` with ``S`` the size
  in tokens (``docs/methodologies/drift-v2.md`` §2); its haircut is ``1 − A``.
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
from crossmargin.config import RiskConfig
from crossmargin.errors import ConfigError
from crossmargin.liquidity.impact import close_out_cost, daily_vol, impact_params
from crossmargin.market.snapshot import MarketSnapshot
from crossmargin.scenarios.historical import as_datetime64
from crossmargin.scenarios.history import history_of
from crossmargin.scenarios.returns import ewma_variance, joint_returns

__all__ = ["DynamicHaircuts", "asset_daily_vol", "dynamic_haircuts"]


def asset_daily_vol(asset: str, snapshot: MarketSnapshot, config: RiskConfig) -> float:
    """Daily volatility of a collateral asset (history EWMA, configured vol, implied vol).

    Raises
    ------
    ConfigError
        No price history, no configured and no implied volatility.
    """
    dh = config.dynamic_haircuts
    hist = history_of(snapshot)
    if hist.has(asset):
        jr = joint_returns(
            hist, (asset,), until=as_datetime64(snapshot.as_of), max_gap_days=5.0, needed_by=asset
        )
        x = np.where(jr.valid[:, None], jr.x, np.nan)
        _, var_now = ewma_variance(x, dh.ewma_lambda)
        return float(np.sqrt(var_now[0] / max(jr.spacing_days, 1e-9)))
    if asset in dh.vols:
        return float(daily_vol(dh.vols[asset]))
    a = snapshot.assets.get(asset)
    if a is not None and a.vol is not None:
        return float(daily_vol(a.vol))
    raise ConfigError(
        f"dynamic haircut of collateral {asset} needs a volatility: add "
        f"dynamic_haircuts.vols.{asset}, a price history or assets.{asset}.vol",
        path=f"config.dynamic_haircuts.vols.{asset}",
    )


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
    *,
    config: RiskConfig,
    snapshot: MarketSnapshot,
    assets: Sequence[str],
    vol_asset: Sequence[str],
    account: IntArray,
    asset: IntArray,
    amount: FloatArray,
    price: FloatArray,
    static_im: FloatArray,
    static_mm: FloatArray,
    n_accounts: int,
) -> DynamicHaircuts:
    """Dynamic IM/MM haircut per collateral row (module docstring).

    Parameters
    ----------
    assets
        Collateral symbols (``asset`` indexes them).
    vol_asset
        Per asset, whose volatility and liquidity to use (itself, or an oracle kind's underlying).
    account, asset, amount, price
        One entry per collateral row.
    static_im, static_mm
        Static haircut per row (the floor).
    """
    dh = config.dynamic_haircuts
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
