"""``presets`` and ``venue-case``: venue methodology presets and the venues' own test cases."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from rich.table import Table

from crossmargin.cli.common import Format, FormatOpt, console
from crossmargin.cli.errors import EXIT_INTERNAL, handle_errors
from crossmargin.cli.files import OutputFiles, write_text
from crossmargin.cli.lazy import command_set
from crossmargin.cli.output import dumps, fmt_num
from crossmargin.cli.render import data_table
from crossmargin.errors import InputError
from crossmargin.margin.presets import available_presets, preset_info

app = command_set()  # this module's commands (crossmargin.cli.lazy loads it on use)


@app.command()
@handle_errors
def presets(
    name: Annotated[
        str | None, typer.Argument(help="Show one preset in full (with its parameters)")
    ] = None,
    fmt: FormatOpt = Format.table,
) -> None:
    """List the venue methodology presets: source, what each covers and what is unpublished."""
    if name is not None:
        info = preset_info(name)
        d = info.as_dict(params=True)
        if fmt is Format.json:
            print(dumps(d))
            return
        con = console()
        con.print(f"[bold]{info.name}[/] — {info.venue}: {info.title}")
        con.print(f"status: {info.status}")
        for key, title in (
            ("sources", "sources"),
            ("covers", "covers"),
            ("gaps", "gaps / unpublished"),
        ):
            con.print(f"[bold]{title}[/]")
            for item in d[key]:
                con.print(f"  - {item}")
        con.print("[bold]default parameters[/] (override under presets.<name> in --config)")
        con.print(yaml.safe_dump(d["parameters"], sort_keys=False).rstrip())
        return
    items = [preset_info(n).as_dict() for n in available_presets()]
    if fmt is Format.json:
        print(dumps(items))
        return
    t = Table(title="venue methodology presets (use with --model / compare --presets)")
    for col in ("preset", "venue", "status", "covers", "not published / not modelled"):
        t.add_column(col, overflow="fold")
    for d in items:
        t.add_row(d["name"], d["venue"], d["status"], "\n".join(d["covers"]), "\n".join(d["gaps"]))
    console().print(t)


class Venue(StrEnum):
    """Venues whose own test-case layout ``venue-case`` reads."""

    derive = "derive-pmrm2"
    span = "span"


class Vols(StrEnum):
    """Vol source of a Derive case."""

    svi = "svi"
    mark = "mark"


@app.command("venue-case")
@handle_errors
def venue_case(
    venue: Annotated[Venue, typer.Argument(help="derive-pmrm2 or span")],
    case: Annotated[
        Path,
        typer.Argument(
            help="A venue case file (Derive portfolio-case JSON; SPAN: crossmargin-span-1 JSON)",
            show_default=False,
        ),
    ],
    fmt: FormatOpt = Format.table,
    vols: Annotated[
        Vols,
        typer.Option(
            "--vols", help="Derive: evaluate the feed's SVI (as the contract) or use MarkVol"
        ),
    ] = Vols.svi,
    via_engine: Annotated[
        bool,
        typer.Option(
            "--via-engine/--direct-only",
            help="Derive: also run the translated portfolio + snapshot through `margin`",
        ),
    ] = True,
    underlying: Annotated[
        str, typer.Option("--underlying", help="Derive: symbol of the case's base market")
    ] = "BASE",
    emit_portfolio: Annotated[
        Path | None,
        typer.Option("--emit-portfolio", help="Derive: write the translated portfolio JSON"),
    ] = None,
    emit_market: Annotated[
        Path | None,
        typer.Option("--emit-market", help="Derive: write the translated snapshot JSON"),
    ] = None,
    emit_config: Annotated[
        Path | None,
        typer.Option(
            "--emit-config", help="Derive: write the risk configuration YAML (case parameters)"
        ),
    ] = None,
    check: Annotated[
        bool,
        typer.Option(
            "--check", help="Exit with code 1 if a compared value is outside the tolerance"
        ),
    ] = False,
) -> None:
    """Run a venue's own test case; print our numbers beside the file's expected values."""
    emits = {"--emit-portfolio": emit_portfolio, "--emit-market": emit_market,
             "--emit-config": emit_config}  # fmt: skip
    if venue is Venue.span:
        given = [opt for opt, path in emits.items() if path is not None]
        if given:
            raise InputError("applies to derive-pmrm2 cases only", path=given[0])
        d = _span_case(case)
    else:
        with OutputFiles() as files:
            for opt, path in emits.items():
                files.declare(opt, path)
            d = _derive_case(case, vols.value, via_engine, underlying, files)
    if fmt is Format.json:
        print(dumps(d))
    elif venue is Venue.span:
        _print_span(d)
    else:
        _print_derive(d)
    if check and d["ok"] is False:
        raise typer.Exit(EXIT_INTERNAL)


def _derive_case(
    path: Path, vols: str, via_engine: bool, underlying: str, files: OutputFiles
) -> dict[str, Any]:
    from crossmargin.venues.derive.case import VolSource, load_case
    from crossmargin.venues.derive.compare import compare_case
    from crossmargin.venues.derive.report import case_report_dict, engine_check
    from crossmargin.venues.derive.translate import case_to_files

    c = load_case(path)
    v: VolSource = "mark" if vols == "mark" else "svi"
    report = compare_case(c, vols=v)
    eng = engine_check(c, vols=v, underlying=underlying) if via_engine else None
    d = case_report_dict(report, engine=eng, case=str(path))
    if files.declared:  # written only once everything computed
        pf, mk, cfg = case_to_files(c, underlying=underlying, vols=v)
        for opt, obj, as_yaml in (
            ("--emit-portfolio", pf, False),
            ("--emit-market", mk, False),
            ("--emit-config", cfg, True),
        ):
            if opt in files.declared:
                text = (
                    yaml.safe_dump(obj, sort_keys=False) if as_yaml else json.dumps(obj, indent=2)
                )
                files.stage(opt, write_text(text + "\n"))
        files.commit()
    return d


def _span_case(path: Path) -> dict[str, Any]:
    from crossmargin.venues.span.files import load_span_file, run_span_file
    from crossmargin.venues.span.report import span_report_dict

    return span_report_dict(run_span_file(load_span_file(path)), case=str(path))


def _fmt_rel(x: float | None) -> str:
    return "-" if x is None else f"{x:.2e}"


def _verdict(ok: bool | None) -> str:
    return "-" if ok is None else ("[green]ok[/]" if ok else "[red]MISMATCH[/]")


def _print_derive(d: dict[str, Any]) -> None:
    con = console()
    con.print(f"[bold]derive-pmrm2[/] venue case {d['case']} — {d['sign_convention']}")
    t = data_table(
        "margin (cash units, signed surplus)", ("", "ours", "expected", "rel diff", "verdict")
    )
    checks = [(key.upper(), d[key]) for key in ("mm", "im")] + [(c["name"], c) for c in d["checks"]]
    for name, c in checks:
        t.add_row(
            name,
            f"{c['ours']:.10f}",
            "-" if c["expected"] is None else f"{c['expected']:.10f}",
            _fmt_rel(c["rel_diff"]),
            _verdict(c["ok"]),
        )
    if "engine" in d and "error" in d["engine"]:
        t.add_row("via margin", d["engine"]["error"], "", "", "")
    elif "engine" in d:
        e = d["engine"]
        t.add_row("MM via margin", f"{e['mm']:.10f}", "", _fmt_rel(e["mm_rel_diff_vs_direct"]), "")
        t.add_row("IM via margin", f"{e['im']:.10f}", "", _fmt_rel(e["im_rel_diff_vs_direct"]), "")
    con.print(t)
    s = data_table(
        f"scenario P&L (worst: {d['worst']}; minSPAN {fmt_num(d['min_span'], 6)})",
        ("#", "spot", "vol", "dampening", "P&L", "expected", "rel diff", "verdict"),
        left=(),
    )
    for r in d["scenarios"]:
        s.add_row(
            str(r["index"]),
            f"{r['spot_shock']:g}",
            r["vol"],
            f"{r['dampening']:.6g}",
            f"{r['pnl']:.9f}",
            "-" if r["expected"] is None else f"{r['expected']:.9f}",
            _fmt_rel(r["rel_diff"]),
            _verdict(r["ok"]),
        )
    con.print(s)
    k = data_table(
        "contingencies (reported negative, as the venue does) and factors", ("item", "value")
    )
    for name, val in d["contingencies"].items():
        k.add_row(name, f"{val:.9f}")
    k.add_row("ForwardContingency", f"{d['forward_contingency']:.9f}")
    k.add_row("MM loss factor", f"{d['factor_mm']:g}")
    k.add_row("IM loss factor (incl. peg)", f"{d['factor_im']:g}")
    k.add_row("mark value (totalMtM + cash)", f"{d['mark_value']:.9f}")
    con.print(k)
    for note in d["notes"]:
        con.print(f"note: {note}")
    con.print(f"verdict: {_verdict(d['ok'])}")


def _print_span(d: dict[str, Any]) -> None:
    con = console()
    con.print(f"[bold]SPAN[/] risk-parameter file {d['case']} ({d['currency']}) {d['source']}")
    for a in d["accounts"]:
        t = data_table(
            f"{a['account']} — per combined commodity",
            (
                "CC",
                "scan",
                "active",
                "intra",
                "spot",
                "inter credit",
                "SOM",
                "risk",
                "initial",
                "NOV",
            ),
        )
        for r in a["combined_commodities"]:
            t.add_row(
                r["combined_commodity"],
                fmt_num(r["scan_risk"], 2),
                str(r["active_scenario"]),
                fmt_num(r["intra_commodity_charge"], 2),
                fmt_num(r["spot_month_charge"], 2),
                fmt_num(r["inter_commodity_credit"], 2),
                fmt_num(r["short_option_minimum"], 2),
                fmt_num(r["risk"], 2),
                fmt_num(r["initial"], 2),
                fmt_num(r["net_option_value"], 2),
            )
        con.print(t)
        c = data_table(f"{a['account']} — totals", ("", "ours", "expected", "verdict"))
        for name, chk in a["checks"].items():
            c.add_row(
                name,
                fmt_num(chk["ours"], 4),
                "-" if chk["expected"] is None else fmt_num(chk["expected"], 4),
                _verdict(chk["ok"]),
            )
        con.print(c)
    con.print(f"verdict: {_verdict(d['ok'])}")
