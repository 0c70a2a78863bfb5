"""The collateral table: one row per balance, priced and haircut (snapshot currency)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Self

import numpy as np

from crossmargin._arrays import sum_by
from crossmargin._typing import FloatArray, IntArray
from crossmargin.collateral.oracles import OracleValuation

__all__ = ["CollateralTable", "haircut_value"]


@dataclass(frozen=True, slots=True, eq=False)
class CollateralTable:
    """One row per collateral balance (amounts in asset units, values in snapshot currency)."""

    assets: tuple[str, ...]
    account: IntArray
    asset: IntArray
    amount: FloatArray
    price: FloatArray
    haircut_im: FloatArray
    haircut_mm: FloatArray
    market_value: FloatArray
    value_im: FloatArray
    value_mm: FloatArray
    detail: Mapping[str, FloatArray] | None = None
    oracle: tuple[OracleValuation | None, ...] | None = None

    def per_account(self, values: FloatArray, n_accounts: int) -> FloatArray:
        """Sum a per-row array per account."""
        return sum_by(self.account, values, n_accounts)

    @classmethod
    def priced(
        cls,
        assets: tuple[str, ...],
        rows: tuple[IntArray, IntArray, FloatArray],
        price: FloatArray,
        haircuts: tuple[FloatArray, FloatArray],
        *,
        oracle: tuple[OracleValuation | None, ...] | None = None,
    ) -> Self:
        """The table of ``rows`` (account, asset, amount) at ``price`` with IM/MM ``haircuts``."""
        account, asset, amount = rows
        h_im, h_mm = haircuts
        return cls(
            assets,
            account,
            asset,
            amount,
            price,
            h_im,
            h_mm,
            amount * price,
            haircut_value(amount, price, h_im),
            haircut_value(amount, price, h_mm),
            oracle=oracle,
        )

    def with_haircuts(
        self, h_im: FloatArray, h_mm: FloatArray, detail: Mapping[str, FloatArray]
    ) -> Self:
        """The same balances under other haircuts (with their components in ``detail``)."""
        return replace(
            self,
            haircut_im=h_im,
            haircut_mm=h_mm,
            value_im=haircut_value(self.amount, self.price, h_im),
            value_mm=haircut_value(self.amount, self.price, h_mm),
            detail=detail,
        )


def haircut_value(amount: FloatArray, price: FloatArray, haircut: FloatArray) -> FloatArray:
    """Haircut value: assets marked down, liabilities marked up."""
    mv = amount * price
    return np.where(mv >= 0, mv * (1.0 - haircut), mv * (1.0 + haircut))
