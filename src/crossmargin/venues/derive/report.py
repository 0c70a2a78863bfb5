"""Plain-data reports of a Derive venue case (``venue-case derive-pmrm2``) and the engine check.

:func:`case_report_dict` lists our MM and IM beside the case's expected values with the
relative difference, every scenario P&L, the contingencies and the per-expiry values, all with
Derive's own sign convention (signed surplus; contingencies reported negative as the venue does).
:func:`engine_check` runs the case through the normal ``margin`` path — translated portfolio,
snapshot and configuration (:mod:`.translate`) — and returns Derive's MM and IM as the account
layer reports them, so both paths can be compared.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from crossmargin._format import json_number
from crossmargin.config.model import config_from_dict
from crossmargin.engine import compute_margin
from crossmargin.errors import CrossMarginError
from crossmargin.io.market import market_from_obj
from crossmargin.io.portfolio import portfolios_from_obj
from crossmargin.venues.derive.case import DeriveCase, VolSource
from crossmargin.venues.derive.compare import CaseCheck, CaseReport
from crossmargin.venues.derive.translate import case_to_files

__all__ = ["EngineCheck", "case_report_dict", "engine_check"]


def _check_dict(c: CaseCheck) -> dict[str, Any]:
    return {
        "name": c.name,
        "ours": json_number(c.ours),
        "expected": json_number(c.expected),
        "abs_diff": json_number(c.abs_diff),
        "rel_diff": json_number(c.rel_diff),
        "rule": c.rule or None,
        "ok": c.ok,
    }


@dataclass(frozen=True, slots=True)
class EngineCheck:
    """Derive's MM/IM as computed through ``margin --model derive-pmrm2`` on the translation.

    ``error`` says why the case cannot be expressed in the engine's formats (e.g. a strike of 0);
    the direct comparison stands on its own then.
    """

    mm: float
    im: float
    status: str
    error: str = ""


def engine_check(
    case: DeriveCase, *, vols: VolSource = "svi", underlying: str = "BASE"
) -> EngineCheck:
    """Run ``case`` through the engine path (portfolio + snapshot + configuration)."""
    try:
        pf, mk, cfg = case_to_files(case, underlying=underlying, vols=vols)
        pfs, prefixes = portfolios_from_obj(pf)
        res = compute_margin(
            pfs,
            market_from_obj(mk),
            model="derive-pmrm2",
            config=config_from_dict(cfg),
            prefixes=prefixes,
            detail=False,
        )
    except CrossMarginError as exc:
        return EngineCheck(math.nan, math.nan, "", f"not expressible in the engine formats: {exc}")
    return EngineCheck(
        mm=float(res.maintenance_equity[0] - res.maintenance_margin[0]),
        im=float(res.free_collateral[0]),
        status=res.status(0),
    )


def case_report_dict(
    report: CaseReport, *, engine: EngineCheck | None = None, case: str = ""
) -> dict[str, Any]:
    """The full report as plain data (the ``venue-case --format json`` contract)."""
    r = report.result
    p = r.params
    scen = []
    for j, sc in enumerate(p.scenarios):
        chk = report.checks[3 + j]
        scen.append(
            {
                "index": j,
                "spot_shock": sc.spot_shock,
                "vol": sc.vol,
                "dampening": sc.dampening,
                "pnl": float(r.scenario_pnl[0, j]),
                "expected": json_number(chk.expected),
                "rel_diff": json_number(chk.rel_diff),
                "ok": chk.ok,
            }
        )
    worst = int(r.g_worst[0]) if r.g_worst.size else -1
    out: dict[str, Any] = {
        "venue": "derive-pmrm2",
        "case": case,
        "ok": report.ok,
        "mm": _check_dict(report.mm),
        "im": _check_dict(report.im),
        "checks": [_check_dict(c) for c in report.checks[:3]],
        "sign_convention": "signed surplus: MM >= 0 healthy, IM >= 0 may add risk",
        "worst": "basis contingency" if worst == len(p.scenarios) else f"scenario[{worst}]",
        "min_span": float(r.g_min_span[0]) if r.g_min_span.size else 0.0,
        "forward_contingency": float(r.g_basis[0]) if r.g_basis.size else 0.0,
        "factor_mm": float(r.factor_mm[0]),
        "factor_im": float(r.factor_im[0]),
        "mark_value": float(r.mark[0]),
        "option_mtm": float(r.g_option_mtm[0]) if r.g_option_mtm.size else 0.0,
        "contingencies": {
            "MMPerpCont": -float(r.g_mm_perp.sum()),
            "IMPerpCont": -float(r.g_im_perp.sum()),
            "MMOptionCont": -float(r.g_mm_option.sum()),
            "IMOptionCont": -float(r.g_im_option.sum()),
            "MMBaseCont": -float(r.c_mm.sum()),
            "IMBaseCont": -float(r.c_im.sum()),
            "OracleCont": -float(r.g_oracle.sum() + r.c_oracle.sum()),
        },
        "expiries": [
            {
                "mtm": float(r.eg_mtm[k]),
                "basis_contingency": float(r.eg_basis[k]),
                "vol_up_multiplier": json_number(float(r.up[int(r.eg_expiry[k])])),
                "vol_down_multiplier": float(r.down[int(r.eg_expiry[k])]),
                "static_discount": [
                    float(r.sd_pos[int(r.eg_expiry[k])]),
                    float(r.sd_neg[int(r.eg_expiry[k])]),
                ],
                "naked_shorts": float(r.eg_naked[k]),
                "confidence": float(r.eg_conf[k]),
            }
            for k in range(r.eg_mtm.size)
        ],
        "scenarios": scen,
        "notes": list(report.notes),
    }
    if engine is not None and engine.error:
        out["engine"] = {"error": engine.error}
    elif engine is not None:
        out["engine"] = {
            "mm": engine.mm,
            "im": engine.im,
            "status": engine.status,
            "mm_rel_diff_vs_direct": _rel(engine.mm, report.mm.ours),
            "im_rel_diff_vs_direct": _rel(engine.im, report.im.ours),
        }
    return out


def _rel(a: float, b: float) -> float:
    return 0.0 if a == b else abs(a - b) / max(abs(b), 1e-300)
