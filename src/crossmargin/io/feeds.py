"""Oracle price feeds: Pyth price updates and Chainlink rounds → validated prices.

This module is the one place that decodes feed records. The CLI (``crossmargin import pyth``,
``--from chainlink=FILE``) and the live engine use the same pure functions, from a record
``dict`` to a :class:`FeedPrice` ``(price, confidence, timestamp, source, feed, sequence)``:

* :func:`decode_pyth` — one Hermes ``ParsedPriceUpdate`` (``GET /v2/updates/price/latest`` with
  ``parsed=true``, or one ``data:`` event of ``/v2/updates/price/stream``)::

      {"id": "e62d…5b43", "price": {"price": "6140993501000", "conf": "3287868567", "expo": -8,
                                    "publish_time": 1714746101}, "ema_price": {...}, "metadata": {...}}

  value ``p = price · 10^expo``, uncertainty ``σ = conf · 10^expo`` (both integers on the wire,
  kept exact through ``Decimal``), ``publish_time`` in **unix seconds** (Pyth Hermes API,
  ``types.rs``; Pyth docs, "Best practices").
* :func:`decode_chainlink` — one decoded ``AggregatorV3Interface.latestRoundData()`` tuple with
  the feed's ``decimals()`` and ``description()``::

      {"feed": "ETH / USD", "decimals": 8, "roundId": "110680464442257320247",
       "answer": "345612000000", "startedAt": 1735689599, "updatedAt": 1735689599}

  value ``answer / 10^decimals``; no confidence is published (σ = 0); ``updatedAt`` in unix
  seconds; ``roundId = phaseId << 64 | aggregatorRoundId`` (Chainlink Data Feeds API reference).
  ``answeredInRound`` is deprecated and ignored.

Rules (:func:`check_feed`, fail closed — never a silently stale or uncertain price):

* a value must be positive (Chainlink: ``answer > 0``; Pyth: ``price > 0``);
* **staleness**: ``as_of − timestamp`` above the heartbeat (``FeedRules.max_age_seconds``; per
  feed and per chain — Chainlink publishes it on data.chain.link) is refused;
* a timestamp after ``as_of`` (beyond ``max_future_seconds`` of clock skew) is refused;
* **confidence**: ``σ / p`` above ``FeedRules.max_confidence_ratio`` is refused (Pyth's advice
  is to refuse or pause above a threshold you choose; crossmargin's default 2 % is far above
  the 0.01–0.1 % a liquid crypto feed shows and catches a broken one).

In a market snapshot a feed price becomes ``assets.SYM = {price, confidence, timestamp}`` with
``confidence = 1 − σ/p`` (so the engine's own ``market.min_confidence`` check applies as well),
or — for a rate feed quoted in another asset (e.g. ``WSTETH / ETH``) — an oracle record
``oracles.SYM = {value, timestamp, confidence, source}`` for oracle-valued collateral.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from crossmargin._time import format_instant
from crossmargin.errors import InputError, MarketDataError

__all__ = [
    "PYTH_FEED_IDS",
    "FeedPrice",
    "FeedReading",
    "FeedRules",
    "check_feed",
    "decode_chainlink",
    "decode_pyth",
    "feed_pair",
    "read_feeds",
    "seconds_to_instant",
]

#: Pyth feed ids this project can name without the user's help (id → ``BASE/QUOTE``). Only ids
#: whose meaning is documented by Pyth's own examples (Hermes API docs: BTC/USD); map others
#: with ``--map ID=SYMBOL``.
PYTH_FEED_IDS: Mapping[str, str] = {
    "e62df6c8b4a85fe1a67db44dc12de5db330f7ac66b72dc658afedf0f4a415b43": "BTC/USD",
}

#: Unix seconds accepted as a feed time: 2009-01-01 … 2100-01-01. A value above the upper bound
#: is almost always milliseconds written where seconds belong.
_MIN_S, _MAX_S = 1_230_768_000, 4_102_444_800
_HEX_ID = re.compile(r"^(0x)?[0-9a-fA-F]{64}$")
_INT = re.compile(r"^[+-]?\d+$")
_INT64 = 2**63
_PAIR = re.compile(r"^\s*([A-Za-z0-9_.]+)\s*/\s*([A-Za-z0-9_.]+)\s*$")


@dataclass(frozen=True, slots=True)
class FeedPrice:
    """One validated oracle reading.

    Attributes
    ----------
    price
        The value, in units of the feed's quote (``BTC / USD`` → USD per BTC).
    confidence
        Absolute uncertainty ``σ`` in the same units (Pyth ``conf``; Chainlink publishes none: 0).
    timestamp
        When the value was true (Pyth ``publish_time``, Chainlink ``updatedAt``), aware UTC.
    source
        ``"pyth"`` or ``"chainlink"``.
    feed
        The feed's identity: Pyth id (64 lower-case hex digits, no ``0x``) or Chainlink
        description (``"ETH / USD"``).
    sequence
        Ordering key of updates of one feed (Pyth ``publish_time``; Chainlink ``roundId``).
    """

    price: float
    confidence: float
    timestamp: datetime
    source: str
    feed: str
    sequence: int

    @property
    def confidence_ratio(self) -> float:
        """``σ / p``: the relative uncertainty."""
        return self.confidence / self.price

    @property
    def unit_confidence(self) -> float:
        """``1 − σ/p`` clipped to [0, 1]: the snapshot's ``confidence`` field."""
        return min(1.0, max(0.0, 1.0 - self.confidence_ratio))


@dataclass(frozen=True, slots=True)
class FeedRules:
    """Acceptance rules for feed readings (see the module docstring).

    Attributes
    ----------
    max_age_seconds
        Heartbeat plus grace: older readings are stale.
    max_confidence_ratio
        Largest accepted ``σ / p``.
    max_future_seconds
        Clock skew tolerated for a reading time after ``as_of``.
    """

    max_age_seconds: float = 3600.0
    max_confidence_ratio: float = 0.02
    max_future_seconds: float = 5.0


def _int(v: Any, path: str, *, lo: int, hi: int, what: str) -> int:
    """An integer given as a JSON integer or a decimal string (never a float: precision)."""
    if isinstance(v, bool) or v is None:
        raise InputError(
            f"must be {what}, got {v!r}" if v is not None else "required field is missing",
            path=path,
        )
    if isinstance(v, int):
        x = v
    elif isinstance(v, str) and _INT.match(v.strip()):
        x = int(v.strip())
    elif isinstance(v, float):
        raise InputError(
            f"must be {what} (an integer, as a string beyond 2^53), got the float {v!r}", path=path
        )
    else:
        raise InputError(f"must be {what}, got {str(v)[:40]!r}", path=path)
    if not lo <= x <= hi:
        raise InputError(f"{x} is out of range for {what} ({lo} … {hi})", path=path)
    return x


def seconds_to_instant(v: Any, path: str) -> datetime:
    """Unix seconds → aware UTC instant; milliseconds or out-of-range values are refused."""
    x = _int(v, path, lo=-(2**63), hi=2**63 - 1, what="unix seconds")
    if x > _MAX_S and _MIN_S * 1000 <= x <= _MAX_S * 1000:
        raise InputError(f"{x} looks like milliseconds; this field is unix seconds", path=path)
    if not _MIN_S <= x <= _MAX_S:
        raise InputError(
            f"{x} is out of range for unix seconds (2009-01-01 … 2100-01-01)", path=path
        )
    return datetime.fromtimestamp(x, tz=UTC)


def _obj(v: Any, path: str) -> Mapping[str, Any]:
    if not isinstance(v, Mapping):
        raise InputError(
            "required field is missing" if v is None else "must be a JSON object", path=path
        )
    return v


def decode_pyth(
    record: Mapping[str, Any], *, path: str = "pyth", field: str = "price"
) -> FeedPrice:
    """Decode one Pyth ``ParsedPriceUpdate``.

    Parameters
    ----------
    record
        ``{"id", "price": {price, conf, expo, publish_time}, "ema_price": {...}, ...}``.
    path
        Input path for error messages.
    field
        ``"price"`` (default) or ``"ema_price"``.

    Raises
    ------
    InputError
        A missing or malformed field, named by its path.
    """
    rec = _obj(record, path)
    fid = rec.get("id")
    if not isinstance(fid, str) or not _HEX_ID.match(fid.strip()):
        raise InputError("must be a 32-byte hex feed id", path=f"{path}.id")
    fid = fid.strip().lower().removeprefix("0x")
    p = _obj(rec.get(field), f"{path}.{field}")
    base = f"{path}.{field}"
    mant = _int(p.get("price"), f"{base}.price", lo=-_INT64, hi=_INT64 - 1, what="an int64")
    conf = _int(p.get("conf"), f"{base}.conf", lo=0, hi=2**64 - 1, what="a uint64")
    expo = _int(p.get("expo"), f"{base}.expo", lo=-30, hi=30, what="an exponent")
    when = seconds_to_instant(p.get("publish_time"), f"{base}.publish_time")
    if mant <= 0:
        raise InputError(f"price must be positive, got {mant}", path=f"{base}.price")
    price = float(Decimal(mant).scaleb(expo))
    sigma = float(Decimal(conf).scaleb(expo))
    return FeedPrice(price, sigma, when, "pyth", fid, int(when.timestamp()))


def decode_chainlink(record: Mapping[str, Any], *, path: str = "chainlink") -> FeedPrice:
    """Decode one Chainlink round (``latestRoundData`` + ``decimals`` + ``description``).

    Raises
    ------
    InputError
        A missing or malformed field, named by its path.
    """
    rec = _obj(record, path)
    feed = rec.get("feed", rec.get("description"))
    if not isinstance(feed, str) or not feed.strip():
        raise InputError("required: the feed description, e.g. 'ETH / USD'", path=f"{path}.feed")
    decimals = _int(rec.get("decimals"), f"{path}.decimals", lo=0, hi=36, what="decimals")
    answer = _int(
        rec.get("answer"), f"{path}.answer", lo=-(2**255), hi=2**255 - 1, what="an int256"
    )
    round_id = _int(rec.get("roundId"), f"{path}.roundId", lo=1, hi=2**80 - 1, what="a uint80")
    if rec.get("updatedAt") in (0, "0"):
        raise InputError("updatedAt is 0: the round is not complete", path=f"{path}.updatedAt")
    when = seconds_to_instant(rec.get("updatedAt"), f"{path}.updatedAt")
    if answer <= 0:
        raise InputError(f"answer must be positive, got {answer}", path=f"{path}.answer")
    price = float(Decimal(answer).scaleb(-decimals))
    return FeedPrice(price, 0.0, when, "chainlink", feed.strip(), round_id)


def check_feed(fp: FeedPrice, as_of: datetime, rules: FeedRules, *, path: str) -> FeedPrice:
    """Apply the staleness and confidence rules; return the reading unchanged if it passes.

    Raises
    ------
    MarketDataError
        Stale, future-dated or too uncertain, naming ``path``.
    """
    age = (as_of - fp.timestamp).total_seconds()
    if age > rules.max_age_seconds:
        raise MarketDataError(
            f"{fp.source} feed {fp.feed} is stale: published {format_instant(fp.timestamp)}, "
            f"{age:.0f} s before as_of {format_instant(as_of)} (heartbeat {rules.max_age_seconds:g} s)",
            path=path,
        )
    if -age > rules.max_future_seconds:
        raise MarketDataError(
            f"{fp.source} feed {fp.feed} published {format_instant(fp.timestamp)}, after as_of "
            f"{format_instant(as_of)}",
            path=path,
        )
    if fp.confidence_ratio > rules.max_confidence_ratio:
        raise MarketDataError(
            f"{fp.source} feed {fp.feed}: confidence interval ±{fp.confidence:g} is "
            f"{fp.confidence_ratio:.3%} of the price {fp.price:g} (max {rules.max_confidence_ratio:.3%})",
            path=path,
        )
    return fp


def feed_pair(fp: FeedPrice, mapping: Mapping[str, str], *, path: str) -> tuple[str, str, str]:
    """``(BASE, QUOTE, SOURCE)`` of a reading.

    ``mapping`` (feed id or Chainlink description → ``BASE[/QUOTE][@SOURCE]``; quote defaults to
    USD, source to ``pyth``/``chainlink``) wins over the Chainlink description and the built-in
    Pyth ids (:data:`PYTH_FEED_IDS`). ``SOURCE`` names the oracle-record source of a rate feed
    (e.g. ``lido`` for a wstETH rate), matched against the risk configuration's
    ``oracles.sources``.

    Raises
    ------
    InputError
        The feed cannot be named.
    """
    spec = mapping.get(fp.feed)
    if spec is None and fp.source == "chainlink":
        spec = fp.feed
    if spec is None:
        spec = PYTH_FEED_IDS.get(fp.feed)
    if spec is None:
        raise InputError(
            f"unknown {fp.source} feed {fp.feed}: name it with --map {fp.feed}=SYMBOL "
            f"(or SYMBOL/QUOTE)",
            path=path,
        )
    pair, _, src = spec.partition("@")
    m = _PAIR.match(pair)
    if m is not None:
        base, quote = m.group(1).upper(), m.group(2).upper()
    elif re.match(r"^[A-Za-z0-9_.]+$", pair.strip()):
        base, quote = pair.strip().upper(), "USD"
    else:
        raise InputError(f"cannot read {spec!r} as SYMBOL[/QUOTE][@SOURCE]", path=path)
    return base, quote, src.strip() or fp.source


@dataclass(frozen=True, slots=True)
class FeedReading:
    """A decoded reading named as ``BASE / QUOTE`` (what a snapshot stores).

    ``source_name`` is the oracle-record source of a rate feed (see :func:`feed_pair`).
    """

    base: str
    quote: str
    price: FeedPrice
    path: str
    source_name: str


_DECODERS = {"pyth": decode_pyth, "chainlink": decode_chainlink}


def read_feeds(
    source: str, docs: Sequence[tuple[Any, str]], mapping: Mapping[str, str] | None = None
) -> list[FeedReading]:
    """Decode feed documents of one source; of several updates of a feed the latest is kept.

    Parameters
    ----------
    source
        ``"pyth"`` or ``"chainlink"``.
    docs
        Parsed JSON documents with their file names. Pyth: a Hermes response
        ``{"parsed": [...]}``, a list of updates or one update; Chainlink: one round or a list.
    mapping
        Feed id / description → ``BASE[/QUOTE][@SOURCE]`` (see :func:`feed_pair`).

    Raises
    ------
    InputError
        A malformed record (named by file and field), an unnamed feed, or two different updates
        of one feed with the same sequence number.
    """
    decode = _DECODERS[source]
    latest: dict[str, tuple[FeedPrice, str]] = {}
    for doc, where in docs:
        for rec, path in _records(doc, source, where):
            fp = decode(rec, path=path)
            old = latest.get(fp.feed)
            if old is not None and old[0].sequence == fp.sequence and old[0].price != fp.price:
                raise InputError(
                    f"two different {source} updates of feed {fp.feed} with the same sequence "
                    f"{fp.sequence} (first at {old[1]})",
                    path=path,
                )
            if old is None or fp.sequence > old[0].sequence:
                latest[fp.feed] = (fp, path)
    out = []
    for fp, path in latest.values():
        base, quote, src = feed_pair(fp, mapping or {}, path=path)
        out.append(FeedReading(base, quote, fp, path, src))
    return out


def _records(doc: Any, source: str, where: str) -> list[tuple[Any, str]]:
    if source == "pyth" and isinstance(doc, Mapping) and "parsed" in doc:
        items = doc["parsed"]
        if not isinstance(items, list):
            raise InputError("must be a list of price updates", path=f"{where}:parsed")
        return [(r, f"{where}:parsed[{i}]") for i, r in enumerate(items)]
    if isinstance(doc, list):
        return [(r, f"{where}:[{i}]") for i, r in enumerate(doc)]
    if isinstance(doc, Mapping):
        return [(doc, where)]
    raise InputError(f"not a {source} feed document (an object or a list)", path=where)
