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
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np

from crossmargin._typing import BoolArray, FloatArray
from crossmargin.account.health import AccountResults
from crossmargin.config.model import RiskConfig
from crossmargin.engine import margin_resolved
from crossmargin.errors import InputError
from crossmargin.liquidation.closeout import liquidity_arrays
from crossmargin.liquidation.engine import InsuranceFund, RoundResult, liquidate_round
from crossmargin.liquidation.ledger import Ledger
from crossmargin.liquidation.shocks import ShockPath, risky_assets
from crossmargin.liquidation.state import VenueState
from crossmargin.liquidation.synthetic import CollateralMode, Venue
from crossmargin.liquidation.units import isolated_allocation, liquidatable
from crossmargin.margin.base import model_info
from crossmargin.market.snapshot import MarketSnapshot
from crossmargin.resolve.book import ResolvedBook, resolve
from crossmargin.resolve.terms import contract_terms

__all__ = [
    "REGIMES",
    "CascadeResult",
    "CascadeSettings",
    "RegimeRun",
    "RoundStats",
    "run_cascade",
    "run_regime",
]

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


@dataclass(frozen=True, slots=True)
class RoundStats:
    """What one cascade round saw and did (one row of ``per_round``).

    Amounts are in the snapshot currency; ``collateral_value``, ``initial_margin`` and
    ``maintenance_margin`` are the venue's totals at the round's prices before it liquidates.
    """

    round: int
    step: str
    accounts_liquidatable: int
    accounts_bankrupt_status: int
    prices: dict[str, float]
    exogenous: dict[str, float]
    insurance_fund: float
    collateral_value: float
    initial_margin: float
    maintenance_margin: float
    accounts_liquidated: int = 0
    new_accounts_liquidated: int = 0
    positions_closed: int = 0
    notional_market: float = 0.0
    notional_adl: float = 0.0
    adl_transfer: float = 0.0
    bad_debt: float = 0.0
    insurance_paid: float = 0.0
    fees_to_fund: float = 0.0
    fees_to_venue: float = 0.0
    socialized: float = 0.0
    uncovered: float = 0.0
    slippage: float = 0.0
    flow: dict[str, float] = field(default_factory=dict)
    impact: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        return asdict(self)


#: Per-round amounts that add up over a run (:meth:`RegimeRun.total`).
TOTALS = (
    "accounts_liquidated",
    "notional_market",
    "notional_adl",
    "adl_transfer",
    "bad_debt",
    "insurance_paid",
    "fees_to_fund",
    "fees_to_venue",
    "socialized",
    "uncovered",
    "slippage",
)


@dataclass(eq=False)
class RegimeRun:
    """One regime's cascade: per-round statistics, the ledger and the final state."""

    regime: str
    rounds: list[RoundStats]
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

    def total(self, name: str) -> float:
        """Sum of a per-round amount over the run (one of :data:`TOTALS`)."""
        return float(sum(getattr(x, name) for x in self.rounds))

    def summary(self) -> dict[str, Any]:
        """Headline figures (JSON-friendly)."""
        tot = self.total
        extra = self.prices / self.exogenous - 1.0 if self.prices.size else np.zeros((0, 0))
        n = int(self.liquidated.shape[0])
        return {
            "regime": self.regime,
            "rounds": len(self.rounds),
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
                "min": float(min([self.fund_start, *(x.insurance_fund for x in self.rounds)])),
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


@dataclass(frozen=True, slots=True, eq=False)
class CascadeResult:
    """The same venue and shock under several regimes."""

    venue: Venue
    shock: ShockPath
    settings: dict[str, Any]
    runs: dict[str, RegimeRun]


class _Prices:
    """The cascade's market: exogenous path × liquidation displacement, and its impact model."""

    def __init__(
        self, snapshot: MarketSnapshot, config: RiskConfig, rb0: ResolvedBook, shock: ShockPath
    ) -> None:
        self.snapshot, self.shock = snapshot, shock
        base = snapshot.base_currency
        self.symbols = tuple(sorted(s for s in snapshot.assets if s != base))
        self.held = tuple(s for s in self.symbols if s in rb0.instruments.underlyings)
        self.star = risky_assets(snapshot, self.held)
        shock.check_vols(snapshot, self.symbols, star=self.star)
        self.p0 = np.asarray([snapshot.price(s) for s in self.symbols])
        # σ_d of every symbol by the one volatility policy (as the close-out prices)
        _, self.k, self.adv, sd = liquidity_arrays(config, snapshot, rb0.instruments, self.symbols)
        self.sd = np.nan_to_num(sd)
        self.D = np.zeros(len(self.symbols))
        self.exo: list[FloatArray] = []
        self.actual: list[FloatArray] = []

    def snapshot_at(self, r: int) -> MarketSnapshot:
        """Round ``r``'s snapshot: the shock step times the displacement, everything else kept."""
        xs, xv = self.shock.factors(r, self.symbols, star=self.star)
        exo_f = np.asarray([xs[s] for s in self.symbols])
        fac = exo_f * np.exp(self.D)
        self.exo.append(self.p0 * exo_f)
        self.actual.append(self.p0 * fac)
        return self.snapshot.shifted(
            spot={s: float(fac[j]) for j, s in enumerate(self.symbols)},
            vol={s: xv[s] for s in self.symbols},
        )

    def held_prices(self, path: list[FloatArray]) -> dict[str, float]:
        """The last prices of ``path`` of the held underlyings."""
        return {s: float(path[-1][j]) for j, s in enumerate(self.symbols) if s in self.held}

    def absorb(self, flow: dict[str, float], rho: float) -> dict[str, float]:
        """Move prices by the round's market flow (square-root impact); the impact per symbol."""
        dD = np.zeros(len(self.symbols))
        for s, F in flow.items():
            if s in self.symbols:
                j = self.symbols.index(s)
                dD[j] = np.sign(F) * self.k[j] * self.sd[j] * np.sqrt(abs(F) / self.adv[j])
        self.D = (1.0 - rho) * self.D + dD
        return {s: float(dD[j]) for j, s in enumerate(self.symbols) if dD[j] != 0}

    def held_path(self, path: list[FloatArray]) -> FloatArray:
        """``(rounds, held)`` prices of the held underlyings."""
        cols = [self.symbols.index(s) for s in self.held]
        return np.asarray([p[cols] for p in path])


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


def _initial(rb0: ResolvedBook, res0: AccountResults) -> dict[str, float]:
    return {
        "collateral_value": float(res0.collateral_market_value.sum()),
        "equity": float(res0.equity.sum()),
        "initial_margin": float(res0.initial_margin.sum()),
        "maintenance_margin": float(res0.maintenance_margin.sum()),
        "gross_notional": float(rb0.positions.notional.sum()),
        "accounts_unhealthy": int((res0.status_code >= 1).sum()),
    }


def _conservation_error(
    before: float, after: float, f_before: float, fund: float, out: RoundResult, scale: float
) -> float:
    """Relative change of the money of accounts + fund + every pot across one round."""
    pots = (
        (fund - f_before)
        + out.fees_to_venue
        + out.slippage
        + (out.insurance_paid + out.socialized_total - out.bad_debt)
        + (float(out.adl_pay.sum()) - out.adl_transfer_in)
    )
    return abs(after + pots - before) / max(1.0, scale, f_before)


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
    if settings.last_resort is not None:
        liq = config.liquidation.model_copy(update={"last_resort": settings.last_resort})
        config = config.model_copy(update={"liquidation": liq})
    liq = config.liquidation
    policy = settings.policy or liq.policy
    rounds_max = max(settings.max_rounds or liq.cascade.max_rounds, shock.steps)
    # the venue's contracts are resolved once; every round re-marks them and the state
    state = VenueState.from_resolved(
        resolve(venue.book_for(regime, settings.collateral_mode), snapshot, config)
    )
    terms = contract_terms(state.contracts, config)
    rb0 = state.bind(terms, snapshot, config)
    market = _Prices(snapshot, config, rb0, shock)
    fund = InsuranceFund(
        _fund_start(venue, snapshot, config, None) if fund_start is None else fund_start
    )
    f0 = fund.balance
    ledger = Ledger()
    liquidated = np.zeros(state.n_accounts, np.bool_)
    bankrupt = np.zeros(state.n_accounts, np.bool_)
    rounds: list[RoundStats] = []
    results: list[RoundResult] = []
    converged = False
    worst = 0.0
    res0 = margin_resolved(rb0, model=regime)
    iso = isolated_allocation(rb0, res0)
    if iso is not None:
        # isolated positions keep the margin allocated to them at the start (in the snapshot
        # currency) from round to round
        state.pos_margin = np.where(iso[0] > 0, iso[0], np.nan)
    for r in range(rounds_max):
        rb = state.bind(terms, market.snapshot_at(r), config)
        res = margin_resolved(rb, model=regime)
        trig = liquidatable(rb, res, state.pos_margin)
        seen = RoundStats(
            round=r,
            step=shock.labels[min(r, shock.steps - 1)],
            accounts_liquidatable=int(trig.sum()),
            accounts_bankrupt_status=int((res.status_code == 3).sum()),
            prices=market.held_prices(market.actual),
            exogenous=market.held_prices(market.exo),
            insurance_fund=fund.balance,
            collateral_value=float(res.collateral_value.sum()),
            initial_margin=float(res.initial_margin.sum()),
            maintenance_margin=float(res.maintenance_margin.sum()),
        )
        if not trig.any() and r >= shock.steps - 1:
            rounds.append(seen)
            converged = True
            if progress is not None:
                progress(regime, r + 1, rounds_max, 0)
            break
        before, f_before = state.value(rb), fund.balance
        out = liquidate_round(state, rb, res, fund=fund, ledger=ledger, round_no=r, policy=policy)
        results.append(out)
        scale = float(np.abs(res.account_value).sum())
        worst = max(
            worst, _conservation_error(before, state.value(rb), f_before, fund.balance, out, scale)
        )
        new = trig & ~liquidated
        liquidated |= trig
        bankrupt[out.units.account[out.bankrupt_units]] = True
        rounds.append(
            replace(
                seen,
                insurance_fund=fund.balance,
                accounts_liquidated=out.n_liquidated,
                new_accounts_liquidated=int(new.sum()),
                positions_closed=int(
                    np.count_nonzero(out.row_market) + np.count_nonzero(out.row_adl)
                ),
                notional_market=out.notional_market,
                notional_adl=out.notional_adl,
                adl_transfer=out.adl_transfer_in,
                bad_debt=out.bad_debt,
                insurance_paid=out.insurance_paid,
                fees_to_fund=out.fees_to_fund,
                fees_to_venue=out.fees_to_venue,
                socialized=out.socialized_total,
                uncovered=out.uncovered,
                slippage=out.slippage,
                flow={s: float(v) for s, v in out.flow.items()},
                impact=market.absorb(out.flow, liq.cascade.depth_recovery),
            )
        )
        if progress is not None:
            progress(regime, r + 1, rounds_max, out.n_liquidated)
    held = [market.symbols.index(s) for s in market.held]
    return RegimeRun(
        regime=regime,
        rounds=rounds,
        ledger=ledger,
        state=state,
        liquidated=liquidated,
        bankrupt=bankrupt,
        symbols=market.held,
        initial_prices=market.p0[held],
        prices=market.held_path(market.actual),
        exogenous=market.held_path(market.exo),
        fund_start=f0,
        fund_end=fund.balance,
        converged=converged,
        conservation_error=worst,
        initial=_initial(rb0, res0),
        results=results,
    )


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
