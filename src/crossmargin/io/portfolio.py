"""Portfolio files (JSON): one account or ``{"accounts": [...]}``.

::

    {"account": "acct-1", "base_currency": "USD",
     "collateral": {"USDC": 250000, "BTC": 1.5},
     "positions": [{"instrument": "BTC-26DEC26-70000-C", "quantity": -5},
                   {"instrument": "BTC-PERP", "quantity": 2, "entry_price": 64000},
                   {"instrument": {"kind": "option", "underlying": "SPX", "expiry": "2026-12-18T21:00:00Z",
                                   "strike": 6000, "right": "put", "multiplier": 100},
                    "quantity": 3}]}

An account spread over several venues labels each position with its ``venue`` and declares each
venue's collateral under ``venues`` (``crossmargin import`` writes this form)::

    {"account": "desk", "collateral": {"USDC": 1000},          # held outside any venue
     "venues": {"deribit": {"collateral": {"BTC": 1.2}}, "okx": {"collateral": {"USDT": 5000}}},
     "positions": [{"instrument": "BTC-PERP-INV", "quantity": -50000, "venue": "deribit"},
                   {"instrument": "BTC-PERP", "quantity": 0.12, "venue": "okx"}]}

The account is margined as one; ``compare`` and ``explain`` also margin each venue's part alone.

Validation is complete before anything is computed: unknown or missing fields, non-finite or
wrongly-typed numbers, non-positive entry prices and unparseable instrument names are
:class:`~crossmargin.errors.InputError` naming the path.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from crossmargin._checks import symbol_value
from crossmargin._validation import Finite, Positive, read_json, translate
from crossmargin.errors import InputError
from crossmargin.instruments.contracts import Contract
from crossmargin.instruments.naming import contract_from_fields, parse_instrument
from crossmargin.instruments.position import Portfolio, Position

__all__ = [
    "PortfolioFile",
    "PortfolioIn",
    "PositionIn",
    "VenueIn",
    "load_portfolios",
    "portfolios_from_obj",
]

_VENUE = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


class PositionIn(BaseModel):
    """One position as written in a portfolio file."""

    model_config = ConfigDict(extra="forbid")

    instrument: str | dict[str, Any] = Field(
        description="Instrument name (BTC-PERP, BTC-26DEC26, BTC-26DEC26-70000-C, ...) or an "
        "explicit object {kind, underlying, expiry, strike, right, settlement, multiplier}"
    )
    quantity: Finite = Field(description="Signed quantity (short < 0)")
    entry_price: Positive | None = Field(default=None, description="Average entry price")
    venue: str | None = Field(
        default=None, description="Venue holding the position (declared under the account's venues)"
    )


class VenueIn(BaseModel):
    """One venue's part of an account: the collateral held there."""

    model_config = ConfigDict(extra="forbid")

    collateral: dict[str, Finite] = Field(
        default_factory=dict, description="Asset -> amount held at this venue"
    )

    @field_validator("collateral")
    @classmethod
    def _symbols(cls, v: dict[str, float]) -> dict[str, float]:
        return _symbol_keys(v)


def _symbol_keys(v: dict[str, float]) -> dict[str, float]:
    out: dict[str, float] = {}
    for k, x in v.items():
        try:
            sym = symbol_value(k)
        except ValueError as exc:
            raise ValueError(f"collateral asset {exc}") from None
        if sym in out:  # symbols are case-insensitive: never drop a balance silently
            raise ValueError(f"collateral asset {k!r} is listed twice (case-insensitive)")
        out[sym] = x
    return out


class PortfolioIn(BaseModel):
    """One account as written in a portfolio file."""

    model_config = ConfigDict(extra="forbid")

    account: str = Field(min_length=1, description="Account identifier")
    base_currency: str = Field(default="USD", description="Reporting currency")
    collateral: dict[str, Finite] = Field(
        default_factory=dict, description="Asset -> amount (negative = liability)"
    )
    positions: list[PositionIn] = Field(default_factory=list)
    venues: dict[str, VenueIn] = Field(
        default_factory=dict,
        description="Venue -> its part of the account (collateral held there); positions name "
        "their venue",
    )

    @field_validator("account")
    @classmethod
    def _account(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("must not be blank")
        return v

    @field_validator("collateral")
    @classmethod
    def _symbols(cls, v: dict[str, float]) -> dict[str, float]:
        return _symbol_keys(v)

    @field_validator("venues")
    @classmethod
    def _venue_names(cls, v: dict[str, VenueIn]) -> dict[str, VenueIn]:
        for k in v:
            if not _VENUE.match(k):
                raise ValueError(f"venue name {k!r} must be lower-case letters, digits, - or _")
        return v

    @field_validator("base_currency")
    @classmethod
    def _base(cls, v: str) -> str:
        return symbol_value(v)


class PortfolioFile(BaseModel):
    """Several accounts in one file."""

    model_config = ConfigDict(extra="forbid")

    accounts: list[PortfolioIn] = Field(min_length=1)


def _contract(spec: str | dict[str, Any], path: str) -> Contract:
    if isinstance(spec, str):
        return parse_instrument(spec, path=path)
    return contract_from_fields(spec, path=path)


def _to_domain(p: PortfolioIn, prefix: str) -> Portfolio:
    for i, x in enumerate(p.positions):
        if x.venue is not None and x.venue not in p.venues:
            declared = ", ".join(sorted(p.venues)) or "none"
            raise InputError(
                f"venue {x.venue!r} is not declared under the account's venues (declared: {declared})",
                path=f"{prefix}positions[{i}].venue",
            )
    positions = tuple(
        Position(
            _contract(x.instrument, f"{prefix}positions[{i}].instrument"),
            x.quantity,
            x.entry_price,
            x.venue,
        )
        for i, x in enumerate(p.positions)
    )
    total = dict(p.collateral)
    for v in p.venues.values():
        for a, amount in v.collateral.items():
            total[a] = total.get(a, 0.0) + amount
    return Portfolio(
        p.account,
        p.base_currency,
        total,
        positions,
        {name: dict(v.collateral) for name, v in p.venues.items()},
    )


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
    if not isinstance(obj, dict) or not ({"account", "accounts"} & set(obj)):
        from crossmargin.io.venues import venue_of_document

        venue = venue_of_document(obj)
        if venue is not None:
            raise InputError(
                f"this looks like a response of the {venue} API, not a portfolio file: read it with "
                f"`--from {venue}` or convert it with `crossmargin import {venue}`",
                path="portfolio",
            )
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
