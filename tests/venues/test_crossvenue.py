"""Several venues, one account: what cross-venue netting frees, and where it comes from."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crossmargin import compare, compute_margin
from crossmargin.crossvenue import netting_dict, offsets_dict, venue_book
from crossmargin.errors import InputError
from crossmargin.io.portfolio import portfolios_from_obj
from crossmargin.io.venues import Source, import_sources
from crossmargin.io.venues._build import build
from crossmargin.io.venues.deribit import read_deribit

from .helpers import AS_OF, DATA, domain, invoke

DERIBIT = ("deribit_positions_linear.json", "deribit_summary_usdc.json")
OKX = ("okx_positions_hedge.json", "okx_balance_hedge.json")


@pytest.fixture(scope="module")
def both():  # type: ignore[no-untyped-def]
    return import_sources(
        [
            Source("deribit", tuple(DATA / f for f in DERIBIT)),
            Source("okx", tuple(DATA / f for f in OKX)),
        ]
    )


def test_one_account_with_venue_labels(both) -> None:  # type: ignore[no-untyped-def]
    pf, snap = domain(both)
    assert pf.account == "deribit+okx" and pf.venues == ("deribit", "okx")
    assert {p.venue for p in pf.positions} == {"deribit", "okx"}
    # collateral adds up over venues: USDC 50 000 at Deribit, USDT 9 740.5 − (−0.5 × (97 021 −
    # 96 500) = −260.5) = 10 001 at OKX, BTC 0.25 (Deribit spot row)
    assert dict(pf.collateral) == {"USDC": pytest.approx(50_000.0), "BTC": 0.25,
                                   "USDT": pytest.approx(10_001.0)}  # fmt: skip
    # as_of = the latest timestamp over both exports (Deribit usOut, 2026-01-16T08:00:00Z)
    assert snap.as_of == AS_OF
    parts = dict(pf.venue_parts())
    assert [p.quantity for p in parts["okx"].positions] == [-0.5]
    assert dict(parts["okx"].collateral) == {"USDT": pytest.approx(10_001.0)}


def test_isolated_netting_by_hand(both) -> None:  # type: ignore[no-untyped-def]
    pf, snap = domain(both)
    vb = venue_book(pf)
    assert vb.labels == ["all", "deribit", "okx"]
    res = compare(vb.portfolios, snap, models=["isolated", "portfolio"], optional=())
    d = netting_dict(res, vb)
    iso = d["models"]["isolated"]
    # Deribit alone: BTC perp long 0.5 × 97 020 × 5 % = 2 425.5; SOL future 100 × 185.5 × 5 %
    #   = 927.5; long put 0 → 3 353.  OKX alone: the short 0.5 BTC perp, 2 425.5.
    # One account: the two BTC perpetuals are one contract and net to zero → 927.5.
    assert iso["venues"]["deribit"]["initial_margin"] == pytest.approx(3_353.0, rel=1e-12)
    assert iso["venues"]["okx"]["initial_margin"] == pytest.approx(2_425.5, rel=1e-12)
    assert iso["whole"]["initial_margin"] == pytest.approx(927.5, rel=1e-12)
    assert iso["freed_by_netting"]["initial_margin"] == pytest.approx(4_851.0, rel=1e-12)
    port = d["models"]["portfolio"]
    assert port["freed_by_netting"]["initial_margin"] > 0
    assert port["freed_by_netting"]["initial_margin"] == pytest.approx(
        port["sum_of_venues"]["initial_margin"] - port["whole"]["initial_margin"]
    )


def test_offsets_say_which_venue_offsets_which(both) -> None:  # type: ignore[no-untyped-def]
    pf, snap = domain(both)
    vb = venue_book(pf)
    res = compute_margin(vb.portfolios, snap, model="portfolio")
    rows = {r["underlying"]: r for r in offsets_dict(res, vb)}
    btc = rows["BTC"]
    deltas = {v["venue"]: v["net_delta"] for v in btc["venues"]}
    # a perpetual's delta is q × mark / index: ±0.5 × 97 020 / 97 000 = ±0.50010309
    d = 0.5 * 97_020 / 97_000
    assert deltas == {"deribit": pytest.approx(d), "okx": pytest.approx(-d)}
    assert btc["whole"]["net_delta"] == pytest.approx(0.0, abs=1e-12)
    assert (
        btc["offsets"]
        == "BTC: long at deribit (+0.500103 BTC) offsets short at okx (-0.500103 BTC)"
    )
    assert btc["freed_by_netting"] == pytest.approx(
        btc["sum_of_venues_initial_margin"] - btc["whole"]["initial_margin"]
    )
    assert "every venue is short" in rows["SOL"]["offsets"] or "no delta" in rows["SOL"]["offsets"]


def test_our_format_with_venue_labels_behaves_the_same(tmp_path: Path, both) -> None:  # type: ignore[no-untyped-def]
    pf_file, m_file = tmp_path / "pf.json", tmp_path / "m.json"
    pf_file.write_text(json.dumps(both.portfolio))
    m_file.write_text(json.dumps(both.market))
    a = invoke("compare", pf_file, "-m", m_file, "--models", "isolated,portfolio", "-f", "json")
    b = invoke("compare", "--from", "deribit=" + ",".join(str(DATA / f) for f in DERIBIT),
               "--from", "okx=" + ",".join(str(DATA / f) for f in OKX),
               "--models", "isolated,portfolio", "-f", "json")  # fmt: skip
    assert a.exit_code == 0 and b.exit_code == 0, (a.stderr, b.stderr)
    ja, jb = json.loads(a.stdout), json.loads(b.stdout)
    assert ja["cross_venue"] == jb["cross_venue"]
    assert ja["cross_venue"]["models"]["isolated"]["freed_by_netting"]["initial_margin"] == (
        pytest.approx(4_851.0)
    )
    assert jb["import_notes"]


def test_explain_and_check_across_venues() -> None:
    r = invoke("explain", "--from", "deribit=" + ",".join(str(DATA / f) for f in DERIBIT),
               "--from", "okx=" + ",".join(str(DATA / f) for f in OKX),
               "--model", "isolated", "--check", "-f", "json")  # fmt: skip
    assert r.exit_code == 0, r.stderr
    d = json.loads(r.stdout)
    btc = next(x for x in d["cross_venue_offsets"] if x["underlying"] == "BTC")
    assert "long at deribit" in btc["offsets"] and "short at okx" in btc["offsets"]
    checks = {c["venue"]: c for c in d["check"]}
    # each venue's own IM beside our IM of its part alone: OKX imr 2 425.6 vs 2 425.5
    assert checks["okx"]["initial_margin"]["venue"] == 2_425.6
    assert checks["okx"]["initial_margin"]["ours"] == pytest.approx(2_425.5)
    # Deribit segregated USDC pool: 4 200 USDC × 1 (USDC at par, noted) vs our 3 353
    assert checks["deribit"]["initial_margin"]["venue"] == pytest.approx(4_200.0)
    assert checks["deribit"]["initial_margin"]["ours"] == pytest.approx(3_353.0)
    t = invoke("explain", "--from", "deribit=" + ",".join(str(DATA / f) for f in DERIBIT),
               "--from", "okx=" + ",".join(str(DATA / f) for f in OKX), "--check")  # fmt: skip
    assert t.exit_code == 0, t.stderr
    assert "cross-venue offsets per underlying" in t.stdout and "netting frees" in t.stdout


def test_undeclared_venue_label_is_an_error() -> None:
    with pytest.raises(InputError) as e:
        portfolios_from_obj({"account": "a", "venues": {"okx": {}},
                             "positions": [{"instrument": "BTC-PERP", "quantity": 1,
                                            "venue": "dreibit"}]})  # fmt: skip
    assert e.value.path == "positions[0].venue" and "not declared" in e.value.reason


@given(
    perp=st.integers(-(10**6), 10**6).filter(bool).map(lambda x: x * 10),
    fut=st.integers(-(10**5), 10**5).filter(bool).map(lambda x: x * 10),
    opt=st.decimals("-50", "50", places=1).filter(bool),
    perp_entry=st.floats(20_000, 200_000),
    fut_entry=st.floats(20_000, 200_000),
    equity=st.decimals("0.01", "1000", places=8),
    usdc=st.decimals("0", "1000000", places=2),
)
def test_equity_at_market_reconciles_the_venue_equity(  # type: ignore[no-untyped-def]
    perp, fut, opt, perp_entry, fut_entry, equity, usdc
) -> None:
    """Whatever the positions, our account value at the venue's marks is the venue's equity."""
    rows = [
        {"instrument_name": "BTC-PERPETUAL", "kind": "future", "size": perp,
         "direction": "buy" if perp > 0 else "sell", "mark_price": 97010.5,
         "index_price": 97000.0, "average_price": perp_entry},
        {"instrument_name": "BTC-27MAR26", "kind": "future", "size": fut,
         "direction": "buy" if fut > 0 else "sell", "mark_price": 98950.0,
         "index_price": 97000.0, "average_price": fut_entry},
        {"instrument_name": "BTC-27MAR26-100000-C", "kind": "option", "size": str(opt),
         "mark_price": 0.0395, "index_price": 97000.0, "average_price": 0.05},
    ]  # fmt: skip
    summaries = {"result": {"summaries": [
        {"currency": "BTC", "equity": str(equity), "initial_margin": 0, "maintenance_margin": 0},
        {"currency": "USDC", "equity": str(usdc), "initial_margin": 0, "maintenance_margin": 0}]}}  # fmt: skip
    imp = build([read_deribit([({"result": rows}, "p"), (summaries, "s")])], as_of=AS_OF)
    doc = dict(imp.market)
    doc["assets"] = {**doc["assets"], "USDC": {"price": 1.0}}
    imp = type(imp)(imp.portfolio, doc, imp.holdings, imp.reported, imp.notes, imp.venues)
    pf, snap = domain(imp)
    res = compute_margin(pf, snap, model="isolated")
    expected = float(equity) * 97_000.0 + float(usdc)
    assert float(res.account_value[0]) == pytest.approx(expected, rel=1e-9, abs=1e-6)
