"""Issue 9 §7 and §1: the staleness rule holds for every input that has a time; instants out of
range are errors wherever a timestamp is read.

Before: a snapshot without timestamps was accepted for any ``as_of`` (``as_of`` 2020-01-01 on the
index example gave 3.35x the margin), and ``0001-01-01T00:00:00+05:00`` crashed with
``OverflowError``.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

import crossmargin as cm
from crossmargin.account.report import account_warnings
from crossmargin.config import default_config
from crossmargin.errors import InputError, MarketDataError

from .helpers import invoke

EX = Path(cm.__file__).parent / "examples"
FAR_PAST = "0001-01-01T00:00:00+05:00"
FAR_FUTURE = "9999-12-31T23:59:59-01:00"


def _index() -> tuple[list[cm.Portfolio], dict[str, Any]]:
    return cm.load_portfolios(EX / "index_book.json")[0], json.loads(
        (EX / "market_index.json").read_text()
    )


def _lenient() -> cm.RiskConfig:
    cfg = default_config()
    return cfg.model_copy(
        update={"market": {**cfg.market.model_dump(), "require_timestamps": False}}
    )


def test_index_example_with_as_of_in_2020_is_refused() -> None:
    pfs, m = _index()
    m["as_of"] = "2020-01-01T00:00:00Z"  # every expiry is years away: margin x3.35 before
    with pytest.raises(MarketDataError, match="is after as_of") as e:
        cm.compute_margin(pfs, cm.market_from_obj(m))
    assert e.value.path.startswith("assets.") and e.value.path.endswith(".timestamp")


def test_prices_without_an_observation_time_are_refused_by_default() -> None:
    pfs, m = _index()
    for a in m["assets"].values():
        a.pop("timestamp", None)
    with pytest.raises(MarketDataError, match="no observation time") as e:
        cm.compute_margin(pfs, cm.market_from_obj(m))
    assert e.value.path == "assets.SPX.timestamp"


def test_require_timestamps_false_accepts_them_with_a_warning() -> None:
    pfs, m = _index()
    for a in m["assets"].values():
        a.pop("timestamp", None)
    res = cm.compute_margin(pfs, cm.market_from_obj(m), config=_lenient())
    got = {(w["code"], w["path"]) for w in account_warnings(res, 0)}
    assert got == {
        ("no_timestamp", "assets.SPX.timestamp"),
        ("no_timestamp", "assets.NDX.timestamp"),
    }
    # the snapshot currency (price 1 by definition) needs no time
    assert "assets.USD.timestamp" not in {p for _, p in got}


def test_snapshot_level_timestamp_applies_to_undated_prices() -> None:
    pfs, m = _index()
    for a in m["assets"].values():
        a.pop("timestamp", None)
    m["timestamp"] = "2026-11-22T07:30:00Z"
    res = cm.compute_margin(pfs, cm.market_from_obj(m))
    assert account_warnings(res, 0) == []
    m["timestamp"] = "2026-11-22T06:00:00Z"  # two hours before as_of: stale
    with pytest.raises(MarketDataError, match="price is stale") as e:
        cm.compute_margin(pfs, cm.market_from_obj(m))
    assert e.value.path == "timestamp"
    m["timestamp"] = "2026-11-22T08:00:01Z"  # after as_of
    with pytest.raises(MarketDataError, match="after as_of"):
        cm.compute_margin(pfs, cm.market_from_obj(m))


def test_an_asset_timestamp_beats_the_snapshot_one() -> None:
    pfs, m = _index()
    m["timestamp"] = "2026-11-22T07:59:00Z"
    m["assets"]["SPX"]["timestamp"] = "2026-11-21T07:59:00Z"  # its own time is stale
    with pytest.raises(MarketDataError, match="stale") as e:
        cm.compute_margin(pfs, cm.market_from_obj(m))
    assert e.value.path == "assets.SPX.timestamp"


def test_expired_expiry_without_settlement_and_settlement_after_as_of() -> None:
    pfs, m = _index()
    m["as_of"] = "2026-12-20T08:00:00Z"  # after the December expiry the book holds
    for a in m["assets"].values():
        if "timestamp" in a:
            a["timestamp"] = "2026-12-20T07:59:00Z"
    with pytest.raises(InputError, match="no settlement price"):
        cm.compute_margin(pfs, cm.market_from_obj(m))
    _, m = _index()
    m["assets"]["SPX"]["settlements"] = {"2026-12-18T14:30:00Z": 6_500.0}  # not yet settled
    with pytest.raises(InputError, match="settlement price for an expiry after as_of") as e:
        cm.market_from_obj(m)
    assert e.value.path == "assets.SPX.settlements.2026-12-18T14:30:00Z"


@pytest.mark.parametrize(
    "text", [FAR_PAST, FAR_FUTURE, "1899-12-31T23:59:59Z", "2200-01-01T00:00:00Z"]
)
@pytest.mark.parametrize(
    "where",
    ["as_of", "timestamp", "asset timestamp", "expiry key", "settlement key", "oracle timestamp"],
)
def test_out_of_range_instants_are_input_errors_everywhere(text: str, where: str) -> None:
    _, m = _index()
    spx = m["assets"]["SPX"]
    if where == "as_of":
        m["as_of"] = text
        path = "as_of"
    elif where == "timestamp":
        m["timestamp"] = text
        path = "timestamp"
    elif where == "asset timestamp":
        spx["timestamp"] = text
        path = "assets.SPX.timestamp"
    elif where == "expiry key":
        spx["expiries"][text] = {"vol": 0.2}
        path = f"assets.SPX.expiries.{text}"
    elif where == "settlement key":
        spx["settlements"] = {text: 6_000.0}
        path = f"assets.SPX.settlements.{text}"
    else:
        m["oracles"] = {"WSTETH": {"value": 1.2, "timestamp": text, "source": "lido"}}
        path = "oracles.WSTETH.timestamp"
    with pytest.raises(InputError, match="outside the supported range") as e:
        cm.market_from_obj(m)
    assert e.value.path == path


@pytest.mark.parametrize("text", [FAR_PAST, FAR_FUTURE])
def test_out_of_range_expiry_of_an_instrument_object(text: str) -> None:
    obj = {
        "account": "a",
        "positions": [
            {"instrument": {"kind": "future", "underlying": "BTC", "expiry": text}, "quantity": 1}
        ],
    }
    with pytest.raises(InputError, match="outside the supported range") as e:
        cm.portfolios_from_obj(obj)
    assert e.value.path == "positions[0].instrument.expiry"


def test_out_of_range_as_of_on_the_command_line(tmp_path: Path) -> None:
    _, m = _index()
    m["as_of"] = FAR_PAST
    (tmp_path / "m.json").write_text(json.dumps(m))
    r = invoke("margin", EX / "index_book.json", "-m", tmp_path / "m.json")
    assert r.exit_code == 2
    assert r.stderr.startswith("error: as_of: '0001-01-01T00:00:00+05:00' is outside the supported")
    assert r.stdout == "" and "Traceback" not in r.stderr


def test_library_datetimes_are_range_checked() -> None:
    with pytest.raises(InputError, match="outside the supported range"):
        cm.MarketSnapshot(as_of=datetime(2200, 1, 1, tzinfo=UTC))
    with pytest.raises(InputError, match="time-zone aware"):
        cm.Future("BTC", datetime(2026, 12, 26, 8))


def test_config_stress_period_dates_are_range_checked() -> None:
    """numpy's datetime64[ns] would wrap 0001-01-01 to 1754 silently."""
    from crossmargin.config import config_from_dict
    from crossmargin.errors import ConfigError

    d = default_config().model_dump(mode="json")
    d["var"]["stress_periods"] = [{"start": "0001-01-01", "end": "2001-01-01"}]
    with pytest.raises(ConfigError, match="outside the supported range") as e:
        config_from_dict(d)
    assert e.value.path == "config.var.stress_periods.0"
