"""Any damage to an export ends in a named error of the crossmargin tree, never a crash.

Hypothesis replaces one value anywhere in a valid payload (or deletes a key) with anything JSON
can hold; the import must then either succeed or raise a :class:`CrossMarginError` with a path.
"""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from crossmargin.errors import CrossMarginError
from crossmargin.io.feeds import read_feeds
from crossmargin.io.venues import VENUES
from crossmargin.io.venues._build import build

from .helpers import AS_OF, load

PAYLOADS = {
    "deribit": ["deribit_positions.json", "deribit_summaries_cross.json", "deribit_ticker_option.json"],
    "okx": ["okx_positions.json", "okx_balance_pm.json", "okx_instruments_eth.json"],
    "bybit": ["bybit_positions_linear.json", "bybit_positions_option.json", "bybit_wallet_pm.json"],
    "binance": ["binance_um_positions_docs.json", "binance_cm_positions.json",
                "binance_cm_exchangeinfo.json", "binance_balance.json", "binance_account_docs.json"],
    "pyth": ["pyth_hermes_docs.json"],
    "chainlink": ["chainlink_eth_usd.json"],
}  # fmt: skip

JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12)
    | st.sampled_from(["", "NaN", "1e400", "-0", "0x10", "1737000000", "abc", "BTC-PERPETUAL"]),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=6,
)


def _leaves(doc: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [path] if path else []
    if isinstance(doc, dict):
        for k, v in doc.items():
            out += _leaves(v, (*path, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out += _leaves(v, (*path, i))
    return out


def _import(source: str, docs: list[tuple[Any, str]]) -> None:
    if source in VENUES:
        build([VENUES[source](docs)], as_of=AS_OF)
    else:
        build(
            [],
            read_feeds(
                source,
                docs,
                {"c96458d393fe9deb7a7d63a0ac41e2898a67a7750dbd166673279e06c868df0a": "X"},
            ),
        )


@settings(max_examples=200, deadline=None)
@given(data=st.data(), source=st.sampled_from(sorted(PAYLOADS)))
def test_damaged_exports_fail_with_a_named_error(data: st.DataObject, source: str) -> None:
    docs = [(copy.deepcopy(load(f)), f) for f in PAYLOADS[source]]
    k = data.draw(st.integers(0, len(docs) - 1))
    doc = docs[k][0]
    leaves = _leaves(doc)
    path = data.draw(st.sampled_from(leaves))
    node = doc
    for p in path[:-1]:
        node = node[p]
    if data.draw(st.booleans()) and isinstance(node, dict):
        del node[path[-1]]
    else:
        node[path[-1]] = data.draw(JSON)
    try:
        _import(source, docs)
    except CrossMarginError as exc:
        assert exc.path, f"{type(exc).__name__} without a path: {exc}"
