"""Tick-file readers: JSON Lines, Pyth records and a CSV of closes, streamed and bounded."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from crossmargin.errors import InputError, MarketDataError
from crossmargin.live.sources import MAX_LINE_BYTES, detect_format, read_updates
from crossmargin.live.updates import Deposit, MarketUpdate, Trade, update_to_obj
from crossmargin.live.volproxy import EWMAVolProxy
from crossmargin.market.vol import FlatVol

BTC_ID = "e62df6c8b4a85fe1a67db44dc12de5db330f7ac66b72dc658afedf0f4a415b43"
T = "2020-03-12T10:00:00Z"


def write(tmp_path: Path, name: str, text: str | bytes) -> Path:
    p = tmp_path / name
    if isinstance(text, bytes):
        p.write_bytes(text)
    else:
        p.write_text(text, encoding="utf-8")
    return p


def lines(*objs: object) -> str:
    return "".join(json.dumps(o) + "\n" for o in objs)


MKT = {"type": "market", "feed": "f", "seq": 1, "time": T, "asset": "BTC", "price": 5000}
TRD = {
    "type": "trade",
    "account": "a",
    "instrument": "BTC-PERP",
    "quantity": 1,
    "price": 5000,
    "time": T,
}


def test_jsonl_stream(tmp_path: Path) -> None:
    p = write(
        tmp_path,
        "t.jsonl",
        "\ufeff"
        + lines(MKT, TRD)
        + "\n  \n"
        + lines({"type": "deposit", "account": "a", "asset": "USDC", "amount": 5, "time": T}),
    )
    out = list(read_updates(p))
    assert [type(u) for u in out] == [MarketUpdate, Trade, Deposit]
    # the canonical objects read back the same
    again = write(tmp_path, "u.jsonl", lines(*(update_to_obj(u) for u in out)))
    assert list(read_updates(again)) == out


@pytest.mark.parametrize(
    ("text", "path", "message"),
    [
        ('{"type": "market", "type": "trade"}\n', ":1", "duplicate key 'type'"),
        ('{"type": "market", \n', ":1", "not valid JSON"),
        ("[1, 2]\n", ":1", "JSON object"),
        (
            '{"type": "market", "feed": "f", "time": "' + T + '", "asset": "BTC", "price": NaN}\n',
            ":1.price",
            "NaN",
        ),
        (
            '{"type": "market", "feed": "f", "time": "'
            + T
            + '", "asset": "BTC", "price": Infinity}\n',
            ":1.price",
            "finite",
        ),
        (
            '{"type": "market", "feed": "f", "time": "'
            + T
            + '", "asset": "BTC", "price": 1'
            + "0" * 80
            + "}\n",
            ":1",
            "number literal",
        ),
        ('{"a": ' * 70 + "1" + "}" * 70 + "\n", ":1", "nested deeper"),
        ('{"type": "tick"}\n', ":1.type", "unknown update type"),
        (
            '{"type": "market", "feed": "f", "time": "2020-03-12T10:00:00", "asset": "BTC", '
            '"price": 1}\n',
            ":1.time",
            "no time zone",
        ),
    ],
)
def test_jsonl_refused(tmp_path: Path, text: str, path: str, message: str) -> None:
    p = write(tmp_path, "t.jsonl", lines(MKT) + text)
    path = path.replace(":1", ":2")
    with pytest.raises(InputError, match=message) as e:
        list(read_updates(p))
    assert e.value.path == f"{p}{path}"


def test_jsonl_bad_bytes_and_long_lines(tmp_path: Path) -> None:
    p = write(tmp_path, "t.jsonl", lines(MKT).encode() + b'{"type": "\xff"}\n')
    with pytest.raises(InputError, match="not UTF-8") as e:
        list(read_updates(p))
    assert e.value.path == f"{p}:2"
    long = write(tmp_path, "l.jsonl", lines(MKT) + '{"x": "' + "a" * MAX_LINE_BYTES + '"}\n')
    with pytest.raises(InputError, match="line longer than") as e:
        list(read_updates(long))
    assert e.value.path == f"{long}:2"


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not found"):
        list(read_updates(tmp_path / "none.jsonl"))
    d = tmp_path / "d.jsonl"
    d.mkdir()
    with pytest.raises(InputError, match="directory"):
        list(read_updates(d))
    with pytest.raises(InputError, match="cannot tell the tick format"):
        detect_format(tmp_path / "ticks.txt")
    assert detect_format("x.ndjson") == "jsonl" and detect_format("x.CSV") == "csv-closes"


def test_reader_is_lazy(tmp_path: Path) -> None:
    """A bad line late in the file is found only when the stream gets there (bounded memory:
    nothing is read ahead)."""
    p = write(tmp_path, "t.jsonl", lines(MKT) * 3 + "garbage\n")
    it = read_updates(p)
    assert isinstance(next(it), MarketUpdate)
    with pytest.raises(InputError, match=r"t.jsonl:4: not valid JSON"):
        list(it)


def pyth_rec(price: str = "500000000000", t: int = 1584007200) -> dict[str, object]:
    return {
        "id": BTC_ID,
        "price": {"price": price, "conf": "100000000", "expo": -8, "publish_time": t},
    }


def test_pyth_lines(tmp_path: Path) -> None:
    text = (
        json.dumps(pyth_rec())
        + "\n"
        + ": keep-alive\n"
        + "data:"
        + json.dumps({"parsed": [pyth_rec(t=1584007201), pyth_rec(t=1584007202)]})
        + "\n"
        + json.dumps([pyth_rec(t=1584007203)])
        + "\n"
    )
    p = write(tmp_path, "p.jsonl", text)
    out = list(read_updates(p, format="pyth"))
    assert [u.time.second for u in out if isinstance(u, MarketUpdate)] == [0, 1, 2, 3]
    assert all(isinstance(u, MarketUpdate) and u.asset == "BTC" for u in out)


def test_pyth_refused(tmp_path: Path) -> None:
    p = write(tmp_path, "p.jsonl", json.dumps(pyth_rec(price="0")) + "\n")
    with pytest.raises(InputError, match="positive") as e:
        list(read_updates(p, format="pyth"))
    assert e.value.path == f"{p}:1.price.price"
    wide = pyth_rec()
    wide["price"]["conf"] = "90000000000"  # type: ignore[index]
    p = write(tmp_path, "w.jsonl", "data: " + json.dumps({"parsed": [wide]}) + "\n")
    with pytest.raises(MarketDataError, match="confidence interval") as m:
        list(read_updates(p, format="pyth"))
    assert m.value.path == f"{p}:1.parsed[0]"
    p = write(tmp_path, "x.jsonl", json.dumps({**pyth_rec(), "type": "market"}) + "\n")
    with pytest.raises(InputError, match="unknown field"):
        list(read_updates(p, format="pyth"))
    p = write(tmp_path, "y.jsonl", "5\n")
    with pytest.raises(InputError, match="not a Pyth price update"):
        list(read_updates(p, format="pyth"))


CSV = "date,BTC,ETH\n2020-03-11,7900.5,195\n2020-03-12,4970,\n2020-03-13,5563,133.2\n"


def test_csv_closes(tmp_path: Path) -> None:
    p = write(tmp_path, "c.csv", CSV)
    out = list(read_updates(p, feed="replay"))
    assert all(isinstance(u, MarketUpdate) for u in out)
    ms = [u for u in out if isinstance(u, MarketUpdate)]
    assert [(u.seq, u.asset, u.price) for u in ms] == [
        (1, "BTC", 7900.5),
        (2, "ETH", 195.0),
        (3, "BTC", 4970.0),
        (4, "BTC", 5563.0),
        (5, "ETH", 133.2),
    ]
    assert ms[0].feed == "replay"
    assert ms[0].time == datetime(2020, 3, 12, tzinfo=UTC)  # the close of 03-11, end of day
    assert ms[0].vols == {}


def test_csv_instants_and_vol_rule(tmp_path: Path) -> None:
    p = write(
        tmp_path,
        "c.csv",
        "timestamp,BTC\n2020-03-12T10:00:00Z,7900\n2020-03-12T12:00:00+00:00,6000\n",
    )
    out = [
        u
        for u in read_updates(p, vol_rule=EWMAVolProxy({"BTC": 0.7}))
        if isinstance(u, MarketUpdate)
    ]
    assert out[0].vols == {None: FlatVol(0.7)}
    v1 = out[1].vols[None]
    assert isinstance(v1, FlatVol) and v1.vol > 0.7  # a 27 % fall in 2 hours moves vol up


@pytest.mark.parametrize(
    ("text", "where", "message"),
    [
        ("day,BTC\n", ":1", "first column must be 'date'"),
        ("date,BTC,btc\n", ":1", "given twice"),
        ("date,B TC\n", ":1", "not an asset symbol"),
        ("date\n", ":1", "no asset columns"),
        ("date,BTC\n2020-03-11,abc\n", ":2.BTC", "not a number"),
        ("date,BTC\n2020-03-11,nan\n", ":2.BTC", "NaN"),
        ("date,BTC\n2020-03-11,inf\n", ":2.BTC", "finite"),
        ("date,BTC\n2020-03-11,-5\n", ":2.BTC", "positive"),
        ("date,BTC\n2020-03-11,1e300\n", ":2.BTC", "at most"),
        ("date,BTC\n2020-03-11,1,2\n", ":2", "3 columns"),
        ("date,BTC\n2020-03-12,1\n2020-03-11,1\n", ":3.date", "times must increase"),
        ("date,BTC\n2020-03-12,1\n2020-03-12,1\n", ":3.date", "times must increase"),
        ("date,BTC\n2020-02-30,1\n", ":2.date", "not a date"),
        ("date,BTC\n2020-03-12 10:00:00,1\n", ":2.date", "no time zone"),
        ("date,BTC\n2250-01-01T00:00:00Z,1\n", ":2.date", "outside"),
        ('date,BTC\n2020-03-12,"1\n', ":2", "CSV"),
    ],
)
def test_csv_refused(tmp_path: Path, text: str, where: str, message: str) -> None:
    p = write(tmp_path, "c.csv", text)
    with pytest.raises(InputError, match=message) as e:
        list(read_updates(p))
    assert e.value.path == f"{p}{where}"


def test_csv_empty(tmp_path: Path) -> None:
    p = write(tmp_path, "c.csv", "")
    with pytest.raises(InputError, match="empty file"):
        list(read_updates(p))
