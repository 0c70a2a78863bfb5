"""dYdX v4 — the ``dydx-v4`` preset: liquidity tiers, OI-scaled IMF, quantum rounding.

Per subaccount and perpetual market (``dydx-v4.md`` §2): ``notional = size × oracle price``
(quote quantums), ``IMR = ceil(|notional| × IMF_eff)`` with the open-interest-scaled initial
margin fraction of the market's liquidity tier (:func:`.dydx_rules.adjusted_imf_ppm`, raised to a
``custom_imf_ppm`` if configured), ``MMR = ceil(ceil(|notional| × IMF_base) ×
maintenance_fraction)``; ``TIMR``/``TMMR`` sum over markets; ``TNC = USDC + Σ notional`` (every
position valued at the oracle price, i.e. the snapshot's index ``price``).

The market's open interest (underlying units) comes from the snapshot's ``perp.open_interest``;
a tier with OI caps and no open interest in the snapshot is an error (fail closed: a missing OI
could only understate the IMF). Only linear perpetuals are listed; only USDC is collateral
(other assets count 0). Liquidation arithmetic: :mod:`.dydx_rules`.

Quote asset: the chain computes in quote quantums of USDC with the oracle price read as USDC per
base (it has no USDC oracle): ``TNC = USDC balance + Σ size × oracle``. The preset keeps those
numbers in USDC and converts IMR, MMR and the P&L to the snapshot currency at the snapshot's
``quote_asset`` price (the USDC balance is valued at that price by the collateral layer), so an
account kept in USDC sees the chain's numbers and its ``TNC/TMMR`` unchanged whatever USDC
trades at.
"""

from __future__ import annotations

import math
from typing import Annotated

import numpy as np
from pydantic import Field

from crossmargin._arrays import sum_by
from crossmargin._typing import IntArray
from crossmargin.errors import MarketDataError, ModelError
from crossmargin.margin.batch import group_labels
from crossmargin.margin.presets._common import (
    NonNegative,
    PresetInfo,
    PresetParams,
    accepted_collateral,
    equity_upnl,
    excluded_rows,
    group_batch,
    perp_groups,
    pnl_at_oracle,
    quote_price,
)
from crossmargin.margin.presets.dydx_rules import PPM, QUANTUMS_PER_USDC, adjusted_imf_ppm
from crossmargin.margin.result import AddOnRows, MarginBatch
from crossmargin.resolve.book import ResolvedBook

__all__ = [
    "DydxLiquidationConfig",
    "DydxParams",
    "DydxTier",
    "ceil_mul_ppm",
    "dydx_params",
    "dydx_v4",
]


class DydxTier(PresetParams):
    """One liquidity tier (USD amounts; the chain stores quote quantums)."""

    id: int = Field(ge=0)
    initial_margin_ppm: int = Field(ge=0, le=PPM)
    maintenance_fraction_ppm: int = Field(ge=0, le=PPM)
    open_interest_lower_cap: NonNegative
    open_interest_upper_cap: NonNegative
    impact_notional: NonNegative


class DydxLiquidationConfig(PresetParams):
    """Liquidation configuration (sample pre-genesis)."""

    max_liquidation_fee_ppm: int = Field(default=15_000, ge=0, le=PPM)
    bankruptcy_adjustment_ppm: int = Field(default=1_000_000, ge=0)
    spread_to_maintenance_margin_ratio_ppm: int = Field(default=1_500_000, ge=0)
    min_position_notional_liquidated: float = Field(default=1_000.0, ge=0.0)
    max_position_portion_liquidated_ppm: int = Field(default=100_000, ge=0, le=PPM)
    max_notional_liquidated: float = Field(default=100_000.0, ge=0.0)
    max_quantums_insurance_lost: float = Field(default=1_000_000.0, ge=0.0)


class DydxParams(PresetParams):
    """Tiers, market → tier map and liquidation configuration.

    ``market_tiers`` is a crossmargin default (the sample configuration does not map markets
    in the spec): BTC and ETH Large-Cap, SOL Mid-Cap, others ``default_tier``.
    """

    tiers: dict[str, DydxTier]
    market_tiers: dict[str, str]
    default_tier: str = "Long-Tail"
    custom_imf_ppm: dict[str, Annotated[int, Field(ge=0, le=PPM)]] = Field(default_factory=dict)
    liquidation: DydxLiquidationConfig = Field(default_factory=DydxLiquidationConfig)
    accepted_collateral: tuple[str, ...] = ("USDC",)
    quote_asset: str = Field(default="USDC", min_length=1)


def dydx_params() -> DydxParams:
    """Sample pre-genesis liquidity tiers and liquidation config (``dydx-v4.md`` §2.2, §3.5)."""
    t = {
        "Large-Cap": (0, 20_000, 600_000, 0.0, 0.0, 10_000.0),
        "Mid-Cap": (5, 50_000, 600_000, 40e6, 100e6, 5_000.0),
        "Small-Cap": (1, 100_000, 500_000, 20e6, 50e6, 5_000.0),
        "Long-Tail": (2, 200_000, 500_000, 5e6, 10e6, 2_500.0),
        "Safety": (3, 1_000_000, 200_000, 2e6, 5e6, 2_500.0),
        "Isolated": (4, 50_000, 600_000, 0.5e6, 1e6, 2_500.0),
        "FX": (6, 10_000, 500_000, 0.5e6, 1e6, 2_500.0),
    }
    return DydxParams(
        tiers={
            k: DydxTier(
                id=v[0],
                initial_margin_ppm=v[1],
                maintenance_fraction_ppm=v[2],
                open_interest_lower_cap=v[3],
                open_interest_upper_cap=v[4],
                impact_notional=v[5],
            )
            for k, v in t.items()
        },
        market_tiers={"BTC": "Large-Cap", "ETH": "Large-Cap", "SOL": "Mid-Cap"},
    )


#: Notionals up to this many quote quantums (~4.6·10¹² USDC) are margined exactly in int64.
MAX_QUANTUMS = float(2**62)


def ceil_mul_ppm(n: IntArray, ppm: IntArray) -> IntArray:
    """``ceil(n × ppm / 10⁶)`` exactly in int64 (``n`` up to ~9·10¹⁸ / 10⁶ per ppm digit split)."""
    hi, lo = np.divmod(n, PPM)
    return np.asarray(hi * ppm + (lo * ppm + (PPM - 1)) // PPM, dtype=np.int64)


def market_imf(book: ResolvedBook, p: DydxParams) -> tuple[IntArray, IntArray, IntArray]:
    """Per underlying: effective IMF, base IMF and maintenance fraction (ppm)."""
    snap = book.snapshot
    eff, base, mf = [], [], []
    for u in book.instruments.underlyings:  # markets, not positions
        tier = p.tiers[p.market_tiers.get(u, p.default_tier)]
        b = tier.initial_margin_ppm
        e = b
        if tier.open_interest_upper_cap > 0:
            a = snap.asset(u, needed_by="dydx-v4")
            if a.perp_open_interest is None:
                raise MarketDataError(
                    f"dydx-v4 needs the {u} market's open interest (tier with OI caps)",
                    path=f"assets.{u}.perp.open_interest",
                )
            oi_f = a.perp_open_interest * a.price * QUANTUMS_PER_USDC
            # an open notional beyond float range is beyond every cap (IMF 100 %)
            oi = round(oi_f) if math.isfinite(oi_f) else 10**40
            e = adjusted_imf_ppm(
                b,
                round(tier.open_interest_lower_cap * QUANTUMS_PER_USDC),
                round(tier.open_interest_upper_cap * QUANTUMS_PER_USDC),
                oi,
            )
        e = max(e, p.custom_imf_ppm.get(u, 0))
        eff.append(e)
        base.append(b)
        mf.append(tier.maintenance_fraction_ppm)
    return (
        np.asarray(eff, dtype=np.int64),
        np.asarray(base, dtype=np.int64),
        np.asarray(mf, dtype=np.int64),
    )


def dydx_v4(book: ResolvedBook, p: DydxParams, *, detail: bool = False) -> MarginBatch:
    """Margin every subaccount."""
    inst, pos = book.instruments, book.positions
    A = book.n_accounts
    groups, base_qty, oracle = perp_groups(book, INFO.name)
    notional = base_qty * oracle
    n_f = np.rint(np.abs(notional) * QUANTUMS_PER_USDC)
    if groups.n and not np.all(n_f < MAX_QUANTUMS):
        g = int(np.argmax(~(n_f < MAX_QUANTUMS)))
        raise ModelError(
            f"{inst.underlyings[int(groups.und[g])]} notional {float(notional[g]):.6g} USDC is "
            f"beyond the exact integer range of quote quantums ({MAX_QUANTUMS / 1e6:.3g} USDC)",
            path=book.book.position_path(
                int(pos.first_row[np.argmax(groups.of_position == g)])
            ).removesuffix(".instrument")
            + ".quantity",
        )
    n_q = n_f.astype(np.int64)
    eff, base, mf = market_imf(book, p) if inst.n else (np.zeros(0, np.int64),) * 3
    g_eff, g_base, g_mf = eff[groups.und], base[groups.und], mf[groups.und]
    imr_q = ceil_mul_ppm(n_q, g_eff)
    mmr_q = ceil_mul_ppm(ceil_mul_ppm(n_q, g_base), g_mf)
    # USDC amounts (quantums, rounded as the chain) -> snapshot currency at the quote price
    q = quote_price(book, p.quote_asset, INFO.name) if groups.n else 1.0
    g_im = imr_q / QUANTUMS_PER_USDC * q
    g_mm = mmr_q / QUANTUMS_PER_USDC * q
    ok, excluded = accepted_collateral(book, p.accepted_collateral)
    labels = group_labels(inst.underlyings, groups.und)
    scaled = np.ceil(np.abs(notional) * g_base / PPM * 1e6) / 1e6 * q
    addons = (
        AddOnRows(
            "oi_scaled_imf",
            groups.account,
            labels,
            g_im - scaled,
            "IMF raised by market open interest between the tier's caps (or custom IMF)",
        ),
        excluded_rows(book, excluded, "dYdX"),
    )
    return group_batch(
        INFO.name,
        book,
        groups,
        im=g_im,
        mm=g_mm,
        delta=base_qty,
        spot=oracle,
        scan=scaled,
        addons=addons,
        upnl=equity_upnl(book, ok + sum_by(pos.account, pnl_at_oracle(book), A) * q),
    )


INFO = PresetInfo(
    name="dydx-v4",
    venue="dYdX v4",
    title="dYdX v4 cross margin: liquidity tiers, OI-scaled IMF, quantum rounding",
    status="read from code; OI-scaled IMF and liquidation examples reproduced digit for digit",
    sources=(
        "dydxprotocol/v4-chain @84d4664b x/perpetuals/types/liquidity_tier.go, lib/margin/risk.go "
        "(dydx-v4.md)",
        "x/clob/keeper/liquidations.go, deleveraging.go; scripts/genesis/sample_pregenesis.json",
    ),
    covers=(
        "IMR = ceil(|notional| x IMF_eff), MMR = ceil(ceil(|notional| x IMF) x maintenance fraction)",
        "open-interest-scaled IMF per liquidity tier (floor in ppm); custom IMF (IMR only)",
        "amounts in USDC quantums as the chain computes them, converted at the quote_asset price",
        "liquidation arithmetic: bankruptcy price, fillable price, insurance-fund fee, sizing",
    ),
    gaps=(
        "tier parameters are the sample pre-genesis values; live values are set by governance",
        "market -> tier map is a crossmargin default (BTC, ETH Large-Cap; SOL Mid-Cap; others "
        "Long-Tail)",
        "funding is assumed settled into the USDC balance; isolated markets' separate collateral "
        "pools and insurance funds are not modelled",
        "liquidatable needs TMMR > 0 on the chain; the account layer flags any maintenance "
        "shortfall (an account without positions has TMMR 0 and no shortfall unless its equity "
        "is negative)",
    ),
    margin=dydx_v4,
    defaults=dydx_params,
)
