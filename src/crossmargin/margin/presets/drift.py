"""Drift v2 — the ``drift-v2`` preset: weighted collateral, size-premium margin ratios.

Per account (``drift-v2.md`` §3–§4), separately for Initial and Maintenance:

* **total collateral** = ``Σ deposits × price × A(size)`` + weighted unrealised perp P&L, where
  ``A(S) = min(w, 1.1/(1 + f·√S))`` is the spot market's asset weight with its size discount,
  losses count in full and gains at ``unrealized_pnl_*_asset_weight`` (Initial: size-discounted
  by ``unrealized_pnl_imf_factor`` and capped at 100 USDC per position);
* **requirement** = ``Σ borrows × price × L(size)`` + ``Σ |base| × oracle × ratio(size)``, with
  ``L(S) = max(w, 0.8·w + f·√S)`` and the perp ratio ``max(r, 0.8·r + imf·√|base|)``;

Integer weight arithmetic: :mod:`.drift_rules`. Positions are valued at the oracle (the
snapshot's index ``price``). Per-market parameters are governance data: the defaults are the
program's unit-test market (5 % / 10 % perp ratios, USDC weight 1) and a SOL-like spot market
(crossmargin choice, flagged). Liquidation: :func:`.drift_rules.liquidate_perp`.
"""

from __future__ import annotations

import numpy as np
from pydantic import Field

from crossmargin._arrays import sum_by
from crossmargin.margin.batch import assemble_batch, group_labels
from crossmargin.margin.presets._common import (
    PresetInfo,
    PresetParams,
    equity_upnl,
    pnl_at_oracle,
    require_supported,
    underlying_spot,
)
from crossmargin.margin.presets.drift_rules import size_discount_weight, size_premium_weight
from crossmargin.margin.result import AddOnRows, MarginBatch
from crossmargin.resolve.book import ResolvedBook
from crossmargin.resolve.terms import KIND_PERP
from crossmargin.risk.aggregate import group_positions, group_sum

__all__ = ["DriftParams", "DriftPerpMarket", "DriftSpotMarket", "drift_params", "drift_v2"]


class DriftPerpMarket(PresetParams):
    """Perp market parameters (fractions)."""

    margin_ratio_initial: float = Field(gt=0.0, le=1.0)
    margin_ratio_maintenance: float = Field(gt=0.0, le=1.0)
    imf_factor: float = Field(default=0.0, ge=0.0)
    unrealized_pnl_initial_asset_weight: float = Field(default=1.0, ge=0.0, le=1.0)
    unrealized_pnl_maintenance_asset_weight: float = Field(default=1.0, ge=0.0, le=1.0)
    unrealized_pnl_imf_factor: float = Field(default=0.0, ge=0.0)
    liquidator_fee: float = Field(default=0.01, ge=0.0)
    if_liquidation_fee: float = Field(default=0.01, ge=0.0)


class DriftSpotMarket(PresetParams):
    """Spot market weights (fractions)."""

    initial_asset_weight: float = Field(ge=0.0, le=1.0)
    maintenance_asset_weight: float = Field(ge=0.0, le=1.0)
    initial_liability_weight: float = Field(ge=1.0)
    maintenance_liability_weight: float = Field(ge=1.0)
    imf_factor: float = Field(default=0.0, ge=0.0)


class DriftParams(PresetParams):
    """Per-market parameters (governance data) and program constants."""

    perp_markets: dict[str, DriftPerpMarket] = Field(default_factory=dict)
    default_perp: DriftPerpMarket
    spot_markets: dict[str, DriftSpotMarket]
    default_spot: DriftSpotMarket
    liquidation_margin_buffer_ratio: float = Field(default=0.02, ge=0.0)
    max_positive_upnl_initial: float = Field(default=100.0, ge=0.0)


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


def drift_v2(book: ResolvedBook, p: DriftParams, *, detail: bool = False) -> MarginBatch:
    """Margin every account."""
    require_supported(book, INFO.name, kinds=(KIND_PERP,), inverse=False)
    inst, pos, col = book.instruments, book.positions, book.collateral
    A = book.n_accounts
    groups = group_positions(pos, inst)
    ii = pos.instrument
    base = group_sum(groups, pos.quantity * inst.mult[ii])
    P = underlying_spot(book)[groups.und]
    mk = [p.perp_markets.get(u, p.default_perp) for u in inst.underlyings]

    def perp(name: str) -> np.ndarray:
        return (
            np.asarray([getattr(m, name) for m in mk], dtype=np.float64)[groups.und]
            if mk
            else np.zeros(0)
        )

    size = np.abs(base)
    liab = size * P
    r_i = size_premium_weight(size, perp("imf_factor"), perp("margin_ratio_initial"))
    r_m = size_premium_weight(size, perp("imf_factor"), perp("margin_ratio_maintenance"))
    req_i, req_m = liab * r_i, liab * r_m
    upnl = group_sum(groups, pnl_at_oracle(book))
    gain = np.maximum(upnl, 0.0)
    w_ui = size_discount_weight(
        gain, perp("unrealized_pnl_imf_factor"), perp("unrealized_pnl_initial_asset_weight")
    )
    u_i = np.where(upnl > 0, np.minimum(gain * w_ui, p.max_positive_upnl_initial), upnl)
    u_m = np.where(upnl > 0, gain * perp("unrealized_pnl_maintenance_asset_weight"), upnl)
    # spot balances: deposits weighted into collateral, borrows into the requirement
    sm = [p.spot_markets.get(a, p.default_spot) for a in col.assets]

    def spot(name: str) -> np.ndarray:
        return (
            np.asarray([getattr(m, name) for m in sm], dtype=np.float64)[col.asset]
            if sm
            else np.zeros(0)
        )

    amt = np.abs(col.amount)
    mv = np.abs(col.market_value)
    dep = col.amount > 0
    imf_s = spot("imf_factor")
    a_i = size_discount_weight(amt, imf_s, spot("initial_asset_weight"))
    a_m = size_discount_weight(amt, imf_s, spot("maintenance_asset_weight"))
    l_i = size_premium_weight(amt, imf_s, spot("initial_liability_weight"))
    l_m = size_premium_weight(amt, imf_s, spot("maintenance_liability_weight"))
    dep_i = col.per_account(np.where(dep, mv * a_i, 0.0), A)
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
    )
    return assemble_batch(
        INFO.name,
        book,
        account=groups.account,
        und=groups.und,
        im=req_i,
        mm=req_m,
        delta=base,
        delta_notional=base * P,
        scan=liab * base_ratio,
        addons=addons,
        account_im=bor_i,
        account_mm=bor_m,
        upnl=(u_im, u_mm),
    )


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
        "uPnL weighting (losses in full, gains weighted, initial capped at 100 USDC per position)",
        "liquidate_perp with the 2% buffer, liquidator and insurance-fund fees (drift_rules)",
    ),
    gaps=(
        "per-market weights and ratios are governance data: defaults are the unit-test market and "
        "a SOL-like spot market (crossmargin), not mainnet values",
        "strict TWAP pricing, open orders, uPnL imbalance scaling, high-leverage mode and oracle "
        "validity guards are not modelled (the snapshot's fail-closed checks apply instead)",
        "spot positions must be given as collateral balances; options/futures are refused",
    ),
    margin=drift_v2,
    defaults=drift_params,
)
