"""Backtest results as data: the JSON summary, the daily table (CSV) and summary rows.

``summary_dict`` is the ``backtest --format json`` contract: the book, the data report (what
cleaning dropped, calendar coverage, partial dates, gaps), the settings and one entry per model
with its coverage tests, ES backtest, procyclicality, capital efficiency and netting checks.
``daily_frame`` has one row per (model, window): dates, margins, realised loss, exceedance,
shortfall, gross notional, netting benefit and credits, per-underlying losses and margins.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from crossmargin._format import json_number
from crossmargin.backtest.analysis import ModelResult
from crossmargin.backtest.netting import NettingReport
from crossmargin.backtest.replay import BookReplay
from crossmargin.backtest.run import BacktestResult
from crossmargin.backtest.stats import LikelihoodRatio

__all__ = ["daily_frame", "summary_dict", "summary_row"]

_MAX_WINDOWS = 25


def _lr(x: LikelihoodRatio | None) -> dict[str, Any] | None:
    if x is None:
        return None
    return {"lr": x.lr, "df": x.df, "p_value": x.p_value, "reject_5pct": x.rejects(0.05)}


def _data_report(rep: BookReplay) -> dict[str, Any]:
    cal = rep.calendar
    excl = int(rep.gap.sum())
    return {
        "source": rep.history_source,
        "cleaning": {
            "rules": {
                "stale_run": rep.options.cleaning.stale_run,
                "bad_prints": rep.options.cleaning.bad_prints,
                "spike_sigmas": rep.options.cleaning.spike_sigmas,
                "min_spike": rep.options.cleaning.min_spike,
                "reversion": rep.options.cleaning.reversion,
            },
            "dropped": [d.as_dict() for d in cal.dropped],
        },
        "calendar": {
            "series": list(cal.columns),
            "first": str(cal.dates[0]),
            "last": str(cal.dates[-1]),
            "dates": cal.n,
            "coverage": [c.as_dict() for c in cal.coverage],
            "partial_dates_dropped": cal.partial_dates,
            "steps_spanning_missing_days": int(np.sum(cal.missing_after > 0)),
            "max_step_days": int(cal.span_days.max()) if cal.span_days.size else 0,
        },
        "evaluation": {
            "first": str(rep.dates[0]),
            "last": str(rep.dates[-1]),
            "last_window_end": str(rep.end_dates[-1]),
            "windows": rep.n_days,
            "warmup_dates_skipped": rep.warmup_days,
            "windows_with_missing_days": int(np.sum(rep.missing > 0)),
            "max_gap_days_tolerated": rep.options.max_gap_days,
            "gap_windows": excl,
        },
    }


def _netting(net: NettingReport | None, rep: BookReplay) -> dict[str, Any] | None:
    if net is None:
        return None
    pairs = []
    for p in net.pairs:
        took = np.isfinite(p.assumed)
        pairs.append(
            {
                "legs": list(p.legs),
                "source": p.source,
                "days_with_credit": int(took.sum()),
                "assumed_correlation": json_number(float(np.nanmean(p.assumed)))
                if took.any()
                else None,
                "mean_realised_correlation": json_number(float(np.nanmean(p.realised[took])))
                if took.any()
                else None,
                "avg_credit": json_number(float(np.nanmean(p.credit)))
                if np.isfinite(p.credit).any()
                else None,
                "flagged_days": int(p.flagged.sum()),
                "flagged_share": json_number(float(p.flagged.sum() / took.sum()))
                if took.any()
                else None,
                "flagged_windows": [
                    {"from": a, "to": b, "days": n, "worst_realised": json_number(w)}
                    for a, b, n, w in sorted(p.windows, key=lambda x: -x[2])[:_MAX_WINDOWS]
                ],
            }
        )
    return {
        "avg_benefit": json_number(float(np.nanmean(net.benefit)))
        if np.isfinite(net.benefit).any()
        else None,
        "avg_benefit_share": json_number(net.avg_benefit_share),
        "exceedances": net.exceedances,
        "broken_offsets": net.broken_offsets,
        "broken_offset_share": json_number(net.broken_offsets / net.exceedances)
        if net.exceedances
        else None,
        "shortfall": net.shortfall,
        "shortfall_from_offsets": net.shortfall_from_offsets,
        "exceedances_on_flagged_days": net.exceedances_on_flagged_days,
        "pairs": pairs,
    }


def model_dict(m: ModelResult, rep: BookReplay) -> dict[str, Any]:
    """JSON form of one model's result."""
    if m.run is None:
        return {"model": m.model, "status": "error", "error": m.error}
    run = m.run
    n = m.windows
    x = m.exceedances
    excluded = np.flatnonzero(~m.used)
    tl = m.traffic
    pro = m.procyclicality
    eff = m.efficiency
    es = m.es
    return {
        "model": m.model,
        "status": "ok",
        "engine": run.engine,
        "engine_note": run.engine_note,
        "seconds": run.seconds,
        "windows": n,
        "exceedances": x,
        "exceedance_rate": x / n if n else None,
        "expected_exceedances": n * (1.0 - m.confidence),
        "mm_exceedances": int(np.sum(m.mm_exceeded & m.used)),
        "kupiec": _lr(m.kupiec),
        "kupiec_non_overlapping": _lr(m.kupiec_independent),
        "christoffersen": None
        if m.christoffersen is None
        else {
            "transitions": {
                "n00": m.christoffersen.n00,
                "n01": m.christoffersen.n01,
                "n10": m.christoffersen.n10,
                "n11": m.christoffersen.n11,
            },
            "independence": _lr(m.christoffersen.independence),
            "conditional_coverage": _lr(m.christoffersen.conditional_coverage),
        },
        "traffic_light": None
        if tl is None
        else {
            "zone": m.zone,
            "green_max": tl.green_max,
            "yellow_max": tl.yellow_max,
            "overlap": tl.overlap,
            "variance_inflation": tl.inflation,
            "cumulative_probability": tl.cumulative(x),
        },
        "worst_250": None
        if m.worst_250 is None
        else {
            "exceedances": m.worst_250.exceedances,
            "zone": m.worst_250.zone,
            "from": m.worst_250.first,
            "to": m.worst_250.last,
        },
        "expected_shortfall": None
        if es is None
        else {
            "z2": json_number(es.z2),
            "critical_5pct": es.critical,
            "rejected": es.rejected,
            "kappa": es.kappa,
            "severity": json_number(es.severity),
            "mean_shortfall": es.mean_shortfall,
            "max_shortfall": es.max_shortfall,
        },
        "procyclicality": None
        if pro is None
        else {
            "peak_to_trough": json_number(pro.peak_to_trough),
            "peak_to_trough_rate": json_number(pro.peak_to_trough_rate),
            "largest_increase": [
                {
                    "days": i.horizon,
                    "relative": json_number(i.relative),
                    "amount": json_number(i.amount),
                    "date": i.date,
                }
                for i in pro.increases
            ],
            "margin_vol_correlation": json_number(pro.vol_correlation),
            "margin_vol_elasticity": json_number(pro.vol_elasticity),
        },
        "efficiency": None
        if eff is None
        else {
            "avg_margin": eff.avg_margin,
            "avg_margin_over_gross": json_number(eff.margin_over_gross),
            "avg_margin_over_isolated": json_number(eff.margin_over_isolated),
            "avg_margin_over_loss_quantile": json_number(eff.margin_over_loss_quantile),
        },
        "netting": _netting(m.netting, rep),
        "excluded_windows": [
            {
                "date": str(rep.dates[i]),
                "end": str(rep.end_dates[i]),
                "loss": float(rep.loss[i]),
                "im": float(run.im[i]),
                "exceeded": bool(m.exceeded[i]),
            }
            for i in excluded[:_MAX_WINDOWS]
        ],
    }


def summary_dict(res: BacktestResult) -> dict[str, Any]:
    """The JSON summary of a backtest (module docstring)."""
    rep = res.replay
    b = rep.book
    data = _data_report(rep)
    return {
        "book": {
            "name": b.name,
            "description": b.description,
            "rebalance": b.rebalance,
            "rate": b.rate,
            "legs": [leg.describe() for leg in b.legs],
            "vol": {u: b.vol_spec(u).describe() for u in b.option_underlyings},
        },
        "settings": {
            "mpor": rep.mpor,
            "confidence": res.confidence,
            "gaps": res.gaps,
            "engine": rep.options.engine,
            "corr_window": res.corr_window,
            "start": rep.options.start,
            "end": rep.options.end,
        },
        "data": data,
        "realised": {
            "avg_gross": float(np.mean(rep.gross)),
            "loss_quantile": float(np.quantile(rep.loss, res.confidence)),
            "max_loss": float(np.max(rep.loss)),
            "max_loss_date": str(rep.dates[int(np.argmax(rep.loss))]),
        },
        "models": [model_dict(m, rep) for m in res.models],
        "seconds": res.seconds,
    }


def summary_row(m: ModelResult) -> dict[str, Any]:
    """One line of the summary table (CLI and docs/validation.md)."""
    if m.run is None:
        return {"model": m.model, "error": m.error}
    eff, pro = m.efficiency, m.procyclicality
    net = m.netting
    return {
        "model": m.model,
        "windows": m.windows,
        "exceedances": m.exceedances,
        "rate": m.exceedances / m.windows if m.windows else None,
        "kupiec_p": m.kupiec.p_value if m.kupiec else None,
        "kupiec_p_nonoverlap": m.kupiec_independent.p_value if m.kupiec_independent else None,
        "cc_p": m.christoffersen.conditional_coverage.p_value if m.christoffersen else None,
        "zone": m.zone,
        "worst_250": f"{m.worst_250.exceedances} {m.worst_250.zone}" if m.worst_250 else None,
        "z2": m.es.z2 if m.es else None,
        "peak_to_trough": pro.peak_to_trough_rate if pro else None,
        "margin_over_gross": eff.margin_over_gross if eff else None,
        "margin_over_isolated": eff.margin_over_isolated if eff else None,
        "broken_offsets": f"{net.broken_offsets}/{net.exceedances}" if net else None,
        "engine": m.run.engine,
    }


def daily_frame(res: BacktestResult) -> pd.DataFrame:
    """One row per (model, window) (module docstring)."""
    rep = res.replay
    frames = []
    und = rep.underlyings
    for m in res.models:
        if m.run is None:
            continue
        run = m.run
        cols: dict[str, Any] = {
            "model": m.model,
            "date": rep.dates.astype(str),
            "end_date": rep.end_dates.astype(str),
            "im": run.im,
            "mm": run.mm,
            "loss": rep.loss,
            "exceeded": m.exceeded,
            "mm_exceeded": m.mm_exceeded,
            "shortfall": np.maximum(rep.loss - run.im, 0.0),
            "gross_notional": rep.gross,
            "counted": m.used,
            "missing_days": rep.missing,
            "gap_window": rep.gap,
            "book_vol": rep.book_vol,
        }
        if m.netting is not None:
            cols["standalone_im"] = m.netting.standalone
            cols["netting_benefit"] = m.netting.benefit
            for k, u in enumerate(und):
                cols[f"im_{u}"] = run.im_by_und[:, k]
            for p in m.netting.pairs:
                tag = "_".join(sorted(p.legs))  # one column per pair whatever the model
                cols[f"credit_{tag}"] = p.credit
                cols[f"assumed_corr_{tag}"] = p.assumed
                cols[f"realised_corr_{tag}"] = p.realised
                cols[f"flagged_{tag}"] = p.flagged
        if len(und) > 1:
            for k, u in enumerate(und):
                cols[f"loss_{u}"] = -rep.pnl_by_und[:, k]
        frames.append(pd.DataFrame(cols))
    if not frames:
        return pd.DataFrame({"model": [], "date": []})
    out = pd.concat(frames, ignore_index=True)
    for col in out.columns:
        if col.startswith("flagged_"):  # models without the pair never flag it
            out[col] = out[col].astype("boolean").fillna(False).astype(bool)
    return out
