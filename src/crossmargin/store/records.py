"""Values going into and coming out of the store (frozen, slotted dataclasses).

Inputs (:class:`NewRecord`, :class:`NewEvent`) are validated and their JSON encoded when they
are built, in the caller's thread: a bad input fails there, naming the field, and never reaches
the group-commit writer (where it would fail a whole batch).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, TypedDict

from crossmargin.errors import InputError

__all__ = [
    "ApiKey",
    "Event",
    "EventOptions",
    "IssuedKey",
    "JournalRecord",
    "NewEvent",
    "NewRecord",
    "Receipt",
    "RecordOptions",
    "Role",
    "SnapshotInfo",
    "encode_json_object",
    "now_ns",
]

Role = Literal["admin", "feed", "account"]


class RecordOptions(TypedDict, total=False):
    """Optional fields of a journal record (see :class:`NewRecord`)."""

    source: str
    account: str | None
    idempotency_key: str | None
    received_ns: int | None


class EventOptions(TypedDict, total=False):
    """Optional fields of an event (see :class:`NewEvent`)."""

    account: str | None
    cause_seq: int | None
    time_ns: int | None


NAME_MAX = 128
KIND_MAX = 64
_DEFAULT_MAX_BYTES = 1 << 20


def now_ns() -> int:
    """Wall-clock time, nanoseconds since the Unix epoch (UTC)."""
    return time.time_ns()


def _utc(ns: int) -> datetime:
    return datetime.fromtimestamp(ns / 1e9, tz=UTC)


def encode_json_object(
    value: Mapping[str, Any] | str | bytes, *, path: str, max_bytes: int = _DEFAULT_MAX_BYTES
) -> str:
    """Validate a JSON object (a mapping, or its JSON text) and return its compact text.

    Text is validated (strict JSON: no NaN/Infinity, no control characters in strings) and kept
    as given; a mapping is serialised compactly. The top level must be an object.

    Raises
    ------
    InputError
        Not JSON, not an object, non-finite numbers, unencodable text, or too large.
    """
    if type(value) is dict:  # the common case first (an ABC check costs more than the rest)
        try:
            text = _ENCODER.encode(value)
        except (TypeError, ValueError, RecursionError) as exc:
            raise InputError(f"not JSON-serialisable ({exc})", path=path) from None
        return _checked_size(text, path, max_bytes)
    if isinstance(value, bytes | bytearray | memoryview):
        try:
            value = bytes(value).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InputError(f"not UTF-8 text ({exc.reason})", path=path) from None
    if isinstance(value, str):
        text = value
        try:
            parsed = _DECODER.decode(text)
        except (ValueError, RecursionError) as exc:
            raise InputError(f"not valid JSON ({exc})", path=path) from None
        if not isinstance(parsed, dict):
            raise InputError("must be a JSON object", path=path)
    elif isinstance(value, Mapping):
        try:
            text = _ENCODER.encode(dict(value))
        except (TypeError, ValueError, RecursionError) as exc:
            raise InputError(f"not JSON-serialisable ({exc})", path=path) from None
    else:
        raise InputError(f"must be a JSON object, got {type(value).__name__}", path=path)
    return _checked_size(text, path, max_bytes)


_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def _checked_size(text: str, path: str, max_bytes: int) -> str:
    if text.isascii():
        size = len(text)
    else:
        try:
            size = len(text.encode("utf-8"))
        except UnicodeEncodeError:
            raise InputError("contains unpaired surrogate characters", path=path) from None
    if size > max_bytes:
        raise InputError(f"is {size} bytes encoded, more than the limit {max_bytes}", path=path)
    return text


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text} overflows a double")
    return value


_DECODER = json.JSONDecoder(parse_constant=_reject_constant, parse_float=_finite_float)


def check_name(
    value: object, *, path: str, max_len: int = NAME_MAX, optional: bool = False
) -> str | None:
    """Validate an identifier-like string (kind, source, account, key): non-empty, printable."""
    if type(value) is str and 0 < len(value) <= max_len and value.isprintable():
        return value  # fast path
    if value is None and optional:
        return None
    if not isinstance(value, str):
        raise InputError(f"must be a string, got {type(value).__name__}", path=path)
    if not value or len(value) > max_len:
        raise InputError(f"must have 1 to {max_len} characters", path=path)
    if not value.isprintable():
        raise InputError("must contain printable characters only", path=path)
    return value


def _check_time(value: object, *, path: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 1 << 63:
        raise InputError("must be an integer of nanoseconds since the epoch", path=path)
    return value


def _check_seq(value: object, *, path: str, optional: bool) -> int | None:
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 1 << 63:
        raise InputError("must be a positive integer", path=path)
    return value


@dataclass(frozen=True, slots=True, init=False)
class NewRecord:
    """An input to journal (validated and JSON-encoded on construction).

    Parameters
    ----------
    kind
        What the input is (``market``, ``trade``, ``deposit``, ``withdrawal``, ``account``,
        ``config`` …; the store does not interpret it), 1-64 printable characters.
    payload
        The input itself: a JSON object (mapping) or its JSON text, kept verbatim.
    source
        Who sent it: a feed id, ``api``, ``cli`` …
    account
        The account it concerns, if any (indexed: ``journal_after(account=...)``).
    idempotency_key
        A client-chosen unique key: appending a record whose key is already journaled writes
        nothing and returns the existing record's seq (safe retries).
    received_ns
        Receive time (ns since the epoch, UTC); default: now.
    """

    kind: str
    payload: str
    source: str
    account: str | None
    idempotency_key: str | None
    received_ns: int

    def __init__(
        self,
        kind: str,
        payload: Mapping[str, Any] | str | bytes,
        *,
        source: str = "-",
        account: str | None = None,
        idempotency_key: str | None = None,
        received_ns: int | None = None,
        max_payload_bytes: int = _DEFAULT_MAX_BYTES,
    ) -> None:
        set_ = object.__setattr__
        self._set_names(kind, source, account, idempotency_key)
        set_(
            self,
            "received_ns",
            now_ns()
            if received_ns is None
            else _check_time(received_ns, path="record.received_ns"),
        )
        set_(
            self,
            "payload",
            encode_json_object(payload, path="record.payload", max_bytes=max_payload_bytes),
        )

    def _set_names(
        self, kind: str, source: str, account: str | None, idempotency_key: str | None
    ) -> None:
        """Check and set the record's names (each error names its field)."""
        set_ = object.__setattr__
        set_(self, "kind", check_name(kind, path="record.kind", max_len=KIND_MAX))
        set_(self, "source", check_name(source, path="record.source"))
        set_(self, "account", check_name(account, path="record.account", optional=True))
        set_(
            self,
            "idempotency_key",
            check_name(idempotency_key, path="record.idempotency_key", optional=True),
        )

    @classmethod
    def encoded(
        cls,
        kind: str,
        text: str,
        *,
        source: str,
        account: str | None,
        idempotency_key: str | None,
        received_ns: int,
        max_payload_bytes: int = _DEFAULT_MAX_BYTES,
    ) -> NewRecord:
        """A record whose payload is JSON text from a trusted encoder (the hot ingest path).

        The names, the time and the size are checked as by the constructor; the text is *not*
        parsed again: the caller guarantees a compact JSON object (the live engine's journal
        encoder, tested against :func:`encode_json_object` of the canonical object).

        Raises
        ------
        InputError
            Invalid name, time or size (named in the error).
        """
        self = object.__new__(cls)
        set_ = object.__setattr__
        self._set_names(kind, source, account, idempotency_key)
        set_(self, "received_ns", _check_time(received_ns, path="record.received_ns"))
        set_(self, "payload", _checked_size(text, "record.payload", max_payload_bytes))
        return self


@dataclass(frozen=True, slots=True, init=False)
class NewEvent:
    """An output event of the engine to store (validated and JSON-encoded on construction).

    Parameters
    ----------
    type
        Event type (``margin_call``, ``liquidation`` …), 1-64 printable characters.
    body
        The event as a JSON object (mapping or JSON text).
    account
        The account it concerns (indexed: ``events_after(account=...)``); ``None`` for
        venue-wide events (``market_data_stale``, ``feed_gap`` …).
    cause_seq
        Journal seq of the input that caused it; after a crash the engine compares it with
        :meth:`~crossmargin.store.Store.last_event_cause` to avoid emitting an event twice.
    time_ns
        Event time (ns since the epoch, UTC); default: now.
    """

    type: str
    body: str
    account: str | None
    cause_seq: int | None
    time_ns: int

    def __init__(
        self,
        type: str,
        body: Mapping[str, Any] | str | bytes,
        *,
        account: str | None = None,
        cause_seq: int | None = None,
        time_ns: int | None = None,
        max_payload_bytes: int = _DEFAULT_MAX_BYTES,
    ) -> None:
        set_ = object.__setattr__
        set_(self, "type", check_name(type, path="event.type", max_len=KIND_MAX))
        set_(self, "account", check_name(account, path="event.account", optional=True))
        set_(self, "cause_seq", _check_seq(cause_seq, path="event.cause_seq", optional=True))
        set_(
            self,
            "time_ns",
            now_ns() if time_ns is None else _check_time(time_ns, path="event.time_ns"),
        )
        set_(self, "body", encode_json_object(body, path="event.body", max_bytes=max_payload_bytes))


@dataclass(frozen=True, slots=True)
class JournalRecord:
    """A journaled input, as stored. ``payload`` is the exact JSON text that was appended."""

    seq: int
    kind: str
    source: str
    account: str | None
    idempotency_key: str | None
    payload: str
    received_ns: int

    def data(self) -> Any:
        """The payload decoded (a dict)."""
        return json.loads(self.payload)

    @property
    def received_at(self) -> datetime:
        """Receive time as an aware UTC datetime (microsecond precision)."""
        return _utc(self.received_ns)


@dataclass(frozen=True, slots=True)
class Event:
    """A stored engine event. ``body`` is the exact JSON text that was appended."""

    seq: int
    time_ns: int
    type: str
    account: str | None
    cause_seq: int | None
    body: str

    def data(self) -> Any:
        """The body decoded (a dict)."""
        return json.loads(self.body)

    @property
    def time(self) -> datetime:
        """Event time as an aware UTC datetime (microsecond precision)."""
        return _utc(self.time_ns)


@dataclass(frozen=True, slots=True)
class Receipt:
    """What one durable write returned: it is committed when you hold this.

    Attributes
    ----------
    journal_seqs
        Seq of each journal record, in the order given.
    event_seqs
        Seq of each event, in the order given.
    duplicate
        One flag per journal record: ``True`` where its idempotency key was already journaled
        (by an earlier call, or earlier in this one) — nothing new was written for it and its
        seq is the first record's: do not apply it again.
    """

    journal_seqs: tuple[int, ...] = ()
    event_seqs: tuple[int, ...] = ()
    duplicate: tuple[bool, ...] = ()


@dataclass(frozen=True, slots=True)
class SnapshotInfo:
    """A stored snapshot's description (without its bytes).

    Attributes
    ----------
    id
        Store-assigned id (increasing).
    seq
        Journal seq the snapshot covers: the state after applying records ``1..seq``.
    format
        The writer's label of the encoding (e.g. ``application/vnd.apache.arrow.stream``).
    meta
        The writer's JSON object (text), e.g. engine version, per-feed sequence numbers.
    parts
        Part names, in the order written, with their sizes in bytes.
    created_ns
        Write time, ns since the epoch (UTC).
    """

    id: int
    seq: int
    format: str
    meta: str
    parts: tuple[tuple[str, int], ...]
    created_ns: int

    @property
    def size(self) -> int:
        """Total bytes of all parts."""
        return sum(size for _, size in self.parts)

    def meta_data(self) -> Any:
        """``meta`` decoded (a dict)."""
        return json.loads(self.meta)


@dataclass(frozen=True, slots=True)
class ApiKey:
    """A stored API key's public description (never its secret)."""

    key_id: str
    role: Role
    account: str | None
    feed: str | None
    label: str
    created_ns: int
    revoked_ns: int | None

    @property
    def revoked(self) -> bool:
        """Whether the key was revoked."""
        return self.revoked_ns is not None


@dataclass(frozen=True, slots=True)
class IssuedKey:
    """A newly issued API key: ``token`` is the secret, shown once and stored only as a hash."""

    key: ApiKey
    token: str = field(repr=False)
