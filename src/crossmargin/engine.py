"""The library's front door: margin a book or a portfolio under a named model.

The CLI and any service call these same functions; no margin logic lives in the edges.
"""

from __future__ import annotations

from collections.abc import Sequence

from crossmargin._checks import instance, sequence_of
from crossmargin.account.health import AccountResults, assess
from crossmargin.config import RiskConfig, default_config
from crossmargin.errors import CrossMarginError, InputError
from crossmargin.instruments.book import Book
from crossmargin.instruments.position import Portfolio
from crossmargin.margin.base import get_model, model_info
from crossmargin.market.snapshot import MarketSnapshot
from crossmargin.resolve.book import ResolvedBook, resolve

__all__ = [
    "COMPARE_MODELS",
    "OPTIONAL_COMPARE_MODELS",
    "compare",
    "compute_margin",
    "margin_book",
    "margin_resolved",
]

#: Models shown side by side by :func:`compare` (in this order).
COMPARE_MODELS = ("isolated", "cross", "portfolio", "var", "es")
#: Default columns that need more than the snapshot (price history): when they cannot be computed
#: for a book they are reported as unavailable instead of failing the whole comparison.
OPTIONAL_COMPARE_MODELS = ("var", "es")


def _book(
    portfolios: Portfolio | Sequence[Portfolio] | Book, prefixes: Sequence[str] | None
) -> Book:
    if isinstance(portfolios, Book):
        return portfolios
    if isinstance(portfolios, Portfolio):
        return Book.from_portfolios([portfolios], prefixes=prefixes)
    pfs = sequence_of(portfolios, Portfolio, "portfolio", "a Portfolio (or a Book)")
    return Book.from_portfolios(pfs, prefixes=prefixes)


def _inputs(market: object, config: object, model: object = "portfolio") -> RiskConfig:
    """Check the common arguments; the configuration to use."""
    instance(market, MarketSnapshot, "market", "a MarketSnapshot (see load_market)")
    if not isinstance(model, str):
        raise InputError(f"model must be a model name, got {type(model).__name__}", path="model")
    if config is None:
        return default_config()
    return instance(config, RiskConfig, "config", "a RiskConfig (see load_config)")  # type: ignore[no-any-return]


def margin_resolved(
    rb: ResolvedBook, *, model: str = "portfolio", detail: bool = False
) -> AccountResults:
    """Margin an already-resolved book (reuse one resolution for several models)."""
    instance(rb, ResolvedBook, "book", "a ResolvedBook (see resolve)")
    if not isinstance(model, str):
        raise InputError(f"model must be a model name, got {type(model).__name__}", path="model")
    return assess(rb, get_model(model, rb.config).compute(rb, detail=detail))


def margin_book(
    book: Book,
    market: MarketSnapshot,
    *,
    model: str = "portfolio",
    config: RiskConfig | None = None,
    detail: bool = False,
) -> AccountResults:
    """Margin every account of ``book``.

    Parameters
    ----------
    book
        Positions and collateral of one or many accounts.
    market
        The snapshot (its ``as_of`` is "now").
    model
        A registered model name (``isolated``, ``cross``, ``portfolio``, ...).
    config
        Risk configuration; the shipped default if ``None``.
    detail
        Keep each group's scenario P&L (for ``explain`` and plots).

    Returns
    -------
    AccountResults
        Equity, IM, MM, status and breakdown per account.
    """
    instance(book, Book, "book", "a Book (see Book.from_portfolios)")
    cfg = _inputs(market, config, model)
    model_info(model)  # an unknown name fails before any work
    rb = resolve(book, market, cfg)
    return margin_resolved(rb, model=model, detail=detail)


def compute_margin(
    portfolio: Portfolio | Sequence[Portfolio],
    market: MarketSnapshot,
    *,
    model: str = "portfolio",
    config: RiskConfig | None = None,
    detail: bool = True,
    prefixes: Sequence[str] | None = None,
) -> AccountResults:
    """Margin one portfolio (or a few) — :func:`margin_book` for portfolio objects."""
    _inputs(market, config, model)
    return margin_book(
        _book(portfolio, prefixes), market, model=model, config=config, detail=detail
    )


def compare(
    portfolio: Portfolio | Sequence[Portfolio] | Book,
    market: MarketSnapshot,
    *,
    models: Sequence[str] = COMPARE_MODELS,
    config: RiskConfig | None = None,
    prefixes: Sequence[str] | None = None,
    optional: Sequence[str] = OPTIONAL_COMPARE_MODELS,
    unavailable: dict[str, str] | None = None,
) -> dict[str, AccountResults]:
    """The same book under several models (resolved once).

    Models named in ``optional`` that cannot be computed for this book (e.g. ``var`` for an
    underlying without price history) are left out; the reason is stored in ``unavailable``
    (if given). Any other model's error propagates.
    """
    cfg = _inputs(market, config)
    names = sequence_of(models, str, "models", "a model name")
    if not names:
        raise InputError("give at least one model", path="models")
    for m in names:
        model_info(m)  # an unknown name fails before any work
    rb = resolve(_book(portfolio, prefixes), market, cfg)
    out: dict[str, AccountResults] = {}
    for m in names:
        try:
            out[m] = margin_resolved(rb, model=m)
        except CrossMarginError as exc:
            if m not in optional:
                raise
            if unavailable is not None:
                unavailable[m] = str(exc)
    return out
