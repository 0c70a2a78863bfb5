"""``liquidate`` and ``cascade``: the liquidation engine and the cascade simulator."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import typer
from rich.console import Console

from crossmargin.cli.common import (
    ConfigOpt,
    Format,
    FormatOpt,
    MarketOpt,
    ModelOpt,
    console,
    load_risk_config,
    name_list,
    number_check,
)
from crossmargin.cli.errors import handle_errors
from crossmargin.cli.files import OutputFiles, write_text
from crossmargin.cli.lazy import command_set
from crossmargin.cli.output import dumps, fmt_money, fmt_num, fmt_pct
from crossmargin.cli.progress import ProgressOpt, QuietOpt, progress_bar, show_progress
from crossmargin.cli.render import data_table
from crossmargin.config.model import LastResort, LiquidationPolicy, RiskConfig
from crossmargin.errors import InputError
from crossmargin.io.market import load_market
from crossmargin.io.tables import TABLE_SUFFIXES, table_format, write_table
from crossmargin.io.venue_spec import load_venue
from crossmargin.liquidation.cascade import REGIMES, CascadeResult, CascadeSettings, run_cascade
from crossmargin.liquidation.report import (
    COMPARISON_LINES,
    cascade_dict,
    comparison_rows,
    liquidation_dict,
    venue_dict,
)
from crossmargin.liquidation.run import liquidate_book
from crossmargin.liquidation.shocks import ShockPath, parse_shock, shocked_snapshot
from crossmargin.liquidation.synthetic import CollateralMode, Venue
from crossmargin.margin.base import available_models, model_info
from crossmargin.market.snapshot import MarketSnapshot

app = command_set()  # this module's commands (crossmargin.cli.lazy loads it on use)


PolicyOpt = Annotated[
    LiquidationPolicy | None,
    typer.Option("--policy", help="full close-out or partial (default: config liquidation.policy)"),
]
FundOpt = Annotated[
    float | None,
    typer.Option(
        "--insurance-fund",
        help="Opening insurance-fund balance (default: config, else 1 % of collateral value)",
        callback=number_check(ge=0.0),
    ),
]
LastResortOpt = Annotated[
    LastResort | None,
    typer.Option("--last-resort", help="After the insurance fund (default: config)"),
]
CollateralTableOpt = Annotated[
    Path | None, typer.Option("--collateral", help="Collateral table (table venues)")
]


def _with_last_resort(cfg: RiskConfig, last: LastResort | None) -> RiskConfig:
    if last is None:
        return cfg
    liq = cfg.liquidation.model_copy(update={"last_resort": last})
    return cfg.model_copy(update={"liquidation": liq})


# -- liquidate ----------------------------------------------------------------------------------
@app.command()
@handle_errors
def liquidate(
    venue: Annotated[
        str,
        typer.Argument(
            help='Portfolio JSON (one account or {"accounts": [...]}), a positions table '
            "(with --collateral) or synthetic:N[:SEED]",
            show_default=False,
        ),
    ],
    market: MarketOpt,
    policy: PolicyOpt = None,
    model: ModelOpt = "portfolio",
    config: ConfigOpt = None,
    fmt: FormatOpt = Format.table,
    account: Annotated[
        str | None, typer.Option("--account", help="Liquidate only this account")
    ] = None,
    insurance_fund: FundOpt = None,
    last_resort: LastResortOpt = None,
    collateral: CollateralTableOpt = None,
    shock: Annotated[
        str | None,
        typer.Option(
            "--shock",
            "-s",
            help="Move the market first (the first step of any cascade --shock form)",
        ),
    ] = None,
) -> None:
    """Liquidate accounts below maintenance: plan, close-out prices, fees, insurance fund, after.

    Up to 1 000 accounts the output has one plan/before/after per account; a larger venue gets
    totals and one compact row per account touched (liquidated, deleveraged or charged).
    """
    model_info(model)
    cfg = _with_last_resort(load_risk_config(config), last_resort)
    snap = load_market(market)
    v = load_venue(venue, snap, cfg, collateral=collateral, regimes=(model,))
    book = v.book_for(model, "per-regime")
    if shock is not None:
        sh = parse_shock(
            shock, symbols=sorted(s for s in snap.assets if s != snap.base_currency), config=cfg
        )
        held = sorted({c.underlying for c in book.contracts})
        snap = shocked_snapshot(snap, sh, 0, held)
    only: list[int] | None = None
    if account is not None:
        if account not in book.accounts:
            raise InputError(f"no account {account!r} in the venue", path="--account")
        only = [book.accounts.index(account)]
    run = liquidate_book(
        book,
        snap,
        cfg,
        model=model,
        policy=policy,
        insurance_fund=insurance_fund,
        accounts=only,
    )
    if only is None and book.n_accounts > FULL_OUTPUT_LIMIT:
        doc = venue_dict(run)
        if fmt is Format.json:
            print(dumps(doc))
        else:
            _print_venue(console(), doc)
        return
    which = only if only is not None else list(range(book.n_accounts))
    items = [liquidation_dict(run, i) for i in which]
    if fmt is Format.json:
        if len(items) == 1:
            print(dumps(items[0]))
        else:
            print(
                dumps(
                    {
                        "accounts": items,
                        "insurance_fund": {"before": run.fund_before, "after": run.fund_after},
                        "conservation": run.conservation,
                    }
                )
            )
        return
    con = console()
    for d in items:
        _print_liquidation(con, d)
    _print_conservation(con, run.conservation, run.fund_before, run.fund_after)


#: Above this many accounts ``liquidate`` prints totals and compact rows (``venue_dict``).
FULL_OUTPUT_LIMIT = 1000


def _print_conservation(con: Console, c: dict[str, float], before: float, after: float) -> None:
    total = abs(c["accounts_before"]) + c["insurance_fund_before"]
    con.print(
        f"insurance fund {fmt_money(before)} → {fmt_money(after)}; "
        f"money conserved across accounts, fund, fee income, market and bad debt "
        f"(relative error {abs(c['error']) / max(total, 1.0):.1e})"
    )


def _print_venue(con: Console, d: dict[str, Any]) -> None:
    s = d["summary"]
    t = data_table(
        f"venue liquidation — {d['model']}, {d['policy']} ({s['accounts']:,} accounts)",
        ("", "value"),
    )
    for key in (
        "accounts_liquidated",
        "accounts_bankrupt",
        "accounts_deleveraged",
        "notional_closed_in_market",
        "notional_adl",
        "slippage",
        "liquidation_fees",
        "bad_debt",
        "insurance_fund_paid",
        "adl_transfer",
        "socialized_loss",
        "uncovered_bad_debt",
    ):
        x = s[key]
        t.add_row(key.replace("_", " "), f"{x:,}" if isinstance(x, int) else fmt_money(x))
    before = ", ".join(f"{k} {v:,}" for k, v in s["status_before"].items())
    after = ", ".join(f"{k} {v:,}" for k, v in s["status_after"].items())
    t.add_row("status before", before)
    t.add_row("status after", after)
    con.print(t)
    _print_conservation(
        con, d["conservation"], d["insurance_fund"]["before"], d["insurance_fund"]["after"]
    )


def _print_liquidation(con: Console, d: dict[str, Any]) -> None:
    p, b, a = d["plan"], d["before"], d["after"]
    ccy = b["base_currency"]
    t = p["trigger"]
    head = (
        f"{p['account']} — {p['model']} — status {t['status']}: maintenance equity "
        f"{fmt_money(t['maintenance_equity'])} vs MM {fmt_money(t['maintenance_margin'])} ({ccy})"
    )
    if not p["liquidated"]:
        con.print(f"{head}: not liquidated")
        return
    con.print(f"[bold]{head}[/] → {p['policy']} liquidation, scope {p['scope']}")
    if p["closes"]:
        ct = data_table(
            "close-out",
            ("instrument", "position", "closed", "mark", "price", "slippage", "fee", "via ADL"),
        )
        for r in p["closes"]:
            ct.add_row(
                r["instrument"],
                fmt_num(r["position"]),
                fmt_num(r["closed"]),
                fmt_num(r["mark"]),
                fmt_num(r["price"]) if r["price"] is not None else "-",
                fmt_money(r["slippage"]),
                fmt_money(r["fee"]),
                fmt_num(r["closed_by_adl"]) if r["closed_by_adl"] else "-",
            )
        con.print(ct)
    if p["collateral_sales"]:
        st = data_table("collateral sold", ("asset", "amount", "price", "proceeds", "cost"))
        for r in p["collateral_sales"]:
            st.add_row(
                r["asset"],
                fmt_num(r["amount"]),
                fmt_num(r["price"]),
                fmt_money(r["proceeds"]),
                fmt_money(r["cost"]),
            )
        con.print(st)
    bk = p["bankruptcy"]
    if bk and bk["bankrupt"]:
        con.print(
            f"[bold red]bankrupt[/]: deficit {fmt_money(bk['deficit'])}, insurance fund paid "
            f"{fmt_money(bk['insurance_fund_paid'])}, ADL transfer {fmt_money(bk['adl_transfer'])}, "
            f"uncovered {fmt_money(bk['uncovered'])}"
        )
    s = data_table(f"before → after ({ccy})", ("", "before", "after"))
    for key in ("equity", "maintenance_equity", "initial_margin", "maintenance_margin"):
        s.add_row(key.replace("_", " "), fmt_money(b[key]), fmt_money(a[key]))
    s.add_row("margin ratio", fmt_num(b["margin_ratio"], 3), fmt_num(a["margin_ratio"], 3))
    s.add_row("status", b["status"], a["status"])
    s.add_row("positions", str(len(b["positions"])), str(len(a["positions"])))
    con.print(s)
    c = p["costs"]
    con.print(
        f"costs: slippage {fmt_money(c['slippage'])}, liquidation fees {fmt_money(c['liquidation_fees'])}, "
        f"collateral sales {fmt_money(c['collateral_sale_costs'])}"
    )


# -- cascade ------------------------------------------------------------------------------------
@app.command()
@handle_errors
def cascade(
    venue: Annotated[
        str,
        typer.Argument(
            help="Venue: synthetic:N[:SEED], a portfolio JSON with accounts, or a positions table",
            show_default=False,
        ),
    ],
    market: MarketOpt,
    shock: Annotated[
        str,
        typer.Option(
            "--shock",
            "-s",
            help="BTC=-0.2,ETH=-0.25 | *=-0.3 | vol=0.5 | history:crypto-2018 | "
            "history:START:END | hourly[:START/END] | FILE.json",
            show_default=False,
        ),
    ],
    config: ConfigOpt = None,
    regimes: Annotated[
        str, typer.Option("--regimes", help="Comma-separated margin regimes to compare")
    ] = ",".join(REGIMES),
    policy: PolicyOpt = None,
    rounds: Annotated[
        int | None,
        typer.Option(
            "--rounds",
            help="Round limit (default: config, at least the path)",
            callback=number_check(ge=1, le=10_000),  # as liquidation.cascade.max_rounds
        ),
    ] = None,
    insurance_fund: FundOpt = None,
    last_resort: LastResortOpt = None,
    collateral: CollateralTableOpt = None,
    collateral_mode: Annotated[
        CollateralMode,
        typer.Option(
            "--collateral-mode",
            help="Synthetic venues: the same collateral in every regime (fixed) or sized per regime",
        ),
    ] = "fixed",
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write the JSON report to this file")
    ] = None,
    plot: Annotated[Path | None, typer.Option("--plot", help="Write the PNG report")] = None,
    ledger: Annotated[
        Path | None,
        typer.Option("--ledger", help="Write every ledger event (.parquet, .csv or .json)"),
    ] = None,
    fmt: FormatOpt = Format.table,
    progress: ProgressOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Liquidation cascade of a venue under a shock, isolated vs cross vs portfolio side by side."""
    names = tuple(name_list(regimes, "--regimes", "regimes"))
    known = available_models()
    for r in names:
        if r not in known:
            raise InputError(
                f"unknown regime {r!r}; available: {', '.join(known)}", path="--regimes"
            )
    with OutputFiles() as files:
        # every output is checked (and locked) before any work; written together at the end
        files.declare("--out", out, suffixes=(".json",))
        files.declare("--plot", plot, suffixes=(".png",))
        if ledger is not None:
            table_format(ledger)
        files.declare("--ledger", ledger, suffixes=TABLE_SUFFIXES)
        cfg = _with_last_resort(load_risk_config(config), last_resort)
        snap = load_market(market)
        v = load_venue(venue, snap, cfg, collateral=collateral, regimes=names)
        symbols = sorted(s for s in snap.assets if s != snap.base_currency)
        sh = parse_shock(shock, symbols=symbols, config=cfg)
        settings = CascadeSettings(
            regimes=names,
            policy=policy,
            max_rounds=rounds,
            insurance_fund=insurance_fund,
            collateral_mode=collateral_mode,
        )
        res = _run(v, snap, cfg, sh, settings, names, rounds, show_progress(progress, quiet))
        doc = cascade_dict(res)
        if out is not None:
            files.stage("--out", write_text(dumps(doc)))
        if plot is not None:
            from crossmargin.liquidation.plot import plot_cascade

            files.stage("--plot", lambda p: plot_cascade(res, p))
        if ledger is not None:
            table = pd.concat([_ledger_frame(res, r) for r in res.runs], ignore_index=True)
            cols = {c: table[c].to_numpy() for c in table.columns}
            files.stage("--ledger", lambda p: write_table(cols, p))
        files.commit()
    if fmt is Format.json:
        print(dumps(doc))
        return
    _print_cascade(console(), res, doc)
    for what, path in (("JSON report", out), ("PNG report", plot), ("ledger", ledger)):
        if path is not None and not quiet:
            console().print(f"{what} written to {path}")


def _run(
    v: Venue,
    snap: MarketSnapshot,
    cfg: RiskConfig,
    sh: ShockPath,
    settings: CascadeSettings,
    names: tuple[str, ...],
    rounds: int | None,
    show: bool,
) -> CascadeResult:
    with progress_bar(show, "round {task.completed}/{task.total}") as bar:
        tasks = {
            r: bar.add_task(
                f"{r:>10}", total=max(rounds or cfg.liquidation.cascade.max_rounds, sh.steps)
            )
            for r in names
        }

        def tick(regime: str, done: int, total: int, n_liq: int) -> None:
            bar.update(
                tasks[regime],
                completed=done,
                total=total,
                description=f"{regime:>10}: {n_liq:,} liquidated",
            )

        return run_cascade(v, snap, cfg, sh, settings=settings, progress=tick)


def _ledger_frame(res: CascadeResult, regime: str) -> pd.DataFrame:
    run = res.runs[regime]
    st = run.state
    df = run.ledger.frame(st.accounts, tuple(c.name for c in st.contracts), st.assets)
    df.insert(0, "regime", regime)
    return df


def _print_cascade(con: Console, res: CascadeResult, doc: dict[str, Any]) -> None:
    v = doc["venue"]
    con.print(
        f"[bold]cascade[/] — venue {v['name']} ({v['accounts']:,} accounts), shock "
        f"{res.shock.name}: {res.shock.description} ({res.shock.steps} step(s))"
    )
    con.print(f"collateral: {doc['settings']['collateral_assumption']}")
    rows = comparison_rows(res)
    t = data_table(
        "isolated vs cross vs portfolio under the same shock", ("", *(r["regime"] for r in rows))
    )
    fmt: dict[str, Any] = {
        "money": fmt_money, "count": lambda x: f"{x:,}", "share": lambda x: f"{x:.2%}", "int": str,
    }  # fmt: skip
    for label, key, kind in COMPARISON_LINES:
        t.add_row(label, *(fmt[kind](r[key]) for r in rows))
    for sym in res.runs[rows[0]["regime"]].symbols if rows else ():
        t.add_row(
            f"extra move {sym} (max)",
            *(fmt_pct(r["extra_move_max"].get(sym, 0.0)) for r in rows),
        )
    con.print(t)
