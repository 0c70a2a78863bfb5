"""What the live engine returns: acknowledgements, pre-trade checks, sweeps, account views.

Per-account results are kept in :class:`ResultTable`, one row per account (growable columns):
the last margin (equity, maintenance equity, IM, MM, ratio, status, collateral value,
mark-to-market, the worst scenario of the riskiest group), the reported status and pending
recovery of the event hysteresis (:mod:`crossmargin.live.events`) and the *frozen* flag of an
account whose market data is stale (its last margin is kept, never recomputed on old prices).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np
import numpy.typing as npt

from crossmargin._format import json_number
from crossmargin._typing import FloatArray, IntArray
from crossmargin.account.health import STATUSES
from crossmargin.live.columns import Columns
from crossmargin.live.events import Event, status_name
from crossmargin.live.kernel import AccountBatch

__all__ = ["AccountTable", "AccountView", "Ack", "PreTradeResult", "ResultTable", "SweepReport"]

_FLOATS = ("equity", "m_equity", "im", "mm", "ratio", "collateral", "upnl", "worst_loss")
_INTS = ("status", "reported", "pending", "worst_und", "worst_cls", "worst_index")


class ResultTable(Columns):
    """Last margin, reported status and frozen flag of every account (module docstring)."""

    def __init__(self) -> None:
        super().__init__(
            {
                **dict.fromkeys(_FLOATS, np.float64),
                **dict.fromkeys(_INTS, np.int64),
                "frozen": bool,
            },
            fill={**dict.fromkeys(_INTS, -1), "ratio": np.nan},
        )
        #: Names the ``worst_und`` column refers to (a group's underlying, or a venue's group).
        self.names: list[str] = []
        self._name_id: dict[str, int] = {}

    def name_ids(self, names: tuple[str, ...]) -> IntArray:
        """Ids of ``names`` in :attr:`names` (added if new); index −1 maps to −1."""
        out = np.empty(len(names) + 1, np.int64)
        out[-1] = -1
        for k, n in enumerate(names):
            i = self._name_id.get(n)
            if i is None:
                i = self._name_id[n] = len(self.names)
                self.names.append(n)
            out[k] = i
        return out

    def write(self, batch: AccountBatch) -> None:
        """Store a batch's numbers (reported status and pending recovery are the caller's)."""
        a = batch.accounts
        self["equity"][a] = batch.equity
        self["m_equity"][a] = batch.m_equity
        self["im"][a] = batch.im
        self["mm"][a] = batch.mm
        self["ratio"][a] = batch.ratio
        self["status"][a] = batch.status
        self["collateral"][a] = batch.collateral
        self["upnl"][a] = batch.upnl
        self["worst_und"][a] = self.name_ids(batch.group_names)[batch.worst_und]
        self["worst_cls"][a] = batch.worst_cls
        self["worst_index"][a] = batch.worst_index
        self["worst_loss"][a] = batch.worst_loss

    def numbers(self, accounts: IntArray) -> dict[str, FloatArray]:
        """Equity, maintenance equity, IM, MM of ``accounts``."""
        return {k: self[k][accounts] for k in ("equity", "m_equity", "im", "mm")}


@dataclass(frozen=True, slots=True)
class Ack:
    """The engine's answer to one input.

    Attributes
    ----------
    accepted
        Whether the input was applied. An input refused by a rule (pre-trade check, withdrawal
        check, unknown account, unusable market data) is journaled too — it is part of the
        history — and leaves the state unchanged; a malformed one is neither journaled nor
        applied; a duplicate (same id, or a feed's resent sequence number) is not applied again.
    seq
        Journal sequence number (``None``: not journaled).
    reason, path
        Why it was refused, and the offending field.
    events
        Events the input caused.
    """

    accepted: bool
    seq: int | None
    reason: str | None = None
    path: str | None = None
    events: tuple[Event, ...] = ()

    def to_obj(self) -> dict[str, object]:
        """JSON form."""
        return {
            "accepted": self.accepted,
            "seq": self.seq,
            "reason": self.reason,
            "path": self.path,
            "events": [e.to_obj() for e in self.events],
        }


def _state(row: Mapping[str, float | int | None]) -> dict[str, object]:
    return dict(row)


@dataclass(frozen=True, slots=True)
class PreTradeResult:
    """A pre-trade check: the account before and after hypothetical trades.

    ``accepted`` follows the engine's rule: post-trade equity ≥ IM, or the trades reduce IM.
    ``before`` / ``after`` hold ``equity``, ``maintenance_equity``, ``initial_margin``,
    ``maintenance_margin``, ``margin_ratio`` and ``status`` (base currency).
    """

    account: str
    accepted: bool
    reason: str | None
    before: Mapping[str, object]
    after: Mapping[str, object]

    def __post_init__(self) -> None:
        object.__setattr__(self, "before", MappingProxyType(dict(self.before)))
        object.__setattr__(self, "after", MappingProxyType(dict(self.after)))

    def to_obj(self) -> dict[str, object]:
        """JSON form."""
        return {
            "account": self.account,
            "accepted": self.accepted,
            "reason": self.reason,
            "before": dict(self.before),
            "after": dict(self.after),
        }


def health_obj(
    equity: float, m_equity: float, im: float, mm: float, ratio: float, status: int
) -> dict[str, object]:
    """The numbers of one account as a JSON object."""
    return {
        "equity": float(equity),
        "maintenance_equity": float(m_equity),
        "initial_margin": float(im),
        "maintenance_margin": float(mm),
        "margin_ratio": json_number(ratio),
        "status": STATUSES[int(status)] if status >= 0 else None,
    }


@dataclass(frozen=True, slots=True)
class SweepReport:
    """A full sweep: every account re-margined from scratch and compared.

    Attributes
    ----------
    accounts
        Accounts re-margined (frozen ones are not).
    mismatches
        Accounts whose incremental numbers differed from the sweep's beyond the tolerance
        (a ``sweep_mismatch`` event each); the sweep's numbers are adopted.
    max_abs_diff
        Largest absolute difference seen over equity, maintenance equity, IM and MM.
    events
        Events of the sweep (mismatches; status changes after adopting).
    """

    accounts: int
    mismatches: tuple[str, ...]
    max_abs_diff: float
    events: tuple[Event, ...] = ()

    @property
    def ok(self) -> bool:
        """Whether the incremental state equalled the sweep (no mismatch)."""
        return not self.mismatches


@dataclass(frozen=True, slots=True)
class AccountView:
    """An account's last margin as the engine holds it.

    ``result`` is the ``crossmargin margin --format json`` object of the account (computed on
    demand from the live state: breakdown, add-ons, collateral); ``frozen`` means its market
    data is stale and the numbers are its last margin.
    """

    account: str
    status: str | None
    reported_status: str | None
    equity: float
    maintenance_equity: float
    initial_margin: float
    maintenance_margin: float
    margin_ratio: float | None
    frozen: bool
    result: Mapping[str, Any] = field(default_factory=dict)

    def to_obj(self) -> dict[str, object]:
        """JSON form."""
        return {
            "account": self.account,
            "status": self.status,
            "reported_status": self.reported_status,
            "equity": self.equity,
            "maintenance_equity": self.maintenance_equity,
            "initial_margin": self.initial_margin,
            "maintenance_margin": self.maintenance_margin,
            "margin_ratio": self.margin_ratio,
            "frozen": self.frozen,
            "result": dict(self.result),
        }


@dataclass(frozen=True, slots=True, eq=False)
class AccountTable:
    """Every account's last numbers as columns, one row per account in opening order.

    Copies taken under the engine's lock at journal seq :attr:`seq`: a consistent picture that
    readers sort, filter and page without holding the engine (the HTTP service's account list).
    Status codes index :data:`crossmargin.account.health.STATUSES` (``-1``: none yet);
    ``margin_ratio`` is NaN where MM = 0.
    """

    seq: int
    event_seq: int
    accounts: tuple[str, ...]
    status: IntArray
    reported: IntArray
    equity: FloatArray
    maintenance_equity: FloatArray
    initial_margin: FloatArray
    maintenance_margin: FloatArray
    margin_ratio: FloatArray
    frozen: npt.NDArray[np.bool_]

    @property
    def n(self) -> int:
        """Number of accounts."""
        return len(self.accounts)

    def view(self, i: int) -> AccountView:
        """Row ``i`` as an account view (without the ``result`` breakdown)."""
        ratio = float(self.margin_ratio[i])
        return AccountView(
            account=self.accounts[i],
            status=status_name(int(self.status[i])),
            reported_status=status_name(int(self.reported[i])),
            equity=float(self.equity[i]),
            maintenance_equity=float(self.maintenance_equity[i]),
            initial_margin=float(self.initial_margin[i]),
            maintenance_margin=float(self.maintenance_margin[i]),
            margin_ratio=json_number(ratio),
            frozen=bool(self.frozen[i]),
        )
