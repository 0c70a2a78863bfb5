"""Backtest books: a portfolio *recipe* that can be rebuilt on every historical day.

A static position list cannot be backtested over years — options expire and strikes drift away
from the money — so a backtest book is a set of **legs**, each re-instantiated daily::

    {"name": "crypto_options_perps", "description": "...",
     "rebalance": "constant_delta",          # static | constant_notional | constant_delta
     "rate": 0.0,                            # forward/discount rate (continuous, per year)
     "vol": {"BTC": {"source": "realised", "window": 30}},
     "legs": [
       {"kind": "option", "underlying": "BTC", "right": "put", "moneyness": 0.9,
        "tenor_days": 30, "roll_days": 7, "notional": -1000000},
       {"kind": "perpetual", "underlying": "BTC", "hedge_delta_notional": 2000000}]}

* ``kind``: ``spot``, ``perpetual``, ``future`` (needs ``tenor_days``), ``option`` (needs
  ``right``, ``tenor_days``; ``moneyness`` = strike / spot when opened, default 1).
* Size, exactly one of: ``notional`` (signed USD of underlying exposure: ``quantity × multiplier
  × spot``; inverse futures/perps: USD face), ``quantity`` (signed contract units, fixed), or
  ``hedge_delta_notional`` (``constant_delta`` books only, delta-one legs: the leg is resized
  every day so that the underlying's net delta notional equals this target).
* ``rebalance``: ``static`` converts notionals to quantities once, on the first backtest day;
  ``constant_notional`` resizes every notional leg daily to its notional at that day's price;
  ``constant_delta`` does the same and then solves the hedge legs.
* **Rolls**: a dated leg is opened with expiry ``date + tenor_days`` (08:00 UTC) and strike
  ``moneyness × spot`` rounded to 4 significant figures (a listing grid); it is kept while at least ``roll_days`` calendar days remain *and* it
  outlives the margin period of risk, then re-opened the same way (strike re-struck at the money
  level of the roll day). Expiries and strikes never depend on prices after the roll day.
* ``vol``: per underlying, how option vols are estimated (:mod:`crossmargin.backtest.vol`); the
  defaults are ``SPX → index VIX``, ``NDX → index VIX relative to SPX``, everything else
  ``realised`` over 30 returns.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from crossmargin._validation import Finite, Positive, read_json, translate
from crossmargin.backtest.vol import VolSpec
from crossmargin.errors import InputError
from crossmargin.instruments.contracts import Right, Settlement

__all__ = [
    "DEFAULT_VOL",
    "BacktestBook",
    "Leg",
    "book_from_obj",
    "bundled_books",
    "load_book",
]

Rebalance = Literal["static", "constant_notional", "constant_delta"]
LegKind = Literal["spot", "perpetual", "future", "option"]

#: Default vol estimate per underlying (others: realised, 30 returns).
DEFAULT_VOL: dict[str, VolSpec] = {
    "SPX": VolSpec(source="index", series="VIX"),
    "NDX": VolSpec(source="index", series="VIX", relative_to="SPX"),
}


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class VolIn(_Model):
    """Vol estimate of one underlying."""

    source: Literal["realised", "ewma", "index"] = "realised"
    window: int = Field(default=30, ge=5, le=2000)
    lam: float = Field(default=0.94, gt=0.0, lt=1.0, alias="lambda")
    series: str | None = None
    relative_to: str | None = None
    multiplier: Positive = 1.0

    @model_validator(mode="after")
    def _index(self) -> VolIn:
        if self.source == "index" and not self.series:
            raise ValueError("an index vol needs 'series' (e.g. VIX)")
        if self.source != "index" and (self.series or self.relative_to):
            raise ValueError("'series' and 'relative_to' apply to source 'index' only")
        return self


class LegIn(_Model):
    """One leg of a backtest book."""

    kind: LegKind
    underlying: str = Field(min_length=1)
    settlement: Settlement = "linear"
    multiplier: Positive = 1.0
    right: Right | None = None
    # strike / spot when opened: a listed strike is within 1/100 .. 100 × spot
    moneyness: Annotated[Positive, Field(ge=0.01, le=100.0)] | None = None
    tenor_days: int | None = Field(default=None, ge=1, le=3650)
    roll_days: int | None = Field(default=None, ge=0, le=3650)
    notional: Finite | None = None
    quantity: Finite | None = None
    hedge_delta_notional: Finite | None = None

    @field_validator("underlying")
    @classmethod
    def _upper(cls, v: str) -> str:
        return v.strip().upper()

    @model_validator(mode="after")
    def _shape(self) -> LegIn:
        sizes = [
            f
            for f in ("notional", "quantity", "hedge_delta_notional")
            if getattr(self, f) is not None
        ]
        if len(sizes) != 1:
            raise ValueError(
                "give exactly one of notional, quantity, hedge_delta_notional"
                + (f" (got {', '.join(sizes)})" if sizes else "")
            )
        dated = self.kind in ("future", "option")
        if dated and self.tenor_days is None:
            raise ValueError(f"a {self.kind} leg needs tenor_days")
        if not dated and (self.tenor_days is not None or self.roll_days is not None):
            raise ValueError(f"tenor_days/roll_days do not apply to a {self.kind} leg")
        if self.kind == "option" and self.right is None:
            raise ValueError("an option leg needs right (call or put)")
        if self.kind != "option" and (self.right is not None or self.moneyness is not None):
            raise ValueError(f"right/moneyness do not apply to a {self.kind} leg")
        if self.hedge_delta_notional is not None and self.kind == "option":
            raise ValueError("a hedge leg must be delta-one (spot, perpetual or future)")
        if (
            dated
            and self.tenor_days is not None
            and self.roll_days is not None
            and self.roll_days >= self.tenor_days
        ):
            raise ValueError("roll_days must be smaller than tenor_days")
        return self


class BookIn(_Model):
    """A backtest book file."""

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.\-]+$")
    description: str = ""
    rebalance: Rebalance = "constant_notional"
    rate: Finite = 0.0
    vol: dict[str, VolIn] = Field(default_factory=dict)
    legs: list[LegIn] = Field(min_length=1)

    @model_validator(mode="after")
    def _hedges(self) -> BookIn:
        hedged: set[str] = set()
        for leg in self.legs:
            if leg.hedge_delta_notional is None:
                continue
            if self.rebalance != "constant_delta":
                raise ValueError("hedge_delta_notional needs rebalance 'constant_delta'")
            if leg.underlying in hedged:
                raise ValueError(f"more than one hedge leg on {leg.underlying}")
            hedged.add(leg.underlying)
        if self.rebalance == "constant_delta" and not hedged:
            raise ValueError("rebalance 'constant_delta' needs a leg with hedge_delta_notional")
        return self


@dataclass(frozen=True, slots=True)
class Leg:
    """A validated leg (see the module docstring)."""

    kind: LegKind
    underlying: str
    settlement: Settlement
    multiplier: float
    right: Right | None
    moneyness: float
    tenor_days: int
    roll_days: int
    notional: float | None
    quantity: float | None
    hedge_delta_notional: float | None

    @property
    def dated(self) -> bool:
        """Futures and options expire and roll."""
        return self.kind in ("future", "option")

    @property
    def is_hedge(self) -> bool:
        """Resized daily to hit a delta target."""
        return self.hedge_delta_notional is not None

    def describe(self) -> str:
        """Short description, e.g. ``short BTC 30d 0.9 put, USD 1,000,000``."""
        inv = " inverse" if self.settlement == "inverse" else ""
        if self.is_hedge:
            return f"{self.underlying}{inv} {self.kind} delta hedge to {self.hedge_delta_notional:,.0f}"
        side = "long" if (self.notional or self.quantity or 0.0) > 0 else "short"
        what: str = self.kind
        if self.kind == "option":
            what = f"{self.tenor_days}d {self.moneyness:g} {self.right}"
        elif self.kind == "future":
            what = f"{self.tenor_days}d future"
        size = (
            f"USD {abs(self.notional):,.0f}"
            if self.notional is not None
            else f"{abs(self.quantity or 0.0):g} units"
        )
        return f"{side} {self.underlying}{inv} {what}, {size}"


@dataclass(frozen=True, slots=True)
class BacktestBook:
    """A validated backtest book."""

    name: str
    description: str
    rebalance: Rebalance
    rate: float
    vol: dict[str, VolSpec]
    legs: tuple[Leg, ...]

    @property
    def underlyings(self) -> tuple[str, ...]:
        """Underlyings in order of first appearance."""
        return tuple(dict.fromkeys(leg.underlying for leg in self.legs))

    @property
    def option_underlyings(self) -> tuple[str, ...]:
        """Underlyings with an option leg (they need a vol estimate)."""
        return tuple(dict.fromkeys(leg.underlying for leg in self.legs if leg.kind == "option"))

    def vol_spec(self, underlying: str) -> VolSpec:
        """The vol estimate of ``underlying`` (book setting, else the default)."""
        return self.vol.get(underlying, DEFAULT_VOL.get(underlying, VolSpec()))

    def needed_series(self) -> tuple[str, ...]:
        """History columns the book needs: underlyings, then vol inputs of option underlyings."""
        out = list(self.underlyings)
        for u in self.option_underlyings:
            out.extend(self.vol_spec(u).needed_series())
        return tuple(dict.fromkeys(out))


def _leg(x: LegIn) -> Leg:
    dated = x.kind in ("future", "option")
    tenor = int(x.tenor_days) if x.tenor_days is not None else 0
    roll = x.roll_days if x.roll_days is not None else (min(7, tenor - 1) if dated else 0)
    return Leg(
        kind=x.kind,
        underlying=x.underlying,
        settlement=x.settlement,
        multiplier=x.multiplier,
        right=x.right,
        moneyness=x.moneyness if x.moneyness is not None else 1.0,
        tenor_days=tenor,
        roll_days=int(roll),
        notional=x.notional,
        quantity=x.quantity,
        hedge_delta_notional=x.hedge_delta_notional,
    )


def book_from_obj(obj: Any, *, root: str = "book") -> BacktestBook:
    """Validate a parsed backtest-book document.

    Raises
    ------
    InputError
        Naming the offending path (``book.legs[2].tenor_days``).
    """
    if not isinstance(obj, dict):
        raise InputError("a backtest book must be a JSON object", path=root)
    try:
        b = BookIn.model_validate(obj)
    except ValidationError as exc:
        raise translate(exc, root) from None
    vol = {
        k.upper(): VolSpec(
            source=v.source,
            window=v.window,
            lam=v.lam,
            series=v.series.upper() if v.series else None,
            relative_to=v.relative_to.upper() if v.relative_to else None,
            multiplier=v.multiplier,
        )
        for k, v in b.vol.items()
    }
    return BacktestBook(
        name=b.name,
        description=b.description,
        rebalance=b.rebalance,
        rate=b.rate,
        vol=vol,
        legs=tuple(_leg(x) for x in b.legs),
    )


def bundled_books() -> dict[str, Path]:
    """Bundled example backtest books (``crossmargin/examples/backtest``) by name."""
    from importlib import resources

    base = Path(str(resources.files("crossmargin").joinpath("examples"))) / "backtest"
    return {p.stem: p for p in sorted(base.glob("*.json"))} if base.is_dir() else {}


def load_book(path_or_name: str | Path) -> BacktestBook:
    """Read a backtest book from a JSON file, or a bundled example by name.

    Raises
    ------
    InputError
        If the file is missing or invalid.
    """
    p = Path(path_or_name)
    if not p.exists():
        bundled = bundled_books()
        if str(path_or_name) in bundled:
            p = bundled[str(path_or_name)]
        else:
            names = ", ".join(bundled) or "none"
            raise InputError(
                f"backtest book file not found (bundled books: {names})", path=str(path_or_name)
            )
    return book_from_obj(read_json(p, what="backtest book"), root=f"{p.name}")
