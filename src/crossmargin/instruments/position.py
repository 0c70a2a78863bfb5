"""Holdings: who holds how much of which contract, plus collateral balances."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from crossmargin.instruments.contracts import Contract

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


def _freeze(m: Mapping[str, float]) -> Mapping[str, float]:
    return MappingProxyType(dict(m))


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
        object.__setattr__(self, "collateral", _freeze(self.collateral))
        object.__setattr__(self, "positions", tuple(self.positions))

    def with_positions(self, extra: tuple[Position, ...]) -> Portfolio:
        """Return a copy holding ``extra`` positions in addition to the current ones."""
        return Portfolio(self.account, self.base_currency, self.collateral, self.positions + extra)

    def with_collateral(self, collateral: Mapping[str, float]) -> Portfolio:
        """Return a copy with ``collateral`` replacing the current balances."""
        return Portfolio(self.account, self.base_currency, collateral, self.positions)
