"""Oracle feeds: Pyth price updates and Chainlink rounds, staleness and confidence, snapshots."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from crossmargin import compute_margin
from crossmargin.errors import InputError, MarketDataError
from crossmargin.io.feeds import (
    FeedRules,
    check_feed,
    decode_chainlink,
    decode_pyth,
    read_feeds,
)
from crossmargin.io.market import market_from_obj
from crossmargin.io.portfolio import portfolios_from_obj
from crossmargin.io.venues import Source, import_sources

from .helpers import DATA, invoke, load

BTC_ID = "e62df6c8b4a85fe1a67db44dc12de5db330f7ac66b72dc658afedf0f4a415b43"
OTHER_ID = "c96458d393fe9deb7a7d63a0ac41e2898a67a7750dbd166673279e06c868df0a"
PUBLISHED = datetime(2024, 5, 3, 14, 21, 41, tzinfo=UTC)  # publish_time 1714746101


def pyth_btc() -> dict[str, Any]:
    return load("pyth_hermes_docs.json")["parsed"][0]  # type: ignore[no-any-return]


def test_pyth_docs_example() -> None:
    fp = decode_pyth(pyth_btc())
    # 6140993501000 × 10^-8 = 61 409.93501; conf 3287868567 × 10^-8 = 32.87868567
    assert fp.price == 61_409.93501 and fp.confidence == 32.87868567
    assert fp.timestamp == PUBLISHED and fp.source == "pyth" and fp.feed == BTC_ID
    # σ/p = 32.87868567 / 61 409.93501 = 0.0535 %
    assert fp.confidence_ratio == pytest.approx(0.000535397, rel=1e-5)
    assert fp.unit_confidence == pytest.approx(1 - 32.87868567 / 61_409.93501)
    ema = decode_pyth(pyth_btc(), field="ema_price")
    assert ema.price == 60_940.047


def test_pyth_ids_are_normalised() -> None:
    rec = pyth_btc()
    rec["id"] = "0x" + BTC_ID.upper()
    assert decode_pyth(rec).feed == BTC_ID


def test_chainlink_round() -> None:
    fp = decode_chainlink(load("chainlink_eth_usd.json"))
    # 345612000000 / 10^8 = 3 456.12; updatedAt 1735689599 = 2024-12-31T23:59:59Z
    assert fp.price == 3_456.12 and fp.confidence == 0.0
    assert fp.timestamp == datetime(2024, 12, 31, 23, 59, 59, tzinfo=UTC)
    # roundId = phase 6 << 64 | aggregator round 10 551
    assert fp.sequence >> 64 == 6 and fp.sequence & (2**64 - 1) == 10_551


@pytest.mark.parametrize(
    ("field", "value", "path", "why"),
    [
        ("price", "abc", "price.price", "int64"),
        ("price", 6140993501000.0, "price.price", "float"),
        ("price", "0", "price.price", "positive"),
        ("price", str(2**63), "price.price", "out of range"),
        ("conf", "-5", "price.conf", "out of range"),
        ("expo", "-8x", "price.expo", "exponent"),
        ("expo", None, "price.expo", "missing"),
        ("publish_time", 1714746101000, "price.publish_time", "milliseconds"),
        ("publish_time", 17147461, "price.publish_time", "out of range"),
        ("publish_time", True, "price.publish_time", "unix seconds"),
    ],
)
def test_bad_pyth_records(field: str, value: Any, path: str, why: str) -> None:
    rec = pyth_btc()
    rec["price"][field] = value
    with pytest.raises(InputError) as e:
        decode_pyth(rec, path="f.json:parsed[0]")
    assert e.value.path == f"f.json:parsed[0].{path}" and why in e.value.reason


@pytest.mark.parametrize(
    ("field", "value", "why"),
    [
        ("answer", "0", "positive"),
        ("answer", "-1", "positive"),
        ("answer", 3456.12, "float"),
        ("decimals", None, "missing"),
        ("decimals", 99, "out of range"),
        ("updatedAt", 0, "not complete"),
        ("updatedAt", 1735689599000, "milliseconds"),
        ("roundId", "x", "uint80"),
        ("feed", None, "description"),
    ],
)
def test_bad_chainlink_rounds(field: str, value: Any, why: str) -> None:
    rec = load("chainlink_eth_usd.json")
    rec[field] = value
    with pytest.raises(InputError) as e:
        decode_chainlink(rec, path="cl")
    assert e.value.path == f"cl.{field}" and why in e.value.reason


def test_staleness_future_and_confidence_rules() -> None:
    fp = decode_pyth(pyth_btc())
    rules = FeedRules(max_age_seconds=60.0, max_confidence_ratio=0.001)
    assert check_feed(fp, PUBLISHED + timedelta(seconds=60), rules, path="p") is fp
    with pytest.raises(MarketDataError, match="stale"):
        check_feed(fp, PUBLISHED + timedelta(seconds=61), rules, path="p")
    with pytest.raises(MarketDataError, match="after as_of"):
        check_feed(fp, PUBLISHED - timedelta(seconds=6), rules, path="p")
    # σ/p 0.0535 % is above a 0.05 % limit
    with pytest.raises(MarketDataError, match="confidence interval"):
        check_feed(fp, PUBLISHED, FeedRules(max_confidence_ratio=0.0005), path="p")


def test_read_feeds_names_feeds_and_keeps_the_latest() -> None:
    doc = load("pyth_hermes_docs.json")
    with pytest.raises(InputError, match=f"--map {OTHER_ID}=SYMBOL") as e:
        read_feeds("pyth", [(doc, "h.json")])
    assert e.value.path == "h.json:parsed[1]"
    later = json.loads(json.dumps(doc["parsed"][0]))
    later["price"]["publish_time"] += 2
    later["price"]["price"] = "6141000000000"
    doc["parsed"].append(later)
    got = read_feeds("pyth", [(doc, "h.json")], {OTHER_ID: "DOGE"})
    by = {r.base: r for r in got}
    assert by["BTC"].price.price == 61_410.0  # the later update
    assert (by["DOGE"].quote, by["DOGE"].price.price) == ("USD", 0.04959503)
    clash = json.loads(json.dumps(later))
    clash["price"]["price"] = "6142000000000"
    doc["parsed"].append(clash)
    with pytest.raises(InputError, match="same sequence"):
        read_feeds("pyth", [(doc, "h.json")], {OTHER_ID: "DOGE"})


def test_feeds_make_snapshot_prices_and_oracle_records(tmp_path: Path) -> None:
    rate = {"feed": "WSTETH / ETH", "decimals": 18, "roundId": "18446744073709551617",
            "answer": "1203100000000000000", "updatedAt": 1735689000}  # fmt: skip
    (tmp_path / "rate.json").write_text(json.dumps(rate))
    imp = import_sources(
        [
            Source("chainlink", (DATA / "chainlink_eth_usd.json", tmp_path / "rate.json")),
        ],
        feed_map={"WSTETH / ETH": "WSTETH/ETH@lido"},
    )
    assert imp.portfolio == {}
    # as_of = the latest feed time (no export): 2024-12-31T23:59:59Z
    assert imp.market["as_of"] == "2024-12-31T23:59:59Z"
    assert imp.market["assets"]["ETH"] == {
        "price": 3_456.12, "confidence": 1.0, "timestamp": "2024-12-31T23:59:59Z"
    }  # fmt: skip
    # 1203100000000000000 / 10^18 = 1.2031 ETH per wstETH → an oracle record for collateral
    assert imp.market["oracles"]["WSTETH"] == {
        "value": 1.2031, "timestamp": "2024-12-31T23:50:00Z", "confidence": 1.0, "source": "lido"
    }  # fmt: skip
    snap = market_from_obj(imp.market)
    assert snap.oracles["WSTETH"].value == 1.2031


def test_a_feed_priced_account_fails_closed_when_stale() -> None:
    pf, _ = portfolios_from_obj({"account": "a", "collateral": {"BTC": 1.0}})
    imp = import_sources([Source("pyth", (DATA / "pyth_hermes_docs.json",))],
                         feed_map={OTHER_ID: "DOGE"})  # fmt: skip
    snap = market_from_obj(imp.market)
    res = compute_margin(pf, snap, model="isolated")
    # 1 BTC valued at the Pyth price 61 409.93501 (market value, before haircuts)
    assert float(res.collateral_market_value[0]) == pytest.approx(61_409.93501)
    # two hours later the reading is stale for the engine too (market.max_age_seconds 3600)
    later = json.loads(json.dumps(imp.market))
    later["as_of"] = "2024-05-03T16:21:42Z"
    with pytest.raises(MarketDataError, match="stale"):
        compute_margin(pf, market_from_obj(later), model="isolated")


def test_cli_import_pyth(tmp_path: Path) -> None:
    out = tmp_path / "m.json"
    r = invoke("import", "pyth", DATA / "pyth_hermes_docs.json", "--map", f"{OTHER_ID}=DOGE",
               "--out-market", out)  # fmt: skip
    assert r.exit_code == 0, r.stderr
    doc = json.loads(out.read_text())
    assert doc["assets"]["BTC"]["price"] == 61_409.93501
    # stale against an explicit as_of beyond the heartbeat: exit 2, one line
    r = invoke("import", "pyth", DATA / "pyth_hermes_docs.json", "--map", f"{OTHER_ID}=DOGE",
               "--as-of", "2024-05-03T15:21:42Z", "--heartbeat", "3600")  # fmt: skip
    assert r.exit_code == 2 and "stale" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    # a market file comes first; the feed overrides its price (noted) and keeps its other data
    base = tmp_path / "base.json"
    base.write_text(json.dumps({"as_of": "2024-05-03T14:30:00Z",
                                "assets": {"BTC": {"price": 61000.0, "vol": 0.5}}}))  # fmt: skip
    r = invoke("import", "pyth=" + str(DATA / "pyth_hermes_docs.json"), "--map",
               f"{OTHER_ID}=DOGE", "--market", base, "-f", "json")  # fmt: skip
    assert r.exit_code == 0, r.stderr
    got = json.loads(r.stdout)
    assert got["market"]["assets"]["BTC"]["price"] == 61_409.93501
    assert got["market"]["assets"]["BTC"]["vol"] == 0.5
    assert got["market"]["as_of"] == "2024-05-03T14:30:00Z"
    assert any("replaced by 61409.9" in n for n in got["notes"])
