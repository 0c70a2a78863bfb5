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
    n = len(contracts)
    und_ix: dict[str, int] = {}
    cls_ix: dict[str, int] = {}
    names = tuple(c.name for c in contracts)

    def add(sym: str, needed_by: str) -> None:
        rc = config.risk_class_of(sym)
        if rc is None:
            raise ConfigError(
                f"no risk class for underlying {sym} (needed by {needed_by}); add it under "
                "'underlyings'",
                path="config.underlyings",
            )
        und_ix[sym] = len(und_ix)
        cls_ix.setdefault(rc, len(cls_ix))

    for sym in underlyings:
        add(sym, sym)
    group_ix: dict[tuple[int, datetime], int] = {}
    n_exp: dict[int, int] = {}
    key_of_group: list[int] = []
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
            add(sym, names[i])
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
