"""``history`` (what a price history covers) and the explain tables of the var/es models."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer
from rich.console import Console

from crossmargin.cli.common import Format, FormatOpt, console
from crossmargin.cli.errors import handle_errors
from crossmargin.cli.lazy import command_set
from crossmargin.cli.output import dumps, fmt_money, fmt_num
from crossmargin.cli.render import data_table
from crossmargin.market.history import PriceHistory, bundled_history, load_price_history

app = command_set()  # this module's commands (crossmargin.cli.lazy loads it on use)

__all__ = ["history_summary", "print_model_detail"]

_INFO_KEYS = (
    "method",
    "history",
    "history_end",
    "history_age_days",
    "lookback",
    "stress_periods",
    "segments",
    "mpor_observations",
    "ewma_lambda",
    "returns_dropped_for_gaps",
    "vol_moves_from_index",
    "correlation_source",
    "correlation_repair",
)


def print_model_detail(con: Console, md: dict[str, Any]) -> None:
    """Scenario set, tail scenarios and per-underlying components of a var/es explain."""
    rm = md.get("risk_measure")
    if not rm:
        return
    info = md["scenario_set"]
    t = data_table(
        f"3. joint scenarios ({info['scenarios']})",
        ("field", "value"),
        left=("field", "value"),
        show_header=False,
    )
    for k in _INFO_KEYS:
        if k in info and info[k] not in (None, [], {}):
            v = info[k]
            t.add_row(k.replace("_", " "), "; ".join(v) if isinstance(v, list) else str(v))
    con.print(t)
    rows = md["tail_scenarios"]
    unds = list(rows[0]["pnl"]) if rows else []
    tt = data_table(
        f"4. tail scenarios driving the {rm['measure']} {rm['confidence']:.1%} "
        f"({fmt_money(rm['value'])})",
        ("#", "scenario", "segment", "prob.", "tail wt", "loss", *unds),
        left=("scenario", "segment"),
    )
    for r in rows:
        mark = " ◀ VaR" if r["var_scenario"] else ""
        tt.add_row(
            str(r["rank"]),
            r["scenario"] + mark,
            r["segment"],
            f"{r['probability']:.4%}",
            f"{r['tail_weight']:.3f}",
            fmt_money(r["loss"]),
            *(fmt_money(r["pnl"][u]) for u in unds),
        )
    con.print(tt)
    c = data_table(
        f"5. contribution per underlying (component {rm['measure']})",
        ("underlying", "component", "share", "standalone"),
    )
    for r in md["components"]:
        share = "-" if r["share"] is None else f"{r['share']:.1%}"
        c.add_row(r["underlying"], fmt_money(r["component"]), share, fmt_money(r["standalone"]))
    c.add_row("diversification", fmt_money(-md["diversification"]), "", "")
    con.print(c)


def history_summary(h: PriceHistory) -> dict[str, Any]:
    """Coverage of each asset of a history: first/last date, observations, largest gap."""
    assets = []
    for j, a in enumerate(h.assets):
        ok = np.isfinite(h.prices[:, j])
        t = h.times[ok]
        gaps = np.diff(t).astype(np.float64) / 86_400e9 if t.size > 1 else np.zeros(0)
        assets.append(
            {
                "asset": a,
                "first": str(np.datetime_as_string(t[0], unit="D")) if t.size else None,
                "last": str(np.datetime_as_string(t[-1], unit="D")) if t.size else None,
                "observations": int(t.size),
                "largest_gap_days": float(gaps.max()) if gaps.size else None,
            }
        )
    return {"source": h.source, "assets": assets}


@app.command("history")
@handle_errors
def history_cmd(
    file: Annotated[
        Path | None,
        typer.Argument(help="History CSV/Parquet (default: the bundled daily closes)"),
    ] = None,
    fmt: FormatOpt = Format.table,
) -> None:
    """Validate a price-history file and show what it covers (for var/es and dynamic haircuts)."""
    h = load_price_history(file) if file is not None else bundled_history()
    d = history_summary(h)
    if fmt is Format.json:
        print(dumps(d))
        return
    t = data_table(
        f"price history: {d['source']}",
        ("asset", "first", "last", "observations", "largest gap (days)"),
    )
    for r in d["assets"]:
        t.add_row(
            r["asset"],
            str(r["first"]),
            str(r["last"]),
            str(r["observations"]),
            fmt_num(r["largest_gap_days"], 1),
        )
    console().print(t)
