"""Cross-protocol collateral valued through collateral oracles (Generation 3).

A lending-market deposit (receipt token × exchange rate), a yield-vault share (shares × price
per share) or a liquid-staking token (tokens × staking rate) is worth, per token::

    price = oracle value × price of the underlying            (the underlying passes the usual checks)

The oracle record ``{value, timestamp, confidence, source[, reference]}`` travels in the market
snapshot (``oracles``); the asset's kind, underlying and source are the risk configuration's
eligibility schedule (``oracles.assets``). Rules per source (``oracles.sources``), fail closed —
a bad oracle can only lower collateral value, never raise it:

* the record's ``source`` must be the configured one, and the timestamp not after ``as_of``;
* **stale** (older than ``heartbeat_seconds``): valued at zero for margin and reported
  (``on_stale: error`` refuses instead);
* **confidence** below ``min_confidence``: zero; below ``confidence_threshold``: an extra IM
  haircut ``(1 − c) × confidence_margin`` (Derive PMRM_2's oracle-confidence charge,
  ``../shared/methodologies/derive-pmrm2.md`` §6; ``on_low_confidence: zero`` zeroes instead);
* **deviation** ``|value / reference − 1|`` above ``max_deviation``: rejected, valued at zero
  (``on_deviation: error`` refuses);
* haircut = the asset's own static haircut (else its underlying's) + the source's
  ``protocol_haircut`` (+ the confidence charge for IM), capped at 1.

Sources of records (a file, an HTTP endpoint) are in :mod:`crossmargin.io.oracles`;
:func:`with_oracle_records` puts their records into a snapshot.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from typing import Any

from crossmargin._time import format_instant
from crossmargin.collateral.haircuts import static_haircut
from crossmargin.config import RiskConfig
from crossmargin.config.model import OracleAssetConfig
from crossmargin.errors import MarketDataError
from crossmargin.market.checks import check_asset
from crossmargin.market.snapshot import MarketSnapshot, OracleRecord

__all__ = ["OracleValuation", "value_oracle_asset", "with_oracle_records"]


def with_oracle_records(
    snapshot: MarketSnapshot, records: Mapping[str, OracleRecord]
) -> MarketSnapshot:
    """A snapshot with ``records`` added (replacing records of the same symbol)."""
    merged = dict(snapshot.oracles)
    merged.update({k.upper(): v for k, v in records.items()})
    return replace(snapshot, oracles=merged)


@dataclass(frozen=True, slots=True)
class OracleValuation:
    """How one oracle-valued collateral asset was priced.

    ``status`` is ``ok``, ``low_confidence`` (extra haircut), ``stale``, ``low_confidence_zero``
    or ``deviation`` (the last three are valued at zero).
    """

    kind: str
    underlying: str
    source: str
    value: float
    underlying_price: float
    price: float
    confidence: float
    age_seconds: float
    status: str
    reason: str
    base_haircut_im: float
    base_haircut_mm: float
    protocol_haircut: float
    confidence_haircut: float
    haircut_im: float
    haircut_mm: float

    def as_dict(self) -> dict[str, Any]:
        """Plain dictionary (the ``oracle`` field of a collateral row)."""
        return asdict(self)


def value_oracle_asset(
    symbol: str, spec: OracleAssetConfig, snapshot: MarketSnapshot, config: RiskConfig
) -> OracleValuation:
    """Price and haircut of one oracle-valued collateral asset (module docstring).

    Raises
    ------
    MarketDataError
        No record, a record from another source, a future timestamp, a bad underlying price, or
        a stale / deviating record under an ``error`` rule.
    ConfigError
        No haircut for the asset or its underlying.
    """
    path = f"oracles.{symbol}"
    rec = snapshot.oracles.get(symbol)
    if rec is None:
        raise MarketDataError(
            f"no oracle record for {symbol} (needed by collateral {symbol})", path=path
        )
    rules = config.oracles.source(spec.source)
    if rec.source != spec.source:
        raise MarketDataError(
            f"oracle source {rec.source!r} is not the configured source {spec.source!r}",
            path=f"{path}.source",
        )
    age = (snapshot.as_of - rec.timestamp).total_seconds()
    if age < 0:
        raise MarketDataError(
            f"oracle observed {format_instant(rec.timestamp)} is after as_of",
            path=f"{path}.timestamp",
        )
    und = spec.underlying
    who = f"collateral {symbol}"
    check_asset(snapshot, und, config.market, needed_by=who)
    up = snapshot.price(und, needed_by=who)
    base = static_haircut(
        config, symbol if symbol in config.collateral else und, snapshot.base_currency
    )
    status, reason, extra = "ok", "", 0.0
    if age > rules.heartbeat_seconds:
        if rules.on_stale == "error":
            raise MarketDataError(
                f"oracle is stale: {age:.0f} s old (heartbeat {rules.heartbeat_seconds:g} s)",
                path=f"{path}.timestamp",
            )
        status, reason = "stale", f"{age:.0f} s old > heartbeat {rules.heartbeat_seconds:g} s"
    elif rec.reference is not None and abs(rec.value / rec.reference - 1.0) > rules.max_deviation:
        dev = rec.value / rec.reference - 1.0
        if rules.on_deviation == "error":
            raise MarketDataError(
                f"oracle value {rec.value:g} deviates {dev:+.2%} from the reference "
                f"{rec.reference:g} (max {rules.max_deviation:.2%})",
                path=f"{path}.value",
            )
        status, reason = "deviation", f"{dev:+.2%} from reference (max {rules.max_deviation:.2%})"
    elif rec.confidence < rules.min_confidence or (
        rec.confidence < rules.confidence_threshold and rules.on_low_confidence == "zero"
    ):
        status, reason = "low_confidence_zero", f"confidence {rec.confidence:g} too low"
    elif rec.confidence < rules.confidence_threshold:
        extra = (1.0 - rec.confidence) * rules.confidence_margin
        status = "low_confidence"
        reason = f"confidence {rec.confidence:g} < {rules.confidence_threshold:g}: +{extra:.2%} IM haircut"
    zero = status in ("stale", "deviation", "low_confidence_zero")
    him = 1.0 if zero else min(1.0, base.im + rules.protocol_haircut + extra)
    hmm = 1.0 if zero else min(1.0, base.mm + rules.protocol_haircut)
    return OracleValuation(
        kind=spec.kind,
        underlying=und,
        source=spec.source,
        value=rec.value,
        underlying_price=up,
        price=rec.value * up,
        confidence=rec.confidence,
        age_seconds=age,
        status=status,
        reason=reason,
        base_haircut_im=base.im,
        base_haircut_mm=base.mm,
        protocol_haircut=rules.protocol_haircut,
        confidence_haircut=extra,
        haircut_im=him,
        haircut_mm=hmm,
    )
