"""Contract terms: everything about the contracts of a book that no market move changes.

OpenGamma Strata keeps a resolved trade (bound to reference data, once) apart from the market
data a pricer reads (per valuation). :func:`contract_terms` is the first half for crossmargin:
once per book and configuration it fixes, per unique contract, its kind, settlement, multiplier,
underlying and risk class, strike, call flag and expiry bucket — as arrays, so that kernels never
look anything up. The second half, the **marks** (spot, forward, year fraction, vol, discount,
value, delta), is computed from a snapshot by :mod:`crossmargin.resolve.marks`, for all contracts
or only those of the underlyings a market update touched.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Self

import numpy as np

from crossmargin._arrays import Rows, field_names
from crossmargin._typing import BoolArray, FloatArray, IntArray
from crossmargin.config import RiskConfig
from crossmargin.errors import ConfigError
from crossmargin.instruments.contracts import Contract, Future, Option, Perpetual, Spot

__all__ = [
    "KIND_FUTURE",
    "KIND_OPTION",
    "KIND_PERP",
    "KIND_SPOT",
    "ContractTerms",
    "contract_terms",
    "extend_terms",
    "take_rows",
]

KIND_SPOT = 0
KIND_PERP = 1
KIND_FUTURE = 2
KIND_OPTION = 3


def take_rows(table: Any, idx: IntArray) -> Any:
    """The rows ``idx`` of a table dataclass: arrays and per-row tuples indexed, the rest kept.

    A per-row tuple is one whose length is the table's row count (``contracts``, ``names``).
    """
    n = table.n
    out: dict[str, Any] = {}
    for k in field_names(type(table)):
        v = getattr(table, k)
        if isinstance(v, np.ndarray) and v.ndim >= 1 and v.shape[0] == n:
            out[k] = v[idx]
        elif isinstance(v, tuple) and k in table.ROW_TUPLES:
            out[k] = tuple(v[int(i)] for i in idx)
        else:
            out[k] = v
    return type(table)(**out)


@dataclass(frozen=True, eq=False)
class ContractTerms(Rows):
    """The terms of each unique contract, one row per contract (no market data).

    Attributes
    ----------
    contracts, names
        The contracts and their canonical names.
    underlyings, classes
        Names indexed by ``und`` and ``cls``.
    kind, inverse, mult, und, cls
        Contract kind code, inverse flag, multiplier, underlying and risk-class indices.
    strike, is_call
        Strike and call flag (options; 0 and ``False`` otherwise).
    expiry_key
        Integer id of the expiry bucket within its underlying (1, 2, … in order of first
        appearance; perpetuals and spot share bucket 0).
    group
        Expiry group (one per underlying and expiry) of each dated contract, −1 otherwise;
        ``group_expiry`` gives each group's instant.
    """

    #: Per-row tuple fields (indexed by :func:`take_rows`).
    ROW_TUPLES = ("contracts", "names")

    contracts: tuple[Contract, ...]
    names: tuple[str, ...]
    underlyings: tuple[str, ...]
    classes: tuple[str, ...]
    kind: IntArray
    inverse: BoolArray
    mult: FloatArray
    und: IntArray
    cls: IntArray
    strike: FloatArray
    is_call: BoolArray
    expiry_key: IntArray
    group: IntArray
    group_expiry: tuple[datetime, ...]

    def rows_of(self, underlyings: Collection[str]) -> IntArray:
        """Rows of the contracts on any of ``underlyings`` (ascending)."""
        want = np.asarray([u in underlyings for u in self.underlyings], dtype=np.bool_)
        return np.flatnonzero(want[self.und]).astype(np.int64) if self.n else np.zeros(0, np.int64)

    def take(self, idx: IntArray) -> Self:
        """The rows ``idx`` (index arrays into ``underlyings``/``classes`` kept as they are)."""
        out: Self = take_rows(self, idx)
        return out

    def terms(self) -> ContractTerms:
        """The terms alone (for a table that joins terms with marks)."""
        return ContractTerms(**{k: getattr(self, k) for k in field_names(ContractTerms)})


def contract_terms(
    contracts: Sequence[Contract],
    config: RiskConfig,
    *,
    where: Callable[[int], str] = lambda i: f"instruments[{i}]",
    underlyings: Sequence[str] = (),
) -> ContractTerms:
    """Fix the terms of each contract (module docstring).

    ``underlyings`` fixes the order of the first underlyings (and of their risk classes);
    others follow in order of first appearance.

    Raises
    ------
    ConfigError
        An underlying has no risk class.
    """
    b = _TermsBuilder(config)
    for sym in underlyings:
        b.add_underlying(sym, sym)
    return b.build(contracts)


def extend_terms(
    terms: ContractTerms, contracts: Sequence[Contract], config: RiskConfig
) -> ContractTerms:
    """``terms`` with ``contracts`` appended as new rows (existing rows and indices unchanged).

    Underlyings, risk classes and expiry groups new to ``terms`` are appended in order of first
    appearance, so the result equals :func:`contract_terms` of all the contracts in that order
    (a live engine adds a contract without re-resolving the others).

    Raises
    ------
    ConfigError
        An underlying has no risk class.
    """
    b = _TermsBuilder(config, seed=terms)
    new = b.build(contracts)
    cat = np.concatenate
    return ContractTerms(
        contracts=terms.contracts + new.contracts,
        names=terms.names + new.names,
        underlyings=new.underlyings,
        classes=new.classes,
        kind=cat([terms.kind, new.kind]),
        inverse=cat([terms.inverse, new.inverse]),
        mult=cat([terms.mult, new.mult]),
        und=cat([terms.und, new.und]),
        cls=cat([terms.cls, new.cls]),
        strike=cat([terms.strike, new.strike]),
        is_call=cat([terms.is_call, new.is_call]),
        expiry_key=cat([terms.expiry_key, new.expiry_key]),
        group=cat([terms.group, new.group]),
        group_expiry=new.group_expiry,
    )


class _TermsBuilder:
    """Assigns underlying, class and expiry-group indices in order of first appearance."""

    def __init__(self, config: RiskConfig, *, seed: ContractTerms | None = None) -> None:
        self.config = config
        self.und_ix: dict[str, int] = {}
        self.cls_ix: dict[str, int] = {}
        self.group_ix: dict[tuple[int, datetime], int] = {}
        self.n_exp: dict[int, int] = {}
        self.key_of_group: list[int] = []
        if seed is not None:
            self.und_ix = {u: i for i, u in enumerate(seed.underlyings)}
            self.cls_ix = {c: i for i, c in enumerate(seed.classes)}
            und_of_group = np.full(len(seed.group_expiry), -1, np.int64)
            key_of_group = np.zeros(len(seed.group_expiry), np.int64)
            dated = seed.group >= 0
            und_of_group[seed.group[dated]] = seed.und[dated]
            key_of_group[seed.group[dated]] = seed.expiry_key[dated]
            for g, e in enumerate(seed.group_expiry):
                u = int(und_of_group[g])
                self.group_ix[(u, e)] = g
                self.n_exp[u] = max(self.n_exp.get(u, 0), int(key_of_group[g]))
                self.key_of_group.append(int(key_of_group[g]))

    def add_underlying(self, sym: str, needed_by: str) -> None:
        rc = self.config.risk_class_of(sym)
        if rc is None:
            raise ConfigError(
                f"no risk class for underlying {sym} (needed by {needed_by}); add it under "
                "'underlyings'",
                path="config.underlyings",
            )
        self.und_ix[sym] = len(self.und_ix)
        self.cls_ix.setdefault(rc, len(self.cls_ix))

    def build(self, contracts: Sequence[Contract]) -> ContractTerms:
        """The rows of ``contracts`` (indices continue those already assigned)."""
        config, und_ix, cls_ix, group_ix = self.config, self.und_ix, self.cls_ix, self.group_ix
        n_exp, key_of_group = self.n_exp, self.key_of_group
        n = len(contracts)
        names = tuple(c.name for c in contracts)
        kind = np.zeros(n, np.int64)
        inverse = np.zeros(n, np.bool_)
        mult = np.ones(n)
        und = np.zeros(n, np.int64)
        cls = np.zeros(n, np.int64)
        strike = np.zeros(n)
        is_call = np.zeros(n, np.bool_)
        group = np.full(n, -1, np.int64)
        for i, c in enumerate(contracts):
            sym = c.underlying
            if sym not in und_ix:
                self.add_underlying(sym, names[i])
            u = und[i] = und_ix[sym]
            cls[i] = cls_ix[config.risk_class_of(sym)]  # type: ignore[index]
            inverse[i] = c.settlement == "inverse"
            mult[i] = c.multiplier
            if isinstance(c, Spot):
                kind[i] = KIND_SPOT
            elif isinstance(c, Perpetual):
                kind[i] = KIND_PERP
            else:
                assert isinstance(c, Future | Option)
                kind[i] = KIND_OPTION if isinstance(c, Option) else KIND_FUTURE
                g = group_ix.get((u, c.expiry))
                if g is None:
                    g = group_ix[(u, c.expiry)] = len(group_ix)
                    n_exp[u] = n_exp.get(u, 0) + 1
                    key_of_group.append(n_exp[u])
                group[i] = g
                if isinstance(c, Option):
                    strike[i] = c.strike
                    is_call[i] = c.right == "call"
        keys = np.asarray([0, *key_of_group], dtype=np.int64)
        return ContractTerms(
            contracts=tuple(contracts),
            names=names,
            underlyings=tuple(und_ix),
            classes=tuple(cls_ix),
            kind=kind,
            inverse=inverse,
            mult=mult,
            und=und,
            cls=cls,
            strike=strike,
            is_call=is_call,
            expiry_key=keys[group + 1],
            group=group,
            group_expiry=tuple(e for _, e in group_ix),
        )
