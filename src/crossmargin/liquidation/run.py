"""Liquidate a book at fixed prices: the library behind ``crossmargin liquidate``."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from crossmargin.account.health import AccountResults
from crossmargin.config.model import RiskConfig
from crossmargin.engine import margin_resolved
from crossmargin.errors import InputError
from crossmargin.instruments.book import Book
from crossmargin.liquidation.engine import InsuranceFund, RoundResult, liquidate_round
from crossmargin.liquidation.ledger import Ledger
from crossmargin.liquidation.state import VenueState
from crossmargin.margin.base import model_info
from crossmargin.market.snapshot import MarketSnapshot
from crossmargin.resolve.book import resolve
from crossmargin.resolve.terms import contract_terms

__all__ = ["LiquidationRun", "liquidate_book"]


@dataclass(frozen=True, slots=True, eq=False)
class LiquidationRun:
    """A book before and after one liquidation pass, with the plan and the ledger."""

    model: str
    policy: str
    before: AccountResults
    after: AccountResults
    result: RoundResult
    ledger: Ledger
    state: VenueState
    fund_before: float
    fund_after: float
    value_before: float
    value_after: float

    @property
    def conservation(self) -> dict[str, float]:
        """Money before and after, by party (snapshot currency)."""
        _, pots = self.ledger.net_flows(self.state.n_accounts)
        total_before = self.value_before + self.fund_before
        total_after = (
            self.value_after
            + self.fund_after
            + pots["fee_income"]
            + pots["market"]
            + pots["bad_debt"]
            + pots["adl_clearing"]
        )
        return {
            "accounts_before": self.value_before,
            "accounts_after": self.value_after,
            "insurance_fund_before": self.fund_before,
            "insurance_fund_after": self.fund_after,
            "fee_income": pots["fee_income"],
            "market": pots["market"],
            "bad_debt": pots["bad_debt"],
            "adl_clearing": pots["adl_clearing"],
            "error": total_after - total_before,
        }


def liquidate_book(
    book: Book,
    snapshot: MarketSnapshot,
    config: RiskConfig,
    *,
    model: str = "portfolio",
    policy: str | None = None,
    insurance_fund: float | None = None,
    accounts: list[int] | None = None,
) -> LiquidationRun:
    """Liquidate every account of ``book`` that is in liquidation, at the snapshot's prices.

    Parameters
    ----------
    book, snapshot, config
        The accounts, the market and the risk configuration (``config.liquidation``).
    model
        Margin regime deciding who is liquidated and the targets.
    policy
        ``full`` or ``partial`` (default ``config.liquidation.policy``).
    insurance_fund
        Opening fund balance (default ``liquidation.insurance_fund``, else
        ``insurance_fund_share`` × the book's collateral market value).
    accounts
        Liquidate only these account indices.

    Raises
    ------
    InputError, MarketDataError, ModelError
        Bad policy, missing market data, unknown model.
    """
    model_info(model)
    liq = config.liquidation
    policy = policy or liq.policy
    if policy not in ("full", "partial"):
        raise InputError(f"unknown policy {policy!r}; use full or partial", path="policy")
    rb = resolve(book, snapshot, config)
    before = margin_resolved(rb, model=model)
    if insurance_fund is None:
        if liq.insurance_fund is not None:
            insurance_fund = liq.insurance_fund
        else:
            insurance_fund = liq.insurance_fund_share * float(
                np.maximum(rb.collateral.market_value, 0.0).sum()
            )
    state = VenueState.from_resolved(rb)
    terms = contract_terms(state.contracts, config)
    rb_s = state.bind(terms, snapshot, config)
    res_s = margin_resolved(rb_s, model=model)
    value_before = state.value(rb_s)
    fund = InsuranceFund(float(insurance_fund))
    ledger = Ledger()
    out = liquidate_round(
        state,
        rb_s,
        res_s,
        fund=fund,
        ledger=ledger,
        policy=policy,
        accounts=None if accounts is None else np.asarray(accounts, np.int64),
    )
    value_after = state.value(rb_s)
    rb_a = state.bind(terms, snapshot, config)
    after = margin_resolved(rb_a, model=model)
    return LiquidationRun(
        model=model,
        policy=policy,
        before=before,
        after=after,
        result=out,
        ledger=ledger,
        state=state,
        fund_before=float(insurance_fund),
        fund_after=fund.balance,
        value_before=value_before,
        value_after=value_after,
    )
