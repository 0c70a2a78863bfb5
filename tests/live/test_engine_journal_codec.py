"""The journal's direct trade encoder writes the canonical JSON of the trade.

Reference: :func:`~crossmargin.store.records.encode_json_object` of
:func:`~crossmargin.live.codec.update_to_obj` (the generic path, and what every other input
kind is journaled as) — the same text, character for character, on random trades (names with
quotes, backslashes, control and non-ASCII characters; extreme and subnormal floats; times with
and without microseconds; with and without an id); and the text decodes back to the trade.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from crossmargin.live.codec import update_from_obj, update_to_obj
from crossmargin.live.durable import journal_record
from crossmargin.live.records import Trade
from crossmargin.store.records import NewRecord, encode_json_object

#: names a trade accepts (printable, not blank: `Trade` refuses "  " as an empty account)
_text = st.text(min_size=1, max_size=40).filter(lambda s: s.isprintable() and bool(s.strip()))
_qty = st.floats(allow_nan=False, allow_infinity=False, min_value=-1e15, max_value=1e15).filter(
    lambda x: x != 0.0
)
_price = st.floats(allow_nan=False, allow_infinity=False, min_value=5e-324, max_value=1e15)
_time = st.integers(0, 10**15).map(
    lambda us: datetime(2000, 1, 1, tzinfo=UTC) + timedelta(microseconds=us)
)
_inst = st.sampled_from(["BTC-PERP", "ETH-27MAR26", "BTC-27MAR26-60000-C", "SPX-PERP"])


@settings(max_examples=300, deadline=None)
@given(_text, _inst, _qty, _price, _time, st.one_of(st.none(), _text))
def test_trade_journal_text_is_the_canonical_encoding(
    account: str, inst: str, q: float, p: float, t: datetime, id: str | None
) -> None:
    trade = Trade(account, inst, q, p, t, id=id)
    rec = journal_record(trade, "trade", id, 123)
    assert rec.payload == encode_json_object(update_to_obj(trade), path="p")
    ref = NewRecord(
        "trade",
        update_to_obj(trade),
        source="engine",
        account=account,
        idempotency_key=id,
        received_ns=123,
    )
    assert rec == ref
    assert update_from_obj(json.loads(rec.payload)) == trade
