"""``margin``, ``explain`` and ``compare``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from crossmargin.account.report import account_dict
from crossmargin.cli.app import app
from crossmargin.cli.common import (
    ConfigOpt,
    Format,
    FormatOpt,
    HistoryOpt,
    MarketOpt,
    ModelOpt,
    PortfolioArg,
    console,
    load_inputs,
)
from crossmargin.cli.errors import handle_errors
from crossmargin.cli.files import OutputFiles
from crossmargin.cli.output import dumps
from crossmargin.cli.render import print_account, print_comparison, print_explain
from crossmargin.comparison import comparison_dict
from crossmargin.engine import (
    COMPARE_MODELS,
    OPTIONAL_COMPARE_MODELS,
    compare,
    compute_margin,
)
from crossmargin.errors import InputError, ModelError
from crossmargin.explain import explain_dict
from crossmargin.margin.base import model_info


def _one_or_many(items: list[dict[str, object]]) -> object:
    return items[0] if len(items) == 1 else {"accounts": items}


@app.command()
@handle_errors
def margin(
    portfolio: PortfolioArg,
    market: MarketOpt,
    model: ModelOpt = "portfolio",
    config: ConfigOpt = None,
    fmt: FormatOpt = Format.table,
    plot: Annotated[
        Path | None, typer.Option("--plot", help="Write scenario P&L heat maps to this PNG file")
    ] = None,
    history: HistoryOpt = None,
) -> None:
    """Initial and maintenance margin, equity and status of each account."""
    model_info(model)
    with OutputFiles() as files:
        files.declare("--plot", plot, suffixes=(".png",))
        pfs, prefixes, snap, cfg = load_inputs(portfolio, market, config, history)
        res = compute_margin(
            pfs, snap, model=model, config=cfg, detail=plot is not None, prefixes=prefixes
        )
        if plot is not None:
            if res.batch.scenario_pnl is None:
                raise InputError(
                    f"needs a scenario-based model; {model!r} has no scenario grid", path="--plot"
                )
            from crossmargin.plot import plot_scenarios

            files.stage("--plot", lambda p: plot_scenarios(res, p))
            files.commit()
    items = [account_dict(res, i) for i in range(res.n)]
    if fmt is Format.json:
        print(dumps(_one_or_many(items)))
        return
    con = console()
    for d in items:
        print_account(con, d)
    if plot is not None:
        con.print(f"scenario heat maps written to {plot}")


@app.command()
@handle_errors
def explain(
    portfolio: PortfolioArg,
    market: MarketOpt,
    model: ModelOpt = "portfolio",
    config: ConfigOpt = None,
    fmt: FormatOpt = Format.table,
    history: HistoryOpt = None,
) -> None:
    """Break a margin down: collateral haircuts, positions, scenarios, add-ons, totals."""
    model_info(model)
    pfs, prefixes, snap, cfg = load_inputs(portfolio, market, config, history)
    res = compute_margin(pfs, snap, model=model, config=cfg, detail=True, prefixes=prefixes)
    items = [explain_dict(res, i) for i in range(res.n)]
    if fmt is Format.json:
        print(dumps(_one_or_many(items)))
        return
    con = console()
    for d in items:
        print_explain(con, d)
        if d.get("model_detail"):
            from crossmargin.cli.cmd_risk import print_model_detail

            print_model_detail(con, d["model_detail"])
        con.print("[bold]derivation[/]")
        for line in d["derivation"]:
            con.print(f"  {line}")
        con.print()


@app.command("compare")
@handle_errors
def compare_cmd(
    portfolio: PortfolioArg,
    market: MarketOpt,
    config: ConfigOpt = None,
    fmt: FormatOpt = Format.table,
    models: Annotated[
        str | None,
        typer.Option(
            "--models",
            "--presets",
            help="Comma-separated models or venue presets to compare "
            f"(default: {','.join(COMPARE_MODELS)}; var/es are shown when price history covers the book)",
        ),
    ] = None,
    history: HistoryOpt = None,
) -> None:
    """Isolated vs cross vs portfolio (and VaR/ES) side by side: requirements, capital freed."""
    names = (
        list(COMPARE_MODELS)
        if models is None
        else [m.strip() for m in models.split(",") if m.strip()]
    )
    if not names:
        raise InputError("no models given", path="--models")
    if len(set(names)) != len(names):
        twice = next(m for m in names if names.count(m) > 1)
        raise InputError(f"{twice!r} is given twice", path="--models")
    for m in names:
        try:
            model_info(m)
        except ModelError as exc:
            raise InputError(exc.reason, path="--models") from None
    pfs, prefixes, snap, cfg = load_inputs(portfolio, market, config, history)
    unavailable: dict[str, str] = {}
    results = compare(
        pfs,
        snap,
        models=names,
        config=cfg,
        prefixes=prefixes,
        optional=OPTIONAL_COMPARE_MODELS if models is None else (),
        unavailable=unavailable,
    )
    n = next(iter(results.values())).n
    items = [comparison_dict(results, i, unavailable=unavailable) for i in range(n)]
    if fmt is Format.json:
        print(dumps(_one_or_many(items)))
        return
    con = console()
    for d in items:
        print_comparison(con, d)
