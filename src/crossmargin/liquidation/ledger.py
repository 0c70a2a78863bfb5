"""The event ledger: every transfer a liquidation makes, who paid whom, and why.

Each row is one money transfer ``amount ≥ 0`` (snapshot currency) from ``payer`` to ``payee``
plus what it is about (account, counterparty, contract or collateral asset, quantity, price).
Parties are account indices (≥ 0) or one of the venue's own pots:

============  ==============================================================================
``market``    outside liquidity: receives the slippage/impact of close-outs and asset sales
``insurance`` the insurance fund
``fees``      venue fee income (the share of liquidation fees not paid to the fund)
``bad_debt``  the write-off pot: pays a bankrupt account's deficit, is refilled by the fund
              and socialised losses; a negative balance is uncovered bad debt
``adl``       ADL clearing: collects from deleveraged accounts what it pays the bankrupt
              ones in the same round (nets to zero)
============  ==============================================================================

Money is conserved because every row moves an amount from one party to another; the
:meth:`Ledger.net_flows` of the parties sum to zero, and the tests check that the parties'
balances re-computed from scratch agree with them (docs/methodology.md, "Conservation").
The ledger is columnar (arrays appended per step), so a 100 000-account cascade costs no
Python objects per event.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from crossmargin._typing import FloatArray, IntArray

__all__ = [
    "ADL_POOL",
    "BAD_DEBT",
    "EVENT_KINDS",
    "FEES",
    "INSURANCE",
    "MARKET",
    "NONE",
    "PARTY_NAMES",
    "Ledger",
]

MARKET = -1
INSURANCE = -2
FEES = -3
BAD_DEBT = -4
ADL_POOL = -5
NONE = -9
PARTY_NAMES = {
    MARKET: "market",
    INSURANCE: "insurance_fund",
    FEES: "fee_income",
    BAD_DEBT: "bad_debt",
    ADL_POOL: "adl_clearing",
}

#: Event kinds, in the order they happen within a round.
EVENT_KINDS = (
    "close",
    "liquidation_fee",
    "collateral_sale",
    "adl",
    "write_off",
    "insurance_payout",
    "socialized_loss",
)

_INT_COLS = ("round", "kind", "payer", "payee", "account", "counterparty", "instrument", "asset")
_FLOAT_COLS = ("amount", "quantity", "price", "notional")


@dataclass(eq=False)
class Ledger:
    """Columnar log of liquidation events (append-only)."""

    _chunks: list[dict[str, np.ndarray]] = field(default_factory=list)

    def record(
        self,
        kind: str,
        *,
        round_no: int,
        payer: IntArray | int,
        payee: IntArray | int,
        amount: FloatArray,
        account: IntArray | int = NONE,
        counterparty: IntArray | int = NONE,
        instrument: IntArray | int = NONE,
        asset: IntArray | int = NONE,
        quantity: FloatArray | float = np.nan,
        price: FloatArray | float = np.nan,
        notional: FloatArray | float = np.nan,
    ) -> None:
        """Append one row per element of ``amount`` (scalars broadcast)."""
        amount = np.asarray(amount, dtype=np.float64).ravel()
        n = amount.shape[0]
        if n == 0:
            return
        if np.any(amount < 0):
            raise ValueError("ledger amounts must be non-negative (swap payer and payee)")

        def ints(x: IntArray | int) -> np.ndarray:
            return np.broadcast_to(np.asarray(x, dtype=np.int64), (n,)).copy()

        def floats(x: FloatArray | float) -> np.ndarray:
            return np.broadcast_to(np.asarray(x, dtype=np.float64), (n,)).copy()

        self._chunks.append(
            {
                "round": ints(round_no),
                "kind": ints(EVENT_KINDS.index(kind)),
                "payer": ints(payer),
                "payee": ints(payee),
                "account": ints(account),
                "counterparty": ints(counterparty),
                "instrument": ints(instrument),
                "asset": ints(asset),
                "amount": amount.copy(),
                "quantity": floats(quantity),
                "price": floats(price),
                "notional": floats(notional),
            }
        )

    def transfer(
        self,
        kind: str,
        *,
        round_no: int,
        src: IntArray | int,
        dst: IntArray | int,
        signed_amount: FloatArray,
        **info: Any,
    ) -> None:
        """Record a transfer of ``signed_amount`` from ``src`` to ``dst`` (negative: reversed)."""
        a = np.asarray(signed_amount, dtype=np.float64).ravel()
        n = a.shape[0]
        s = np.broadcast_to(np.asarray(src, dtype=np.int64), (n,))
        d = np.broadcast_to(np.asarray(dst, dtype=np.int64), (n,))
        neg = a < 0
        self.record(
            kind,
            round_no=round_no,
            payer=np.where(neg, d, s),
            payee=np.where(neg, s, d),
            amount=np.abs(a),
            **info,
        )

    # -- views -------------------------------------------------------------------------------
    def columns(self) -> dict[str, np.ndarray]:
        """All rows as arrays (empty arrays if nothing was recorded)."""
        if not self._chunks:
            out: dict[str, np.ndarray] = {c: np.zeros(0, np.int64) for c in _INT_COLS}
            out.update({c: np.zeros(0) for c in _FLOAT_COLS})
            return out
        return {k: np.concatenate([c[k] for c in self._chunks]) for k in self._chunks[0]}

    @property
    def n(self) -> int:
        """Number of rows."""
        return sum(int(c["amount"].shape[0]) for c in self._chunks)

    def net_flows(self, n_accounts: int) -> tuple[FloatArray, dict[str, float]]:
        """Net inflow per account and per venue pot (they sum to zero)."""
        c = self.columns()
        acc = np.zeros(n_accounts)
        pots = dict.fromkeys(PARTY_NAMES.values(), 0.0)
        a = c["amount"]
        for col, sign in (("payee", 1.0), ("payer", -1.0)):
            who = c[col]
            m = who >= 0
            np.add.at(acc, who[m], sign * a[m])
            for code, name in PARTY_NAMES.items():
                pots[name] += sign * float(a[who == code].sum())
        return acc, pots

    def totals(self, *, round_no: int | None = None) -> dict[str, float]:
        """Total amount per event kind (optionally of one round)."""
        c = self.columns()
        m = np.ones(c["amount"].shape[0], np.bool_) if round_no is None else c["round"] == round_no
        return {
            k: float(c["amount"][m & (c["kind"] == i)].sum()) for i, k in enumerate(EVENT_KINDS)
        }

    def frame(
        self,
        accounts: tuple[str, ...],
        instruments: tuple[str, ...],
        assets: tuple[str, ...],
    ) -> pd.DataFrame:
        """The ledger as a table with names instead of indices."""
        c = self.columns()

        def party(x: np.ndarray) -> np.ndarray:
            names = np.asarray([*accounts, ""], dtype=object)
            out = names[np.where(x >= 0, x, len(accounts))]
            for code, nm in PARTY_NAMES.items():
                out[x == code] = nm
            return np.asarray(out, dtype=object)

        def pick(x: np.ndarray, table: tuple[str, ...]) -> np.ndarray:
            names = np.asarray([*table, ""], dtype=object)
            return np.asarray(names[np.where(x >= 0, x, len(table))], dtype=object)

        return pd.DataFrame(
            {
                "round": c["round"],
                "event": np.asarray(EVENT_KINDS, dtype=object)[c["kind"]]
                if c["kind"].size
                else np.zeros(0, dtype=object),
                "payer": party(c["payer"]),
                "payee": party(c["payee"]),
                "amount": c["amount"],
                "account": pick(c["account"], accounts),
                "counterparty": pick(c["counterparty"], accounts),
                "instrument": pick(c["instrument"], instruments),
                "asset": pick(c["asset"], assets),
                "quantity": c["quantity"],
                "price": c["price"],
                "notional": c["notional"],
            }
        )
