"""SPAN risk-parameter files: crossmargin's JSON layout, read into a :class:`.core.SpanBook`.

An exchange's risk-parameter file (CME PA2 / PC-SPAN XML, ``span.md`` §5) carries, per combined
commodity, its tiers, intra-commodity spreads, spot-month and short-option-minimum rates, the
inter-commodity spreads, and per contract a 16-value risk array and composite delta. This
module reads the same content from a documented JSON layout (format ``crossmargin-span-1``),
optionally with accounts' positions and expected results, so that published arrays — or arrays
converted from a PA2/XML file — can be margined and checked::

    {"format": "crossmargin-span-1", "currency": "USD",
     "combined_commodities": {
       "X": {"tiers": ["M2", "M3", "M4"], "som_rate": 0, "initial_ratio": 1.0,
             "wfpr_method": "normal",
             "intra_spreads": [{"rate": 200, "legs": [{"tier": "M2", "ratio": 1, "side": "A"},
                                                      {"tier": "M3", "ratio": 1, "side": "B"}]}]}},
     "inter_spreads": [{"credit": 0.55, "legs": [{"cc": "CORN", "ratio": 2, "side": "A"},
                                                  {"cc": "SOY", "ratio": 1, "side": "B"}]}],
     "contracts": {"X-M2": {"cc": "X", "tier": "M2", "risk_array": [16 losses], "delta": 1}},
     "accounts": [{"account": "a", "positions": [{"contract": "X-M2", "quantity": 1}],
                   "expected": {"maintenance_margin": 200}}]}

Risk arrays are losses of one long contract (positive = loss) with every weight applied;
spreads are listed in priority order. PA2/XML parsers are not included (see docs).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema, model_validator

from crossmargin._checks import number_value
from crossmargin._validation import (
    Finite,
    NonNegative,
    Positive,
    Unit,
    read_json,
    validate_document,
)
from crossmargin.errors import InputError
from crossmargin.margin.presets.span.core import (
    N_SCENARIOS,
    SpanBook,
    SpanCC,
    SpanLeg,
    SpanResult,
    SpanSpread,
    span_margin,
)

__all__ = ["SpanFile", "SpanFileRun", "load_span_file", "run_span_file", "span_file_from_obj"]

FORMAT = "crossmargin-span-1"
#: Largest magnitude of a risk-array value (a loss of one contract in the file's currency). A
#: bigger value is a unit error or a corrupt file, and sums of such values overflow to infinity.
MAX_RISK_ARRAY_VALUE = 1e15


def _risk_value(v: Any) -> float:
    x = number_value(v)
    if abs(x) > MAX_RISK_ARRAY_VALUE:
        raise ValueError(f"must be within ±{MAX_RISK_ARRAY_VALUE:g}, got {x!r}")
    return x


RiskValue = Annotated[
    float,
    BeforeValidator(_risk_value),
    WithJsonSchema(
        {"type": "number", "minimum": -MAX_RISK_ARRAY_VALUE, "maximum": MAX_RISK_ARRAY_VALUE}
    ),
]


class _M(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _LegIn(_M):
    """A spread leg: delta ratio and side."""

    ratio: Positive = 1.0
    side: Literal["A", "B"]


class TierLegIn(_LegIn):
    """An intra-commodity spread leg."""

    tier: str


class CCLegIn(_LegIn):
    """An inter-commodity spread leg."""

    cc: str


class IntraIn(_M):
    """An intra-commodity (calendar) spread: legs and charge per spread."""

    name: str = ""
    rate: NonNegative
    legs: list[TierLegIn] = Field(min_length=2)


class InterIn(_M):
    """An inter-commodity spread: legs and credit rate."""

    name: str = ""
    credit: Unit
    legs: list[CCLegIn] = Field(min_length=2)


class CCIn(_M):
    """A combined commodity."""

    tiers: list[str] = Field(min_length=1)
    intra_spreads: list[IntraIn] = Field(default_factory=list)
    spot_tiers: list[str] = Field(default_factory=list)
    spot_rate_spread: NonNegative = 0.0
    spot_rate_outright: NonNegative = 0.0
    som_rate: NonNegative = 0.0
    wfpr_method: Literal["normal", "scan_range", "scan_range_cap"] = "normal"
    scan_range_per_delta: NonNegative = 0.0
    initial_ratio: Positive = 1.0

    @model_validator(mode="after")
    def _tiers(self) -> CCIn:
        known = set(self.tiers)
        for sp in self.intra_spreads:
            for leg in sp.legs:
                if leg.tier not in known:
                    raise ValueError(f"spread leg tier {leg.tier!r} is not one of {self.tiers}")
        for t in self.spot_tiers:
            if t not in known:
                raise ValueError(f"spot tier {t!r} is not one of {self.tiers}")
        return self


class ContractIn(_M):
    """A contract and its risk array."""

    cc: str
    tier: str
    risk_array: list[RiskValue] = Field(min_length=N_SCENARIOS, max_length=N_SCENARIOS)
    delta: Finite = 0.0
    kind: Literal["future", "option", "physical"] = "future"
    right: Literal["call", "put"] | None = None
    value: Finite = 0.0
    premium_style: bool = True
    som: NonNegative | None = None


class PositionIn(_M):
    """A position in a contract of the file."""

    contract: str
    quantity: Finite


class ExpectedIn(_M):
    """Expected results of an account (for ``venue-case``)."""

    maintenance_margin: Finite | None = None
    initial_margin: Finite | None = None
    scan_risk: Finite | None = None


class AccountIn(_M):
    """An account's positions."""

    account: str = Field(min_length=1)
    positions: list[PositionIn] = Field(default_factory=list)
    expected: ExpectedIn | None = None


class SpanFile(_M):
    """A ``crossmargin-span-1`` risk-parameter file."""

    format: Literal["crossmargin-span-1"]
    currency: str = "USD"
    source: str = ""
    combined_commodities: dict[str, CCIn] = Field(min_length=1)
    inter_spreads: list[InterIn] = Field(default_factory=list)
    contracts: dict[str, ContractIn] = Field(min_length=1)
    accounts: list[AccountIn] = Field(default_factory=list)

    @model_validator(mode="after")
    def _refs(self) -> SpanFile:
        for name, c in self.contracts.items():
            cc = self.combined_commodities.get(c.cc)
            if cc is None:
                raise ValueError(f"contract {name!r}: unknown combined commodity {c.cc!r}")
            if c.tier not in cc.tiers:
                raise ValueError(f"contract {name!r}: tier {c.tier!r} is not a tier of {c.cc}")
            if c.kind == "option" and c.right is None:
                raise ValueError(f"contract {name!r}: an option needs right call|put")
        for sp in self.inter_spreads:
            for leg in sp.legs:
                if leg.cc not in self.combined_commodities:
                    raise ValueError(f"inter spread leg: unknown combined commodity {leg.cc!r}")
        for i, a in enumerate(self.accounts):
            for j, pos in enumerate(a.positions):
                if pos.contract not in self.contracts:
                    raise ValueError(
                        f"accounts[{i}].positions[{j}]: unknown contract {pos.contract!r}"
                    )
        return self


def span_file_from_obj(obj: Any) -> SpanFile:
    """Validate a parsed risk-parameter document."""
    return validate_document(SpanFile, obj, what="SPAN", path="span")


def _spread(sp: IntraIn | InterIn, rate: float, targets: list[int]) -> SpanSpread:
    """A spread definition of the file with its legs' targets (tier or CC indices)."""
    legs: list[_LegIn] = list(sp.legs)
    return SpanSpread(
        tuple(SpanLeg(t, lg.ratio, lg.side) for t, lg in zip(targets, legs, strict=True)),
        rate,
        sp.name,
    )


def load_span_file(path: str | Path) -> SpanFile:
    """Read and validate a ``crossmargin-span-1`` JSON file."""
    return span_file_from_obj(read_json(path, what="SPAN"))


def span_book(f: SpanFile) -> SpanBook:
    """The file's contracts and accounts as a :class:`SpanBook`."""
    cc_names = list(f.combined_commodities)
    cc_ix = {c: i for i, c in enumerate(cc_names)}
    ccs = []
    for name, c in f.combined_commodities.items():
        t_ix = {t: i for i, t in enumerate(c.tiers)}
        ccs.append(
            SpanCC(
                name=name,
                n_tiers=len(c.tiers),
                intra_spreads=tuple(
                    _spread(sp, sp.rate, [t_ix[leg.tier] for leg in sp.legs])
                    for sp in c.intra_spreads
                ),
                spot_tiers=tuple(t_ix[t] for t in c.spot_tiers),
                spot_rate_spread=c.spot_rate_spread,
                spot_rate_outright=c.spot_rate_outright,
                wfpr_method=c.wfpr_method,
                scan_range_per_delta=c.scan_range_per_delta,
                initial_ratio=c.initial_ratio,
                tier_names=tuple(c.tiers),
            )
        )
    inter = tuple(
        _spread(sp, sp.credit, [cc_ix[leg.cc] for leg in sp.legs]) for sp in f.inter_spreads
    )
    names = list(f.contracts)
    k_ix = {k: i for i, k in enumerate(names)}
    cs = [f.contracts[k] for k in names]
    som = [c.som if c.som is not None else f.combined_commodities[c.cc].som_rate for c in cs]
    pa, pc, pq = [], [], []
    for i, a in enumerate(f.accounts):
        for pos in a.positions:
            pa.append(i)
            pc.append(k_ix[pos.contract])
            pq.append(pos.quantity)
    return SpanBook(
        n_accounts=len(f.accounts),
        ccs=tuple(ccs),
        inter_spreads=inter,
        k_cc=np.asarray([cc_ix[c.cc] for c in cs], dtype=np.int64),
        k_tier=np.asarray(
            [f.combined_commodities[c.cc].tiers.index(c.tier) for c in cs], dtype=np.int64
        ),
        k_array=np.asarray([c.risk_array for c in cs], dtype=np.float64),
        k_delta=np.asarray([c.delta for c in cs], dtype=np.float64),
        k_option=np.asarray([c.kind == "option" for c in cs], dtype=np.bool_),
        k_call=np.asarray([c.right == "call" for c in cs], dtype=np.bool_),
        k_som=np.asarray(som, dtype=np.float64),
        k_value=np.asarray([c.value for c in cs], dtype=np.float64),
        k_premium=np.asarray([c.premium_style for c in cs], dtype=np.bool_),
        p_account=np.asarray(pa, dtype=np.int64),
        p_contract=np.asarray(pc, dtype=np.int64),
        p_quantity=np.asarray(pq, dtype=np.float64),
    )


@dataclass(frozen=True, slots=True, eq=False)
class SpanFileRun:
    """A file's accounts margined: the book, the result and the CC names."""

    file: SpanFile
    book: SpanBook
    result: SpanResult

    @property
    def cc_names(self) -> tuple[str, ...]:
        """Combined-commodity names (index = ``g_cc``)."""
        return tuple(self.file.combined_commodities)


def run_span_file(f: SpanFile) -> SpanFileRun:
    """Margin every account of the file."""
    if not f.accounts:
        raise InputError("the file has no accounts to margin", path="accounts")
    b = span_book(f)
    return SpanFileRun(f, b, span_margin(b))
