"""Drift v2 — the ``drift-v2`` preset: weighted collateral, size-premium margin ratios.

Per account (``drift-v2.md`` §3–§4), separately for Initial and Maintenance:

* **total collateral** = ``Σ deposits × price × A(size)`` + weighted unrealised perp P&L, where
  ``A(S) = min(w, 1.1/(1 + f·√S))`` is the spot market's asset weight with its size discount —
  the Initial ``w`` first scaled down to ``w·start/deposit_value`` once the market's total
  deposit value passes ``scale_initial_asset_weight_start`` (total deposits: the snapshot's
  ``assets.<X>.total_deposits``) —, losses count in full and gains at
  ``unrealized_pnl_*_asset_weight`` (Initial: size-discounted by ``unrealized_pnl_imf_factor``
  and capped at 100 USDC per position), × the quote price;
* **requirement** = ``Σ borrows × price × L(size)`` + ``Σ |base| × oracle × quote price ×
  ratio(size)``, with ``L(S) = max(w, 0.8·w + f·√S)`` and the perp ratio
  ``max(r, 0.8·r + imf·√|base|)``.

Drift values a perp position's liability and P&L **in its quote asset** (USDC): the oracle price
is read as quote per base and the amount multiplied by the quote's oracle price (§4; strict
quote: ``max(quote, TWAP)`` for liabilities and losses, ``min`` for gains — without a TWAP in the
snapshot, the quote price itself). ``quote_asset``'s snapshot price is that price (fail closed
when absent).

Integer weight arithmetic: :mod:`.drift_rules`. Positions are valued at the oracle (the
snapshot's index ``price``). Per-market parameters are governance data: the defaults are the
program's unit-test market (5 % / 10 % perp ratios, USDC weight 1) and a SOL-like spot market
(crossmargin choice, flagged). Liquidation: :func:`.drift_rules.liquidate_perp`.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Any

import numpy as np
from pydantic import Field, model_validator

from crossmargin._arrays import sum_by
from crossmargin._typing import FloatArray, IntArray
from crossmargin.errors import MarketDataError
from crossmargin.margin.batch import group_labels
from crossmargin.margin.presets._common import (
    Fraction,
    PresetInfo,
    PresetParams,
    equity_upnl,
    group_batch,
    perp_groups,
    pnl_at_oracle,
    quote_price,
)
from crossmargin.margin.presets.drift_rules import (
    scaled_initial_asset_weight,
    size_discount_weight,
    size_premium_weight,
)
from crossmargin.margin.result import AddOnRows, MarginBatch
from crossmargin.resolve.book import ResolvedBook
from crossmargin.risk.aggregate import group_sum

__all__ = ["DriftParams", "DriftPerpMarket", "DriftSpotMarket", "drift_params", "drift_v2"]


class DriftPerpMarket(PresetParams):
    """Perp market parameters (fractions); initial ratio ≥ maintenance ratio, as Drift requires."""

    margin_ratio_initial: float = Field(gt=0.0, le=1.0, allow_inf_nan=False)
    margin_ratio_maintenance: float = Field(gt=0.0, le=1.0, allow_inf_nan=False)
    imf_factor: float = Field(default=0.0, ge=0.0, allow_inf_nan=False)
    unrealized_pnl_initial_asset_weight: float = Field(
        default=1.0, ge=0.0, le=1.0, allow_inf_nan=False
    )
    unrealized_pnl_maintenance_asset_weight: float = Field(
        default=1.0, ge=0.0, le=1.0, allow_inf_nan=False
    )
    unrealized_pnl_imf_factor: float = Field(default=0.0, ge=0.0, allow_inf_nan=False)
    liquidator_fee: float = Field(default=0.01, ge=0.0, allow_inf_nan=False)
    if_liquidation_fee: float = Field(default=0.01, ge=0.0, allow_inf_nan=False)

    @model_validator(mode="after")
    def _ordered(self) -> DriftPerpMarket:
        if self.margin_ratio_initial < self.margin_ratio_maintenance:
            raise ValueError("margin_ratio_initial must not be below margin_ratio_maintenance")
        return self


class DriftSpotMarket(PresetParams):
    """Spot market weights (fractions) and the initial-weight deposit scaling.

    ``scale_initial_asset_weight_start``: deposit value (snapshot currency) of the whole market
    above which the initial asset weight is scaled down (``w·start/deposit_value``); 0 = off, as
    on chain. Needs the market's total deposits in the snapshot (``assets.<X>.total_deposits``).
    Initial weights are at least as strict as maintenance ones, as Drift requires.
    """

    initial_asset_weight: Fraction
    maintenance_asset_weight: Fraction
    initial_liability_weight: float = Field(ge=1.0, allow_inf_nan=False)
    maintenance_liability_weight: float = Field(ge=1.0, allow_inf_nan=False)
    imf_factor: float = Field(default=0.0, ge=0.0, allow_inf_nan=False)
    scale_initial_asset_weight_start: float = Field(default=0.0, ge=0.0, allow_inf_nan=False)

    @model_validator(mode="after")
    def _ordered(self) -> DriftSpotMarket:
        if self.initial_asset_weight > self.maintenance_asset_weight:
            raise ValueError("initial_asset_weight must not exceed maintenance_asset_weight")
        if self.initial_liability_weight < self.maintenance_liability_weight:
            raise ValueError(
                "initial_liability_weight must not be below maintenance_liability_weight"
            )
        return self


class DriftParams(PresetParams):
    """Per-market parameters (governance data) and program constants.

    ``quote_asset``: the perp markets' quote (USDC); perp liabilities and P&L are amounts of it,
    converted at its snapshot price (§4).
    """

    perp_markets: dict[str, DriftPerpMarket] = Field(default_factory=dict)
    default_perp: DriftPerpMarket
    spot_markets: dict[str, DriftSpotMarket]
    default_spot: DriftSpotMarket
    liquidation_margin_buffer_ratio: float = Field(default=0.02, ge=0.0, allow_inf_nan=False)
    max_positive_upnl_initial: float = Field(default=100.0, ge=0.0, allow_inf_nan=False)
    quote_asset: str = Field(default="USDC", min_length=1)


def drift_params() -> DriftParams:
    """Unit-test market values (``drift-v2.md`` §6.3) and a SOL-like spot default (flagged)."""
    return DriftParams(
        default_perp=DriftPerpMarket(margin_ratio_initial=0.10, margin_ratio_maintenance=0.05),
        spot_markets={
            "USDC": DriftSpotMarket(
                initial_asset_weight=1.0,
                maintenance_asset_weight=1.0,
                initial_liability_weight=1.0,
                maintenance_liability_weight=1.0,
            )
        },
        default_spot=DriftSpotMarket(
            initial_asset_weight=0.8,
            maintenance_asset_weight=0.9,
            initial_liability_weight=1.2,
            maintenance_liability_weight=1.1,
        ),
    )


def _market_column(markets: Sequence[Any], name: str, *, rows: IntArray) -> FloatArray:
    """Parameter ``name`` of each market (perp or spot), taken at ``rows`` (indices into it)."""
    if not markets:
        return np.zeros(0)
    return np.asarray([getattr(m, name) for m in markets], dtype=np.float64)[rows]


def drift_v2(book: ResolvedBook, p: DriftParams, *, detail: bool = False) -> MarginBatch:
    """Margin every account."""
    inst, col = book.instruments, book.collateral
    A = book.n_accounts
    groups, base, P = perp_groups(book, INFO.name)
    mk = [p.perp_markets.get(u, p.default_perp) for u in inst.underlyings]

    perp = partial(_market_column, mk, rows=groups.und)

    q = quote_price(book, p.quote_asset, INFO.name) if groups.n else 1.0
    size = np.abs(base)
    liab = size * P * q  # quote amount x the quote's price (drift-v2.md §4)
    r_i = size_premium_weight(size, perp("imf_factor"), perp("margin_ratio_initial"))
    r_m = size_premium_weight(size, perp("imf_factor"), perp("margin_ratio_maintenance"))
    req_i, req_m = liab * r_i, liab * r_m
    upnl = group_sum(groups, pnl_at_oracle(book))
    gain = np.maximum(upnl, 0.0)
    w_ui = size_discount_weight(
        gain, perp("unrealized_pnl_imf_factor"), perp("unrealized_pnl_initial_asset_weight")
    )
    u_i = np.where(upnl > 0, np.minimum(gain * w_ui * q, p.max_positive_upnl_initial), upnl * q)
    u_m = np.where(upnl > 0, gain * perp("unrealized_pnl_maintenance_asset_weight"), upnl) * q
    # spot balances: deposits weighted into collateral, borrows into the requirement
    sm = [p.spot_markets.get(a, p.default_spot) for a in col.assets]

    spot = partial(_market_column, sm, rows=col.asset)

    amt = np.abs(col.amount)
    mv = np.abs(col.market_value)
    dep = col.amount > 0
    imf_s = spot("imf_factor")
    w_init = _initial_asset_weights(book, sm)
    a_i = size_discount_weight(amt, imf_s, w_init[col.asset] if sm else np.zeros(0))
    a_m = size_discount_weight(amt, imf_s, spot("maintenance_asset_weight"))
    l_i = size_premium_weight(amt, imf_s, spot("initial_liability_weight"))
    l_m = size_premium_weight(amt, imf_s, spot("maintenance_liability_weight"))
    dep_i = col.per_account(np.where(dep, mv * a_i, 0.0), A)
    a_unscaled = size_discount_weight(amt, imf_s, spot("initial_asset_weight"))
    scaled_off = col.per_account(np.where(dep, mv * (a_unscaled - a_i), 0.0), A)
    dep_m = col.per_account(np.where(dep, mv * a_m, 0.0), A)
    bor_i = col.per_account(np.where(dep, 0.0, mv * l_i), A)
    bor_m = col.per_account(np.where(dep, 0.0, mv * l_m), A)
    tc_i = dep_i + sum_by(groups.account, u_i, A)
    tc_m = dep_m + sum_by(groups.account, u_m, A)
    u_im, _ = equity_upnl(book, tc_i)
    _, u_mm = equity_upnl(book, tc_m)
    labels = group_labels(inst.underlyings, groups.und)
    acc = np.arange(A, dtype=np.int64)
    base_ratio = perp("margin_ratio_initial")
    addons = (
        AddOnRows(
            "size_premium",
            groups.account,
            labels,
            liab * (r_i - base_ratio),
            "margin ratio raised to 0.8 r + imf_factor x sqrt(|base|) for large positions",
        ),
        AddOnRows(
            "borrow_requirement",
            acc,
            ("spot borrows",) * A,
            bor_i,
            "borrowed value x liability weight (with size premium)",
        ),
        AddOnRows(
            "initial_asset_weight_scaling",
            acc,
            ("spot deposits",) * A,
            scaled_off,
            "informational: initial collateral value removed by scaling the initial asset "
            "weight to w x start / market deposit value (counted in equity, not in IM)",
        ),
    )
    return group_batch(
        INFO.name,
        book,
        groups,
        im=req_i,
        mm=req_m,
        delta=base,
        spot=P,
        scan=liab * base_ratio,
        addons=addons,
        account_im=bor_i,
        account_mm=bor_m,
        upnl=(u_im, u_mm),
    )


def _initial_asset_weights(book: ResolvedBook, sm: list[DriftSpotMarket]) -> np.ndarray:
    """Per collateral asset: the initial asset weight after the total-deposit scaling (§3).

    Loops over assets (a handful), never accounts. Fail closed: a market with scaling on needs
    the snapshot's ``total_deposits``, which cannot be below what this book's accounts deposit.
    """
    col, snap = book.collateral, book.snapshot
    out = np.asarray([m.initial_asset_weight for m in sm], dtype=np.float64)
    for k, m in enumerate(sm):
        start = m.scale_initial_asset_weight_start
        rows = np.flatnonzero((col.asset == k) & (col.amount > 0))
        if start <= 0.0 or rows.size == 0:
            continue
        sym = col.assets[k]
        total = snap.assets[sym].total_deposits if sym in snap.assets else None
        path = f"assets.{sym}.total_deposits"
        if total is None:
            raise MarketDataError(
                f"drift-v2 needs the {sym} market's total deposits: its initial asset weight is "
                f"scaled down above a deposit value of {start:g}",
                path=path,
            )
        held = float(col.amount[rows].sum())
        if total < held * (1.0 - 1e-12):
            raise MarketDataError(
                f"total_deposits {total:g} is below the {held:g} {sym} deposited by this book's "
                "accounts (a market total cannot be smaller than its parts)",
                path=path,
            )
        out[k] = scaled_initial_asset_weight(
            m.initial_asset_weight, start, total * float(col.price[rows[0]])
        )
    return out


INFO = PresetInfo(
    name="drift-v2",
    venue="Drift v2",
    title="Drift v2: spot asset/liability weights with size premium, perp margin ratio by size",
    status="read from code; weight and liquidation examples reproduced at the published precision",
    sources=(
        "drift-labs/protocol-v2 @0ae3e3b1 math/margin.rs, controller/liquidation.rs (drift-v2.md)",
        "tests: math/margin/tests.rs, controller/liquidation/tests.rs",
    ),
    covers=(
        "asset weights with the sqrt(size) discount; liability weights and perp ratios with the "
        "premium, in Drift's integer precisions",
        "initial asset weight scaled to w x start / deposit value once a spot market's deposits "
        "pass scale_initial_asset_weight_start (total deposits: snapshot assets.X.total_deposits)",
        "perp liabilities and P&L valued in the quote asset: x the quote_asset (USDC) price",
        "uPnL weighting (losses in full, gains weighted, initial capped at 100 USDC per position)",
        "liquidate_perp with the 2% buffer, liquidator and insurance-fund fees (drift_rules)",
    ),
    gaps=(
        "per-market weights, ratios and scale_initial_asset_weight_start are governance data: "
        "defaults are the unit-test market (scaling off) and a SOL-like spot market (crossmargin), "
        "not mainnet values",
        "strict pricing needs 5-minute TWAPs the snapshot does not carry: assets, liabilities and "
        "the quote are valued at the oracle (Drift uses min/max(oracle, TWAP) for initial margin)",
        "uPnL imbalance scaling (unrealized_pnl_max_imbalance) needs the market's net unsettled "
        "P&L: not modelled; unsettled funding is assumed settled into the quote balance",
        "open orders (worst-case fill, $0.01 per order), user_custom_margin_ratio, the Fill "
        "requirement, high-leverage mode and oracle-validity guards (invalid-oracle deposits at "
        "0) are not modelled (the snapshot's fail-closed checks apply instead)",
        "spot positions must be given as collateral balances; options/futures are refused",
    ),
    margin=drift_v2,
    defaults=drift_params,
)
