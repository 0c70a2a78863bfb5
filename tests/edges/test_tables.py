"""Issue 9: batch tables and history files — every column's type is checked, CSV rows must match
the header, repeated columns and literal ``nan`` cells are errors, limits are enforced."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from crossmargin import _tabular as tabular
from crossmargin.backtest.run import load_history
from crossmargin.errors import InputError
from crossmargin.io.tables import book_from_frames, read_table
from crossmargin.market.history import load_price_history

from .helpers import files_in, one_line_error, run


@pytest.fixture
def frames(examples: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    return (
        pd.read_csv(examples / "venue_positions.csv"),
        pd.read_csv(examples / "venue_collateral.csv"),
    )


def _batch(examples: Path, pos: Path, col: Path, out: Path) -> tuple[str, str]:
    r = run("batch", pos, "--collateral", col, "-m", examples / "market_venue.json", "-o", out)
    result = one_line_error(r)
    assert not out.exists() and not [p for p in out.parent.iterdir() if p.name.startswith(".")]
    return result


def test_list_valued_instrument_in_a_json_table(examples: Path, tmp_path: Path) -> None:
    pos = tmp_path / "p.json"
    pos.write_text(json.dumps([{"account": "a", "instrument": ["BTC-PERP"], "quantity": 1}]))
    col = tmp_path / "c.json"
    col.write_text(json.dumps([{"account": "a", "asset": "USDC", "amount": 1000}]))
    path, reason = _batch(examples, pos, col, tmp_path / "r.csv")
    assert path == "positions[0].instrument" and reason.startswith("must be text, got a list")


@pytest.mark.parametrize("fmt", ["parquet", "json", "csv"])
def test_boolean_quantities_are_not_one_and_zero(
    examples: Path, tmp_path: Path, frames: tuple[pd.DataFrame, pd.DataFrame], fmt: str
) -> None:
    """A boolean column used to be read as 1/0: the venue's IM fell to 4.8 %."""
    pos, col = frames
    pos = pos.assign(quantity=pos["quantity"] > 0)
    p, c = tmp_path / f"p.{fmt}", tmp_path / f"c.{fmt}"
    if fmt == "parquet":
        pos.to_parquet(p)
        col.to_parquet(c)
    elif fmt == "json":
        pos.to_json(p, orient="records")
        col.to_json(c, orient="records")
    else:
        pos.to_csv(p, index=False)
        col.to_csv(c, index=False)
    path, reason = _batch(examples, p, c, tmp_path / "r.csv")
    assert path == "positions[0].quantity" and "must be a number" in reason


@pytest.mark.parametrize("column", ["quantity", "entry_price", "amount"])
def test_datetime_columns_are_not_epoch_nanoseconds(
    examples: Path, tmp_path: Path, frames: tuple[pd.DataFrame, pd.DataFrame], column: str
) -> None:
    pos, col = frames
    if column == "amount":
        col = col.assign(amount=pd.Timestamp("2026-01-01"))
    else:
        pos = pos.assign(**{column: pd.Timestamp("2026-01-01")})
    p, c = tmp_path / "p.parquet", tmp_path / "c.parquet"
    pos.to_parquet(p)
    col.to_parquet(c)
    path, reason = _batch(examples, p, c, tmp_path / "r.csv")
    assert path.endswith(f".{column}") and "date/time column" in reason


def test_dtype_checks_hold_for_frames_passed_to_the_library(
    frames: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    pos, col = frames
    cases = [
        (pos.assign(quantity=True), col, "positions[0].quantity"),
        (pos.assign(quantity=pd.Timestamp("2026-01-01")), col, "positions[0].quantity"),
        (pos.assign(quantity=pd.Timedelta("1D")), col, "positions[0].quantity"),
        (pos.assign(quantity=[*pos["quantity"][:-1], "5"]), col, f"positions[{len(pos) - 1}]"),
        (pos.assign(instrument=[["BTC-PERP"]] * len(pos)), col, "positions[0].instrument"),
        (pos.assign(account=1.5), col, "positions[0].account"),
        (pos, col.assign(asset=True), "collateral[0].asset"),
        (pos, col.assign(amount=[{"x": 1}] * len(col)), "collateral[0].amount"),
    ]
    for p, c, where in cases:
        with pytest.raises(InputError) as e:
            book_from_frames(p, c)
        assert e.value.path.startswith(where), (where, e.value)


def test_integer_account_ids_are_accepted(frames: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    pos, col = frames
    ids = {a: i for i, a in enumerate(pd.unique(pd.concat([pos["account"], col["account"]])))}
    book = book_from_frames(pos.assign(account=pos["account"].map(ids)),
                            col.assign(account=col["account"].map(ids)))  # fmt: skip
    assert book.accounts == tuple(str(i) for i in range(len(ids)))


@pytest.mark.parametrize(
    ("text", "where", "reason"),
    [
        ("a,BTC-PERP,nan,\n", "positions[0].quantity", "must be a number, got 'nan'"),
        ("a,BTC-PERP,1,NaN\n", "positions[0].entry_price", "must be a number, got 'NaN'"),
        ("a,BTC-PERP,1,NA\n", "positions[0].entry_price", "must be a number, got 'NA'"),
        ("a,BTC-PERP,inf,\n", "positions[0].quantity", "must be finite, got inf"),
        ("a,BTC-PERP,,\n", "positions[0].quantity", "must be finite, got NaN (an empty cell)"),
        ("a,BTC-PERP,TRUE,\n", "positions[0].quantity", "must be a number, got 'TRUE'"),
        ("a,BTC-PERP,1\n", "p.csv", "row 2 (header = row 1) has 3 fields, the header has 4"),
        ("a,BTC-PERP,1,2,3\n", "p.csv", "row 2 (header = row 1) has 5 fields, the header has 4"),
    ],
)
def test_csv_cells_and_rows(
    examples: Path, tmp_path: Path, text: str, where: str, reason: str
) -> None:
    pos = tmp_path / "p.csv"
    pos.write_text("account,instrument,quantity,entry_price\n" + text)
    path, why = _batch(examples, pos, examples / "venue_collateral.csv", tmp_path / "r.csv")
    assert path.endswith(where) and why.startswith(reason)


def test_repeated_csv_columns_are_not_renamed(examples: Path, tmp_path: Path) -> None:
    pos = tmp_path / "p.csv"
    pos.write_text("account,instrument,quantity,Quantity\na,BTC-PERP,1,2\n")
    path, why = _batch(examples, pos, examples / "venue_collateral.csv", tmp_path / "r.csv")
    assert path == str(pos) and "'Quantity' appears twice" in why


def test_non_utf8_table(examples: Path, tmp_path: Path) -> None:
    pos = tmp_path / "p.csv"
    pos.write_bytes(b"account,instrument,quantity\n\xff\xfe,BTC-PERP,1\n")
    path, why = _batch(examples, pos, examples / "venue_collateral.csv", tmp_path / "r.csv")
    assert path == str(pos) and why == "not UTF-8 text (byte 28)"


def test_parquet_nan_is_not_a_missing_value(examples: Path, tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    t = pa.table({"account": ["a"], "instrument": ["BTC-PERP"], "quantity": [1.0],
                  "entry_price": pa.array([float("nan")])})  # fmt: skip
    pos = tmp_path / "p.parquet"
    pq.write_table(t, pos)
    path, why = _batch(examples, pos, examples / "venue_collateral.csv", tmp_path / "r.csv")
    assert path == "positions[0].entry_price" and why.startswith("NaN is not a value")


def test_text_cells_have_a_length_limit(examples: Path, tmp_path: Path) -> None:
    pos = tmp_path / "p.csv"
    pos.write_text(f"account,instrument,quantity\n{'a' * 300},BTC-PERP,1\n")
    path, why = _batch(examples, pos, examples / "venue_collateral.csv", tmp_path / "r.csv")
    assert path == "positions[0].account" and "longer than 256 characters" in why


def test_row_and_size_limits(
    examples: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tabular, "MAX_TABLE_ROWS", 3)
    with pytest.raises(InputError, match="more than 3 rows"):
        read_table(examples / "venue_positions.csv", what="positions")
    monkeypatch.setattr(tabular, "MAX_TABLE_BYTES", 100)
    with pytest.raises(InputError, match="larger than the table limit"):
        read_table(examples / "venue_positions.csv", what="positions")


def test_a_device_is_read_with_a_bound(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(tabular, "MAX_TABLE_BYTES", 1 << 20)
    link = tmp_path / "zero.csv"
    link.symlink_to("/dev/zero")
    with pytest.raises(InputError, match="larger than the input limit of 1 MiB"):
        read_table(link, what="positions")


# -- history files --------------------------------------------------------------------------------
HISTORY_LOADERS = [
    pytest.param(load_price_history, id="var/es history"),
    pytest.param(load_history, id="backtest history"),
]


@pytest.mark.parametrize("load", HISTORY_LOADERS)
def test_history_row_shorter_than_its_header(tmp_path: Path, load: object) -> None:
    """``date,BTC,ETH,SPX`` with rows of three fields: ETH used to take the SPX closes."""
    h = tmp_path / "h.csv"
    h.write_text("date,BTC,ETH,SPX\n2020-01-02,7000,130,3200\n2020-01-03,7100,3250\n")
    with pytest.raises(
        InputError, match=r"row 3 \(header = row 1\) has 3 fields, the header has 4"
    ):
        load(h)  # type: ignore[operator]


@pytest.mark.parametrize("load", HISTORY_LOADERS)
@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("date,BTC,BTC\n2020-01-02,1,2\n2020-01-03,1,2\n", "'BTC' appears twice"),
        ("date,BTC,btc\n2020-01-02,1,2\n2020-01-03,1,2\n", "'btc' appears twice"),
        ("date,BTC\n2020-01-02,1\n2020-01-03,nan\n", "must be a number, got 'nan'"),
        ("date,BTC\n2020-01-02,1\n2020-01-03,N/A\n", "must be a number, got 'N/A'"),
        ("date,BTC\n2020-01-02,1\n2020-01-03,true\n", "must be a number, got 'true'"),
    ],
)
def test_history_cells(tmp_path: Path, load: object, text: str, reason: str) -> None:
    h = tmp_path / "h.csv"
    h.write_text(text)
    with pytest.raises(InputError, match=reason):
        load(h)  # type: ignore[operator]


@pytest.mark.parametrize("load", HISTORY_LOADERS)
@pytest.mark.parametrize("kind", ["bool", "datetime", "int dates"])
def test_history_parquet_column_types(tmp_path: Path, load: object, kind: str) -> None:
    dates = pd.to_datetime(["2020-01-02", "2020-01-03", "2020-01-06"])
    df = pd.DataFrame({"date": dates, "BTC": [7000.0, 7100.0, 7200.0], "ETH": [1.0, 2.0, 3.0]})
    if kind == "bool":
        df["ETH"] = [True, True, True]
    elif kind == "datetime":
        df["ETH"] = dates
    else:
        df["date"] = [20200102, 20200103, 20200106]
    h = tmp_path / "h.parquet"
    df.to_parquet(h, index=False)
    with pytest.raises(InputError, match=r"date/time|boolean|dates must be"):
        load(h)  # type: ignore[operator]


def test_history_blank_cell_is_a_missing_close(tmp_path: Path) -> None:
    h = tmp_path / "h.csv"
    h.write_text("date,BTC,SPX\n2020-01-03,7000,3200\n2020-01-04,7100,\n2020-01-06,7200,3250\n")
    hist = load_price_history(h)
    assert np.isnan(hist.column("SPX")[1]) and hist.column("BTC")[1] == 7100


def test_history_command_one_line(tmp_path: Path) -> None:
    h = tmp_path / "h.csv"
    h.write_text("date,BTC,ETH,SPX\n2020-01-02,7000,130,3200\n2020-01-03,7100,3250\n")
    path, why = one_line_error(run("history", h))
    assert path == str(h) and "has 3 fields" in why
    assert files_in(tmp_path) == {"h.csv"}


def test_history_bad_byte_in_a_short_row_is_one_line(tmp_path: Path) -> None:
    """Found by long fuzz run 4: a flipped byte in a row that also has a wrong field count.

    Arrow decoded the rejected row's text itself and printed "Exception ignored ... Traceback"
    on stderr before our error. Run as a process: that output bypasses in-process capture.
    """
    rows = [f"2019-01-{d:02d},{3800 + d},{140 + d},2500" for d in range(1, 29)]
    rows[20] = rows[20].replace(",2500", "|2500")  # the flipped byte (0xE1) eats a comma
    data = ("date,BTC,ETH,SPX\n" + "\n".join(rows) + "\n").encode().replace(b"|", b"\xe1")
    h = tmp_path / "h.csv"
    h.write_bytes(data)
    at = data.index(b"\xe1")
    r = subprocess.run(
        [sys.executable, "-m", "crossmargin", "history", str(h)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.splitlines() == [f"error: {h}: not UTF-8 text (byte {at})"], r.stderr
    assert files_in(tmp_path) == {"h.csv"}


@pytest.mark.parametrize("load", HISTORY_LOADERS)
def test_history_dates_with_mixed_zones(tmp_path: Path, load: object) -> None:
    """Found by the atheris run: pandas raised ``ValueError: Mixed timezones detected``."""
    h = tmp_path / "h.csv"
    h.write_text("date,BTC\n2019-01-02,1\n2019-01-03T12:00:00+01:00,2\n2019-01-04,3\n")
    hist = load(h)  # type: ignore[operator]
    assert len(hist.prices if hasattr(hist, "prices") else hist.values) == 3
