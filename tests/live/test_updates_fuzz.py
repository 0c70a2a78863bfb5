"""Any damage to a tick file ends in a named crossmargin error, never another exception."""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crossmargin.errors import CrossMarginError
from crossmargin.live.replay import example_dir
from crossmargin.live.updates import read_updates, update_from_obj

SEEDS = {
    "jsonl": "\n".join(
        [
            *(example_dir("crash_2020_03") / "ticks.jsonl").read_text().splitlines()[95:101],
            json.dumps({"type": "market", "feed": "d", "seq": 1, "time": "2020-03-12T10:00:00Z",
                        "asset": "BTC", "forwards": {"27MAR20": 6000.0},
                        "vols": {"27MAR20": {"smile": {"strikes": [5000, 7000], "vols": [1, 0.9]}},
                                 "26JUN20": {"svi": {"a": 0.04, "b": 0.1, "rho": -0.3, "m": 0,
                                                     "sigma": 0.2}}},
                        "oracle": {"value": 1.02, "timestamp": "2020-03-12T10:00:00Z",
                                   "source": "lido"}}),
            json.dumps({"type": "account", "time": "2020-03-12T10:00:00Z", "account": "x",
                        "collateral": {"USD": 1000},
                        "positions": [{"instrument": "BTC-27MAR20-6000-P", "quantity": -1}]}),
        ]
    )
    + "\n",
    "pyth": json.dumps(
        {"parsed": [{"id": "e62df6c8b4a85fe1a67db44dc12de5db330f7ac66b72dc658afedf0f4a415b43",
                     "price": {"price": "500000000000", "conf": "100000000", "expo": -8,
                               "publish_time": 1584007200}}]}
    )
    + "\n",
    "csv-closes": "date,BTC,ETH\n2020-03-11,7900.5,195\n2020-03-12,4970,\n",
}  # fmt: skip

edits = st.lists(
    st.tuples(
        st.sampled_from(["insert", "delete", "replace"]),
        st.floats(0, 1),
        st.sampled_from([*'{}[]",:.-+0123456789eENaInfity \n\\tZT', "\x00", "é", "1" * 80]),
    ),
    min_size=1,
    max_size=6,
)


def damage(text: str, ops: list[tuple[str, float, str]]) -> str:
    for op, where, s in ops:
        i = int(where * len(text))
        if op == "insert":
            text = text[:i] + s + text[i:]
        elif op == "delete":
            text = text[:i] + text[i + len(s) :]
        else:
            text = text[:i] + s + text[i + 1 :]
    return text


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=150)
@given(st.sampled_from(sorted(SEEDS)), edits)
def test_damaged_tick_files(tmp_path: Path, fmt: str, ops: list[tuple[str, float, str]]) -> None:
    p = tmp_path / "ticks.txt"
    p.write_bytes(damage(SEEDS[fmt], ops).encode("utf-8", "surrogatepass"))
    try:
        for _ in read_updates(p, format=fmt):  # type: ignore[arg-type]
            pass
    except CrossMarginError as exc:
        assert exc.reason and "\n" not in str(exc)


values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
KEYS = ["type", "feed", "seq", "time", "asset", "price", "confidence", "perp_mark", "forwards",
        "vol", "vols", "oracle", "account", "instrument", "quantity", "amount", "id",
        "positions", "collateral", "base_currency"]  # fmt: skip


@given(
    st.sampled_from(["market", "trade", "deposit", "withdrawal", "account", "pyth"]),
    st.dictionaries(st.sampled_from(KEYS), values, max_size=8),
)
def test_arbitrary_objects(kind: str, fields: dict[str, object]) -> None:
    try:
        update_from_obj({**fields, "type": kind}, path="x")
    except CrossMarginError as exc:
        assert exc.path.startswith("x") and exc.reason
