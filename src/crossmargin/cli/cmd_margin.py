"""``margin``, ``explain`` and ``compare``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

from crossmargin.account.health import AccountResults
from crossmargin.account.report import account_dict
from crossmargin.cli.common import (
    ConfigOpt,
    Format,
    FormatOpt,
    HistoryOpt,
    ModelOpt,
    StaleOpt,
    console,
    name_list,
)
from crossmargin.cli.errors import handle_errors
from crossmargin.cli.files import OutputFiles
from crossmargin.cli.lazy import command_set
from crossmargin.cli.output import dumps
from crossmargin.cli.render import print_account, print_comparison, print_explain
from crossmargin.cli.sources import (
    AsOfOpt,
    CheckOpt,
    FromOpt,
    Inputs,
    MapOpt,
    OptMarketOpt,
    PortfolioFiles,
    SourceOptions,
    load_command_inputs,
    print_check,
    print_netting,
    print_notes,
    print_offsets,
)
from crossmargin.engine import (
    COMPARE_MODELS,
    compare,
    compute_margin,
)
from crossmargin.errors import InputError, ModelError
from crossmargin.instruments.position import Portfolio
from crossmargin.margin.base import model_info

app = command_set()  # this module's commands (crossmargin.cli.lazy loads it on use)


def _print_json(items: list[dict[str, Any]], extra: dict[str, Any]) -> None:
    """The accounts' JSON (``extra`` added to the first): one object, or ``{"accounts": [...]}``."""
    items[0].update(extra)
    print(dumps(items[0] if len(items) == 1 else {"accounts": items}))


@dataclass(frozen=True, slots=True)
class _Book:
    """The loaded inputs of a command and the accounts it margins."""

    inp: Inputs
    #: The accounts to margin: the file's, or a venue book's whole account then its parts.
    portfolios: list[Portfolio]
    #: How many of them are reported (a venue book's parts come after its whole account).
    n_out: int

    @property
    def prefixes(self) -> list[str] | None:
        """The accounts' paths in the input (``None`` when they are not the file's)."""
        return self.inp.prefixes if len(self.portfolios) == len(self.inp.prefixes) else None


def _load_book(
    portfolio: list[Path] | None,
    market: Path | None,
    config: Path | None,
    history: Path | None,
    sources: SourceOptions,
    *,
    venue_parts: bool,
) -> _Book:
    """Load and check every input of ``margin``/``explain``/``compare`` before computing.

    ``venue_parts``: margin each venue's part of an account spread over venues too.
    """
    inp = load_command_inputs(portfolio, market, config, history, sources)
    vb = inp.venue_book
    if vb is None:
        return _Book(inp, inp.portfolios, len(inp.portfolios))
    return _Book(inp, vb.portfolios if venue_parts else vb.portfolios[:1], 1)


def _venue_extras(inp: Inputs, res: AccountResults, check: bool) -> dict[str, Any]:
    """``check`` rows and import notes added to the first account's output."""
    out: dict[str, Any] = {}
    if check and inp.imported is not None and inp.venue_book is not None:
        from crossmargin.crossvenue import check_dict  # venue imports only (start-up of margin)

        out["check"] = check_dict(inp.imported.reported, res, inp.venue_book, inp.snapshot)
        if not out["check"]:
            inp.notes.append(
                "--check: the export has no account figures (add the venue's account or "
                "balance response)"
            )
    if inp.imported is not None:
        out["import_notes"] = list(inp.notes)
    return out


@app.command()
@handle_errors
def margin(
    portfolio: PortfolioFiles = None,
    market: OptMarketOpt = None,
    model: ModelOpt = "portfolio",
    config: ConfigOpt = None,
    fmt: FormatOpt = Format.table,
    plot: Annotated[
        Path | None, typer.Option("--plot", help="Write scenario P&L heat maps to this PNG file")
    ] = None,
    history: HistoryOpt = None,
    allow_stale: StaleOpt = False,
    from_: FromOpt = None,
    check: CheckOpt = False,
    as_of: AsOfOpt = None,
    feed_map: MapOpt = None,
) -> None:
    """Initial and maintenance margin, equity and status of each account."""
    model_info(model)
    with OutputFiles() as files:
        files.declare("--plot", plot, suffixes=(".png",))
        book = _load_book(
            portfolio, market, config, history, SourceOptions(from_, check, as_of, feed_map, allow_stale),
            venue_parts=check,
        )  # fmt: skip
        inp = book.inp
        res = compute_margin(
            book.portfolios,
            inp.snapshot,
            model=model,
            config=inp.config,
            detail=plot is not None,
            prefixes=book.prefixes,
        )
        if plot is not None:
            if res.batch.scenario_pnl is None:
                raise InputError(
                    f"needs a scenario-based model; {model!r} has no scenario grid", path="--plot"
                )
            from crossmargin.plot import plot_scenarios

            files.stage("--plot", lambda p: plot_scenarios(res, p))
            files.commit()
    items = [account_dict(res, i) for i in range(book.n_out)]
    extra = _venue_extras(inp, res, check)
    if fmt is Format.json:
        _print_json(items, extra)
        return
    con = console()
    for d in items:
        print_account(con, d)
    if "check" in extra:
        print_check(con, extra["check"])
    print_notes(con, inp.notes)
    if plot is not None:
        con.print(f"scenario heat maps written to {plot}")


@app.command()
@handle_errors
def explain(
    portfolio: PortfolioFiles = None,
    market: OptMarketOpt = None,
    model: ModelOpt = "portfolio",
    config: ConfigOpt = None,
    fmt: FormatOpt = Format.table,
    history: HistoryOpt = None,
    allow_stale: StaleOpt = False,
    from_: FromOpt = None,
    check: CheckOpt = False,
    as_of: AsOfOpt = None,
    feed_map: MapOpt = None,
) -> None:
    """Break a margin down: collateral haircuts, positions, scenarios, add-ons, totals.

    For an account spread over venues, also where cross-venue netting comes from: per
    underlying, each venue's net delta and IM alone beside the whole account's.
    """
    model_info(model)
    book = _load_book(
        portfolio, market, config, history, SourceOptions(from_, check, as_of, feed_map, allow_stale),
        venue_parts=True,
    )  # fmt: skip
    inp, vb = book.inp, book.inp.venue_book
    res = compute_margin(
        book.portfolios,
        inp.snapshot,
        model=model,
        config=inp.config,
        detail=True,
        prefixes=book.prefixes,
    )
    from crossmargin.crossvenue import netting_dict, offsets_dict
    from crossmargin.explain import explain_dict

    items = [explain_dict(res, i) for i in range(book.n_out)]
    extra = _venue_extras(inp, res, check)
    if vb is not None and len(vb.portfolios) > 1:
        extra["cross_venue_offsets"] = offsets_dict(res, vb)
        extra["cross_venue"] = netting_dict({model: res}, vb)
    if fmt is Format.json:
        _print_json(items, extra)
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
    if "cross_venue_offsets" in extra:
        print_netting(con, extra["cross_venue"], items[0]["account"])
        print_offsets(con, extra["cross_venue_offsets"], model)
    if "check" in extra:
        print_check(con, extra["check"])
    print_notes(con, inp.notes)


@app.command("compare")
@handle_errors
def compare_cmd(
    portfolio: PortfolioFiles = None,
    market: OptMarketOpt = None,
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
    allow_stale: StaleOpt = False,
    from_: FromOpt = None,
    check: CheckOpt = False,
    as_of: AsOfOpt = None,
    feed_map: MapOpt = None,
) -> None:
    """Isolated vs cross vs portfolio (and VaR/ES) side by side: requirements, capital freed.

    For an account spread over venues (several --from exports, or venue labels in the file),
    also each venue margining its part alone against one cross-venue account.
    """
    names = list(COMPARE_MODELS) if models is None else name_list(models, "--models", "models")
    for m in names:
        try:
            model_info(m)
        except ModelError as exc:
            raise InputError(exc.reason, path="--models") from None
    book = _load_book(
        portfolio, market, config, history, SourceOptions(from_, check, as_of, feed_map, allow_stale),
        venue_parts=True,
    )  # fmt: skip
    inp, vb = book.inp, book.inp.venue_book
    unavailable: dict[str, str] = {}
    # every model is tried: one that cannot margin the book (a preset that does not cover an
    # instrument, var/es without history) is a column with its reason, not the end of the run
    results = compare(
        book.portfolios,
        inp.snapshot,
        models=names,
        config=inp.config,
        prefixes=book.prefixes,
        optional=names,
        unavailable=unavailable,
    )
    if not results:  # every one failed: the first one's own error, naming its field
        compare(book.portfolios, inp.snapshot, models=names[:1], config=inp.config,
                prefixes=book.prefixes, optional=())  # fmt: skip
        raise InputError(unavailable[names[0]], path="--models")  # pragma: no cover
    from crossmargin.comparison import comparison_dict
    from crossmargin.crossvenue import netting_dict

    items = [comparison_dict(results, i, unavailable=unavailable) for i in range(book.n_out)]
    # the venue's own figures are compared with the portfolio model (else the first column)
    extra = _venue_extras(inp, results.get("portfolio", next(iter(results.values()))), check)
    if vb is not None and len(vb.portfolios) > 1:
        extra["cross_venue"] = netting_dict(results, vb)
    if fmt is Format.json:
        _print_json(items, extra)
        return
    con = console()
    for d in items:
        print_comparison(con, d, order=names if models is not None else None)
    if "cross_venue" in extra:
        print_netting(con, extra["cross_venue"], items[0]["account"])
    if "check" in extra:
        print_check(con, extra["check"])
    print_notes(con, inp.notes)
