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

__all__ = ["UNASSIGNED", "Portfolio", "Position"]


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
    venue
        Where the position is held (``deribit``, ``okx``...), a label: the engine margins the
        account as one; :meth:`Portfolio.venue_parts` splits it by venue.
    """

    contract: Contract
    quantity: float
    entry_price: float | None = None
    venue: str | None = None

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
        if self.venue is not None and (
            not isinstance(self.venue, str)
            or not self.venue.strip()
            or len(self.venue) > MAX_STRING_CHARS
        ):
            raise InputError("must be a non-empty string (a venue label)", path="Position.venue")


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
    venue_collateral
        Venue → the part of ``collateral`` held at that venue (the rest is held outside any
        venue). With position venue labels this makes each venue's part of the account.
    """

    account: str
    base_currency: str = "USD"
    collateral: Mapping[str, float] = field(default_factory=dict)
    positions: tuple[Position, ...] = ()
    venue_collateral: Mapping[str, Mapping[str, float]] = field(default_factory=dict)

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
        object.__setattr__(
            self,
            "venue_collateral",
            MappingProxyType({v: _collateral(c) for v, c in self.venue_collateral.items()}),
        )

    def with_positions(self, extra: tuple[Position, ...]) -> Portfolio:
        """Return a copy holding ``extra`` positions in addition to the current ones."""
        return Portfolio(
            self.account,
            self.base_currency,
            self.collateral,
            self.positions + extra,
            self.venue_collateral,
        )

    def with_collateral(self, collateral: Mapping[str, float]) -> Portfolio:
        """Return a copy with ``collateral`` replacing the current balances (venue split dropped)."""
        return Portfolio(self.account, self.base_currency, collateral, self.positions)

    @property
    def venues(self) -> tuple[str, ...]:
        """Venues the account is spread over (declared collateral first, then position labels)."""
        labels = [*self.venue_collateral, *(p.venue for p in self.positions if p.venue)]
        return tuple(dict.fromkeys(v for v in labels if v is not None))

    def venue_parts(self) -> tuple[tuple[str, Portfolio], ...]:
        """Each venue's part alone: its positions and its collateral (empty if no venues).

        Positions without a venue and collateral held outside the venues form a part named
        ``unassigned``, so that the parts add up to the whole account.
        """
        venues = self.venues
        if not venues:
            return ()
        parts = []
        for v in venues:
            pos = tuple(p for p in self.positions if p.venue == v)
            col = self.venue_collateral.get(v, {})
            parts.append((v, Portfolio(f"{self.account}@{v}", self.base_currency, col, pos)))
        rest_pos = tuple(p for p in self.positions if p.venue is None)
        rest_col = dict(self.collateral)
        for col in self.venue_collateral.values():
            for a, x in col.items():
                rest_col[a] = rest_col.get(a, 0.0) - x
        # float residue of total − Σ venues is not a balance
        rest_col = {
            a: x for a, x in rest_col.items() if abs(x) > 1e-9 * abs(self.collateral.get(a, 0.0))
        }
        if rest_pos or rest_col:
            parts.append(
                (
                    UNASSIGNED,
                    Portfolio(
                        f"{self.account}@{UNASSIGNED}", self.base_currency, rest_col, rest_pos
                    ),
                )
            )
        return tuple(parts)


#: Name of the part of a venue-labelled account held outside any venue.
UNASSIGNED = "unassigned"
