"""A self-contained HTML backtest report (charts embedded as PNG data URIs).

Sections: the book and settings; what the data cleaning and calendar alignment dropped; the
traffic-light summary table per model (zone-coloured); the charts of
:mod:`crossmargin.backtest.charts`; per-model detail (tests, ES, procyclicality, netting windows).
"""

from __future__ import annotations

import base64
from html import escape
from typing import Any

from crossmargin.backtest.charts import all_charts
from crossmargin.backtest.report import summary_dict, summary_row
from crossmargin.backtest.run import BacktestResult

__all__ = ["html_report"]

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2em;color:#222;max-width:1250px}
table{border-collapse:collapse;margin:0.6em 0 1.2em 0;font-size:13px}
th,td{border:1px solid #ccc;padding:3px 7px;text-align:right}
th{background:#f2f2f2} td.l,th.l{text-align:left}
.green{background:#d7f0dc}.yellow{background:#fff1b8}.red{background:#f7c6cc}.err{color:#a00}
img{max-width:100%;border:1px solid #ddd;margin:0.4em 0}
h1{font-size:22px}h2{font-size:18px;margin-top:1.6em}h3{font-size:15px}
.small{font-size:12px;color:#555}
"""


def _fmt(v: Any) -> str:
    if v is None:
        return "–"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        if abs(v) >= 1000:
            return f"{v:,.0f}"
        return f"{v:.4g}"
    return escape(str(v))


def _table(rows: list[dict[str, Any]], *, zone_key: str | None = None) -> str:
    if not rows:
        return "<p class='small'>none</p>"
    keys = list(dict.fromkeys(k for r in rows for k in r))
    head = "".join(
        f"<th class='l'>{escape(k)}</th>" if i == 0 else f"<th>{escape(k)}</th>"
        for i, k in enumerate(keys)
    )
    body = []
    for r in rows:
        cls = f" class='{r.get(zone_key)}'" if zone_key and r.get(zone_key) else ""
        cells = "".join(
            f"<td class='l'>{_fmt(r.get(k))}</td>" if i == 0 else f"<td>{_fmt(r.get(k))}</td>"
            for i, k in enumerate(keys)
        )
        body.append(f"<tr{cls}>{cells}</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


def _img(png: bytes, alt: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return f"<img alt='{escape(alt)}' src='data:image/png;base64,{data}'>"


def html_report(res: BacktestResult) -> str:
    """Render the report of one book's backtest."""
    s = summary_dict(res)
    b, st, data = s["book"], s["settings"], s["data"]
    ev = data["evaluation"]
    parts = [
        f"<!doctype html><html><head><meta charset='utf-8'><title>backtest {escape(b['name'])}</title>"
        f"<style>{_CSS}</style></head><body>",
        f"<h1>crossmargin backtest — {escape(b['name'])}</h1>",
        f"<p>{escape(b['description'])}</p>",
        "<ul>" + "".join(f"<li>{escape(leg)}</li>" for leg in b["legs"]) + "</ul>",
        f"<p class='small'>rebalance {escape(b['rebalance'])}; rate {b['rate']:g}; vols: "
        + escape(", ".join(f"{k}: {v}" for k, v in b["vol"].items()) or "none needed")
        + f". MPOR {st['mpor']} calendar steps, tested confidence {st['confidence']:.2%}, "
        f"gap windows {escape(st['gaps'])}d; windows {ev['first']} .. {ev['last']} "
        f"(last end {ev['last_window_end']}), {ev['windows']} windows, "
        f"{ev['warmup_dates_skipped']} warm-up dates skipped.</p>",
        "<h2>Summary</h2>",
        _table([summary_row(m) for m in res.models], zone_key="zone"),
    ]
    charts = all_charts(res)
    titles = {
        "margin_vs_loss": "Margin vs realised loss",
        "traffic_light": "Traffic light",
        "correlation": "Netting: realised vs assumed correlation",
        "procyclicality": "Procyclicality",
    }
    for key, png in charts.items():
        parts.append(f"<h2>{titles[key]}</h2>{_img(png, titles[key])}")
    parts.append("<h2>Data</h2>")
    cal = data["calendar"]
    parts.append(
        f"<p>History {escape(str(data['source']))}; book calendar {cal['first']} .. {cal['last']}, "
        f"{cal['dates']} dates of {', '.join(cal['series'])}; "
        f"{cal['steps_spanning_missing_days']} steps span missing days of a 7-day series; longest step "
        f"{cal['max_step_days']} days. Dates dropped because a series had no close: "
        + escape(
            ", ".join(f"{k} missing {v}" for k, v in cal["partial_dates_dropped"].items()) or "none"
        )
        + ".</p>"
    )
    cov = [
        {k: v for k, v in c.items() if k != "longest_missing_runs"}
        | {
            "longest missing": ", ".join(
                f"{r['from']}..{r['to']} ({r['days']})" for r in c["longest_missing_runs"][:3]
            )
        }
        for c in cal["coverage"]
    ]
    parts.append(_table(cov))
    parts.append("<h3>Dropped by cleaning</h3>")
    parts.append(_table(data["cleaning"]["dropped"]))
    parts.append("<h2>Models</h2>")
    for m in s["models"]:
        parts.append(f"<h3>{escape(m['model'])}</h3>")
        if m["status"] != "ok":
            parts.append(f"<p class='err'>failed: {escape(str(m['error']))}</p>")
            continue
        parts.append(
            f"<p class='small'>engine {escape(m['engine'])} ({escape(m['engine_note'])}), {m['seconds']:.2f} s</p>"
        )
        tests = {
            "exceedances": m["exceedances"],
            "expected": m["expected_exceedances"],
            "MM exceedances": m["mm_exceedances"],
            "Kupiec p": (m["kupiec"] or {}).get("p_value"),
            "Kupiec p (non-overlapping)": (m["kupiec_non_overlapping"] or {}).get("p_value"),
            "Christoffersen ind p": ((m["christoffersen"] or {}).get("independence") or {}).get(
                "p_value"
            ),
            "Christoffersen cc p": (
                (m["christoffersen"] or {}).get("conditional_coverage") or {}
            ).get("p_value"),
            "zone": (m["traffic_light"] or {}).get("zone"),
            "ES Z2": (m["expected_shortfall"] or {}).get("z2"),
            "severity": (m["expected_shortfall"] or {}).get("severity"),
            "max shortfall": (m["expected_shortfall"] or {}).get("max_shortfall"),
        }
        parts.append(_table([tests]))
        pro = m["procyclicality"] or {}
        prow = (
            {
                "peak/trough (amount)": pro.get("peak_to_trough"),
                "peak/trough (rate)": pro.get("peak_to_trough_rate"),
            }
            | {
                f"max {i['days']}d increase": (
                    f"{i['relative']:.1%} on {i['date']}" if i["relative"] is not None else None
                )
                for i in pro.get("largest_increase", [])
            }
            | {
                "corr(rate, vol)": pro.get("margin_vol_correlation"),
                "elasticity": pro.get("margin_vol_elasticity"),
            }
        )
        parts.append(_table([prow]))
        net = m["netting"]
        if net:
            parts.append(
                f"<p>Netting benefit {_fmt(net['avg_benefit'])} on average "
                f"({_fmt(net['avg_benefit_share'])} of stand-alone margin); "
                f"{net['broken_offsets']} of {net['exceedances']} exceedances from broken offsets; "
                f"shortfall from offsets {_fmt(net['shortfall_from_offsets'])} of {_fmt(net['shortfall'])}.</p>"
            )
            for p in net["pairs"]:
                parts.append(
                    f"<p class='small'>{escape('/'.join(p['legs']))} ({escape(p['source'])}): "
                    f"assumed {_fmt(p['assumed_correlation'])}, mean realised "
                    f"{_fmt(p['mean_realised_correlation'])}, credit on {p['days_with_credit']} days, "
                    f"not justified on {p['flagged_days']}.</p>"
                )
                parts.append(_table(p["flagged_windows"][:10]))
        if m["excluded_windows"]:
            parts.append("<p class='small'>Gap windows (not counted):</p>")
            parts.append(_table(m["excluded_windows"]))
    parts.append(
        f"<p class='small'>generated by crossmargin in {s['seconds']:.2f} s</p></body></html>"
    )
    return "\n".join(parts)
