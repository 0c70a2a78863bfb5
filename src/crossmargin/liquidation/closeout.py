"""Close-out prices: spread + square-root impact for delta-one, a vol-point impact for options.

For closing ``Δ`` units of a position (the same liquidity model as
:mod:`crossmargin.liquidity.impact` and the ``liquidity`` configuration section):

* **delta-one** (spot, perpetual, future), closed notional ``N = |Δ| · mult · price`` (inverse:
  ``|Δ| · mult`` USD face)::

      cost = N · (s/2 + k · σ_d · sqrt(N / ADV) + liquidator_fee)

  (half-spread plus the square-root law, Almgren, Thum, Hauptmann & Li, "Direct estimation of
  equity market impact", Risk 2005; the optional liquidator fee is Drift's price concession to
  the liquidator). The close price is ``mark · (1 ∓ cost / N)``: a long is sold below, a short
  bought back above the mark.
* **options**: re-priced with Black-76 at ``σ ± option_vol_impact`` (a short is bought back at
  ``σ + v``, a long sold at ``max(σ − v, σ / 2)``), cost ``|Δ| · mult · |V(σ ± v) − V(σ)|``; the
  liquidator fee is charged on the underlying notional, capped at the premium closed.
* **settled** contracts close at their settlement value at no cost.

The liquidation fee (``liquidation.fee_rate``) is a share of the closed notional
(:attr:`CloseOutPricer.unit_notional`; options capped at the premium closed, as Deribit caps
option fees). ``σ_d`` of an underlying is the one volatility policy's, as for the liquidity
add-on (:mod:`crossmargin.market.volatility`: the asset's ``vol``, else the
mean implied vol of its options, else the EWMA vol of its history; none of them is a
:class:`~crossmargin.errors.MarketDataError`). A collateral asset without a vol (typically a
stablecoin) is sold at its half-spread only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from crossmargin._typing import FloatArray, IntArray
from crossmargin.config.model import LiquidationConfig, RiskConfig
from crossmargin.kernels.black76 import black76_price
from crossmargin.liquidity.impact import impact_params
from crossmargin.market.snapshot import MarketSnapshot
from crossmargin.market.volatility import daily_vol, daily_vols
from crossmargin.resolve.book import ResolvedBook
from crossmargin.resolve.instruments import InstrumentTable
from crossmargin.resolve.terms import KIND_OPTION

__all__ = ["CloseOutPricer", "CollateralPricer", "liquidity_arrays"]


def liquidity_arrays(
    config: RiskConfig,
    snapshot: MarketSnapshot,
    inst: InstrumentTable | None,
    symbols: tuple[str, ...],
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """Per symbol: half-spread, impact coefficient ``k``, ADV and daily vol (NaN if unknown).

    The daily vol is the one volatility policy's (:mod:`crossmargin.market.volatility`), with
    the implied vols of the options of ``inst``.
    """
    hs = np.zeros(len(symbols))
    k = np.zeros(len(symbols))
    adv = np.ones(len(symbols))
    for j, sym in enumerate(symbols):
        p = impact_params(config, sym)
        hs[j], k[j], adv[j] = 0.5 * p.spread, p.impact_k, p.adv
    sd = daily_vols(
        symbols,
        snapshot,
        ewma_lambda=config.var.ewma_lambda,
        implied=inst.held_implied_vols() if inst is not None else None,
        needed_by="close-out",
        required=False,
    )
    return hs, k, adv, sd


@dataclass(frozen=True, slots=True, eq=False)
class CloseOutPricer:
    """Close-out cost and price of any quantity of any contract of one resolved book.

    All arrays are per contract (rows of the instrument table); amounts in the snapshot currency.
    """

    kind: IntArray
    mult: FloatArray
    quote_scale: FloatArray
    mark: FloatArray
    unit_notional: FloatArray
    unit_value: FloatArray
    half_spread: FloatArray
    impact_k: FloatArray
    adv: FloatArray
    sigma_d: FloatArray
    opt_buy: FloatArray
    opt_sell: FloatArray
    settled: IntArray
    liq: LiquidationConfig

    @classmethod
    def from_book(cls, rb: ResolvedBook, *, needed: IntArray | None = None) -> CloseOutPricer:
        """Bind the model to ``rb``'s instruments.

        Parameters
        ----------
        rb
            The resolved book.
        needed
            Contracts that may be closed (default: every held contract); a delta-one contract
            among them whose underlying has no vol raises :class:`MarketDataError`.
        """
        inst, cfg = rb.instruments, rb.config
        # σ_d by the one volatility policy, as the liquidity add-on (margin and close-out agree)
        hs_u, k_u, adv_u, sd_u = liquidity_arrays(cfg, rb.snapshot, inst, inst.underlyings)
        und = inst.und
        opt = inst.kind == KIND_OPTION
        settled = inst.settled
        need = np.zeros(inst.n, np.bool_)
        need[rb.positions.instrument if needed is None else needed] = True
        blind = need & ~opt & ~settled & np.isnan(sd_u[und] if inst.n else np.zeros(0))
        if blind.any():  # raises: the policy's own error naming the missing field
            daily_vol(
                inst.underlyings[int(und[np.argmax(blind)])],
                rb.snapshot,
                ewma_lambda=cfg.var.ewma_lambda,
                needed_by="close-out",
            )
        unit_notional = np.where(inst.inverse & ~opt, inst.mult, inst.mult * inst.fwd)
        mark = np.where(opt, inst.value, inst.fwd)
        opt_buy = np.zeros(inst.n)
        opt_sell = np.zeros(inst.n)
        live_opt = opt & ~settled
        if live_opt.any():
            vi = np.asarray(
                [
                    impact_params(cfg, inst.underlyings[int(u)]).option_vol_impact
                    for u in und[live_opt]
                ]
            )
            s = inst.sigma[live_opt]
            f, k, t = inst.fwd[live_opt], inst.strike[live_opt], inst.t[live_opt]
            d, c = inst.discount[live_opt], inst.is_call[live_opt]
            up = black76_price(f, k, t, s + vi, d, c)
            dn = black76_price(f, k, t, np.maximum(s - vi, 0.5 * s), d, c)
            v0 = inst.value[live_opt]
            opt_buy[live_opt] = inst.mult[live_opt] * np.maximum(up - v0, 0.0)
            opt_sell[live_opt] = inst.mult[live_opt] * np.maximum(v0 - dn, 0.0)
        return cls(
            kind=inst.kind,
            mult=inst.mult,
            quote_scale=np.where(inst.inverse & opt, 1.0 / inst.spot, 1.0),
            mark=mark,
            unit_notional=unit_notional,
            unit_value=inst.mult * inst.value,
            half_spread=hs_u[und] if inst.n else np.zeros(0),
            impact_k=k_u[und] if inst.n else np.zeros(0),
            adv=adv_u[und] if inst.n else np.ones(0),
            sigma_d=np.nan_to_num(sd_u[und]) if inst.n else np.zeros(0),
            opt_buy=opt_buy,
            opt_sell=opt_sell,
            settled=settled.astype(np.int64),
            liq=cfg.liquidation,
        )

    def notional(self, instrument: IntArray, qty: FloatArray) -> FloatArray:
        """Closed notional ``|Δ| × unit notional``."""
        return np.abs(qty) * self.unit_notional[instrument]

    def slippage(
        self, instrument: IntArray, qty: FloatArray, position_sign: FloatArray
    ) -> FloatArray:
        """Cost (≥ 0) of closing ``|qty|`` of positions of sign ``position_sign``."""
        i = instrument
        n = self.notional(i, qty)
        opt = self.kind[i] == KIND_OPTION
        frac = self.half_spread[i] + self.impact_k[i] * self.sigma_d[i] * np.sqrt(n / self.adv[i])
        lin = n * (frac + self.liq.liquidator_fee)
        per_unit = np.where(position_sign < 0, self.opt_buy[i], self.opt_sell[i])
        prem = np.abs(qty) * self.unit_value[i]
        o = np.abs(qty) * per_unit + np.minimum(self.liq.liquidator_fee * n, prem)
        cost = np.where(opt, o, lin)
        return np.where(self.settled[i] == 1, 0.0, cost)

    def fee(self, instrument: IntArray, qty: FloatArray) -> FloatArray:
        """Liquidation fee before the account-level cap: ``fee_rate`` × closed notional."""
        i = instrument
        n = self.notional(i, qty)
        raw = self.liq.fee_rate * n
        opt = self.kind[i] == KIND_OPTION
        return np.where(opt, np.minimum(raw, np.abs(qty) * self.unit_value[i]), raw)

    def close_price(
        self, instrument: IntArray, qty: FloatArray, position_sign: FloatArray, cost: FloatArray
    ) -> FloatArray:
        """Average close price in the contract's own quote (options: premium; inverse: in coin)."""
        i = instrument
        aq = np.abs(qty)
        with np.errstate(divide="ignore", invalid="ignore"):
            lin_frac = np.where(aq > 0, cost / (aq * self.unit_notional[i]), 0.0)
            per_unit = np.where(aq > 0, cost / (aq * self.mult[i]), 0.0)
        lin_px = self.mark[i] * (1.0 - position_sign * lin_frac)
        opt_px = np.maximum(self.mark[i] - position_sign * per_unit, 0.0) * self.quote_scale[i]
        return np.where(self.kind[i] == KIND_OPTION, opt_px, lin_px)

    def price_for_value(
        self, instrument: IntArray, closed: FloatArray, value_change: FloatArray
    ) -> FloatArray:
        """Price at which closing ``closed`` (signed position quantity) changes value by ``value_change``.

        Value is measured against closing at the mark: ``Δ · mult · (p − mark)`` for linear
        contracts and options (an inverse contract's price is the first-order equivalent).
        Used for bankruptcy prices (ADL) and the prices ADL'd accounts close at.
        """
        i = instrument
        with np.errstate(divide="ignore", invalid="ignore"):
            lin = self.mark[i] * (1.0 + value_change / (closed * self.unit_notional[i]))
            opt = (self.mark[i] + value_change / (closed * self.mult[i])) * self.quote_scale[i]
        out = np.where(self.kind[i] == KIND_OPTION, opt, lin)
        return np.asarray(np.where(closed != 0, out, np.nan), dtype=np.float64)


@dataclass(frozen=True, slots=True, eq=False)
class CollateralPricer:
    """Proceeds of selling collateral assets with spread and square-root impact."""

    price: FloatArray
    half_spread: FloatArray
    impact_k: FloatArray
    adv: FloatArray
    sigma_d: FloatArray

    @classmethod
    def from_book(cls, rb: ResolvedBook, assets: tuple[str, ...]) -> CollateralPricer:
        """Prices (snapshot) and liquidity of ``assets``."""
        snap = rb.snapshot
        price = np.asarray(
            [snap.price(a) if snap.has_price(a) else np.nan for a in assets], dtype=np.float64
        )
        hs, k, adv, sd = liquidity_arrays(rb.config, snap, rb.instruments, assets)
        base = snap.base_currency
        is_base = np.asarray([a == base for a in assets])
        hs[is_base] = 0.0
        return cls(price, hs, k, adv, np.nan_to_num(np.where(is_base, 0.0, sd)))

    def sale_cost(self, asset: IntArray, amount: FloatArray) -> FloatArray:
        """Cost of selling ``amount`` (≥ 0) units: ``N (s/2 + k σ_d sqrt(N / ADV))``."""
        n = np.abs(amount) * self.price[asset]
        a = asset
        return n * (
            self.half_spread[a] + self.impact_k[a] * self.sigma_d[a] * np.sqrt(n / self.adv[a])
        )

    def amount_for(self, asset: IntArray, proceeds: FloatArray, held: FloatArray) -> FloatArray:
        """Units to sell for net ``proceeds`` (capped at ``held``; fixed-point on the cost)."""
        p = self.price[asset]
        amt = np.minimum(proceeds / p, held)
        for _ in range(30):
            c = self.sale_cost(asset, amt)
            nxt = np.minimum((proceeds + c) / p, held)
            if np.allclose(nxt, amt, rtol=1e-14, atol=0.0):
                amt = nxt
                break
            amt = nxt
        return np.asarray(amt, dtype=np.float64)
