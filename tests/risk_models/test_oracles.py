"""Oracle-valued collateral: fail-closed rules, pluggable sources (file, HTTP), CLI."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crossmargin import account_dict
from crossmargin.collateral.oracles import with_oracle_records
from crossmargin.errors import InputError, MarketDataError
from crossmargin.io.market import market_from_obj
from crossmargin.io.oracles import CollateralOracle, HttpJsonOracle, StaticFileOracle
from crossmargin.market.snapshot import MarketSnapshot, OracleRecord

from .helpers import AS_OF, config, crypto_market, invoke, margin
from .helpers import portfolio as pf

REL = 1e-12


def rec(value: float = 1.2, *, age_s: float = 600, conf: float = 0.99, source: str = "lido",
        reference: float | None = None) -> OracleRecord:  # fmt: skip
    return OracleRecord(value, AS_OF - timedelta(seconds=age_s), conf, source, reference)


def snap_with(**records: OracleRecord) -> MarketSnapshot:
    return with_oracle_records(crypto_market(), records)


def wsteth(snap: MarketSnapshot, amount: float = 10.0) -> dict[str, object]:
    r = margin(pf(collateral={"WSTETH": amount}), snap, "portfolio")
    return account_dict(r, 0)["collateral"][0]


def test_value_is_amount_times_rate_times_underlying_less_haircuts() -> None:
    row = wsteth(snap_with(WSTETH=rec(1.2031)))
    # ETH static haircut 18 % + lido protocol haircut 4 % (default_risk.yaml)
    assert row["price"] == pytest.approx(1.2031 * 3200.0, rel=REL)
    assert row["haircut_im"] == pytest.approx(0.22, rel=REL)
    assert row["value"] == pytest.approx(10 * 1.2031 * 3200.0 * 0.78, rel=REL)
    o = row["oracle"]
    assert o["status"] == "ok" and o["kind"] == "liquid_staking" and o["underlying"] == "ETH"  # type: ignore[index]


def test_stale_oracle_valued_at_zero_and_reported() -> None:
    row = wsteth(snap_with(WSTETH=rec(age_s=2 * 86_400)))
    assert row["value"] == 0.0 and row["market_value"] > 0
    assert row["oracle"]["status"] == "stale"  # type: ignore[index]
    assert "heartbeat" in row["oracle"]["reason"]  # type: ignore[index]


def test_stale_oracle_error_rule() -> None:
    d = config().model_dump(mode="json")
    d["oracles"]["sources"]["lido"]["on_stale"] = "error"
    from crossmargin.config import config_from_dict

    with pytest.raises(MarketDataError, match="oracle is stale") as e:
        margin(pf(collateral={"WSTETH": 1.0}), snap_with(WSTETH=rec(age_s=2 * 86_400)),
               "portfolio", config_from_dict(d))  # fmt: skip
    assert e.value.path == "oracles.WSTETH.timestamp"


def test_low_confidence_extra_haircut_then_zero() -> None:
    mid = wsteth(snap_with(WSTETH=rec(conf=0.9)))
    assert mid["haircut_im"] == pytest.approx(0.22 + 0.10, rel=REL)  # (1 - 0.9) x margin 1.0
    assert mid["haircut_mm"] == pytest.approx(0.12 + 0.04, rel=REL)  # IM-only charge (Derive)
    low = wsteth(snap_with(WSTETH=rec(conf=0.4)))
    assert low["value"] == 0.0 and low["oracle"]["status"] == "low_confidence_zero"  # type: ignore[index]


def test_deviation_from_reference_rejected() -> None:
    ok = wsteth(snap_with(WSTETH=rec(1.2031, reference=1.2025)))
    assert ok["oracle"]["status"] == "ok"  # type: ignore[index]
    bad = wsteth(snap_with(WSTETH=rec(1.30, reference=1.20)))
    assert bad["value"] == 0.0 and bad["oracle"]["status"] == "deviation"  # type: ignore[index]


@given(
    conf=st.floats(0.0, 1.0),
    age=st.floats(0.0, 5 * 86_400),
    dev=st.floats(-0.1, 0.1),
)
def test_bad_oracle_lowers_never_raises(conf: float, age: float, dev: float) -> None:
    fresh = wsteth(snap_with(WSTETH=rec(1.2)))["value"]
    row = wsteth(snap_with(WSTETH=rec(1.2, conf=conf, age_s=age, reference=1.2 / (1 + dev))))
    assert 0.0 <= row["value"] <= fresh + 1e-9  # type: ignore[operator]


@pytest.mark.parametrize(
    ("records", "path", "why"),
    [
        ({}, "oracles.WSTETH", "no oracle record"),
        ({"WSTETH": rec(source="other")}, "oracles.WSTETH.source", "not the configured source"),
        ({"WSTETH": rec(age_s=-60)}, "oracles.WSTETH.timestamp", "after as_of"),
    ],
)
def test_oracle_fails_closed(records: dict[str, OracleRecord], path: str, why: str) -> None:
    with pytest.raises(MarketDataError) as e:
        wsteth(snap_with(**records))
    assert e.value.path == path and why in e.value.reason


def test_market_file_oracles_validated() -> None:
    doc = {"as_of": "2026-11-22T08:00:00Z", "oracles": {"wsteth": {
        "value": 1.2, "timestamp": "2026-11-22T07:00:00Z", "confidence": 0.99, "source": "lido"}}}  # fmt: skip
    s = market_from_obj(doc)
    assert s.oracles["WSTETH"].value == 1.2
    doc["oracles"]["wsteth"]["value"] = -1  # type: ignore[index]
    with pytest.raises(InputError) as e:
        market_from_obj(doc)
    assert e.value.path == "oracles.wsteth.value"


def test_lst_collateral_is_wrong_way_for_a_long_eth_book() -> None:
    snap = snap_with(WSTETH=rec(1.2))
    book = pf(("ETH-PERP", 100.0), collateral={"WSTETH": 100.0})
    # with the 2018 stress windows (opt-in stress weighting) the book's worst scenario drops ETH
    # by more than WSTETH's 22 % haircut: the haircut is raised to that fall
    long_eth = margin(book, snap, "es", config(stress_weight=0.25))
    names = {r.name: r for r in long_eth.batch.addons}
    assert names["wrong_way_collateral"].amount.sum() > 0
    # the shipped scenarios (the last two years, FHS at today's volatility) fall less than the
    # haircut: the add-on is computed and is zero
    dflt = {r.name: r for r in margin(book, snap, "es", config()).batch.addons}
    assert dflt["wrong_way_collateral"].amount.sum() == 0.0


# -- sources ----------------------------------------------------------------------------------
DOC = {
    "WSTETH": {"value": 1.2031, "timestamp": "2026-11-22T06:00:00Z", "confidence": 0.99,
               "source": "lido", "reference": 1.2025},
    "AUSDC": {"value": 1.0423, "timestamp": "2026-11-22T06:00:00Z", "confidence": 0.99,
              "source": "aave-v3"},
}  # fmt: skip


def test_static_file_source(tmp_path: Path) -> None:
    p = tmp_path / "o.json"
    p.write_text(json.dumps(DOC))
    src = StaticFileOracle(p)
    assert isinstance(src, CollateralOracle)
    got = src.fetch(["WSTETH", "YVUSDC"])
    assert set(got) == {"WSTETH"} and got["WSTETH"].reference == 1.2025


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path.startswith("/oracles"):
            body, code = json.dumps(DOC).encode(), 200
        elif self.path.startswith("/garbage"):
            body, code = b"{not json", 200
        else:
            body, code = b"nope", 404
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        return


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()
    srv.server_close()


def test_http_json_source(server: str) -> None:
    got = HttpJsonOracle(f"{server}/oracles?s={{symbols}}").fetch(["AUSDC", "WSTETH"])
    assert got["AUSDC"].value == 1.0423 and got["AUSDC"].source == "aave-v3"
    snap = with_oracle_records(crypto_market(), got)
    row = wsteth(snap)
    assert row["oracle"]["status"] == "ok"  # type: ignore[index]


@pytest.mark.parametrize(
    ("path", "why"), [("/missing", "HTTP 404"), ("/garbage", "not valid JSON")]
)
def test_http_errors_fail_closed(server: str, path: str, why: str) -> None:
    with pytest.raises(MarketDataError, match=why):
        HttpJsonOracle(server + path).fetch(["WSTETH"])


def test_http_unreachable() -> None:
    with pytest.raises(MarketDataError, match="unreachable"):
        HttpJsonOracle("http://127.0.0.1:9/x", timeout=0.5).fetch(["WSTETH"])


def test_cli_oracles_merges_into_snapshot(tmp_path: Path, server: str, examples: Path) -> None:
    out = tmp_path / "m.json"
    r = invoke("oracles", f"{server}/oracles", "--symbols", "wsteth,ausdc",
               "--market", examples / "market_crypto.json", "--out", out, "--format", "json")  # fmt: skip
    assert r.exit_code == 0, r.stderr
    assert set(json.loads(r.stdout)) == {"WSTETH", "AUSDC"}
    snap = market_from_obj(json.loads(out.read_text()))
    assert snap.oracles["WSTETH"].value == 1.2031
    # a missing record: one line on stderr, exit 2, nothing written
    out2 = tmp_path / "m2.json"
    r = invoke("oracles", f"{server}/oracles", "--symbols", "YVUSDC",
               "--market", examples / "market_crypto.json", "--out", out2)  # fmt: skip
    assert r.exit_code == 2 and r.stderr.count("\n") == 1 and "no record for YVUSDC" in r.stderr
    assert not out2.exists()
    assert replace(snap).oracles == snap.oracles
