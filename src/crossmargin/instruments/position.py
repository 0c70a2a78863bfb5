"""Holdings: who holds how much of which contract, plus collateral balances."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from crossmargin._checks import instance, real, real_or_none, symbol
from crossmargin.errors import InputError
from crossmargin.instruments.contracts import Contract, Future, Option, Perpetual, Spot
from crossmargin.limits import MAX_STRING_CHARS

_CONTRACTS = (Spot, Perpetual, Future, Option)

__all__ = ["Portfolio", "Position"]


@dataclass(frozen=True, slots=True)
class Position:
    """A signed holding of one contract.

    Parameters
    ----------
    contract
        What is held.
    quantity
        Signed size (short < 0): underlying units for linear contracts, USD face for inverse
        futures and perpetuals, coins for inverse options; times ``contract.multiplier``.
    entry_price
        Average entry price in the contract's quote (futures/perps: their price; options: premium
        per unit). ``None`` means unknown: futures are then marked with zero unrealised P&L.
    """

    contract: Contract
    quantity: float
    entry_price: float | None = None

    def __post_init__(self) -> None:
        instance(
            self.contract, _CONTRACTS, "Position.contract", "a Spot, Perpetual, Future or Option"
        )
        object.__setattr__(self, "quantity", real(self.quantity, "Position.quantity"))
        object.__setattr__(
            self,
            "entry_price",
            real_or_none(self.entry_price, "Position.entry_price", positive=True),
        )


def _collateral(m: Any) -> Mapping[str, float]:
    if not isinstance(m, Mapping):
        raise InputError(
            f"must be a mapping of asset -> amount, got {type(m).__name__}",
            path="Portfolio.collateral",
        )
    out: dict[str, float] = {}
    for k, v in m.items():
        sym = symbol(k, f"Portfolio.collateral.{k}")
        if sym in out:  # symbols are case-insensitive: never drop a balance silently
            raise InputError(
                f"collateral asset {k!r} is listed twice (case-insensitive)",
                path=f"Portfolio.collateral.{k}",
            )
        out[sym] = real(v, f"Portfolio.collateral.{sym}")
    return MappingProxyType(out)


def _positions(ps: Any) -> tuple[Position, ...]:
    if isinstance(ps, str | bytes | Mapping) or not isinstance(ps, Iterable):
        raise InputError(
            f"must be a sequence of Position, got {type(ps).__name__}", path="Portfolio.positions"
        )
    out = tuple(ps)
    for i, p in enumerate(out):
        instance(p, Position, f"Portfolio.positions[{i}]", "a Position")
    return out


@dataclass(frozen=True, slots=True)
class Portfolio:
    """One account: its collateral balances and its positions.

    Parameters
    ----------
    account
        Account identifier.
    base_currency
        Currency in which every amount of the result is reported (normally the snapshot's).
    collateral
        Asset → amount; a negative amount is a liability (borrowed).
    positions
        Positions; several positions in the same contract net.
    """

    account: str
    base_currency: str = "USD"
    collateral: Mapping[str, float] = field(default_factory=dict)
    positions: tuple[Position, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.account, str) or not self.account.strip():
            raise InputError("must be a non-empty string", path="Portfolio.account")
        if len(self.account) > MAX_STRING_CHARS:
            raise InputError(f"longer than {MAX_STRING_CHARS} characters", path="Portfolio.account")
        object.__setattr__(
            self, "base_currency", symbol(self.base_currency, "Portfolio.base_currency")
        )
        object.__setattr__(self, "collateral", _collateral(self.collateral))
        object.__setattr__(self, "positions", _positions(self.positions))

    def with_positions(self, extra: tuple[Position, ...]) -> Portfolio:
        """Return a copy holding ``extra`` positions in addition to the current ones."""
        return Portfolio(self.account, self.base_currency, self.collateral, self.positions + extra)

    def with_collateral(self, collateral: Mapping[str, float]) -> Portfolio:
        """Return a copy with ``collateral`` replacing the current balances."""
        return Portfolio(self.account, self.base_currency, collateral, self.positions)
