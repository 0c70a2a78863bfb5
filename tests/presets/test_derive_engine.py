"""Derive PMRM_2 through the normal engine path and the CLI (translation, emitted files, errors)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from crossmargin.cli.app import app
from crossmargin.config import default_config
from crossmargin.config.model import config_from_dict
from crossmargin.engine import compute_margin
from crossmargin.errors import ConfigError, ModelError
from crossmargin.explain import explain_dict
from crossmargin.instruments import Portfolio, Position, parse_instrument
from crossmargin.io.market import market_from_obj
from crossmargin.io.portfolio import portfolios_from_obj
from crossmargin.venues.derive.case import load_case
from crossmargin.venues.derive.compare import compare_case
from crossmargin.venues.derive.report import engine_check
from crossmargin.venues.derive.translate import case_to_files

CASES = (
    "derive_test_29_perps_basic_perp.json",
    "derive_test_12_risk_cancelling_naked_short_call.json",
)
#: Engine path vs direct adapter: the same float64 arithmetic up to the cash-unit conversion.
PATH_REL = 1e-12
runner = CliRunner()


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("vols", ["svi", "mark"])
def test_engine_path_reproduces_the_case(data: Path, case: str, vols: str) -> None:
    c = load_case(data / case)
    direct = compare_case(c, vols=vols)  # type: ignore[arg-type]
    eng = engine_check(c, vols=vols)  # type: ignore[arg-type]
    assert eng.mm == pytest.approx(direct.mm.ours, rel=PATH_REL)
    assert eng.im == pytest.approx(direct.im.ours, rel=PATH_REL)
    assert direct.mm.expected is not None and direct.im.expected is not None
    assert eng.mm == pytest.approx(direct.mm.expected, rel=1e-8)
    assert eng.im == pytest.approx(direct.im.expected, rel=1e-8)


def test_cli_venue_case_json_and_check(data: Path) -> None:
    res = runner.invoke(
        app, ["venue-case", "derive-pmrm2", str(data / CASES[1]), "--format", "json", "--check"]
    )
    assert res.exit_code == 0, res.output
    d = json.loads(res.stdout)
    assert d["ok"] is True
    assert d["mm"]["expected"] == -11824.858703959073
    assert d["mm"]["rel_diff"] < 1e-8 and d["im"]["rel_diff"] < 1e-8
    assert d["engine"]["mm_rel_diff_vs_direct"] < PATH_REL
    assert len(d["scenarios"]) == 31 and all(s["ok"] for s in d["scenarios"])
    assert d["contingencies"]["MMOptionCont"] == pytest.approx(-286.99051814565, abs=5e-10)
    table = runner.invoke(app, ["venue-case", "derive-pmrm2", str(data / CASES[0])])
    assert table.exit_code == 0 and "-481.4" in table.stdout


def test_emitted_files_through_the_margin_command(data: Path, tmp_path: Path) -> None:
    pf, mk, cfg = tmp_path / "pf.json", tmp_path / "mk.json", tmp_path / "cfg.yaml"
    res = runner.invoke(
        app,
        [
            "venue-case",
            "derive-pmrm2",
            str(data / CASES[1]),
            "--emit-portfolio",
            str(pf),
            "--emit-market",
            str(mk),
            "--emit-config",
            str(cfg),
            "--direct-only",
        ],
    )
    assert res.exit_code == 0, res.output
    out = runner.invoke(
        app,
        [
            "margin",
            str(pf),
            "--market",
            str(mk),
            "--config",
            str(cfg),
            "--model",
            "derive-pmrm2",
            "--format",
            "json",
        ],
    )
    assert out.exit_code == 0, out.output
    d = json.loads(out.stdout)
    assert d["base_currency"] == "USDC"
    assert d["free_collateral"] == pytest.approx(-14604.048120144837, rel=1e-8)
    assert d["maintenance_equity"] - d["maintenance_margin"] == pytest.approx(
        -11824.858703959073, rel=1e-8
    )
    venue = {a["name"]: a["amount"] for a in d["addons"] if a["name"].startswith("venue_")}
    assert venue["venue_mm"] == pytest.approx(-11824.858703959073, rel=1e-8)
    assert venue["venue_im"] == pytest.approx(-14604.048120144837, rel=1e-8)
    assert (
        yaml.safe_load(cfg.read_text())["presets"]["derive-pmrm2"]["margin"][
            "short_base_static_discount"
        ]
        == 1.04
    )


def test_venue_case_errors_are_one_line_and_write_nothing(data: Path, tmp_path: Path) -> None:
    bad = json.loads((data / CASES[0]).read_text())
    del bad["Parameters"]["VolShock"]["VOLRANGEUP"]
    f = tmp_path / "bad.json"
    f.write_text(json.dumps(bad))
    pf = tmp_path / "pf.json"
    res = runner.invoke(app, ["venue-case", "derive-pmrm2", str(f), "--emit-portfolio", str(pf)])
    assert res.exit_code == 2
    assert (
        res.stderr.strip() == "error: Parameters.VolShock.VOLRANGEUP: required parameter is missing"
    )
    assert not pf.exists()
    bad2 = json.loads((data / CASES[0]).read_text())
    bad2["Scenario"]["SpotPrice"] = "abc"
    f.write_text(json.dumps(bad2))
    res = runner.invoke(app, ["venue-case", "derive-pmrm2", str(f)])
    assert res.exit_code == 2 and res.stderr.startswith("error: Scenario.SpotPrice:")
    assert len(res.stderr.strip().splitlines()) == 1


def test_batch_of_accounts_equals_each_alone(data: Path) -> None:
    """Vectorised over accounts: margining two cases together = each alone (fast vs slow path)."""
    objs = [
        case_to_files(load_case(data / c), underlying=u)
        for c, u in zip(CASES, ("ETH", "BTC"), strict=True)
    ]
    pf = {"accounts": [dict(o[0], account=f"a{i}") for i, o in enumerate(objs)]}
    mk = objs[0][1]
    mk["assets"].update(objs[1][1]["assets"])
    cfg = config_from_dict(objs[1][2])  # both cases share the §11 parameter block
    pfs, pre = portfolios_from_obj(pf)
    both = compute_margin(pfs, market_from_obj(mk), model="derive-pmrm2", config=cfg, prefixes=pre)
    for i, (p1, m1, c1) in enumerate(objs):
        ps, pr = portfolios_from_obj(p1)
        alone = compute_margin(
            ps, market_from_obj(m1), model="derive-pmrm2", config=config_from_dict(c1), prefixes=pr
        )
        assert both.free_collateral[i] == pytest.approx(alone.free_collateral[0], rel=1e-13)
        assert both.maintenance_margin[i] == pytest.approx(alone.maintenance_margin[0], rel=1e-13)


def test_explain_shows_every_scenario_including_skews_and_basis(data: Path) -> None:
    p, m, c = case_to_files(load_case(data / CASES[1]))
    ps, pr = portfolios_from_obj(p)
    res = compute_margin(
        ps, market_from_obj(m), model="derive-pmrm2", config=config_from_dict(c), prefixes=pr
    )
    d = explain_dict(res, 0)
    cells = d["scenarios"][0]["cells"]
    assert len(cells) == 32  # 31 venue scenarios + the basis contingency
    assert [c["vol_move"] for c in cells[-3:]] == ["linear skew", "abs skew", "basis"]
    assert cells[-1]["pnl"] == pytest.approx(-947.2098049301, abs=5e-9)
    assert cells[0]["worst"] is True
    names = {a["name"] for a in d["addons"]}
    assert {"option_contingency", "venue_mm", "venue_im"} <= names


def _market() -> dict[str, object]:
    return {
        "as_of": "2026-11-22T08:00:00Z",
        "timestamp": "2026-11-22T08:00:00Z",
        "assets": {
            "USDC": {"price": 1.0},
            "ETH": {
                "price": 3000.0,
                "perp": {"mark": 3001.0},
                "expiries": {
                    "26DEC26": {
                        "forward": 3010.0,
                        "rate": 0.05,
                        "svi": {"a": 0.01, "b": 0.1, "rho": -0.3, "m": 0.0, "sigma": 0.2},
                        "marks": [{"strike": 3500, "vol": 0.9, "confidence": 0.4}],
                    }
                },
            },
        },
    }


def test_mark_vols_override_the_svi_and_carry_confidence() -> None:
    snap = market_from_obj(_market())
    pos = (Position(parse_instrument("ETH-26DEC26-3500-C"), -1.0),)
    res = compute_margin(Portfolio("a", "USD", {"USDC": 10_000.0}, pos), snap, model="derive-pmrm2")
    oracle = next(a for a in res.batch.addons if a.name == "oracle_contingency")
    # vol confidence 0.4 < 0.55: (1 - 0.4) x 1 x gross (1) x spot 3000
    assert float(oracle.amount[0]) == pytest.approx(0.6 * 3000.0, rel=1e-12)
    res2 = compute_margin(Portfolio("a", "USD", {"USDC": 10_000.0}, pos), snap, model="portfolio")
    assert res2.book.instruments.sigma[0] == 0.9  # the core engine uses the mark vol too


def test_unsupported_products_and_overrides() -> None:
    snap = market_from_obj(_market())
    fut = Portfolio("a", "USD", {"USDC": 1.0}, (Position(parse_instrument("ETH-26DEC26"), 1.0),))
    with pytest.raises(ModelError, match="future contracts are not margined by derive-pmrm2") as e:
        compute_margin(fut, snap, model="derive-pmrm2")
    assert e.value.path == "positions[0].instrument"
    cfg = default_config().model_copy(
        update={"presets": {"derive-pmrm2": {"margin": {"mm_factor": 0.05}}}}
    )
    perp = Portfolio("a", "USD", {"USDC": 1.0}, (Position(parse_instrument("ETH-PERP"), 1.0),))
    with pytest.raises(ConfigError) as c:
        compute_margin(perp, snap, model="derive-pmrm2", config=cfg)
    assert c.value.path == "config.presets.derive-pmrm2.margin"
    cfg = default_config().model_copy(update={"presets": {"derive-pmrm": {}}})
    with pytest.raises(ConfigError, match="unknown preset"):
        compute_margin(perp, snap, model="derive-pmrm2", config=cfg)
    cfg = default_config().model_copy(
        update={"presets": {"derive-pmrm2": {"margin": {"mm_factor": 1.0}}}}
    )
    a = compute_margin(perp, snap, model="derive-pmrm2", config=cfg)
    b = compute_margin(perp, snap, model="derive-pmrm2")
    assert a.maintenance_margin[0] > b.maintenance_margin[0]
    assert np.isfinite(a.margin_ratio[0])


def test_lenient_case_reads_a_skew_scenario_with_a_spot_move(data: Path) -> None:
    """The venue's test_67 layout: a LINEAR scenario with spot shock != 1, which the contract
    rejects; it is computed as a skew scenario (no spot shock) and only MM/IM are compared."""
    obj = json.loads((data / CASES[0]).read_text())
    obj["Parameters"]["Scenarios"][29] = {
        "SpotShock": 0.9,
        "VolShockDirection": "LINEAR",
        "DampeningFactor": 0.5,
    }
    from crossmargin.venues.derive.case import case_from_obj

    report = compare_case(case_from_obj(obj))
    assert report.notes and "only MM/IM are comparable" in report.notes[0]
    skew = report.checks[3 + 29]
    assert skew.ok is None and skew.ours == 0.0  # a perp has no skew exposure at spot shock 1
    assert report.mm.ok is True and report.im.ok is True


def test_expired_option_and_strike_zero_cases(data: Path) -> None:
    obj = json.loads((data / CASES[1]).read_text())
    obj["Scenario"]["Options"].append(
        {"Expiry": 0, "Strike": 0, "IsCall": 1, "Amount": 1, "MarkVol": 0.5}
    )
    obj["Scenario"]["OptionFeeds"].append(
        {
            "FeedExpiry": 0,
            "Forward": 95000.0,
            "ForwardConfidence": 1,
            "Rate": 0.1,
            "RateConfidence": 1,
            "SVIparam": [0.01, 0.1, 0.0, 0.0, 0.1, 95000.0, 0.0],
            "OptionVolConfidences": 1,
        }
    )
    obj["Result"] = {}
    from crossmargin.venues.derive.case import case_from_obj
    from crossmargin.venues.derive.report import case_report_dict

    c = case_from_obj(obj)
    report = compare_case(c)
    assert report.ok is None  # nothing expected in this file
    # the expired strike-0 call is worth F (D = 1) and adds exactly F to the mark value
    base = compare_case(load_case(data / CASES[1]))
    assert float(report.result.mark[0]) == pytest.approx(
        float(base.result.mark[0]) + 95000.0, rel=1e-12
    )
    eng = engine_check(c)
    assert eng.error.startswith("not expressible in the engine formats")  # strike 0 is not listable
    d = case_report_dict(report, engine=eng)
    assert "error" in d["engine"]
