"""Auto-liquidation of live accounts: the liquidation engine run on a sub-venue, applied back.

When accounts fall below maintenance (status ``liquidation`` or ``bankrupt``) and the engine's
``auto_liquidate`` is ``partial`` or ``full``, :func:`liquidate` runs one round of
:func:`crossmargin.liquidation.liquidate_round` — the same plan, close-out prices, fees,
collateral sales, insurance fund and ADL / socialised-loss waterfall as ``crossmargin
liquidate`` — at the live marks, on a **sub-venue**: the triggered accounts plus the accounts
the waterfall may draw on (with ``last_resort: adl`` every holder of a contract a triggered
account holds; with a socialised loss every account). The round's result is then written back
to the live book: quantities (partial closes keep their average entry), balances (cash,
collateral sold), the insurance fund and the venue's pots (fee income, the market's slippage,
uncovered bad debt, the ADL clearing pot, which nets to zero).

Money is conserved: the accounts' value (balances at the snapshot prices plus mark-to-market)
plus the fund and the pots is the same before and after, to rounding (the ledger records every
transfer; tests check it to the cent over random streams).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from crossmargin._typing import IntArray
from crossmargin.liquidation.engine import InsuranceFund, RoundResult, liquidate_round
from crossmargin.liquidation.ledger import EVENT_KINDS, PARTY_NAMES, Ledger
from crossmargin.liquidation.state import VenueState
from crossmargin.live.kernel import AccountKernel, gather, resolve_sub
from crossmargin.live.state import LiveBook
from crossmargin.market.snapshot import MarketSnapshot
from crossmargin.resolve.instruments import InstrumentTable

__all__ = ["LiquidationOutcome", "liquidate", "venue_value"]

#: Venue pots kept by the engine (the ledger's parties other than accounts and the fund).
POTS = ("fee_income", "market", "bad_debt", "adl_clearing")


@dataclass(frozen=True, slots=True, eq=False)
class LiquidationOutcome:
    """What one auto-liquidation round did.

    Attributes
    ----------
    accounts
        Global index of every account whose positions or balances changed.
    triggered
        Global index of the liquidated accounts.
    result
        The round's arrays (:class:`~crossmargin.liquidation.engine.RoundResult`, local
        account numbers of the sub-venue).
    ledger
        Every transfer (rows with local account numbers; ``names`` maps them).
    names
        Account name of each local account number of the sub-venue.
    pots
        Net flow into each venue pot this round.
    """

    accounts: IntArray
    triggered: IntArray
    accounts_sub: IntArray
    result: RoundResult
    ledger: Ledger
    names: tuple[str, ...]
    pots: Mapping[str, float]
    instruments: tuple[str, ...]
    assets: tuple[str, ...]
    value_before: float
    value_after: float
    fund_before: float
    fund_after: float
    live_value_after: float

    @property
    def conservation_error(self) -> float:
        """(accounts + fund + pots) after − before, at the round's prices (0 to rounding)."""
        return total_value(self.value_after, self.fund_after, self.pots) - (
            self.value_before + self.fund_before
        )

    def summary(self) -> dict[str, object]:
        """JSON-able record of the round (counts, money by party, conservation)."""
        return {
            "liquidated": [
                self.names[i] for i in np.searchsorted(self.accounts_sub, self.triggered)
            ],
            "close_outs": int(np.count_nonzero(self.result.row_market)),
            "adl_fills": int(self.result.adl_quantity.size),
            "collateral_sales": int(self.result.sale_amount.size),
            "bad_debt": self.result.bad_debt,
            "value_before": self.value_before,
            "value_after": self.value_after,
            "insurance_fund_before": self.fund_before,
            "insurance_fund_after": self.fund_after,
            "pots": dict(self.pots),
            "conservation_error": self.conservation_error,
        }

    def rows(self) -> list[dict[str, object]]:
        """The ledger as one plain dictionary per transfer (names instead of indices)."""
        cols = self.ledger.columns()
        if not cols or cols["amount"].size == 0:
            return []
        out: list[dict[str, object]] = []

        def party(x: int) -> str:
            return self.names[x] if x >= 0 else PARTY_NAMES.get(x, "")

        for j in range(int(cols["amount"].shape[0])):
            ins = int(cols["instrument"][j])
            ast = int(cols["asset"][j])
            acc = int(cols["account"][j])
            row: dict[str, object] = {
                "action": EVENT_KINDS[int(cols["kind"][j])],
                "account": self.names[acc] if acc >= 0 else None,
                "payer": party(int(cols["payer"][j])),
                "payee": party(int(cols["payee"][j])),
                "amount": float(cols["amount"][j]),
            }
            if ins >= 0:
                row["instrument"] = self.instruments[ins]
            if ast >= 0:
                row["asset"] = self.assets[ast]
            q = float(cols["quantity"][j])
            if q == q and q != 0.0:
                row["quantity"] = q
                row["price"] = float(cols["price"][j])
            out.append(row)
        return out


def sub_venue(book: LiveBook, triggered: IntArray, last_resort: str) -> IntArray:
    """The accounts a liquidation of ``triggered`` may touch (module docstring)."""
    if last_resort in ("socialize_profitable", "socialize_all"):
        return np.arange(book.n_accounts, dtype=np.int64)
    if last_resort != "adl":
        return np.unique(triggered)
    rows = book.rows_of_accounts(np.unique(triggered))
    held = np.unique(book.pos["instrument"][rows])
    p = book.pos
    mask = p["alive"] & np.isin(p["instrument"], held)
    return np.unique(np.concatenate([triggered, p["account"][mask]])).astype(np.int64)


def venue_value(
    book: LiveBook, inst: InstrumentTable, snapshot: MarketSnapshot, accounts: IntArray
) -> float:
    """Σ over ``accounts`` of balances at the snapshot prices plus mark-to-market."""
    sub = gather(book, accounts)
    rb = resolve_sub(book, sub, inst, snapshot)
    state = VenueState.from_resolved(rb)
    return state.value(rb)


def liquidate(
    book: LiveBook,
    kernel: AccountKernel,
    inst: InstrumentTable,
    snapshot: MarketSnapshot,
    triggered: IntArray,
    *,
    policy: str,
    fund: InsuranceFund,
) -> LiquidationOutcome:
    """Liquidate ``triggered`` (global indices) for one round and apply it (module docstring).

    Raises
    ------
    MarketDataError, LiquidationError
        No close-out price (e.g. a contract without a vol for the impact model).
    """
    cfg = book.config
    accounts = sub_venue(book, triggered, cfg.liquidation.last_resort)
    sub = gather(book, accounts)
    rb = resolve_sub(book, sub, inst, snapshot)
    res = kernel.run(rb)
    state = VenueState.from_resolved(rb)
    local = np.searchsorted(accounts, triggered)
    ledger = Ledger()
    value_before = state.value(rb)
    fund_before = fund.balance
    out = liquidate_round(
        state, rb, res, fund=fund, ledger=ledger, policy=policy, accounts=local.astype(np.int64)
    )
    value_after = state.value(rb)
    # -- write back: positions --------------------------------------------------------------
    n_ins = max(book.n_contracts, 1)
    live_rows = sub.hold.first_row
    key_before = sub.hold.account * n_ins + sub.hold.instrument
    key_after = state.pos_account * n_ins + state.pos_instrument
    q_after = dict(zip(key_after.tolist(), state.pos_quantity.tolist(), strict=True))
    q_new = np.asarray([q_after.get(k, 0.0) for k in key_before.tolist()], dtype=np.float64)
    q_old = sub.hold.quantity
    changed = q_new != q_old
    if changed.any():
        r = live_rows[changed]
        ratio = q_new[changed] / q_old[changed]
        p = book.pos
        book.update_rows(r, q_new[changed], p["cost_known"][r] * ratio, p["qty_unknown"][r] * ratio)
    # -- balances -----------------------------------------------------------------------------
    cols = np.asarray([book.asset_col(a) for a in state.assets], dtype=np.int64)
    bal = book.balance_view()
    before = bal[accounts][:, cols]
    bal_changed = (state.balances != before).any(axis=1)
    bal[np.ix_(accounts, cols)] = state.balances
    touched = accounts[changed_accounts(sub.hold.account[changed], accounts.size) | bal_changed]
    _, pots = ledger.net_flows(state.n_accounts)
    return LiquidationOutcome(
        accounts=np.union1d(touched, triggered).astype(np.int64),
        triggered=triggered,
        accounts_sub=accounts,
        result=out,
        ledger=ledger,
        names=tuple(book.accounts[a] for a in accounts.tolist()),
        pots={k: float(pots.get(k, 0.0)) for k in POTS},
        instruments=tuple(book.terms.names),
        assets=tuple(state.assets),
        value_before=value_before,
        value_after=value_after,
        fund_before=fund_before,
        fund_after=fund.balance,
        live_value_after=venue_value(book, inst, snapshot, accounts),
    )


def changed_accounts(local: IntArray, n: int) -> np.ndarray:
    """Mask of the local accounts in ``local``."""
    m = np.zeros(n, np.bool_)
    m[local] = True
    return m


def total_value(value: float, fund: float, pots: Mapping[str, float]) -> float:
    """Accounts' value plus the fund plus the pots (the conserved total)."""
    return value + fund + sum(pots.get(k, 0.0) for k in POTS)
