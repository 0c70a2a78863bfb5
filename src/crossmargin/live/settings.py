"""Settings of a live engine (everything but the risk configuration and the model)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from types import MappingProxyType
from typing import Any, Literal

from crossmargin.errors import InputError

__all__ = ["AutoLiquidate", "LiveSettings"]

AutoLiquidate = Literal["off", "partial", "full"]


def _seconds(v: object, path: str, *, positive: bool = False) -> float:
    s = v.total_seconds() if isinstance(v, timedelta) else v
    if isinstance(s, bool) or not isinstance(s, int | float) or not math.isfinite(s) or s < 0:
        raise InputError(f"must be a non-negative duration, got {v!r}", path=path)
    if positive and s <= 0:
        raise InputError(f"must be a positive duration, got {v!r}", path=path)
    return float(s)


@dataclass(frozen=True, slots=True)
class LiveSettings:
    """How a :class:`~crossmargin.live.engine.LiveEngine` runs.

    Parameters
    ----------
    auto_liquidate
        ``off`` (report only), ``partial`` or ``full``: run the liquidation engine on accounts
        whose maintenance equity is below MM (:mod:`crossmargin.liquidation`), with this policy.
    heartbeat
        Seconds a feed may stay silent before its assets are stale; one number for every feed
        or per feed (feeds not listed: ``default_heartbeat``).
    default_heartbeat
        Heartbeat of feeds not in ``heartbeat``; ``None``: the risk configuration's
        ``market.max_age_seconds``.
    revalue_every
        Seconds between time steps: the valuation instant moves and every contract is re-marked
        (time decay) when an input is at least this much later than it
        (:mod:`crossmargin.live.market`).
    sweep_every
        Seconds (engine time) between automatic full sweeps (``0``: only when asked).
    recovery_buffer, recovery_hold
        Hysteresis of account events (:mod:`crossmargin.live.events`): the margin a recovery
        must clear and how long (seconds) it must hold.
    insurance_fund
        Opening insurance fund (snapshot currency); ``None``: the configuration's
        ``liquidation.insurance_fund`` (else its share of the accounts' collateral).
    settlement_asset
        Where option premiums and the realised P&L of closed positions settle (default: the
        snapshot currency; e.g. ``USDC`` for a venue whose cash asset it is). Liquidations
        settle in the snapshot currency (:mod:`crossmargin.liquidation`).
    snapshot_every
        Journal records between state snapshots in the store (``0``: only on close).
    max_events
        Events kept in memory for :meth:`~crossmargin.live.engine.LiveEngine.events_after`
        (the store keeps all of them).
    max_clock_jump
        Seconds a market update's source timestamp may lie ahead of the later of the engine
        clock and the wall clock; a tick stamped further ahead is refused (path ``time``,
        nothing journaled, state unchanged) — it would move the engine clock and make every
        feed look stale. ``None``: no limit (replays of synthetic future data).
    """

    auto_liquidate: AutoLiquidate = "off"
    heartbeat: Mapping[str, float] = field(default_factory=dict)
    default_heartbeat: float | None = None
    revalue_every: float = 60.0
    sweep_every: float = 0.0
    recovery_buffer: float = 0.02
    recovery_hold: float = 0.0
    insurance_fund: float | None = None
    settlement_asset: str | None = None
    snapshot_every: int = 100_000
    max_events: int = 100_000
    max_clock_jump: float | None = 5.0

    def __post_init__(self) -> None:
        if self.auto_liquidate not in ("off", "partial", "full"):
            raise InputError(
                f"must be off, partial or full, got {self.auto_liquidate!r}", path="auto_liquidate"
            )
        hb = self.heartbeat
        if isinstance(hb, Mapping):
            beats = {str(k): _seconds(v, f"heartbeat.{k}", positive=True) for k, v in hb.items()}
        else:
            raise InputError("must be a mapping of feed to seconds", path="heartbeat")
        object.__setattr__(self, "heartbeat", MappingProxyType(beats))
        if self.default_heartbeat is not None:
            object.__setattr__(
                self,
                "default_heartbeat",
                _seconds(self.default_heartbeat, "default_heartbeat", positive=True),
            )
        object.__setattr__(
            self, "revalue_every", _seconds(self.revalue_every, "revalue_every", positive=True)
        )
        object.__setattr__(self, "sweep_every", _seconds(self.sweep_every, "sweep_every"))
        if self.max_clock_jump is not None:
            object.__setattr__(
                self, "max_clock_jump", _seconds(self.max_clock_jump, "max_clock_jump")
            )
        object.__setattr__(self, "recovery_hold", _seconds(self.recovery_hold, "recovery_hold"))
        b = self.recovery_buffer
        if isinstance(b, bool) or not isinstance(b, int | float) or not 0 <= b < 1:
            raise InputError(f"must be in [0, 1), got {b!r}", path="recovery_buffer")
        f = self.insurance_fund
        if f is not None and (not isinstance(f, int | float) or not math.isfinite(f) or f < 0):
            raise InputError(f"must be a non-negative amount, got {f!r}", path="insurance_fund")
        for name in ("snapshot_every", "max_events"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise InputError(f"must be a non-negative integer, got {v!r}", path=name)

    @classmethod
    def build(
        cls,
        *,
        heartbeat: Mapping[str, timedelta | float] | timedelta | float | None = None,
        **kw: Any,
    ) -> LiveSettings:
        """Settings with ``heartbeat`` given as one duration (every feed) or per feed."""
        if heartbeat is None:
            return cls(**kw)
        if isinstance(heartbeat, Mapping):
            return cls(
                heartbeat={k: _seconds(v, f"heartbeat.{k}") for k, v in heartbeat.items()}, **kw
            )
        return cls(default_heartbeat=_seconds(heartbeat, "heartbeat", positive=True), **kw)

    def heartbeat_of(self, feed: str, fallback: float) -> float:
        """Heartbeat (seconds) of ``feed``."""
        hb = self.heartbeat.get(feed)
        if hb is not None:
            return hb
        return self.default_heartbeat if self.default_heartbeat is not None else fallback

    def to_obj(self) -> dict[str, object]:
        """JSON form (stored with the engine's state)."""
        return {
            "auto_liquidate": self.auto_liquidate,
            "heartbeat": dict(self.heartbeat),
            "default_heartbeat": self.default_heartbeat,
            "revalue_every": self.revalue_every,
            "sweep_every": self.sweep_every,
            "recovery_buffer": self.recovery_buffer,
            "recovery_hold": self.recovery_hold,
            "insurance_fund": self.insurance_fund,
            "settlement_asset": self.settlement_asset,
            "snapshot_every": self.snapshot_every,
            "max_events": self.max_events,
            "max_clock_jump": self.max_clock_jump,
        }

    @classmethod
    def from_obj(cls, obj: Mapping[str, Any]) -> LiveSettings:
        """Inverse of :meth:`to_obj`."""
        return cls(**dict(obj))
