"""Derive PMRM_2: the two published worked examples (derive-pmrm2.md §11), every intermediate.

Reference values: derive-pmrm2.md §11.1 (test_29_perps_basic_perp) and §11.2
(test_12_risk_cancelling_naked_short_call), float64 values as published. The case files in
tests/presets/data were written for crossmargin from those numbers in the venue's JSON layout.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from crossmargin.margin.presets.derive.core import (
    SECONDS_PER_YEAR,
    derive_margin,
    skew_multiplier,
    static_discounts,
    vol_shock_multipliers,
)
from crossmargin.margin.presets.derive.kernel import derive_svi_vols
from crossmargin.venues.derive.case import case_inputs, case_params, load_case
from crossmargin.venues.derive.compare import RELATIVE_TOLERANCE, compare_case

#: The venue harness's tolerance on MM / IM / scenario P&L (derive-pmrm2.md §10.4).
VENUE_REL = RELATIVE_TOLERANCE
#: Full float64 values published with ~16 significant digits: agree to 1e-12 relative.
FLOAT64_REL = 1e-12
#: Values published with 9-10 decimals: agree to half a unit of the last digit.
DEC9_ABS = 5e-10

CASE_12 = "derive_test_12_risk_cancelling_naked_short_call.json"
CASE_29 = "derive_test_29_perps_basic_perp.json"


@pytest.mark.parametrize(
    ("case", "mm", "im"),
    [
        (CASE_29, -481.4, -608.0),
        (CASE_12, -11824.858703959073, -14604.048120144837),
    ],
)
@pytest.mark.parametrize("vols", ["svi", "mark"])
def test_worked_examples_mm_im(data: Path, case: str, mm: float, im: float, vols: str) -> None:
    report = compare_case(load_case(data / case), vols=vols)  # type: ignore[arg-type]
    assert report.ok is True
    assert report.mm.ours == pytest.approx(mm, rel=VENUE_REL)
    assert report.im.ours == pytest.approx(im, rel=VENUE_REL)
    # and far tighter than the venue's tolerance: float64 agreement
    assert report.mm.ours == pytest.approx(mm, rel=FLOAT64_REL)
    assert report.im.ours == pytest.approx(im, rel=FLOAT64_REL)


def test_case_12_every_scenario_matches(data: Path) -> None:
    report = compare_case(load_case(data / CASE_12))
    scen = [c for c in report.checks if c.name.startswith("scenario")]
    assert len(scen) == 31
    for c in scen:
        assert c.expected is not None
        assert c.ours == pytest.approx(c.expected, rel=VENUE_REL, abs=DEC9_ABS), c.name
    r = report.result
    assert int(r.g_worst[0]) == 0  # (1.18, Up)
    assert float(r.g_min_span[0]) == pytest.approx(-12939.312020443314, rel=FLOAT64_REL)


def test_case_12_intermediates(data: Path) -> None:
    case = load_case(data / CASE_12)
    p = case_params(case)
    T = np.asarray([794_852.0])
    t = T / SECONDS_PER_YEAR
    assert float(t[0]) == pytest.approx(0.02520459157787925, rel=FLOAT64_REL)
    D, sd_pos, sd_neg = static_discounts(t, np.asarray([0.15]), p)
    assert float(D[0]) == pytest.approx(0.9962264490688729, rel=FLOAT64_REL)
    assert float(sd_pos[0]) == pytest.approx(0.9445087287221925, rel=FLOAT64_REL)
    assert float(sd_neg[0]) == pytest.approx(1.0037878445554764, rel=FLOAT64_REL)  # = 1/D
    mu, up, down = vol_shock_multipliers(T, p)
    assert float(mu[0]) == pytest.approx(1.425622751854748, rel=FLOAT64_REL)
    assert float(up[0]) == pytest.approx(1.712811375927374, rel=FLOAT64_REL)
    assert float(down[0]) == pytest.approx(0.6079537432399442, rel=FLOAT64_REL)
    svi = [0.002138900837067276, 0.041639765820381208, -0.290894349076049536]
    svi += [-0.026351062568175804, 0.062563079314213912, 95776.67392708939, 0.02520611364789]
    sigma = float(derive_svi_vols(np.asarray([100_000.0]), *(np.asarray([x]) for x in svi))[0])
    assert sigma == pytest.approx(0.453803924321583, rel=FLOAT64_REL)
    assert max(p.vol_shock.min_vol_up_shock, sigma * float(up[0])) == pytest.approx(
        0.7772805240184925, rel=FLOAT64_REL
    )
    sqt = np.sqrt(t)
    k = np.asarray([math.log(100_000.0 / 95776.67392708939)])
    assert float(k[0]) == pytest.approx(0.043151017850228957, rel=FLOAT64_REL)
    mult = skew_multiplier(k, sqt, p.skew.linear_base_cap, p.skew.linear_c_base, p)
    assert float(mult[0]) == pytest.approx(1.01652586234559, rel=1e-13)
    x, _ = case_inputs(case)
    r = derive_margin(x, p)
    assert float(r.eg_mtm[0]) == pytest.approx(-1186.418569458771, rel=FLOAT64_REL)
    assert float(r.eg_up[0]) == pytest.approx(-2907.3379035064, abs=DEC9_ABS)
    assert float(r.eg_down[0]) == pytest.approx(-355.8562984087, abs=DEC9_ABS)
    assert float(r.g_basis[0]) == pytest.approx(-947.2098049301, abs=DEC9_ABS)
    assert float(r.g_mm_option[0]) == pytest.approx(286.99051814565, abs=DEC9_ABS)
    assert float(r.g_im_option[0]) == pytest.approx(191.3270120971, abs=DEC9_ABS)
    assert float(r.g_oracle[0]) == 0.0  # vol confidence 0.95 is above the 0.55 threshold


def test_case_29_pieces(data: Path) -> None:
    x, _ = case_inputs(load_case(data / CASE_29))
    r = derive_margin(x, case_params(load_case(data / CASE_29)))
    # worst scenario (0.82, Up): 1 x (0.82 - 1) x 3100 = -558 (perp price, not spot)
    assert float(r.g_min_span[0]) == pytest.approx(-558.0, rel=1e-14)
    tail_066 = float(r.scenario_pnl[0, 23])  # -66 % tail: -0.66 x 3100 x 0.0545...
    assert tail_066 == pytest.approx(-111.6, rel=1e-14)
    # contingencies on *spot* notional: MM 1 x 3000 x 1.5 %, IM 1 x 3000 x 0.5 %
    assert float(r.g_mm_perp[0]) == pytest.approx(45.0, rel=1e-14)
    assert float(r.g_im_perp[0]) == pytest.approx(15.0, rel=1e-14)
    assert float(r.total_mtm[0]) == pytest.approx(10.0, rel=1e-14)
