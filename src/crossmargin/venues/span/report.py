"""Plain-data report of a SPAN risk-parameter file run (``venue-case span FILE.json``)."""

from __future__ import annotations

from typing import Any

import numpy as np

from crossmargin.venues.span.files import SpanFileRun

__all__ = ["RELATIVE_TOLERANCE", "span_report_dict"]

#: Tolerance for expected values written at a venue's published precision (whole currency units
#: or cents): relative 1e-9, or half a cent absolute.
RELATIVE_TOLERANCE = 1e-9
ABSOLUTE_TOLERANCE = 0.005


def _cmp(ours: float, expected: float | None) -> dict[str, Any]:
    if expected is None:
        return {"ours": ours, "expected": None, "abs_diff": None, "ok": None}
    d = abs(ours - expected)
    ok = d <= max(ABSOLUTE_TOLERANCE, RELATIVE_TOLERANCE * abs(expected))
    return {"ours": ours, "expected": expected, "abs_diff": d, "ok": bool(ok)}


def span_report_dict(run: SpanFileRun, *, case: str = "") -> dict[str, Any]:
    """Per account: per combined commodity breakdown, totals and expected-value checks."""
    r = run.result
    f = run.file
    names = run.cc_names
    accounts = []
    verdicts: list[bool] = []
    for i, a in enumerate(f.accounts):
        rows = []
        for g in np.flatnonzero(r.g_account == i):
            cc = f.combined_commodities[names[int(r.g_cc[g])]]
            rows.append(
                {
                    "combined_commodity": names[int(r.g_cc[g])],
                    "scan_risk": float(r.scan[g]),
                    "active_scenario": int(r.active[g]) + 1,
                    "time_risk": float(r.time_risk[g]),
                    "volatility_risk": float(r.vol_risk[g]),
                    "price_risk": float(r.price_risk[g]),
                    "net_delta": float(r.net_delta[g]),
                    "tier_deltas": dict(
                        zip(
                            cc.tiers,
                            (float(x) for x in r.tier_delta[g, : len(cc.tiers)]),
                            strict=True,
                        )
                    ),
                    "intra_commodity_charge": float(r.intra[g]),
                    "spot_month_charge": float(r.spot[g]),
                    "inter_commodity_credit": float(r.credit[g]),
                    "short_option_minimum": float(r.som[g]),
                    "risk": float(r.risk[g]),
                    "initial": float(r.initial[g]),
                    "net_option_value": float(r.nov[g]),
                }
            )
        exp = a.expected
        checks = {
            "maintenance_margin": _cmp(
                float(r.maintenance_total[i]), exp.maintenance_margin if exp else None
            ),
            "initial_margin": _cmp(float(r.initial_total[i]), exp.initial_margin if exp else None),
            "scan_risk": _cmp(
                float(r.scan[r.g_account == i].sum()), exp.scan_risk if exp else None
            ),
        }
        verdicts += [c["ok"] for c in checks.values() if c["ok"] is not None]
        accounts.append(
            {
                "account": a.account,
                "maintenance_margin": float(r.maintenance_total[i]),
                "initial_margin": float(r.initial_total[i]),
                "net_option_value": float(r.nov_total[i]),
                "total_requirement_less_nov": float(r.maintenance_total[i] - r.nov_total[i]),
                "combined_commodities": rows,
                "checks": checks,
            }
        )
    return {
        "venue": "span",
        "case": case,
        "currency": f.currency,
        "source": f.source,
        "ok": all(verdicts) if verdicts else None,
        "accounts": accounts,
    }
