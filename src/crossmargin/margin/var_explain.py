"""``explain`` sections of the ``var``/``es`` models: the scenario dates in the tail, components.

For one account: the scenario set's provenance (method, history window, stress periods, counts),
the tail scenarios that drive the measure (date window or path, segment, probability, ES tail
weight, loss and P&L per underlying), each underlying's component and standalone measure (the
diversification is Σ standalone − portfolio), and derivation lines. Amounts are multiplied by
``fx`` (the account's base currency).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from crossmargin._format import fmt_money
from crossmargin._typing import FloatArray
from crossmargin.margin.result import AddOnRows
from crossmargin.resolve.book import ResolvedBook
from crossmargin.risk.aggregate import Groups
from crossmargin.scenarios.joint import SEGMENT_NAMES, JointScenarioSet
from crossmargin.scenarios.tail import tail_stats

__all__ = ["MAX_TAIL_ROWS", "var_explain"]

#: Tail scenarios listed per account (the measure always uses all of them).
MAX_TAIL_ROWS = 20


def var_explain(
    i: int,
    fx: float,
    *,
    kind: str,
    alpha: float,
    book: ResolvedBook,
    groups: Groups,
    core: FloatArray,
    comp: FloatArray,
    stand: FloatArray,
    addons: Sequence[AddOnRows],
    combo: Any,
    apc: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Explain sections of account ``i`` (module docstring).

    ``combo`` holds the scenario set and kept group P&L of the account's set of underlyings
    (``None`` if the account has no live position); ``apc`` the releasable buffer's state of
    that set (stress ratios, per account ratio and release factor), if that option is in force.
    """
    gs = np.flatnonzero(groups.account == i)
    und = [book.instruments.underlyings[int(groups.und[g])] for g in gs]
    if combo is None or combo.result.group_pnl is None:
        return {"risk_measure": None, "derivation": ["no live position: no scenario risk"]}
    scen: JointScenarioSet = combo.scen
    w = scen.weight
    pnl = combo.result.group_pnl[np.searchsorted(combo.groups, gs)]
    loss = -pnl.sum(axis=0)
    t = tail_stats(loss[None, :], w, alpha, keep_weights=True)
    assert t.tail_weight is not None
    tw = t.tail_weight[0]
    var_ix = int(t.var_index[0])
    tail = np.flatnonzero((tw > 0) | (np.arange(w.size) == var_ix))
    tail = tail[np.argsort(-loss[tail], kind="stable")]
    rows = [
        {
            "rank": r + 1,
            "scenario": scen.labels[s],
            "segment": SEGMENT_NAMES[int(scen.segment[s])],
            "probability": float(w[s]),
            "tail_weight": float(tw[s]),
            "loss": float(loss[s] * fx),
            "pnl": {u: float(pnl[k, s] * fx) for k, u in enumerate(und)},
            "var_scenario": bool(s == var_ix),
        }
        for r, s in enumerate(tail[:MAX_TAIL_ROWS])
    ]
    name = "ES" if kind == "es" else "VaR"
    total = float(core[i] * fx)
    components: list[dict[str, Any]] = [
        {
            "underlying": u,
            "component": float(comp[g] * fx),
            "share": float(comp[g] / core[i]) if core[i] > 0 else None,
            "standalone": float(stand[g] * fx),
        }
        for u, g in zip(und, gs, strict=True)
    ]
    standalone_sum = float(sum(max(c["standalone"], 0.0) for c in components))
    info = dict(scen.info)
    info["scenarios"] = scen.n_scenarios
    segs = {
        SEGMENT_NAMES[int(k)]: int(n)
        for k, n in zip(*np.unique(scen.segment, return_counts=True), strict=True)
    }
    info["segments"] = segs
    lines = [
        f"{name} {alpha:.1%} of the account's {info.get('mpor_days', book.config.var.mpor_days):g}-day "
        f"scenario losses over {scen.n_scenarios} joint scenarios ({info['method']}): "
        f"{fmt_money(total)}",
        "components: "
        + " + ".join(f"{c['underlying']} {fmt_money(c['component'])}" for c in components)
        + f" = {fmt_money(total)} (standalone sum {fmt_money(standalone_sum)}: diversification "
        f"{fmt_money(standalone_sum - total)})",
    ]
    if rows:
        top = rows[0]
        lines.append(f"worst scenario {top['scenario']}: loss {fmt_money(top['loss'])}")
    for r_ in addons:
        for k in np.flatnonzero((r_.account == i) & (r_.amount != 0.0)):
            lines.append(f"+ {r_.name} {r_.label[k]}: {fmt_money(float(r_.amount[k] * fx))}")
    out_apc: dict[str, Any] | None = None
    if apc is not None:
        j = int(np.searchsorted(apc["accounts"], i))
        fac = float(apc["release_factor"][j])
        ratio = float(apc["stress_ratio"][j])
        out_apc = {k: v for k, v in apc.items() if k not in ("accounts", "stress_ratio")}
        out_apc |= {
            "stress_ratio": ratio,
            "release_factor": fac,
            "buffer_applied": apc["buffer"] * fac,
            "amount": float(apc["buffer"] * fac * core[i] * fx),
        }
        lines.append(
            f"anti-procyclicality: stress ratio {ratio:.3f} (EWMA over {apc['window']} vol, "
            f"weighted by standalone) -> release factor {fac:.3f}: buffer "
            f"{apc['buffer'] * fac:.1%} of {name} (full {apc['buffer']:.0%} up to "
            f"{apc['release_from']:g}, none from {apc['released_at']:g})"
        )
    out: dict[str, Any] = {
        "risk_measure": {
            "measure": name,
            "confidence": alpha,
            "value": total,
            "var_scenario": scen.labels[var_ix],
        },
        "scenario_set": info,
        "tail_scenarios": rows,
        "components": components,
        "diversification": standalone_sum - total,
        "derivation": lines,
    }
    if out_apc is not None:
        out["anti_procyclicality"] = out_apc
    return out
