"""Portfolio files (JSON): one account or ``{"accounts": [...]}``.

::

    {"account": "acct-1", "base_currency": "USD",
     "collateral": {"USDC": 250000, "BTC": 1.5},
     "positions": [{"instrument": "BTC-26DEC26-70000-C", "quantity": -5},
                   {"instrument": "BTC-PERP", "quantity": 2, "entry_price": 64000},
                   {"instrument": {"kind": "option", "underlying": "SPX", "expiry": "2026-12-18T21:00:00Z",
                                   "strike": 6000, "right": "put", "multiplier": 100},
                    "quantity": 3}]}

Validation is complete before anything is computed: unknown or missing fields, non-finite or
wrongly-typed numbers, non-positive entry prices and unparseable instrument names are
:class:`~crossmargin.errors.InputError` naming the path.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from crossmargin._validation import Finite, Positive, read_json, translate
from crossmargin.errors import InputError
from crossmargin.instruments.contracts import Contract
from crossmargin.instruments.naming import contract_from_fields, parse_instrument
from crossmargin.instruments.position import Portfolio, Position

__all__ = ["PortfolioFile", "PortfolioIn", "PositionIn", "load_portfolios", "portfolios_from_obj"]

_SYMBOL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.]*$")


class PositionIn(BaseModel):
    """One position as written in a portfolio file."""

    model_config = ConfigDict(extra="forbid")

    instrument: str | dict[str, Any] = Field(
        description="Instrument name (BTC-PERP, BTC-26DEC26, BTC-26DEC26-70000-C, ...) or an "
        "explicit object {kind, underlying, expiry, strike, right, settlement, multiplier}"
    )
    quantity: Finite = Field(description="Signed quantity (short < 0)")
    entry_price: Positive | None = Field(default=None, description="Average entry price")


class PortfolioIn(BaseModel):
    """One account as written in a portfolio file."""

    model_config = ConfigDict(extra="forbid")

    account: str = Field(min_length=1, description="Account identifier")
    base_currency: str = Field(default="USD", description="Reporting currency")
    collateral: dict[str, Finite] = Field(
        default_factory=dict, description="Asset -> amount (negative = liability)"
    )
    positions: list[PositionIn] = Field(default_factory=list)

    @field_validator("collateral")
    @classmethod
    def _symbols(cls, v: dict[str, float]) -> dict[str, float]:
        out: dict[str, float] = {}
        for k, x in v.items():
            if not _SYMBOL.match(k):
                raise ValueError(f"collateral asset {k!r} is not a symbol")
            if k.upper() in out:  # symbols are case-insensitive: never drop a balance silently
                raise ValueError(f"collateral asset {k!r} is listed twice (case-insensitive)")
            out[k.upper()] = x
        return out

    @field_validator("base_currency")
    @classmethod
    def _base(cls, v: str) -> str:
        if not _SYMBOL.match(v):
            raise ValueError(f"{v!r} is not a currency symbol")
        return v.upper()


class PortfolioFile(BaseModel):
    """Several accounts in one file."""

    model_config = ConfigDict(extra="forbid")

    accounts: list[PortfolioIn] = Field(min_length=1)


def _contract(spec: str | dict[str, Any], path: str) -> Contract:
    if isinstance(spec, str):
        return parse_instrument(spec, path=path)
    return contract_from_fields(spec, path=path)


def _to_domain(p: PortfolioIn, prefix: str) -> Portfolio:
    positions = tuple(
        Position(
            _contract(x.instrument, f"{prefix}positions[{i}].instrument"), x.quantity, x.entry_price
        )
        for i, x in enumerate(p.positions)
    )
    return Portfolio(p.account, p.base_currency, dict(p.collateral), positions)


def portfolios_from_obj(obj: Any) -> tuple[list[Portfolio], list[str]]:
    """Validate a parsed portfolio document.

    Returns
    -------
    portfolios, prefixes
        The accounts and each one's input path prefix (for later error messages).

    Raises
    ------
    InputError
        Naming the offending path.
    """
    if not isinstance(obj, dict):
        raise InputError("a portfolio file must be a JSON object", path="portfolio")
    if "accounts" in obj:
        try:
            f = PortfolioFile.model_validate(obj)
        except ValidationError as exc:
            raise translate(exc) from None
        seen: set[str] = set()
        out = []
        for i, p in enumerate(f.accounts):
            if p.account in seen:
                raise InputError(f"duplicate account {p.account!r}", path=f"accounts[{i}].account")
            seen.add(p.account)
            out.append(_to_domain(p, f"accounts[{i}]."))
        return out, [f"accounts[{i}].positions" for i in range(len(out))]
    try:
        one = PortfolioIn.model_validate(obj)
    except ValidationError as exc:
        raise translate(exc) from None
    return [_to_domain(one, "")], ["positions"]


def load_portfolios(path: str | Path) -> tuple[list[Portfolio], list[str]]:
    """Read and validate a portfolio JSON file (see :func:`portfolios_from_obj`)."""
    return portfolios_from_obj(read_json(path, what="portfolio"))
