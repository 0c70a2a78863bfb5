"""The drill-down's Greeks table built from the margin JSON (no server needed)."""

from __future__ import annotations

from crossmargin.service.dashboard import GREEK_COLUMNS, _greeks


def test_the_greeks_table_shows_the_margin_json_greeks() -> None:
    margin = {
        "greeks": {
            "per_underlying": [
                {
                    "underlying": "BTC",
                    "spot": 65000.0,
                    "delta": -1.23456789,
                    "delta_cash": -80246.91,
                    "gamma": 0.0000123456,
                    "gamma_cash": 521.6,
                    "vega": -1234.5,
                    "theta": 987.654,
                }
            ],
            "account": {
                "delta_cash": -80246.91,
                "gamma_cash": 521.6,
                "vega": -1234.5,
                "theta": 987.654,
            },
        }
    }
    table = _greeks(margin)
    assert table is not None
    assert table["titles"] == [title for _, title, _ in GREEK_COLUMNS]
    (row,) = table["rows"]
    cells = dict(row["cells"])
    assert row["underlying"] == "BTC"
    assert cells == {
        "spot": "65,000.00",
        "delta": "-1.2346",
        "delta_cash": "-80,246.91",
        "gamma": "0.000012",
        "gamma_cash": "521.60",
        "vega": "-1,234.50",
        "theta": "987.65",
    }
    total = dict(table["total"])
    # the account line has the figures that add across underlyings only
    assert total["spot"] == total["delta"] == total["gamma"] == ""
    assert total["delta_cash"] == "-80,246.91" and total["theta"] == "987.65"


def test_no_greeks_no_table() -> None:
    """A frozen account carries its last numbers only; an empty book has no underlying."""
    assert _greeks({"account": "a", "status": "healthy", "equity": 1.0}) is None
    assert _greeks({"greeks": {"per_underlying": [], "account": {}}}) is None
    assert _greeks({"greeks": None}) is None
