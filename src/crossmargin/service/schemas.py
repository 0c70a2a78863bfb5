"""The wire format of the API as JSON Schema (OpenAPI components), for documentation.

Request bodies are **validated by the library**, not by these models: a body is parsed with the
tick-file parser's limits (:func:`crossmargin.live.sources.parse_json_line`) and decoded by the
one decoder of each input (:func:`crossmargin.live.codec.update_from_obj`, the portfolio
loader), which name the offending field. These models describe the same rules for clients and
for the schema fuzzing test (which checks that the service never fails on what they allow).
Responses are built by the library's ``to_obj`` methods; the response models say what they
contain (the fuzzing test validates every response against them). A vol surface and an oracle
record are described by the market-snapshot models (:mod:`crossmargin.io.market`): the same
objects in a snapshot file and in a market update.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from crossmargin.io.market import OracleIn, SmileIn, SVIIn
from crossmargin.io.portfolio import PortfolioIn

__all__ = ["REQUEST_MODELS"]

_ID = Field(
    default=None,
    min_length=1,
    max_length=256,
    description="Client id: the idempotency key (a repeat returns the first answer)",
)
_TIME = Field(
    default=None,
    description="ISO-8601 instant with a zone (default: the engine clock)",
    examples=["2026-11-22T08:00:00Z"],
)


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


# -- requests --------------------------------------------------------------------------------------
class WhatIfTradeIn(_In):
    """A hypothetical trade."""

    instrument: str = Field(
        min_length=1,
        max_length=256,
        description="Instrument name: BTC-PERP, BTC-26DEC26, BTC-26DEC26-70000-C, ...",
        examples=["BTC-PERP"],
    )
    quantity: float = Field(description="Signed quantity (sell < 0), non-zero", examples=[2])
    price: float = Field(gt=0, description="Execution price in the instrument's quote")


class TradeIn(WhatIfTradeIn):
    """An executed trade of the account in the path (pre-trade checked)."""

    time: str | None = _TIME
    id: str | None = _ID


class WhatIfIn(_In):
    """Hypothetical trades on the account in the path (nothing is changed)."""

    trades: list[WhatIfTradeIn] = Field(min_length=1, max_length=1000)


class CollateralIn(_In):
    """A deposit, or a withdrawal (refused when it would leave equity below IM)."""

    type: Literal["deposit", "withdrawal"]
    asset: str = Field(
        min_length=1, max_length=256, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.]*$", examples=["USDC"]
    )
    amount: float = Field(gt=0, examples=[1000])
    time: str | None = _TIME
    id: str | None = _ID


class SmileSurfaceIn(_In):
    """``{"smile": {...}}``."""

    smile: SmileIn


class SVISurfaceIn(_In):
    """``{"svi": {...}}``."""

    svi: SVIIn


class MarketUpdateIn(_In):
    """One tick of one asset (fields left out are unchanged); see docs/formats.md."""

    type: Literal["market"]
    feed: str = Field(min_length=1, max_length=256, examples=["deribit-index"])
    seq: int | None = Field(default=None, ge=0, description="Per-feed sequence number")
    time: str = Field(description="Source timestamp, ISO-8601 with a zone")
    asset: str = Field(min_length=1, max_length=256, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.]*$")
    price: float | None = Field(default=None, gt=0)
    confidence: float | None = Field(default=None, ge=0, le=1)
    perp_mark: float | None = Field(default=None, gt=0)
    forwards: dict[str, float] | None = Field(
        default=None, description="Expiry (ISO instant or code like 27MAR20) -> forward"
    )
    vol: float | None = Field(default=None, gt=0, description="Asset-level flat vol")
    vols: dict[str, float | SmileSurfaceIn | SVISurfaceIn] | None = Field(
        default=None, description="Expiry -> vol surface"
    )
    oracle: OracleIn | None = None


class PythPriceIn(BaseModel):
    """A Pyth price (Hermes ``ParsedPriceUpdate.price``)."""

    price: str | int
    conf: str | int
    expo: int
    publish_time: int


class PythIn(BaseModel):
    """A Pyth Hermes parsed price update, with ``"type": "pyth"``."""

    type: Literal["pyth"]
    id: str = Field(description="Pyth feed id (hex)")
    price: PythPriceIn
    asset: str | None = Field(default=None, description="BTC or BTC/USD (else: known ids)")
    feed: str | None = None
    ema_price: PythPriceIn | None = None
    metadata: dict[str, Any] | None = None


class KeyIn(_In):
    """A key to issue."""

    role: Literal["admin", "feed", "account"]
    account: str | None = Field(default=None, description="The account of an account key")
    feed: str | None = Field(default=None, description="Bind a feed key to one feed")
    label: str = Field(default="", max_length=200)


# -- responses -------------------------------------------------------------------------------------
class ErrorDetail(BaseModel):
    """What went wrong."""

    model_config = ConfigDict(extra="allow")
    path: str | None = Field(description="The offending field or parameter")
    reason: str
    seq: int | None = Field(default=None, description="Journal seq of a refused input")


class ErrorOut(BaseModel):
    """The one error shape."""

    error: ErrorDetail


class HealthOut(BaseModel):
    """An account's numbers (base currency)."""

    equity: float
    maintenance_equity: float
    initial_margin: float
    maintenance_margin: float
    margin_ratio: float | None
    status: str | None


class AccountSummary(HealthOut):
    """One account's last margin: its numbers, free collateral, reported status, frozen flag."""

    account: str
    reported_status: str | None
    free_collateral: float
    frozen: bool


class AccountList(BaseModel):
    """A page of accounts."""

    seq: int = Field(description="Journal seq of the state listed")
    total: int = Field(description="Accounts matching the filter")
    counts: dict[str, int] = Field(description="Accounts per status (all accounts), and frozen")
    sort: str
    offset: int
    limit: int
    items: list[AccountSummary]


class LiveInfo(BaseModel):
    """The live engine's view of the account."""

    seq: int
    reported_status: str | None
    frozen: bool


class MarginOut(BaseModel):
    """The ``crossmargin margin --format json`` object of the account (with ``positions``).

    See docs/formats.md for every field; ``live`` adds the engine's reported status, the frozen
    flag and the journal seq. A frozen account (stale market data) carries its last numbers
    only.
    """

    model_config = ConfigDict(extra="allow")
    account: str
    status: str | None
    equity: float
    initial_margin: float
    maintenance_margin: float
    margin_ratio: float | None
    live: LiveInfo


class ExplainOut(BaseModel):
    """The ``crossmargin explain --format json`` object: margin JSON + scenarios, derivation."""

    model_config = ConfigDict(extra="allow")
    account: str
    scenarios: list[dict[str, Any]]
    derivation: list[str]


class EventOut(BaseModel):
    """An engine event (docs/formats.md, "Event format")."""

    seq: int
    time: str
    type: str
    account: str | None
    status_before: str | None
    status_after: str | None
    equity: float | None
    im: float | None
    mm: float | None
    margin_ratio: float | None
    cause: dict[str, Any]


class EventPage(BaseModel):
    """Events after a seq, oldest first."""

    events: list[EventOut]
    next_after: int = Field(description="Pass as ?after= to continue")
    last_seq: int = Field(description="Newest event seq known to the service")


class AckOut(BaseModel):
    """The engine's answer to one input (2xx: journaled and applied)."""

    accepted: bool
    seq: int | None = Field(description="Journal seq")
    duplicate: bool = Field(description="The id was seen before: the first answer, again")
    reason: str | None
    path: str | None
    events: list[EventOut]


class TradeOut(AckOut):
    """A trade's answer with the account after it."""

    account: AccountSummary | None


class MarketOut(BaseModel):
    """One answer per market update, in order."""

    results: list[AckOut]


class WhatIfOut(BaseModel):
    """A pre-trade check: the account before and after (nothing changed)."""

    account: str
    accepted: bool
    reason: str | None
    before: HealthOut
    after: HealthOut


class KeyOut(BaseModel):
    """An issued key (never its secret)."""

    key_id: str
    role: str
    account: str | None
    feed: str | None
    label: str
    created: str
    revoked: str | None


class KeyCreated(KeyOut):
    """A new key: ``token`` is shown this once (the store keeps a hash)."""

    token: str


class AccountCreated(BaseModel):
    """A new account, its key (shown once) and its opening margin."""

    account: str
    seq: int
    key: KeyCreated
    margin: AccountSummary
    events: list[EventOut]


class KeyList(BaseModel):
    """Issued keys."""

    keys: list[KeyOut]


class SweepOut(BaseModel):
    """A full sweep's report."""

    accounts: int
    ok: bool
    mismatches: list[str]
    max_abs_diff: float
    events: list[EventOut]


class StatusOut(BaseModel):
    """The service and its engine."""

    model_config = ConfigDict(extra="allow")
    role: Literal["writer", "replica"]
    backend: str
    model: str | None
    seq: int | None
    event_seq: int
    clock: str | None
    accounts: int | None
    counts: dict[str, int]
    latency: dict[str, Any]


class HealthzOut(BaseModel):
    """Liveness."""

    status: Literal["ok", "failed"]


#: Request body models by component name (``MarketIn`` — one of them or an array — is assembled
#: in the OpenAPI hook, :mod:`crossmargin.service.openapi`).
REQUEST_MODELS: dict[str, type[BaseModel]] = {
    "PortfolioIn": PortfolioIn,
    "TradeIn": TradeIn,
    "WhatIfIn": WhatIfIn,
    "CollateralIn": CollateralIn,
    "MarketUpdateIn": MarketUpdateIn,
    "PythIn": PythIn,
    "KeyIn": KeyIn,
}
