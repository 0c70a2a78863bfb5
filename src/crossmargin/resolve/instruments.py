"""The instrument table: contract terms joined with their marks under one snapshot.

Strata's lesson: a contract is not pricer-ready until it is bound to reference data and market
data. crossmargin keeps the two halves apart — :class:`~crossmargin.resolve.terms.ContractTerms`
(once per book) and :class:`~crossmargin.resolve.marks.Marks` (per snapshot, per underlying) —
and joins them into the table every kernel reads: one row per unique contract, with its kind,
underlying, risk class, strike and multiplier next to its spot, forward, year fraction, vol,
discount, value and delta. Joining copies no array.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Self

import numpy as np

from crossmargin._arrays import field_names
from crossmargin.config import RiskConfig
from crossmargin.instruments.contracts import Contract
from crossmargin.market.snapshot import MarketSnapshot
from crossmargin.resolve.marks import Marks, mark
from crossmargin.resolve.terms import KIND_OPTION, ContractTerms, contract_terms

__all__ = ["InstrumentTable", "resolve_instruments"]


@dataclass(frozen=True, eq=False)
class InstrumentTable(ContractTerms, Marks):
    """Pricer-ready arrays, one row per unique contract: terms and marks (see both parents)."""

    @classmethod
    def join(cls, terms: ContractTerms, marks: Marks) -> Self:
        """The table of ``terms`` marked by ``marks`` (arrays shared, not copied)."""
        kw = {k: getattr(terms, k) for k in field_names(ContractTerms)}
        kw.update({k: getattr(marks, k) for k in field_names(Marks)})
        return cls(**kw)

    def marks(self) -> Marks:
        """The marks alone."""
        return Marks(**{k: getattr(self, k) for k in field_names(Marks)})

    def remarked(
        self,
        snapshot: MarketSnapshot,
        config: RiskConfig,
        *,
        underlyings: Collection[str] | None = None,
        where: Callable[[int], str] = lambda i: f"instruments[{i}]",
    ) -> Self:
        """The same contracts marked against ``snapshot`` (only ``underlyings``' if given)."""
        m = mark(self, snapshot, config, where=where, underlyings=underlyings, previous=self)
        return self.join(self, m)

    def held_implied_vols(self) -> dict[str, float]:
        """Mean implied vol of the live options of each underlying that has some."""
        opt = (self.kind == KIND_OPTION) & ~self.settled
        return {
            sym: float(np.mean(self.sigma[opt & (self.und == u)]))
            for u, sym in enumerate(self.underlyings)
            if (opt & (self.und == u)).any()
        }


def resolve_instruments(
    contracts: Sequence[Contract],
    snapshot: MarketSnapshot,
    config: RiskConfig,
    *,
    where: Callable[[int], str] = lambda i: f"instruments[{i}]",
) -> InstrumentTable:
    """Terms and marks of ``contracts`` (:func:`contract_terms` then :func:`mark`).

    Raises
    ------
    ConfigError, MarketDataError, InputError
        As :func:`contract_terms` and :func:`mark`.
    """
    terms = contract_terms(contracts, config, where=where)
    return InstrumentTable.join(terms, mark(terms, snapshot, config, where=where))
