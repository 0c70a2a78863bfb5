"""Liquidation cascades: a shock, forced selling, price impact, more liquidations — per regime.

Each **round** ``r`` of :func:`run_regime`:

1. prices: ``P_s(r) = P_s(0) · X_s(r) · exp(D_s(r))`` — the exogenous shock path ``X`` (held
   at its last step once it ends) times the liquidation-driven displacement ``D``;
2. re-margin every account of the venue under the regime (one vectorised margin call);
3. liquidate every account in ``liquidation``/``bankrupt`` status
   (:func:`~crossmargin.liquidation.engine.liquidate_round`: plan, close-out, collateral sales,
   insurance fund, ADL or socialised loss);
4. aggregate the flow sent to the market per asset (delta notional, signed) and move prices by
   the square-root impact law (the liquidity model of :mod:`crossmargin.liquidity.impact`)::

       D_s(r + 1) = (1 − ρ) · D_s(r) + sign(F_s) · k_s · σ_d,s · sqrt(|F_s| / ADV_s)

   with ``ρ`` = ``liquidation.cascade.depth_recovery`` — the share of the displacement that
   decays per round as the book refills (resilience; A. Obizhaeva & J. Wang, "Optimal trading
   strategy and supply/demand dynamics", J. Financial Markets 16, 2013);
5. stop when the shock path is over and no account is liquidatable, or after
   ``max(max_rounds, path steps)`` rounds.

:func:`run_cascade` runs the **same venue and shock** under each regime (isolated, cross,
portfolio by default) and reports them side by side: accounts and notional liquidated, price
path and the extra move caused by liquidations, insurance-fund path, bad debt, ADL and
socialised loss. Money is checked every round: the accounts' value plus the insurance fund,
fee income, what the market received, the bad-debt pot and ADL clearing is unchanged by the
liquidation step (prices fixed) to 1e-9 relative (``conservation_error``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from crossmargin._typing import BoolArray, FloatArray
from crossmargin.config.model import RiskConfig
from crossmargin.engine import margin_resolved
from crossmargin.errors import InputError
from crossmargin.liquidation.closeout import liquidity_arrays
from crossmargin.liquidation.engine import InsuranceFund, RoundResult, liquidate_round
from crossmargin.liquidation.ledger import Ledger
from crossmargin.liquidation.shocks import ShockPath, risky_assets, shift_snapshot
from crossmargin.liquidation.state import VenueState
from crossmargin.liquidation.synthetic import CollateralMode, Venue
from crossmargin.liquidation.units import isolated_allocation, liquidatable
from crossmargin.margin.addons.liquidity import underlying_daily_vols
from crossmargin.margin.base import model_info
from crossmargin.market.snapshot import MarketSnapshot
from crossmargin.resolve.book import resolve

__all__ = ["REGIMES", "CascadeResult", "CascadeSettings", "RegimeRun", "run_cascade", "run_regime"]

#: Regimes compared by default: the capital-efficiency ladder of the seed.
REGIMES = ("isolated", "cross", "portfolio")

Progress = Callable[[str, int, int, int], None]


@dataclass(frozen=True, slots=True)
class CascadeSettings:
    """Options of a cascade run (``None``: the configuration's value).

    Attributes
    ----------
    regimes
        Margin models to compare.
    policy
        ``full`` or ``partial``.
    max_rounds
        Round limit (at least the shock path's length).
    insurance_fund
        Opening fund balance; default ``liquidation.insurance_fund``, else
        ``insurance_fund_share`` × the venue's collateral market value (the same in every regime).
    last_resort
        Overrides ``liquidation.last_resort``.
    collateral_mode
        Synthetic venues: ``fixed`` (default: every regime starts from the same deposited
        collateral per account, so the comparison is like for like) or ``per-regime``
        (collateral sized on each regime's IM: accounts lever up to what their regime allows).
    """

    regimes: tuple[str, ...] = REGIMES
    policy: str | None = None
    max_rounds: int | None = None
    insurance_fund: float | None = None
    last_resort: str | None = None
    collateral_mode: CollateralMode = "fixed"


@dataclass(eq=False)
class RegimeRun:
    """One regime's cascade: per-round statistics, the ledger and the final state."""

    regime: str
    rounds: list[dict[str, Any]]
    ledger: Ledger
    state: VenueState
    liquidated: BoolArray
    bankrupt: BoolArray
    symbols: tuple[str, ...]
    initial_prices: FloatArray
    prices: FloatArray
    exogenous: FloatArray
    fund_start: float
    fund_end: float
    converged: bool
    conservation_error: float
    initial: dict[str, float]
    results: list[RoundResult] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        """Headline figures (JSON-friendly)."""
        r = self.rounds

        def tot(key: str) -> float:
            return float(sum(x[key] for x in r))

        extra = self.prices / self.exogenous - 1.0 if self.prices.size else np.zeros((0, 0))
        n = int(self.liquidated.shape[0])
        return {
            "regime": self.regime,
            "rounds": len(r),
            "converged": self.converged,
            "accounts": n,
            "accounts_liquidated": int(self.liquidated.sum()),
            "share_liquidated": float(self.liquidated.mean()) if n else 0.0,
            "accounts_bankrupt": int(self.bankrupt.sum()),
            "liquidation_events": int(tot("accounts_liquidated")),
            "notional_liquidated": tot("notional_market") + tot("notional_adl"),
            "notional_to_market": tot("notional_market"),
            "notional_adl": tot("notional_adl"),
            "bad_debt": tot("bad_debt"),
            "insurance_fund": {
                "start": self.fund_start,
                "end": self.fund_end,
                "min": float(min([self.fund_start, *(x["insurance_fund"] for x in r)])),
                "fees_in": tot("fees_to_fund"),
                "paid_out": tot("insurance_paid"),
            },
            "socialized_loss": tot("socialized"),
            "adl_transfer": tot("adl_transfer"),
            "uncovered_bad_debt": tot("uncovered"),
            "slippage_paid": tot("slippage"),
            "fee_income": tot("fees_to_venue"),
            "extra_move_final": {s: float(extra[-1, j]) for j, s in enumerate(self.symbols)}
            if extra.size
            else {},
            "extra_move_max": {
                s: float(extra[np.argmax(np.abs(extra[:, j])), j])
                for j, s in enumerate(self.symbols)
            }
            if extra.size
            else {},
            "initial": self.initial,
            "conservation_error": self.conservation_error,
        }


@dataclass(eq=False)
class CascadeResult:
    """The same venue and shock under several regimes."""

    venue: Venue
    shock: ShockPath
    settings: dict[str, Any]
    runs: dict[str, RegimeRun]


def _fund_start(
    venue: Venue, snapshot: MarketSnapshot, config: RiskConfig, override: float | None
) -> float:
    liq = config.liquidation
    if override is not None:
        return float(override)
    if liq.insurance_fund is not None:
        return float(liq.insurance_fund)
    rb = resolve(venue.book, snapshot, config)
    mv = float(np.maximum(rb.collateral.market_value, 0.0).sum())
    return liq.insurance_fund_share * mv


def run_regime(
    venue: Venue,
    snapshot: MarketSnapshot,
    config: RiskConfig,
    shock: ShockPath,
    regime: str,
    *,
    settings: CascadeSettings = CascadeSettings(),
    fund_start: float | None = None,
    progress: Progress | None = None,
) -> RegimeRun:
    """Run the cascade of ``venue`` under one regime (module docstring)."""
    model_info(regime)
    liq = config.liquidation
    if settings.last_resort is not None:
        liq = liq.model_copy(update={"last_resort": settings.last_resort})
        config = config.model_copy(update={"liquidation": liq})
    policy = settings.policy or liq.policy
    rho = liq.cascade.depth_recovery
    rounds_max = max(settings.max_rounds or liq.cascade.max_rounds, shock.steps)
    state = VenueState.from_resolved(
        resolve(venue.book_for(regime, settings.collateral_mode), snapshot, config)
    )
    rb0 = resolve(state.to_book(), snapshot, config)
    base = snapshot.base_currency
    symbols = tuple(sorted(s for s in snapshot.assets if s != base))
    held = tuple(s for s in symbols if s in rb0.instruments.underlyings)
    p0 = np.asarray([snapshot.price(s) for s in symbols])
    _, k, adv, sd = liquidity_arrays(config, snapshot, rb0.instruments, symbols)
    if rb0.positions.n:  # held underlyings: the liquidity add-on's σ_d, as for close-outs
        sd_und = underlying_daily_vols(rb0)
        for u, sym in enumerate(rb0.instruments.underlyings):
            sd[symbols.index(sym)] = sd_und[u]
    sd = np.nan_to_num(sd)
    D = np.zeros(len(symbols))
    fund = InsuranceFund(
        _fund_start(venue, snapshot, config, None) if fund_start is None else fund_start
    )
    f0 = fund.balance
    ledger = Ledger()
    liquidated = np.zeros(state.n_accounts, np.bool_)
    bankrupt = np.zeros(state.n_accounts, np.bool_)
    rounds: list[dict[str, Any]] = []
    results: list[RoundResult] = []
    prices: list[FloatArray] = []
    exo: list[FloatArray] = []
    converged = False
    worst = 0.0
    star = risky_assets(snapshot, held)
    res0 = margin_resolved(rb0, model=regime)
    iso = isolated_allocation(rb0, res0)
    if iso is not None:
        # isolated positions keep the margin allocated to them at the start (in the snapshot
        # currency) from round to round
        state.pos_margin = np.where(iso[0] > 0, iso[0], np.nan)
    initial = {
        "collateral_value": float(res0.collateral_market_value.sum()),
        "equity": float(res0.equity.sum()),
        "initial_margin": float(res0.initial_margin.sum()),
        "maintenance_margin": float(res0.maintenance_margin.sum()),
        "gross_notional": float(rb0.positions.notional.sum()),
        "accounts_unhealthy": int((res0.status_code >= 1).sum()),
    }
    for r in range(rounds_max):
        xs, xv = shock.factors(r, symbols, star=star)
        exo_f = np.asarray([xs[s] for s in symbols])
        fac = exo_f * np.exp(D)
        snap_r = shift_snapshot(
            snapshot,
            {s: float(fac[j]) for j, s in enumerate(symbols)},
            {s: xv[s] for s in symbols},
        )
        rb = resolve(state.to_book(), snap_r, config)
        res = margin_resolved(rb, model=regime)
        trig = liquidatable(rb, res, state.pos_margin)
        stats: dict[str, Any] = {
            "round": r,
            "step": shock.labels[min(r, shock.steps - 1)],
            "accounts_liquidatable": int(trig.sum()),
            "accounts_bankrupt_status": int((res.status_code == 3).sum()),
            "prices": {s: float(p0[j] * fac[j]) for j, s in enumerate(symbols) if s in held},
            "exogenous": {s: float(p0[j] * exo_f[j]) for j, s in enumerate(symbols) if s in held},
        }
        prices.append(p0 * fac)
        exo.append(p0 * exo_f)
        if not trig.any() and r >= shock.steps - 1:
            stats.update(_empty_round(fund.balance))
            rounds.append(stats)
            converged = True
            if progress is not None:
                progress(regime, r + 1, rounds_max, 0)
            break
        before = state.value(rb)
        f_before = fund.balance
        out = liquidate_round(state, rb, res, fund=fund, ledger=ledger, round_no=r, policy=policy)
        results.append(out)
        after = state.value(rb)
        pots = (
            (fund.balance - f_before)
            + out.fees_to_venue
            + float(out.row_slippage.sum() + out.sale_cost.sum())
            + (float(out.unit_fund_paid.sum() + out.socialized.sum()) - out.bad_debt)
            + (float(out.adl_pay.sum()) - out.adl_transfer_in)
        )
        scale = max(1.0, float(np.abs(res.account_value).sum()), f_before)
        worst = max(worst, abs(after + pots - before) / scale)
        new = trig & ~liquidated
        liquidated |= trig
        bankrupt[out.units.account[out.bankrupt_units]] = True
        # price impact of the round's market flow
        dD = np.zeros(len(symbols))
        for s, F in out.flow.items():
            if s in symbols:
                j = symbols.index(s)
                dD[j] = np.sign(F) * k[j] * sd[j] * np.sqrt(abs(F) / adv[j])
        D = (1.0 - rho) * D + dD
        stats.update(
            {
                "accounts_liquidated": out.n_liquidated,
                "new_accounts_liquidated": int(new.sum()),
                "positions_closed": int(
                    np.count_nonzero(out.row_market) + np.count_nonzero(out.row_adl)
                ),
                "notional_market": out.notional_market,
                "notional_adl": float(out.adl_notional.sum()),
                "adl_transfer": out.adl_transfer_in,
                "bad_debt": out.bad_debt,
                "insurance_paid": float(out.unit_fund_paid.sum()),
                "fees_to_fund": out.fees_to_fund,
                "fees_to_venue": out.fees_to_venue,
                "socialized": float(out.socialized.sum()),
                "uncovered": out.uncovered,
                "slippage": float(out.row_slippage.sum() + out.sale_cost.sum()),
                "insurance_fund": fund.balance,
                "flow": {s: float(v) for s, v in out.flow.items()},
                "impact": {s: float(dD[j]) for j, s in enumerate(symbols) if dD[j] != 0},
            }
        )
        rounds.append(stats)
        if progress is not None:
            progress(regime, r + 1, rounds_max, out.n_liquidated)
    return RegimeRun(
        regime=regime,
        rounds=rounds,
        ledger=ledger,
        state=state,
        liquidated=liquidated,
        bankrupt=bankrupt,
        symbols=held,
        initial_prices=p0[[symbols.index(s) for s in held]],
        prices=np.asarray([p[[symbols.index(s) for s in held]] for p in prices]),
        exogenous=np.asarray([p[[symbols.index(s) for s in held]] for p in exo]),
        fund_start=f0,
        fund_end=fund.balance,
        converged=converged,
        conservation_error=worst,
        initial=initial,
        results=results,
    )


def _empty_round(fund: float) -> dict[str, Any]:
    return {
        "accounts_liquidated": 0,
        "new_accounts_liquidated": 0,
        "positions_closed": 0,
        "notional_market": 0.0,
        "notional_adl": 0.0,
        "adl_transfer": 0.0,
        "bad_debt": 0.0,
        "insurance_paid": 0.0,
        "fees_to_fund": 0.0,
        "fees_to_venue": 0.0,
        "socialized": 0.0,
        "uncovered": 0.0,
        "slippage": 0.0,
        "insurance_fund": fund,
        "flow": {},
        "impact": {},
    }


def run_cascade(
    venue: Venue,
    snapshot: MarketSnapshot,
    config: RiskConfig,
    shock: ShockPath,
    *,
    settings: CascadeSettings = CascadeSettings(),
    progress: Progress | None = None,
) -> CascadeResult:
    """Run the same venue and shock under every regime of ``settings`` (module docstring).

    Raises
    ------
    InputError, ModelError, MarketDataError
        Unknown regime or policy, or market data the venue needs is missing.
    """
    if not settings.regimes:
        raise InputError("no regimes to run", path="regimes")
    for reg in settings.regimes:
        model_info(reg)
    if settings.policy not in (None, "full", "partial"):
        raise InputError(f"unknown policy {settings.policy!r}; use full or partial", path="policy")
    f0 = _fund_start(venue, snapshot, config, settings.insurance_fund)
    runs = {
        reg: run_regime(
            venue, snapshot, config, shock, reg, settings=settings, fund_start=f0, progress=progress
        )
        for reg in settings.regimes
    }
    liq = config.liquidation
    return CascadeResult(
        venue=venue,
        shock=shock,
        settings={
            "regimes": list(settings.regimes),
            "policy": settings.policy or liq.policy,
            "max_rounds": max(settings.max_rounds or liq.cascade.max_rounds, shock.steps),
            "depth_recovery": liq.cascade.depth_recovery,
            "insurance_fund": f0,
            "last_resort": settings.last_resort or liq.last_resort,
            "collateral_mode": settings.collateral_mode if venue.scale else "as given",
            "collateral_assumption": _assumption(settings.collateral_mode, bool(venue.scale)),
            "fee_rate": liq.fee_rate,
            "buffer": liq.buffer.model_dump(),
        },
        runs=runs,
    )


def _assumption(mode: str, synthetic: bool) -> str:
    """The collateral assumption of the regime comparison, in words (stated in every output)."""
    if not synthetic:
        return "every regime starts from the collateral as given in the venue file (the same)"
    if mode == "fixed":
        return (
            "every regime starts from the same deposited collateral per account (the largest "
            "initial margin over the regimes / the account's utilisation)"
        )
    return (
        "each regime gets its own collateral (sized on its own initial margin): accounts lever "
        "up to what their regime allows, so collateral differs between regimes"
    )
