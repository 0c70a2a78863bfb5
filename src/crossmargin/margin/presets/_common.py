"""Shared machinery of the venue presets: catalog, parameter overrides and batch helpers.

A preset is a margin model (``crossmargin.margin`` registry) plus a catalog entry
(:class:`PresetInfo`) saying which venue method it reproduces, from which sources, what it
covers and — explicitly — what the venue has not published. Parameters are data: every preset
has a frozen pydantic parameter model whose defaults are the values in the venue specification
(the venue's methodology, e.g. ``drift-v2.md``); a risk configuration may override any of them under
``presets.<name>`` (merged over the defaults, then validated by the preset).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, NamedTuple, TypeVar

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from crossmargin._arrays import sum_by
from crossmargin._typing import FloatArray
from crossmargin._validation import format_loc
from crossmargin.config import RiskConfig
from crossmargin.errors import ConfigError, MarketDataError, ModelError
from crossmargin.margin.base import BUILTIN_PRESETS, ModelInfo, load_factory
from crossmargin.margin.batch import assemble_batch
from crossmargin.margin.result import AddOnRows, MarginBatch
from crossmargin.market.checks import check_asset
from crossmargin.resolve.book import ResolvedBook
from crossmargin.resolve.terms import KIND_FUTURE, KIND_OPTION, KIND_PERP, KIND_SPOT
from crossmargin.risk.aggregate import Groups, group_positions, group_sum

__all__ = [
    "KIND_NAMES",
    "Fraction",
    "NonNegative",
    "PerpGroups",
    "PresetInfo",
    "PresetParams",
    "VenuePreset",
    "accepted_collateral",
    "available_presets",
    "equity_upnl",
    "excluded_rows",
    "group_batch",
    "perp_groups",
    "pnl_at_oracle",
    "preset_info",
    "preset_params",
    "require_supported",
    "underlying_spot",
]

KIND_NAMES = {
    KIND_SPOT: "spot",
    KIND_PERP: "perpetual",
    KIND_FUTURE: "future",
    KIND_OPTION: "option",
}

#: A venue parameter that cannot be negative (finite, like every :class:`PresetParams` field).
NonNegative = Annotated[float, Field(ge=0.0)]
#: A venue parameter in [0, 1]: a haircut, an asset weight, a share of P&L.
Fraction = Annotated[float, Field(ge=0.0, le=1.0)]


class PresetParams(BaseModel):
    """Base of every preset's parameter model: strict, finite, closed and frozen.

    A venue parameter is a number, never a string (``'0.8'``) or a boolean (``true`` is not 1),
    and never NaN or infinite; an unknown field is an error. Lists from YAML/JSON are read as
    the tuples the models hold.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)

    @model_validator(mode="before")
    @classmethod
    def _lists_as_tuples(cls, data: Any) -> Any:
        if isinstance(data, Mapping):
            return {k: _tuples(v) for k, v in data.items()}
        return data


def _tuples(v: Any) -> Any:
    if isinstance(v, list):
        return tuple(_tuples(x) for x in v)
    return v


P = TypeVar("P", bound=BaseModel)


@dataclass(frozen=True, slots=True)
class PresetInfo:
    """Catalog entry of one venue preset.

    Attributes
    ----------
    name
        Registry name (``--model``), e.g. ``derive-pmrm2``.
    venue, title
        Venue and a one-line description of the method.
    status
        How far the method is pinned down (``reproduced``, ``partially pinned``, ...).
    sources
        Where the method and its parameters come from (venue documents, code, specs).
    covers
        What the preset reproduces.
    gaps
        What it does not: unpublished rules and how the preset treats them.
    defaults
        Factory of the default (published) parameters.
    margin
        The venue's method: ``margin(book, params, detail=...) -> MarginBatch``.
    """

    name: str
    venue: str
    title: str
    status: str
    sources: tuple[str, ...]
    covers: tuple[str, ...]
    gaps: tuple[str, ...]
    defaults: Callable[[], BaseModel]
    margin: Callable[..., MarginBatch]

    def model(self, config: RiskConfig) -> VenuePreset:
        """The preset bound to ``config``: published defaults overridden by ``presets.<name>``."""
        return VenuePreset(self, config, preset_params(self.name, config, self.defaults()))

    def model_info(self) -> ModelInfo:
        """The margin-model registry's entry of this preset."""
        return ModelInfo(self.name, self.title, self.sources[0], self.model)

    def as_dict(self, *, params: bool = False) -> dict[str, Any]:
        """Plain-data form (for ``crossmargin presets --format json``)."""
        out: dict[str, Any] = {
            "name": self.name,
            "venue": self.venue,
            "title": self.title,
            "status": self.status,
            "sources": list(self.sources),
            "covers": list(self.covers),
            "gaps": list(self.gaps),
        }
        if params:
            out["parameters"] = self.defaults().model_dump(mode="json")
        return out


@dataclass(frozen=True, slots=True)
class VenuePreset:
    """A venue preset as a margin model: its catalog entry, the configuration, its parameters."""

    info: PresetInfo
    config: RiskConfig
    params: Any

    @property
    def name(self) -> str:
        """Registry name."""
        return self.info.name

    @property
    def description(self) -> str:
        """One-line description."""
        return self.info.title

    def compute(self, book: ResolvedBook, *, detail: bool = False) -> MarginBatch:
        """Margin every account of ``book`` by the venue's method."""
        return self.info.margin(book, self.params, detail=detail)


def available_presets() -> tuple[str, ...]:
    """Names of the venue presets, in listing order (the static registry's, nothing imported)."""
    return BUILTIN_PRESETS


def preset_info(name: str) -> PresetInfo:
    """Catalog entry of preset ``name``.

    Raises
    ------
    ModelError
        If no preset has that name.
    """
    if name not in BUILTIN_PRESETS:
        raise ModelError(
            f"unknown preset {name!r}; available: {', '.join(BUILTIN_PRESETS)}", path="preset"
        )
    info: PresetInfo = load_factory(name)
    return info


def _merge(base: Any, over: Any) -> Any:
    if isinstance(base, Mapping) and isinstance(over, Mapping):
        out = dict(base)
        for k, v in over.items():
            out[k] = _merge(base[k], v) if k in base else v
        return out
    return over


def preset_params(name: str, config: RiskConfig, defaults: P) -> P:
    """The preset's parameters: ``defaults`` with ``config.presets[name]`` merged over them.

    Mappings merge key by key; lists and scalars replace.

    Raises
    ------
    ConfigError
        An override names an unknown preset or field, or fails validation (path
        ``config.presets.<name>.<field>``).
    """
    known = available_presets()
    for key in config.presets:
        if key not in known:
            raise ConfigError(
                f"unknown preset (available: {', '.join(known)})", path=f"config.presets.{key}"
            )
    over = config.presets.get(name)
    if not over:
        return defaults
    if not isinstance(over, Mapping):
        raise ConfigError("must be a mapping of parameter overrides", path=f"config.presets.{name}")
    merged = _merge(defaults.model_dump(), over)
    try:
        return type(defaults).model_validate(merged)
    except ValidationError as exc:
        err = exc.errors()[0]
        msg = {"extra_forbidden": "unknown parameter"}.get(err["type"], err["msg"])
        loc = format_loc(tuple(err["loc"]), f"config.presets.{name}")
        raise ConfigError(msg.removeprefix("Value error, "), path=loc) from None


def require_supported(
    rb: ResolvedBook,
    preset: str,
    *,
    kinds: Sequence[int],
    inverse: bool | None = None,
) -> None:
    """Refuse net positions the venue does not list (clear error naming the first one).

    Parameters
    ----------
    kinds
        Contract kinds the venue margins (``KIND_*`` codes).
    inverse
        ``False``: linear contracts only; ``True``: inverse only; ``None``: both.

    Raises
    ------
    ModelError
        Naming the position (``positions[i].instrument``) and why.
    """
    pos, inst = rb.positions, rb.instruments
    if pos.n == 0:
        return
    k = inst.kind[pos.instrument]
    bad = ~np.isin(k, np.asarray(kinds, dtype=np.int64))
    why = ""
    if bad.any():
        j = int(np.argmax(bad))
        why = f"{KIND_NAMES[int(k[j])]} contracts are not margined by {preset}"
    elif inverse is not None:
        inv = inst.inverse[pos.instrument]
        bad = inv != inverse
        if bad.any():
            j = int(np.argmax(bad))
            why = f"{'inverse' if inv[j] else 'linear'} contracts are not margined by {preset}"
    if bad.any():
        ins = int(pos.instrument[j])
        allowed = ", ".join(KIND_NAMES[x] for x in kinds)
        raise ModelError(
            f"{inst.names[ins]}: {why} (it margins: {allowed})",
            path=rb.book.position_path(int(pos.first_row[j])),
        )


def equity_upnl(rb: ResolvedBook, equity: FloatArray) -> tuple[FloatArray, FloatArray]:
    """``(upnl_im, upnl_mm)`` that make the account layer's equity equal ``equity``.

    The account layer computes ``equity = haircut collateral value + upnl``. Venues that value
    collateral their own way (weights, haircuts charged as contingencies) report their own
    account value; this returns the difference to add so both layers agree.
    """
    n = rb.n_accounts
    col = rb.collateral
    cv_im = col.per_account(col.value_im, n)
    cv_mm = col.per_account(col.value_mm, n)
    return equity - cv_im, equity - cv_mm


def per_account(index: Any, values: FloatArray, n: int) -> FloatArray:
    """Sum ``values`` per account index."""
    return sum_by(np.asarray(index, dtype=np.int64), values, n)


def accepted_collateral(rb: ResolvedBook, accepted: Sequence[str]) -> tuple[FloatArray, FloatArray]:
    """Per account: market value of the collateral a venue accepts, and of what it does not.

    The snapshot currency is always accepted. Liabilities (negative balances) of any asset are
    kept (they are owed whatever the venue accepts).
    """
    col = rb.collateral
    n = rb.n_accounts
    ok_asset = np.asarray(
        [a in accepted or a == rb.snapshot.base_currency for a in col.assets], dtype=np.bool_
    )
    ok = ok_asset[col.asset] if col.asset.size else np.zeros(0, np.bool_)
    mv = col.market_value
    keep = ok | (mv < 0)
    return col.per_account(np.where(keep, mv, 0.0), n), col.per_account(np.where(keep, 0.0, mv), n)


def excluded_rows(rb: ResolvedBook, excluded: FloatArray, venue: str) -> AddOnRows:
    """Informational add-on rows: collateral value the venue does not accept (counted as 0)."""
    n = rb.n_accounts
    return AddOnRows(
        "collateral_not_accepted",
        np.arange(n, dtype=np.int64),
        ("collateral",) * n,
        excluded,
        f"informational: collateral {venue} does not accept, counted at 0 in equity",
    )


def underlying_spot(rb: ResolvedBook) -> FloatArray:
    """Spot (oracle / index) price per underlying index of ``rb.instruments``.

    Index with ``groups.und`` for a price per (account, underlying) group. At least one entry
    (0 where no contract references the underlying), so an empty book indexes safely.
    """
    inst = rb.instruments
    out = np.zeros(max(len(inst.underlyings), 1))
    out[inst.und] = inst.spot
    return out


class PerpGroups(NamedTuple):
    """A perpetuals-only venue's net positions, one per (account, underlying) group.

    Attributes
    ----------
    groups
        The (account, underlying) groups.
    base
        Net base quantity of each group (quantity x multiplier, summed).
    spot
        The underlying's oracle price of each group.
    """

    groups: Groups
    base: FloatArray
    spot: FloatArray


def perp_groups(rb: ResolvedBook, preset: str) -> PerpGroups:
    """Linear perpetuals netted per (account, underlying); anything else is refused.

    Raises
    ------
    ModelError
        A position ``preset`` does not margin (not a linear perpetual).
    """
    require_supported(rb, preset, kinds=(KIND_PERP,), inverse=False)
    pos, inst = rb.positions, rb.instruments
    groups = group_positions(pos, inst)
    base = group_sum(groups, pos.quantity * inst.mult[pos.instrument])
    return PerpGroups(groups, base, underlying_spot(rb)[groups.und])


def group_batch(
    preset: str,
    rb: ResolvedBook,
    groups: Groups,
    *,
    im: FloatArray,
    mm: FloatArray,
    delta: FloatArray,
    spot: FloatArray,
    **more: Any,
) -> MarginBatch:
    """:func:`~crossmargin.margin.batch.assemble_batch` of per-(account, underlying) groups.

    ``delta`` is each group's net delta in underlying units, its notional ``delta x spot``;
    ``more`` are the other arguments of ``assemble_batch``.
    """
    return assemble_batch(
        preset,
        rb,
        account=groups.account,
        und=groups.und,
        im=im,
        mm=mm,
        delta=delta,
        delta_notional=delta * spot,
        **more,
    )


def pnl_at_oracle(rb: ResolvedBook) -> FloatArray:
    """Per net position: unrealised P&L with the contract valued at spot, not at its mark.

    ``mtm + quantity · multiplier · (spot − mark)`` for linear perpetuals (mark = ``fwd``) — the
    valuation of venues that mark perps to the oracle/index price (Drift v2, dYdX v4).
    """
    inst, pos = rb.instruments, rb.positions
    ii = pos.instrument
    return np.asarray(
        pos.mtm + pos.quantity * inst.mult[ii] * (inst.spot[ii] - inst.fwd[ii]), dtype=np.float64
    )


def quote_price(rb: ResolvedBook, symbol: str, preset: str) -> float:
    """Price of a venue's quote asset (e.g. USDC) in the snapshot currency.

    Venues that settle in a stable coin compute notionals, requirements and P&L from oracle
    prices as amounts *of that coin* (Drift multiplies by the quote oracle explicitly, dYdX counts
    quote quantums); a preset converts them to the snapshot currency at this price. The quote
    asset's market data goes through the same fail-closed checks as every priced asset.

    Raises
    ------
    MarketDataError
        The snapshot has no price for ``symbol`` (unless it is the snapshot currency), or the
        price is low-confidence or stale.
    """
    snap = rb.snapshot
    if symbol == snap.base_currency and symbol not in snap.assets:
        return 1.0
    if symbol not in snap.assets:
        raise MarketDataError(
            f"{preset} computes in its quote asset {symbol}: the snapshot has no {symbol} price "
            f"to convert to {snap.base_currency}",
            path=f"assets.{symbol}",
        )
    check_asset(snap, symbol, rb.config.market, needed_by=f"{preset} (quote asset)")
    return float(snap.price(symbol))
