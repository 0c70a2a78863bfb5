"""Derive venue cases: every case file in tests/presets/data, the published shapes, hostile input.

Reference values: the Derive PMRM_2 methodology (derive-pmrm2.md) §11.1 (test_29_perps_basic_perp:
MM −481.4, IM −608.0) and §11.2 (test_12_risk_cancelling_naked_short_call: MM −11 824.858703959073,
IM −14 604.048120144837), transcribed in the venue's published case layout (§10); the
test_67-style file is constructed after §10.4 (a skew scenario with a spot move, which the
contract refuses; MM/IM unchanged). Tolerance: the venue harness's relative 1e-8 (§10.4).
"""

from __future__ import annotations

import copy
import dataclasses
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from crossmargin.cli.app import app
from crossmargin.errors import CrossMarginError, InputError
from crossmargin.venues.derive.case import (
    case_from_obj,
    case_notes,
    checked_result,
    load_case,
)
from crossmargin.venues.derive.compare import compare_case
from crossmargin.venues.derive.report import engine_check

DATA = Path(__file__).parent / "data"
CASE_FILES = sorted(p.name for p in DATA.glob("derive_test_*.json"))
CASE_12 = "derive_test_12_risk_cancelling_naked_short_call.json"
CASE_29 = "derive_test_29_perps_basic_perp.json"
#: The venue harness's relative tolerance on MM and IM (derive-pmrm2.md §10.4).
VENUE_REL = 1e-8
#: Published MM / IM (derive-pmrm2.md §11.1, §11.2; test_67-style = §11.2's).
PUBLISHED = {
    CASE_29: (-481.4, -608.0),
    CASE_12: (-11824.858703959073, -14604.048120144837),
    "derive_test_67_style_skew_scenario_with_spot_move.json": (
        -11824.858703959073,
        -14604.048120144837,
    ),
}
runner = CliRunner()


def _obj(name: str) -> dict[str, Any]:
    out: dict[str, Any] = json.loads((DATA / name).read_text())
    return out


def test_every_transcribed_case_is_listed() -> None:
    assert set(CASE_FILES) == set(PUBLISHED)


@pytest.mark.parametrize("name", CASE_FILES)
def test_every_case_file_matches_its_published_mm_im(name: str) -> None:
    res = runner.invoke(
        app, ["venue-case", "derive-pmrm2", str(DATA / name), "--format", "json", "--check"]
    )
    assert res.exit_code == 0, res.output
    d = json.loads(res.stdout)
    mm, im = PUBLISHED[name]
    assert d["ok"] is True
    assert d["mm"]["expected"] == mm and d["im"]["expected"] == im
    assert d["mm"]["ours"] == pytest.approx(mm, rel=VENUE_REL)
    assert d["im"]["ours"] == pytest.approx(im, rel=VENUE_REL)
    # the same case through `margin --model derive-pmrm2` reports the same MM and IM
    assert d["engine"]["mm"] == pytest.approx(mm, rel=VENUE_REL)
    assert d["engine"]["im"] == pytest.approx(im, rel=VENUE_REL)
    assert d["engine"]["mm_rel_diff_vs_direct"] < 1e-12
    assert "../" not in json.dumps(_obj(name)["_note"])
    assert "derive-pmrm2.md" in _obj(name)["_note"]


# -- the shapes the venue publishes ----------------------------------------------------------


@pytest.mark.parametrize("conf", [0.95, "0.95", [0.95], ["0.95", 0.97]])
def test_vol_confidence_is_a_number_per_feed_or_a_list(conf: Any) -> None:
    obj = _obj(CASE_12)
    obj["Scenario"]["OptionFeeds"][0]["OptionVolConfidences"] = conf
    r = compare_case(case_from_obj(obj))
    assert r.ok is True
    assert float(r.result.eg_conf[0]) == 0.95


def test_low_vol_confidence_is_charged_not_refused() -> None:
    """derive-pmrm2.md §6: conf(c, N) = (1 − c)·confMargin·N below confThreshold 0.55, with
    N = gross contracts × spot = 1 × 95 663.50604855; IM only."""
    base = compare_case(load_case(DATA / CASE_12))
    obj = _obj(CASE_12)
    obj["Scenario"]["OptionFeeds"][0]["OptionVolConfidences"] = [0.9, 0.5]  # lowest wins
    low = compare_case(case_from_obj(obj))
    charge = (1.0 - 0.5) * 1.0 * 1.0 * 95663.50604855
    assert float(low.result.g_oracle[0]) == pytest.approx(charge, rel=1e-15)
    assert low.im.ours == pytest.approx(base.im.ours - charge, rel=1e-14)
    assert low.mm.ours == pytest.approx(base.mm.ours, rel=1e-15)


def test_published_variants_of_numbers_flags_and_directions() -> None:
    obj = _obj(CASE_29)
    sc = obj["Scenario"]
    for k in ("Cash", "SpotPrice", "NumPerps", "PerpPrice", "UnrealisedPerpPNL"):
        sc[k] = str(sc[k])
    sc["LastEntryPrice"] = "3100"  # informational keys of 79 published files
    sc["FundingIndex"], sc["SystemFundingIndex"] = "10", "0"
    scen = obj["Parameters"]["Scenarios"]
    scen[0]["VolShockDirection"] = "UP"
    scen[1]["VolShockDirection"] = -1  # the Result rows' code for Down
    scen[2]["SpotShock"] = "1.1349999999999999"  # float noise, as published
    obj["Parameters"]["OtherContingency"]["IM_PERP_PERCENT_NORMAL"] = "generator only"
    r = compare_case(case_from_obj(obj))
    assert r.mm.ours == pytest.approx(-481.4, rel=VENUE_REL)
    assert r.im.ours == pytest.approx(-608.0, rel=VENUE_REL)
    o12 = _obj(CASE_12)
    o12["Scenario"]["Options"][0]["IsCall"] = "true"
    assert compare_case(case_from_obj(o12)).ok is True


# -- test_67: a skew scenario with a spot move --------------------------------------------------


def test_test67_style_reports_mm_im_on_both_paths() -> None:
    name = "derive_test_67_style_skew_scenario_with_spot_move.json"
    case = load_case(DATA / name)
    report = compare_case(case)
    skew = [c for c in report.checks if "linear" in c.name]
    assert skew and skew[0].ok is None and skew[0].rule == "not compared"
    # computed at spot shock 1 (the contract's skew rule) with the written dampening 0.5:
    # half of test_12's LINEAR P&L −43.433952595 (derive-pmrm2.md §11.2)
    assert skew[0].ours == pytest.approx(-43.433952595 / 2, abs=1e-9)
    assert report.notes and "spot shock 0.9" in report.notes[0]
    eng = engine_check(case)
    assert eng.error == ""
    assert eng.mm == pytest.approx(report.mm.ours, rel=1e-12)
    assert eng.im == pytest.approx(report.im.ours, rel=1e-12)
    table = runner.invoke(app, ["venue-case", "derive-pmrm2", str(DATA / name)])
    assert table.exit_code == 0 and "MM via margin" in table.stdout
    assert "note: scenario[29] is a skew scenario" in table.stdout


def test_two_linear_scenarios_still_report_mm_im() -> None:
    obj = _obj(CASE_12)
    obj["Parameters"]["Scenarios"].append(
        {"SpotShock": 1.05, "VolShockDirection": "LINEAR", "DampeningFactor": 1}
    )
    obj["Result"] = {k: obj["Result"][k] for k in ("MM", "IM")}
    case = case_from_obj(obj)
    report = compare_case(case)
    assert report.mm.ok is True and report.im.ok is True
    assert any("2 LINEAR scenarios" in n for n in report.notes)
    assert engine_check(case).error.startswith("not expressible")  # the contract refuses it


def test_parameters_outside_the_contract_bounds_are_noted() -> None:
    obj = _obj(CASE_29)
    obj["Parameters"]["Margin"]["IM_LOSS_FACTOR"] = 0.2  # contract bounds [0.5, 10]
    notes = case_notes(case_from_obj(obj))
    assert any("Parameters.Margin" in n and "would refuse" in n for n in notes)


# -- hostile input: one line naming the field, exit 2, never a smaller margin -----------------

#: Keys a case may omit without changing the margin (diagnostics, or unused without a perp).
OPTIONAL = {
    "_note",
    "StableConfidence",
    "ExiryTs",
    "MarkDiscount",
    "MarkVol",
    "k",
    "SVIparam",
    "IM_PERP_PERCENT_NORMAL",
    "IM_OPTION_PERCENT_NORMAL",
}
HOSTILE: list[Any] = [None, "NaN", "Infinity", "-Infinity", "1e400", "1" + "0" * 80, True, [1]]


def _leaves(o: Any, pre: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if isinstance(o, dict):
        return [p for k, v in o.items() for p in _leaves(v, (*pre, k))]
    if isinstance(o, list) and o and isinstance(o[0], dict | list):
        return [p for p in _leaves(o[0], (*pre, 0))]  # the first element of each list
    return [pre]


def _set(o: Any, path: tuple[Any, ...], v: Any) -> None:
    for k in path[:-1]:
        o = o[k]
    if v is _MISSING:
        del o[path[-1]]
    else:
        o[path[-1]] = v


_MISSING = object()


def _fields(name: str) -> list[tuple[Any, ...]]:
    obj = _obj(name)
    return [p for p in _leaves(obj) if p[0] in ("Scenario", "Parameters") and p[-1] not in OPTIONAL]


#: Values a field legitimately takes (not hostile for it).
VALID = {"IsCall": (True,), "IsRiskCancelling": (True,), "OptionVolConfidences": ([1],)}
#: Read only with a perp position (the no-perp case may omit them).
PERP_ONLY = ("PerpPrice", "PerpConfidence")


def _refused(obj: dict[str, Any], path: tuple[Any, ...], v: Any, key: str) -> None:
    try:
        compare_case(case_from_obj(obj))
    except CrossMarginError as exc:
        assert key in exc.path, (path, v, exc)
        assert "\n" not in str(exc)
        return
    raise AssertionError(f"{path} = {v!r} was accepted")


@pytest.mark.parametrize("name", [CASE_12, CASE_29])
def test_every_field_refuses_hostile_values_naming_it(name: str) -> None:
    base = _obj(name)
    no_perp = base["Scenario"]["NumPerps"] == 0
    checked = 0
    for path in _fields(name):
        key = str(path[-1]) if not isinstance(path[-1], int) else str(path[-2])
        for v in [_MISSING, *HOSTILE]:
            if v in VALID.get(key, ()) or (no_perp and key in PERP_ONLY and v in (None, _MISSING)):
                continue
            obj = copy.deepcopy(base)
            _set(obj, path, v)
            _refused(obj, path, v, key)
            checked += 1
    assert checked >= 150


def test_every_svi_parameter_refuses_hostile_values() -> None:
    base = _obj(CASE_12)
    for i in range(7):
        for v in ["NaN", "Infinity", "1e400", None, True]:
            obj = copy.deepcopy(base)
            obj["Scenario"]["OptionFeeds"][0]["SVIparam"][i] = v
            _refused(obj, ("SVIparam", i), v, f"SVIparam[{i}]")
    for bad in ([0.01] * 6, [0.01] * 8, "0.01,0.1"):
        obj = copy.deepcopy(base)
        obj["Scenario"]["OptionFeeds"][0]["SVIparam"] = bad
        _refused(obj, ("SVIparam",), bad, "SVIparam")
    obj = copy.deepcopy(base)
    obj["Scenario"]["OptionFeeds"][0]["SVIparam"][5] = -95776.0  # the fit's forward
    _refused(obj, ("SVIparam", 5), -95776.0, "SVIparam")


@pytest.mark.parametrize(
    ("where", "value", "field"),
    [
        (("Scenario", "SpotPrice"), -3000, "Scenario.SpotPrice"),
        (("Scenario", "StablePrice"), 0, "Scenario.StablePrice"),
        (("Scenario", "SpotConfidence"), 1.5, "Scenario.SpotConfidence"),
        (("Scenario", "PerpPrice"), _MISSING, "Scenario.PerpPrice"),
        (("Scenario", "PerpConfidence"), _MISSING, "Scenario.PerpConfidence"),
        (("Scenario", "UnrealisedFunding"), _MISSING, "Scenario.UnrealisedFunding"),
        (("Parameters", "Scenarios", 0, "DampeningFactor"), -1, "Parameters.Scenarios[0]"),
        (("Parameters", "Scenarios", 0, "VolShockDirection"), "Sideways", "Parameters.Scenarios"),
        (("Parameters", "VolShock", "VOLRANGEUP"), -0.5, "Parameters.VolShock.VOLRANGEUP"),
        (("Parameters", "Margin", "MM_LOSS_FACTOR"), "1e300", "Parameters.Margin.MM_LOSS_FACTOR"),
    ],
)
def test_cli_hostile_case_is_one_line_exit_2(
    tmp_path: Path, where: tuple[Any, ...], value: Any, field: str
) -> None:
    obj = _obj(CASE_29)
    _set(obj, where, value)
    f = tmp_path / "bad.json"
    f.write_text(json.dumps(obj))
    out = tmp_path / "pf.json"
    res = runner.invoke(app, ["venue-case", "derive-pmrm2", str(f), "--emit-portfolio", str(out)])
    assert res.exit_code == 2, res.output
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {field}"), lines
    assert "Traceback" not in res.output and not out.exists()


def test_collateral_and_feed_consistency() -> None:
    obj = _obj(CASE_12)
    obj["Scenario"]["Collaterals"] = [
        {
            "Name": "wETH",
            "Amount": 1,
            "Price": 3000,
            "Confidence": 1,
            "MMHaircut": 0.6,
            "IMHaircut": 0.5,
            "IsRiskCancelling": 0,
        }
    ]
    with pytest.raises(InputError, match="must not exceed 1") as e:
        case_from_obj(obj)
    assert e.value.path == "Scenario.Collaterals[0]"
    obj = _obj(CASE_12)
    obj["Scenario"]["OptionFeeds"].append(copy.deepcopy(obj["Scenario"]["OptionFeeds"][0]))
    with pytest.raises(InputError, match="duplicate FeedExpiry") as e:
        case_from_obj(obj)
    assert e.value.path == "Scenario.OptionFeeds[1].FeedExpiry"
    obj = _obj(CASE_12)
    obj["Scenario"]["OptionFeeds"][0]["OptionVolConfidences"] = []
    with pytest.raises(InputError) as e:
        compare_case(case_from_obj(obj))
    assert e.value.path == "Scenario.OptionFeeds[0].OptionVolConfidences"
    obj = _obj(CASE_12)
    del obj["Result"]["reg_losses"][3]
    with pytest.raises(InputError, match="30 expected scenario P&L rows") as e:
        compare_case(case_from_obj(obj))
    assert e.value.path == "Result"


def test_a_result_that_overflows_is_an_error_not_nan() -> None:
    # within the fixed-point range float64 products stay finite; the check is the backstop
    r = compare_case(load_case(DATA / CASE_12)).result
    assert checked_result(r) is r
    with pytest.raises(InputError, match="MM is not finite") as e:
        checked_result(dataclasses.replace(r, mm=np.asarray([np.inf])))
    assert e.value.path == "Scenario"


@pytest.mark.parametrize("row", [{}, "x", None, [1.0]])
def test_a_malformed_expected_scenario_row_names_it(tmp_path: Path, row: Any) -> None:
    """Found by the long fuzz run: ``Result.reg_losses[3] = {}`` raised a KeyError."""
    doc = json.loads((DATA / "derive_test_12_risk_cancelling_naked_short_call.json").read_text())
    doc["Result"]["reg_losses"][3] = row
    f = tmp_path / "case.json"
    f.write_text(json.dumps(doc))
    with pytest.raises(InputError) as e:
        compare_case(load_case(f))
    assert e.value.path == "Result.reg_losses[3]"
