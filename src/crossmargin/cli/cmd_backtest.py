"""``backtest``: replay books over real history under every registered margin model."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from crossmargin.cli.common import ConfigOpt, Format, FormatOpt, console, load_risk_config
from crossmargin.cli.errors import handle_errors
from crossmargin.cli.files import OutputFiles, write_bytes
from crossmargin.cli.lazy import command_set
from crossmargin.cli.output import dumps, fmt_num
from crossmargin.cli.progress import ProgressOpt, QuietOpt, progress_bar, show_progress
from crossmargin.cli.render import data_table
from crossmargin.cli.scale import ClusterOpt, RetriesOpt, WorkerMemoryOpt
from crossmargin.errors import InputError

app = command_set()  # this module's commands (crossmargin.cli.lazy loads it on use)

if TYPE_CHECKING:  # the backtest package is imported lazily, when the command runs
    from crossmargin.backtest.run import BacktestResult


class ReportKind(StrEnum):
    """Report written next to the JSON and CSV files."""

    html = "html"
    png = "png"
    none = "none"


class GapsOpt(StrEnum):
    """Treatment of windows spanning data gaps."""

    exclude = "exclude"
    include = "include"


class EngineOpt(StrEnum):
    """How days are margined."""

    auto = "auto"
    stacked = "stacked"
    per_day = "per-day"


_ZONE = {"green": "green", "yellow": "yellow", "red": "red"}


@dataclass(frozen=True, slots=True)
class _Cluster:
    """Where the (book, model) tasks run: in this process (``cluster`` None) or on a cluster."""

    cluster: str | None
    worker_memory: str | None
    retries: int
    progress: bool


def _p(x: float | None) -> str:
    return "-" if x is None else f"{x:.3f}"


def _pct(x: float | None, digits: int = 2) -> str:
    return "-" if x is None else f"{x:.{digits}%}"


def _print_summary(res: BacktestResult) -> None:
    from crossmargin.backtest.report import summary_dict, summary_row

    s = summary_dict(res)
    ev = s["data"]["evaluation"]
    # 14 columns: wider than the shared console minimum, so that no cell is cut
    con = Console(width=max(shutil.get_terminal_size((160, 40)).columns, 160), highlight=False)
    cols = (
        "model", "windows", "exceed", "rate", "Kupiec p", "p non-ovl", "CC p", "zone",
        "worst 250", "ES Z2", "peak/trough", "IM/gross", "IM/iso", "broken",
    )  # fmt: skip
    t = data_table(
        f"{s['book']['name']}: {ev['windows']} windows {ev['first']} .. {ev['last']}, "
        f"MPOR {s['settings']['mpor']}, tested at {s['settings']['confidence']:.2%}",
        cols,
        left=("model", "zone", "worst 250"),
    )
    for m in res.models:
        r = summary_row(m)
        if "error" in r:
            t.add_row(m.model, *["-"] * (len(cols) - 2), "[red]error[/]")
            continue
        z = r["zone"]
        t.add_row(
            r["model"],
            str(r["windows"]),
            str(r["exceedances"]),
            _pct(r["rate"]),
            _p(r["kupiec_p"]),
            _p(r["kupiec_p_nonoverlap"]),
            _p(r["cc_p"]),
            f"[{_ZONE.get(z, 'white')}]{z}[/]" if z else "-",
            r["worst_250"] or "-",
            _p(r["z2"]),
            fmt_num(r["peak_to_trough"], 2),
            _pct(r["margin_over_gross"]),
            _pct(r["margin_over_isolated"], 0),
            r["broken_offsets"] or "-",
        )
    con.print(t)
    dropped = s["data"]["cleaning"]["dropped"]
    partial = s["data"]["calendar"]["partial_dates_dropped"]
    con.print(
        f"data: {len(dropped)} closes dropped by cleaning"
        + (
            " ("
            + ", ".join(
                f"{d['asset']} {d['date']} {d['reason']}"
                for d in dropped
                if d["reason"] != "stale_repeat"
            )
            + ")"
            if any(d["reason"] != "stale_repeat" for d in dropped)
            else ""
        )
        + "; dates dropped for a missing series: "
        + (", ".join(f"{k} {v}" for k, v in partial.items()) or "none")
        + f"; {ev['gap_windows']} gap windows (> {ev['max_gap_days_tolerated']} missing days, "
        + f"{s['settings']['gaps']}d); {ev['warmup_dates_skipped']} warm-up dates skipped"
    )
    for m in res.models:
        if m.run is None:
            con.print(f"[red]{m.model}[/]: {m.error}")


@app.command()
@handle_errors
def backtest(
    books: Annotated[
        list[str] | None,
        typer.Argument(
            help="Backtest book JSON files, or names of bundled books (see docs/validation.md)",
            show_default=False,
        ),
    ] = None,
    models: Annotated[
        str, typer.Option("--models", help="Comma-separated registered models, or 'all'")
    ] = "all",
    mpor: Annotated[
        int, typer.Option("--mpor", help="Margin period of risk in calendar steps (1, 2, 5, ...)")
    ] = 2,
    start: Annotated[
        str | None, typer.Option("--start", help="First window start, YYYY-MM-DD")
    ] = None,
    end: Annotated[str | None, typer.Option("--end", help="Last window end, YYYY-MM-DD")] = None,
    history: Annotated[
        Path | None,
        typer.Option("--history", help="CSV/Parquet of dates x assets (default: bundled closes)"),
    ] = None,
    confidence: Annotated[
        float, typer.Option("--confidence", help="Coverage the margin is tested against")
    ] = 0.99,
    config: ConfigOpt = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", "-o", help="Directory for <book>.json, <book>_daily.csv and the report"
        ),
    ] = None,
    report: Annotated[
        ReportKind, typer.Option("--report", help="Report written into --out")
    ] = ReportKind.html,
    fmt: FormatOpt = Format.table,
    gaps: Annotated[
        GapsOpt, typer.Option("--gaps", help="Count windows spanning data gaps or not")
    ] = GapsOpt.exclude,
    engine: Annotated[
        EngineOpt, typer.Option("--engine", help="auto, stacked (all days at once) or per-day")
    ] = EngineOpt.auto,
    max_gap: Annotated[
        int,
        typer.Option("--max-gap", help="Missing days of a 7-day series a counted window may span"),
    ] = 1,
    corr_window: Annotated[
        int, typer.Option("--corr-window", help="Realised-correlation window (steps)")
    ] = 30,
    bad_prints: Annotated[
        bool, typer.Option("--bad-prints/--keep-bad-prints", help="Drop spike-and-revert prints")
    ] = True,
    stale_run: Annotated[
        int,
        typer.Option(
            "--stale-run", help="Drop repeats in runs of this many identical closes (0: off)"
        ),
    ] = 3,
    drop_print: Annotated[
        list[str] | None,
        typer.Option("--drop-print", help="Also drop ASSET:YYYY-MM-DD (repeatable)"),
    ] = None,
    cluster: ClusterOpt = None,
    worker_memory: WorkerMemoryOpt = None,
    retries: RetriesOpt = 1,
    progress: ProgressOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Backtest margin models on real history: coverage, traffic light, procyclicality, netting."""
    from crossmargin.backtest.spec import bundled_books

    if not books:
        raise InputError(
            "name at least one backtest book (bundled: " + ", ".join(bundled_books()) + ")",
            path="BOOK",
        )
    if stale_run < 0:
        raise InputError(f"must be >= 0, got {stale_run}", path="--stale-run")
    if retries < 0:
        raise InputError(f"must be >= 0, got {retries}", path="--retries")
    with OutputFiles() as files:
        files.declare_dir("--out", out)  # checked (and locked) before any work
        on = _Cluster(cluster, worker_memory, retries, show_progress(progress, quiet))
        results = _run(books, models, mpor, start, end, history, confidence, config, gaps,
                       engine, max_gap, corr_window, bad_prints, stale_run, drop_print,
                       on)  # fmt: skip
        if out is not None:
            written = _render(results, report)
            for name, data in written.items():
                files.stage("--out", write_bytes(data), name=name)
            files.commit()
    if fmt is Format.json:
        from crossmargin.backtest.report import summary_dict

        items = [summary_dict(r) for r in results]
        print(dumps(items[0] if len(items) == 1 else {"books": items}))
        return
    for r in results:
        _print_summary(r)
    if out is not None and not quiet:
        console().print(f"wrote {', '.join(sorted(written))} to {out}")


def _run(
    books: list[str],
    models: str,
    mpor: int,
    start: str | None,
    end: str | None,
    history: Path | None,
    confidence: float,
    config: Path | None,
    gaps: GapsOpt,
    engine: EngineOpt,
    max_gap: int,
    corr_window: int,
    bad_prints: bool,
    stale_run: int,
    drop_print: list[str] | None,
    on: _Cluster,
) -> list[BacktestResult]:
    from crossmargin.backtest.cleaning import CleaningRules, parse_drop
    from crossmargin.backtest.replay import ReplayOptions
    from crossmargin.backtest.run import load_history, resolve_models, run_backtest
    from crossmargin.backtest.spec import load_book

    # validate every input before computing anything
    specs = [load_book(b) for b in books]
    names = [b.name for b in specs]
    if len(set(names)) != len(names):
        raise InputError("two books have the same name", path="BOOK")
    resolve_models(models)
    cfg = load_risk_config(config)
    hist = load_history(history)
    rules = CleaningRules(
        bad_prints=bad_prints,
        stale_run=stale_run,
        user_drops=tuple(parse_drop(d) for d in drop_print or ()),
    )
    opts = ReplayOptions(
        mpor=mpor,
        start=start,
        end=end,
        cleaning=rules,
        engine=engine.value,
        max_gap_days=max_gap,
    )
    if on.cluster is None:
        out: list[BacktestResult] = []
        with progress_bar(on.progress, "{task.percentage:>3.0f}%") as bar:
            task = bar.add_task("backtest", total=len(specs))
            for i, b in enumerate(specs):

                def tick(step: str, done: int, total: int, i: int = i, name: str = b.name) -> None:
                    bar.update(task, completed=i + done / total, description=f"{name}: {step}")

                out.append(
                    run_backtest(
                        b, hist, models=models, config=cfg, options=opts, confidence=confidence,
                        gaps=gaps.value, corr_window=corr_window, progress=tick,
                    )
                )  # fmt: skip
        return out
    # one task per (book, model) on the cluster
    from crossmargin.cli.scale import cluster_executor, task_progress
    from crossmargin.scale.backtest import run_backtests

    with (
        cluster_executor(on.cluster, worker_memory=on.worker_memory) as ex,
        task_progress(on.progress) as on_task,
    ):
        return run_backtests(
            specs, hist, models=models, config=cfg, options=opts, confidence=confidence,
            gaps=gaps.value, corr_window=corr_window, executor=ex, retries=on.retries,
            progress=on_task,
        )  # fmt: skip


def _render(results: Sequence[BacktestResult], report: ReportKind) -> dict[str, bytes]:
    """Every output file's bytes, rendered before anything is written."""
    from crossmargin.backtest.charts import all_charts
    from crossmargin.backtest.html import html_report
    from crossmargin.backtest.report import daily_frame, summary_dict

    files: dict[str, bytes] = {}
    for res in results:
        name = res.replay.book.name
        files[f"{name}.json"] = dumps(summary_dict(res)).encode("utf-8")
        files[f"{name}_daily.csv"] = daily_frame(res).to_csv(index=False).encode("utf-8")
        if report is ReportKind.html:
            files[f"{name}.html"] = html_report(res).encode("utf-8")
        elif report is ReportKind.png:
            for chart, png in all_charts(res).items():
                files[f"{name}_{chart}.png"] = png
    return files
