"""Account health: equity against IM and MM, free collateral, margin ratio, status.

Per account, in its base currency (snapshot amounts × ``fx``):

* ``collateral_value`` = Σ amount × price × (1 − IM haircut) (liabilities × (1 + haircut));
* ``unrealized_pnl`` = Σ derivatives mark-to-market (options at mark, futures/perps vs entry);
* ``equity`` = ``collateral_value`` + the mark-to-market the model lets count (all of it under
  cross/portfolio; under isolated each position's only up to its own IM);
* ``maintenance_equity`` = the same with MM haircuts (and, under isolated, each position's
  mark-to-market up to its own MM);
* ``free_collateral`` = equity − IM; ``collateral_required`` = max(0, IM − counted MtM);
* ``margin_ratio`` = maintenance_equity / MM (``None`` when MM = 0);
* ``status``: ``healthy`` (equity ≥ IM), ``margin_call`` (maintenance_equity ≥ MM),
  ``liquidation`` (0 ≤ maintenance_equity < MM), ``bankrupt`` (maintenance_equity < 0).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from crossmargin._arrays import sum_by
from crossmargin._checks import account_index, instance
from crossmargin._typing import FloatArray, IntArray
from crossmargin.errors import ModelError
from crossmargin.margin.result import MarginBatch
from crossmargin.resolve.book import ResolvedBook

__all__ = ["STATUSES", "AccountResults", "assess"]

STATUSES = ("healthy", "margin_call", "liquidation", "bankrupt")


@dataclass(frozen=True, slots=True, eq=False)
class AccountResults:
    """Health of every account of a book under one model (account base currencies)."""

    book: ResolvedBook
    batch: MarginBatch
    collateral_market_value: FloatArray
    collateral_value: FloatArray
    collateral_value_mm: FloatArray
    unrealized_pnl: FloatArray
    account_value: FloatArray
    equity: FloatArray
    maintenance_equity: FloatArray
    initial_margin: FloatArray
    maintenance_margin: FloatArray
    free_collateral: FloatArray
    collateral_required: FloatArray
    margin_ratio: FloatArray
    status_code: IntArray

    def __post_init__(self) -> None:
        """Type checks only (built by :func:`assess`)."""
        instance(self.book, ResolvedBook, "AccountResults.book", "a ResolvedBook")
        instance(self.batch, MarginBatch, "AccountResults.batch", "a MarginBatch")

    @property
    def model(self) -> str:
        """Model name."""
        return self.batch.model

    @property
    def accounts(self) -> tuple[str, ...]:
        """Account identifiers."""
        return self.book.book.accounts

    @property
    def n(self) -> int:
        """Number of accounts."""
        return self.book.n_accounts

    def status(self, i: int) -> str:
        """Status name of account ``i``."""
        return STATUSES[int(self.status_code[account_index(i, self.n)])]


def _require_finite(book: ResolvedBook, model: str, **values: FloatArray) -> None:
    """Fail closed: a requirement or equity that is NaN/inf is an error, never a null margin."""
    for name, v in values.items():
        bad = ~np.isfinite(v)
        if bad.any():
            i = int(np.argmax(bad))
            prefix = book.book.pos_prefix
            raise ModelError(
                f"{name.replace('_', ' ')} of account {book.book.accounts[i]!r} under {model!r} is "
                f"not a finite number (a quantity or price too large for float arithmetic?)",
                path=prefix[i] if prefix is not None and i < len(prefix) else "positions",
            )


def assess(book: ResolvedBook, batch: MarginBatch) -> AccountResults:
    """Combine collateral, mark-to-market and a model's requirements into account health.

    Raises
    ------
    ModelError
        If an account's IM, MM or equity is not finite (fail closed).
    """
    instance(book, ResolvedBook, "book", "a ResolvedBook (see resolve)")
    instance(batch, MarginBatch, "batch", "a MarginBatch (a model's compute result)")
    if batch.im.shape != (book.n_accounts,) or batch.mm.shape != (book.n_accounts,):
        raise ModelError(
            f"model {batch.model!r} returned {batch.im.shape} requirements for "
            f"{book.n_accounts} accounts",
            path="model",
        )
    n = book.n_accounts
    col = book.collateral
    fx = book.fx
    cmv = col.per_account(col.market_value, n) * fx
    cv = col.per_account(col.value_im, n) * fx
    cv_mm = col.per_account(col.value_mm, n) * fx
    upnl = sum_by(book.positions.account, book.positions.mtm, n) * fx
    im = batch.im * fx
    mm = batch.mm * fx
    equity = cv + batch.upnl_im * fx
    m_equity = cv_mm + batch.upnl_mm * fx
    _require_finite(
        book,
        batch.model,
        initial_margin=im,
        maintenance_margin=mm,
        equity=equity,
        maintenance_equity=m_equity,
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(mm > 0, m_equity / np.where(mm > 0, mm, 1.0), np.nan)
    status = np.where(
        equity >= im, 0, np.where(m_equity >= mm, 1, np.where(m_equity >= 0, 2, 3))
    ).astype(np.int64)
    return AccountResults(
        book=book,
        batch=batch,
        collateral_market_value=cmv,
        collateral_value=cv,
        collateral_value_mm=cv_mm,
        unrealized_pnl=upnl,
        account_value=cmv + upnl,
        equity=equity,
        maintenance_equity=m_equity,
        initial_margin=im,
        maintenance_margin=mm,
        free_collateral=equity - im,
        collateral_required=np.maximum(0.0, im - batch.upnl_im * fx),
        margin_ratio=ratio,
        status_code=status,
    )
