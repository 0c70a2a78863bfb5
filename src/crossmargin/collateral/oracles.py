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

Sources of records are pluggable (:class:`CollateralOracle`): :class:`StaticFileOracle` reads a
JSON file, :class:`HttpJsonOracle` GETs a JSON document over HTTP(S); both return the same
``{"SYMBOL": {...record...}}`` shape, validated like the snapshot's ``oracles`` object, and
:func:`with_oracle_records` puts them into a snapshot.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from crossmargin._time import format_instant
from crossmargin.config import RiskConfig
from crossmargin.config.model import OracleAssetConfig
from crossmargin.errors import InputError, MarketDataError
from crossmargin.limits import load_json_bounded, parse_json, read_bounded_stream
from crossmargin.market.checks import check_asset
from crossmargin.market.snapshot import MarketSnapshot, OracleRecord

__all__ = [
    "CollateralOracle",
    "HttpJsonOracle",
    "OracleValuation",
    "StaticFileOracle",
    "records_from_obj",
    "value_oracle_asset",
    "with_oracle_records",
]


@runtime_checkable
class CollateralOracle(Protocol):
    """A source of oracle records (implement ``name`` and ``fetch`` to add your own)."""

    @property
    def name(self) -> str:
        """Source name, for messages."""
        ...

    def fetch(self, symbols: Sequence[str]) -> dict[str, OracleRecord]:
        """Records of ``symbols`` (missing ones are simply absent)."""
        ...


def records_from_obj(obj: Any, *, where: str) -> dict[str, OracleRecord]:
    """Validate ``{"SYMBOL": {value, timestamp, confidence, source[, reference]}}``.

    Raises
    ------
    InputError
        Naming ``<where>.<SYMBOL>.<field>``.
    """
    from crossmargin.io.market import market_from_obj

    if not isinstance(obj, dict):
        raise InputError("oracle records must be a JSON object of symbol -> record", path=where)
    try:
        snap = market_from_obj({"as_of": "1970-01-01T00:00:00Z", "oracles": obj})
    except InputError as exc:
        raise InputError(exc.reason, path=f"{where}:{exc.path}") from None
    return dict(snap.oracles)


@dataclass(frozen=True, slots=True)
class StaticFileOracle:
    """Oracle records from a JSON file (reference implementation)."""

    path: Path

    @property
    def name(self) -> str:
        """The file path."""
        return str(self.path)

    def fetch(self, symbols: Sequence[str]) -> dict[str, OracleRecord]:
        """Read the file and return the records of ``symbols``."""
        recs = records_from_obj(load_json_bounded(self.path, what="oracle"), where=str(self.path))
        return {s: recs[s] for s in symbols if s in recs}


@dataclass(frozen=True, slots=True)
class HttpJsonOracle:
    """Oracle records from an HTTP(S) endpoint returning JSON (reference implementation).

    ``url`` may contain ``{symbols}`` (replaced by the comma-separated symbols requested).
    Network errors, non-200 answers, a response larger than ``max_bytes`` (1 MiB) and invalid JSON
    (or JSON over the input limits of :mod:`crossmargin.limits`) are :class:`MarketDataError` —
    never a silently missing record.
    """

    url: str
    timeout: float = 5.0
    #: Largest response accepted (bytes); a longer body is a :class:`MarketDataError`.
    max_bytes: int = 1024 * 1024

    @property
    def name(self) -> str:
        """The URL."""
        return self.url

    def fetch(self, symbols: Sequence[str]) -> dict[str, OracleRecord]:
        """GET the document and return the records of ``symbols``."""
        url = self.url.replace("{symbols}", ",".join(symbols))
        if not url.startswith(("http://", "https://")):
            raise InputError("oracle URL must start with http:// or https://", path=self.url)
        try:
            with urllib.request.urlopen(url, timeout=self.timeout) as resp:
                body = read_bounded_stream(
                    resp, source=url, limit=self.max_bytes, error=MarketDataError
                )
        except urllib.error.HTTPError as exc:
            raise MarketDataError(f"oracle endpoint answered HTTP {exc.code}", path=url) from None
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise MarketDataError(f"oracle endpoint unreachable: {reason}", path=url) from None
        obj = parse_json(body, source=url, error=MarketDataError)
        recs = records_from_obj(obj, where=url)
        return {s: recs[s] for s in symbols if s in recs}


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
    from crossmargin.collateral.valuation import static_haircut

    base = static_haircut(config, symbol if symbol in config.collateral else und, snapshot)
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
