"""Rich tables for the human-readable (``--format table``) outputs."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from typing import Any

from rich.console import Console
from rich.table import Table

from crossmargin.cli.output import fmt_money, fmt_num, fmt_pct

__all__ = [
    "data_table",
    "print_account",
    "print_comparison",
    "print_explain",
    "print_prices",
    "print_warnings",
    "print_whatif",
    "status_markup",
]

_STATUS_STYLE = {
    "healthy": "green",
    "margin_call": "yellow",
    "liquidation": "red",
    "bankrupt": "bold red",
}


def data_table(
    title: str,
    columns: Iterable[str],
    *,
    left: Collection[str] | None = None,
    right: Collection[str] | None = None,
    fold: Collection[str] | bool = (),
    **options: Any,
) -> Table:
    """A table with its columns: labels left-aligned, numbers right-aligned.

    Parameters
    ----------
    title
        The table's title.
    columns
        Column headers, in order.
    left, right
        The left-aligned columns (the others right-aligned), or the right-aligned ones (the others
        left-aligned); neither: the first column is the only left-aligned one.
    fold
        Columns whose long cells wrap instead of being elided (names that must stay whole);
        ``True``: all.
    **options
        Passed to :class:`rich.table.Table`.
    """
    cols = list(columns)
    if fold is True:
        fold = cols
    elif fold is False:
        fold = ()
    if right is not None:
        left = [c for c in cols if c not in right]
    elif left is None:
        left = cols[:1]
    t = Table(title=title, **options)
    for col in cols:
        t.add_column(
            col,
            justify="left" if col in left else "right",
            overflow="fold" if col in fold else "ellipsis",
        )
    return t


def status_markup(s: str) -> str:
    """An account status in its colour (rich markup)."""
    return f"[{_STATUS_STYLE.get(s, 'white')}]{s}[/]"


_status = status_markup


def print_warnings(con: Console, warnings: list[dict[str, Any]]) -> None:
    """Market-data fallbacks used (``warning <code> <path>: <message>``), one per line."""
    for w in warnings:
        con.print(f"[yellow]warning[/] {w['code']} {w['path']}: {w['message']}", soft_wrap=True)


def print_account(con: Console, d: dict[str, Any]) -> None:
    """Summary, per-underlying breakdown and add-ons of one account."""
    ccy = d["base_currency"]
    t = data_table(
        f"{d['account']} — {d['model']} margin ({ccy}, as of {d['as_of']})",
        ("field", "value"),
        show_header=False,
    )
    for key in (
        "collateral_value",
        "unrealized_pnl",
        "equity",
        "initial_margin",
        "maintenance_margin",
        "free_collateral",
        "collateral_required",
    ):
        t.add_row(key.replace("_", " "), fmt_money(d[key]))
    t.add_row("margin ratio", fmt_num(d["margin_ratio"], 3))
    t.add_row("status", _status(d["status"]))
    t.add_row("liquidation scope", d["liquidation_scope"])
    con.print(t)
    if d["breakdown"]:
        b = data_table(
            "per underlying",
            ("underlying", "class", "IM", "MM", "scan risk", "net delta", "worst scenario"),
            left=("underlying", "class", "worst scenario"),
        )
        for row in d["breakdown"]:
            ws = row["worst_scenario"]
            b.add_row(
                row["underlying"],
                str(row["risk_class"]),
                fmt_money(row["initial_margin"]),
                fmt_money(row["maintenance_margin"]),
                fmt_money(row["scan_risk"]),
                fmt_num(row["net_delta"]),
                ws["label"] if ws else "-",
            )
        con.print(b)
    if d["addons"]:
        a = data_table(
            "add-ons and credits", ("name", "underlying", "amount", "what"), right=("amount",)
        )
        for row in d["addons"]:
            label = row["underlying"] + (f" ({row['pair']})" if row.get("pair") else "")
            a.add_row(row["name"], label, fmt_money(row["amount"]), row["description"])
        con.print(a)
    greeks = d.get("greeks")
    if greeks and greeks["per_underlying"]:
        g = data_table(
            f"Greeks ({d['base_currency']}; vega per vol point, theta per day)",
            ("underlying", "delta", "delta cash", "gamma", "gamma cash (1 %)", "vega", "theta"),
        )
        for row in greeks["per_underlying"]:
            g.add_row(
                row["underlying"],
                fmt_num(row["delta"], 4),
                fmt_money(row["delta_cash"]),
                fmt_num(row["gamma"], 6),
                fmt_money(row["gamma_cash"]),
                fmt_money(row["vega"]),
                fmt_money(row["theta"]),
            )
        tot = greeks["account"]
        g.add_row(
            "account",
            "",
            fmt_money(tot["delta_cash"]),
            "",
            fmt_money(tot["gamma_cash"]),
            fmt_money(tot["vega"]),
            fmt_money(tot["theta"]),
        )
        con.print(g)
    print_warnings(con, d.get("warnings", []))


def print_comparison(
    con: Console, d: dict[str, Any], *, order: Sequence[str] | None = None
) -> None:
    """Models side by side; a model that could not margin the book is a column with its reason.

    ``order`` is the requested models (computed or not), in order; by default the computed
    ones, and the others listed below the table.
    """
    done = d["models"]
    why = d.get("unavailable", {})
    names = [n for n in order if n in done or n in why] if order is not None else list(done)
    t = Table(title=f"{d['account']} — {' vs '.join(names)} ({d['base_currency']})")
    t.add_column("")
    for n in names:
        t.add_column(n, justify="right", overflow="fold", max_width=40)

    def cells(key: str, f: Any) -> list[str]:
        return [f(done[n][key]) if n in done else "-" for n in names]

    rows = [
        ("initial margin", "initial_margin", fmt_money),
        ("maintenance margin", "maintenance_margin", fmt_money),
        ("collateral required", "collateral_required", fmt_money),
        ("capital freed vs isolated", "capital_freed_vs_isolated", fmt_money),
        ("same model, positions alone*", "alone_required", fmt_money),
        ("capital freed by netting", "capital_freed_by_netting", fmt_money),
        ("size/collateral add-ons*", "size_and_collateral_addons", fmt_money),
        ("equity", "equity", fmt_money),
        ("free collateral", "free_collateral", fmt_money),
        ("margin ratio", "margin_ratio", lambda x: fmt_num(x, 3)),
    ]
    for label, key, f in rows:
        if key == "alone_required":
            t.add_row(
                label,
                *(
                    f(done[n]["positions_alone"]["collateral_required"]) if n in done else "-"
                    for n in names
                ),
            )
            continue
        t.add_row(label, *cells(key, f))
    t.add_row("status", *cells("status", _status))
    t.add_row("liquidation scope", *cells("liquidation_scope", str))
    if any(n not in done for n in names):
        t.add_row("not computed", *("" if n in done else f"[red]{why[n]}[/]" for n in names))
    con.print(t)
    for name, reason in why.items():
        if name not in names:
            con.print(f"[dim]{name}: not available for this book — {reason}[/]")
    con.print(
        "[dim]* like for like: every position margined alone by the same model; both sides net "
        "of the size-driven and collateral add-ons, which are shown apart[/]"
    )
    for note in d.get("notes", []):
        con.print(f"note: {note}")
    print_warnings(con, d.get("warnings", []))


def print_explain(con: Console, d: dict[str, Any]) -> None:
    """The whole path of one margin number: collateral, positions, scenarios, add-ons, totals."""
    ccy = d["base_currency"]
    con.print(f"[bold]{d['account']}[/] — [bold]{d['model']}[/] margin, {ccy}, as of {d['as_of']}")
    c = data_table(
        "1. collateral (haircut valuation)",
        ("asset", "amount", "price", "haircut IM", "haircut MM", "market value", "value (IM)"),
    )
    for r in d["collateral"]:
        c.add_row(
            r["asset"],
            fmt_num(r["amount"]),
            fmt_money(r["price"]),
            f"{r['haircut_im']:.2%}",
            f"{r['haircut_mm']:.2%}",
            fmt_money(r["market_value"]),
            fmt_money(r["value"]),
        )
    con.print(c)
    cols = ["instrument", "qty", "mark", "vol", "MtM", "delta"]
    has_req = any("initial_margin" in r for r in d["positions"])
    if has_req:
        cols += ["IM", "MM"]
    p = data_table(
        "2. positions (net per instrument, marked to market)", cols, fold=("instrument",)
    )  # never elide a name
    for r in d["positions"]:
        vals = [
            r["instrument"],
            fmt_num(r["quantity"]),
            fmt_num(r["mark"]),
            fmt_num(r.get("vol"), 4) if r.get("vol") is not None else "-",
            fmt_money(r["mark_to_market"]),
            fmt_num(r["delta"]),
        ]
        if has_req:
            vals += [fmt_money(r.get("initial_margin")), fmt_money(r.get("maintenance_margin"))]
        p.add_row(*vals)
    con.print(p)
    for s in d.get("scenarios", []):
        vol_states = [
            v for v in ("up", "unchanged", "down") if any(c["vol_move"] == v for c in s["cells"])
        ]
        t = data_table(
            f"3. scenario P&L — {s['underlying']} (worst marked)",
            ("spot move", *(f"vol {v}" for v in vol_states)),
        )
        moves: dict[float, dict[str, Any]] = {}
        for cell in s["cells"]:
            moves.setdefault(cell["spot_move"], {})[cell["vol_move"]] = cell
        for mv in sorted(moves):
            row = [
                fmt_pct(mv)
                + (" (tail)" if any(c["kind"] == "tail" for c in moves[mv].values()) else "")
            ]
            for v in vol_states:
                cell = moves[mv].get(v)
                if cell is None:
                    row.append("")
                else:
                    txt = fmt_money(cell["pnl"])
                    row.append(f"[bold red]{txt} ◀[/]" if cell["worst"] else txt)
            t.add_row(*row)
        con.print(t)
    print_account(con, d)


def print_prices(con: Console, rows: list[dict[str, Any]]) -> None:
    """Price and Greeks."""
    t = data_table(
        "price and Greeks (per unit of underlying)",
        ("instrument", "quote", "price", "delta", "gamma", "vega", "theta", "vol", "forward"),
        left=("instrument", "quote"),
        fold=("instrument",),  # never elide a name
    )
    for r in rows:
        t.add_row(
            r["instrument"],
            r["quote_currency"],
            f"{r['price']:.8g}",
            f"{r['delta']:.6g}",
            f"{r['gamma']:.6g}",
            f"{r['vega']:.6g}",
            f"{r['theta']:.6g}",
            f"{r['vol']:.4f}" if r["vol"] is not None else "-",
            fmt_money(r["forward"]),
        )
    con.print(t)
    seen: set[tuple[str, str]] = set()
    for r in rows:
        fresh = [w for w in r.get("warnings", []) if (w["code"], w["path"]) not in seen]
        seen.update((w["code"], w["path"]) for w in fresh)
        print_warnings(con, fresh)


def print_whatif(con: Console, d: dict[str, Any]) -> None:
    """Before/after of a hypothetical trade."""
    trades = ", ".join(f"{t['instrument']} {t['quantity']:+g}" for t in d["trades"])
    t = data_table(
        f"{d['account']} — what if: {trades} ({d['model']})", ("", "before", "after", "change")
    )
    for key in ("equity", "initial_margin", "maintenance_margin", "free_collateral"):
        ch = d["after"][key] - d["before"][key]
        t.add_row(
            key.replace("_", " "),
            fmt_money(d["before"][key]),
            fmt_money(d["after"][key]),
            fmt_money(ch),
        )
    t.add_row("status", _status(d["before"]["status"]), _status(d["after"]["status"]), "")
    con.print(t)
    verdict = "[green]allowed[/]" if d["allowed"] else "[red]not allowed[/]"
    con.print(f"{verdict}: {d['reason']}")
    print_warnings(con, d.get("warnings", []))
