"""``monitor``: replay a tick file through the live engine and print its events.

Exit codes: 0 the replay ran (margin calls and liquidations are events, not errors); 2 bad
input — accounts, market, configuration or any line of the tick file — one line on stderr and
nothing written (the tick file is validated in full before the engine opens the database);
1 an internal error, or the final full sweep disagreed with the incremental state.
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, TextIO

import typer

from crossmargin._time import format_instant
from crossmargin.cli.common import (
    ConfigOpt,
    Format,
    FormatOpt,
    MarketOpt,
    ModelOpt,
    console,
    load_risk_config,
)
from crossmargin.cli.errors import EXIT_INTERNAL, fail, handle_errors
from crossmargin.cli.lazy import command_set
from crossmargin.cli.live_view import LatencyStats, LiveView, event_line, print_summary
from crossmargin.cli.output import dumps_line
from crossmargin.cli.progress import ProgressOpt, progress_bar, show_progress
from crossmargin.errors import CrossMarginError, InputError
from crossmargin.io.market import load_market
from crossmargin.io.portfolio import load_portfolios
from crossmargin.live.engine import LiveEngine
from crossmargin.live.monitor import Resume, Step, replay, with_ids
from crossmargin.live.records import MarketUpdate, NewAccount, Update
from crossmargin.live.results import AccountView
from crossmargin.live.settings import AutoLiquidate
from crossmargin.live.sources import STDIN, TickFormat, iter_updates
from crossmargin.live.volproxy import EWMAVolProxy
from crossmargin.margin.base import model_info
from crossmargin.market.snapshot import MarketSnapshot

app = command_set()  # this module's commands (crossmargin.cli.lazy loads it on use)


class VolRuleChoice(StrEnum):
    """How a CSV of closes moves vols."""

    none = "none"
    ewma = "ewma"


def _pyth_ids(specs: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for i, spec in enumerate(specs):
        fid, sep, name = spec.partition("=")
        if not sep or not fid.strip() or not name.strip():
            raise InputError(f"{spec!r} is not ID=SYMBOL[/QUOTE][@SOURCE]", path=f"--map[{i}]")
        out[fid.strip().lower().removeprefix("0x")] = name.strip()
    return out


def _stream(
    ticks: Path,
    fmt: TickFormat | None,
    feed: str,
    ids: Mapping[str, str],
    vol_rule: VolRuleChoice,
    snap: MarketSnapshot,
) -> Iterator[tuple[Update, str]]:
    rule = None
    if vol_rule == VolRuleChoice.ewma:
        rule = EWMAVolProxy({s: a.vol for s, a in snap.assets.items() if a.vol is not None})
    return iter_updates(ticks, format=fmt, feed=feed, pyth_ids=ids, vol_rule=rule)


def _validate(stream: Iterator[tuple[Update, str]]) -> int:
    """Read the whole stream once (bounded memory): a bad line fails before anything is written."""
    n = 0
    for _ in stream:
        n += 1
    return n


def _account_row(v: AccountView) -> dict[str, Any]:
    return {
        "account": v.account,
        "status": v.reported_status or v.status,
        "equity": v.equity,
        "initial_margin": v.initial_margin,
        "maintenance_margin": v.maintenance_margin,
        "margin_ratio": v.margin_ratio,
        "frozen": v.frozen,
    }


def _new_sqlite_file(db: str | None) -> Path | None:
    """The SQLite file ``db`` names when it does not exist yet (``None``: anything else)."""
    if db is None:
        return None
    text = db.removeprefix("sqlite:///")
    if "://" in text:
        return None
    path = Path(text).expanduser()
    return None if path.exists() else path


def _feed_of(u: Update) -> tuple[str, int | None] | None:
    return (u.feed, u.seq) if isinstance(u, MarketUpdate) else None


_MAX_REFUSALS = 100


class _Run:
    """Counters of a replay and its plain (non-live) output."""

    def __init__(self, engine: LiveEngine, fmt: Format, printing: bool, out: TextIO) -> None:
        self.engine = engine
        self.fmt = fmt
        self.printing = printing
        self.out = out
        self.kinds: Counter[str] = Counter()
        self.counts: Counter[str] = Counter()
        self.latency = LatencyStats()
        self.refusals: list[dict[str, object]] = []

    def events(self, events: Sequence[Mapping[str, Any]]) -> None:
        for ev in events:
            self.counts[str(ev.get("type"))] += 1
            if self.printing:
                line = dumps_line(ev) if self.fmt == Format.json else event_line(ev)
                self.out.write(line + "\n")

    def step(self, step: Step) -> None:
        self.kinds[step.kind] += 1
        if step.kind != "skipped":
            self.latency.add(step.latency_ns)
        self.events(step.events)
        if step.kind == "refused":
            u = step.update
            what = f"{u.feed} #{u.seq}" if isinstance(u, MarketUpdate) else type(u).__name__
            row = {"update": step.index + 1, "time": format_instant(u.time), "input": what}
            row["reason"] = step.reason or ""
            if len(self.refusals) < _MAX_REFUSALS:
                self.refusals.append(row)
            if self.printing and self.fmt == Format.table and not step.events:
                # refused without an event of its own (a duplicate or late feed message)
                self.out.write(f"{row['time']}  refused  {what}  {row['reason']}\n")

    def rows(self, n: int | None = None) -> list[dict[str, Any]]:
        views = self.engine.accounts()
        return [_account_row(v) for v in (views if n is None else views[:n])]

    def summary(
        self, file: str, total: int | None, *, resumed: bool, opened: int
    ) -> dict[str, Any]:
        views = self.rows()
        e = self.engine
        return {
            "type": "summary",
            "ticks": {
                "file": file,
                "total": total,
                "read": sum(self.kinds.values()),
                "applied": self.kinds["applied"],
                "skipped": self.kinds["skipped"],
                "refused": self.kinds["refused"],
            },
            "resumed": resumed,
            "accounts_opened": opened,
            "clock": format_instant(e.now),
            "journal_seq": e.seq,
            "events": dict(sorted(self.counts.items())),
            "accounts": {
                "total": len(views),
                "by_status": dict(sorted(Counter(str(v["status"]) for v in views).items())),
                "frozen": sum(1 for v in views if v["frozen"]),
            },
            "insurance_fund": e.insurance_fund,
            "stale_assets": e.stale_assets,
            "worst": views[:10],
            "refusals": self.refusals,
        }


@app.command()
@handle_errors
def monitor(
    accounts: Annotated[
        Path,
        typer.Argument(
            help='Portfolio JSON of the venue\'s accounts (one account or {"accounts": [...]})',
            show_default=False,
        ),
    ],
    market: MarketOpt,
    ticks: Annotated[
        Path,
        typer.Option(
            "--ticks",
            "-t",
            help="Tick file: JSON Lines of updates, Pyth records or a CSV of closes; - reads "
            "standard input (a live stream, e.g. a Pyth Hermes SSE stream piped in)",
            show_default=False,
        ),
    ],
    db: Annotated[
        str | None,
        typer.Option(
            "--db",
            help="Store URL or SQLite file (journal, snapshots, events); a second run on the "
            "same database resumes where the first stopped",
        ),
    ] = None,
    model: ModelOpt = "portfolio",
    config: ConfigOpt = None,
    auto_liquidate: Annotated[
        AutoLiquidate,
        typer.Option("--auto-liquidate", help="Liquidate accounts below maintenance"),
    ] = "off",
    fmt: FormatOpt = Format.table,
    quiet: Annotated[
        bool,
        typer.Option("--quiet", "-q", help="Only the final summary: no events, no progress bar"),
    ] = False,
    progress: ProgressOpt = None,
    tick_format: Annotated[
        TickFormat | None,
        typer.Option("--tick-format", help="Tick file format (default: from the file name)"),
    ] = None,
    feed: Annotated[
        str, typer.Option("--feed", help="Feed id of the updates of a CSV of closes")
    ] = "closes",
    vol_rule: Annotated[
        VolRuleChoice,
        typer.Option(
            "--vol-rule",
            help="CSV of closes: move each asset's vol with its prices (ewma: RiskMetrics EWMA "
            "realised-vol proxy seeded at the snapshot's vol)",
        ),
    ] = VolRuleChoice.none,
    pyth_map: Annotated[
        list[str] | None,
        typer.Option("--map", help="Pyth feed id = SYMBOL[/QUOTE][@SOURCE] (repeatable)"),
    ] = None,
    heartbeat: Annotated[
        float | None,
        typer.Option(
            "--heartbeat",
            help="Seconds a feed may stay silent (and a price may age) before the accounts it "
            "values are frozen and flagged stale (default: the configuration's "
            "market.max_age_seconds)",
            min=0.001,
        ),
    ] = None,
    limit: Annotated[
        int | None,
        typer.Option("--limit", help="Apply at most this many updates, then stop", min=0),
    ] = None,
    live: Annotated[
        bool | None,
        typer.Option(
            "--live/--no-live",
            help="Live terminal view (default: on a terminal with --format table)",
        ),
    ] = None,
) -> None:
    """Replay a tick file through the live engine: events as they happen, then a summary.

    Every account of ACCOUNTS is opened in the engine, then every update of the tick file is
    applied in order; each margin call, liquidation, recovery, stale feed or feed gap is
    printed as it happens (--format json: one JSON object per line, each with a "type"; the
    last line is the summary). With --db the engine journals every input before applying it;
    a second run on the same database resumes from the stored state and skips what was
    already applied.

    Exit codes: 0 done; 2 bad input (one line on stderr, nothing written); 1 internal error or
    a full-sweep mismatch.
    """
    model_info(model)
    cfg = load_risk_config(config)
    if heartbeat is not None:  # one knob: a feed's heartbeat is also its prices' maximum age
        cfg = cfg.model_copy(
            update={"market": cfg.market.model_copy(update={"max_age_seconds": heartbeat})}
        )
    snap = load_market(market)
    portfolios, _ = load_portfolios(accounts)
    ids = _pyth_ids(pyth_map or [])
    live_stream = str(ticks) == STDIN
    # a file is validated in full before anything is written; a live stream line by line
    total = (
        None if live_stream else _validate(_stream(ticks, tick_format, feed, ids, vol_rule, snap))
    )
    out = sys.stdout
    con = console()
    use_live = (live if live is not None else out.isatty()) and fmt == Format.table and not quiet

    created = _new_sqlite_file(db)
    try:
        engine = LiveEngine.open(
            market=snap,
            config=cfg,
            model=model,
            store_url=db,
            auto_liquidate=auto_liquidate,
            heartbeat=heartbeat,
            accounts=portfolios,
        )
    except CrossMarginError:
        # an account the market cannot margin: the database this run created goes again
        if created is not None:
            for suffix in ("", "-wal", "-shm", "-journal"):
                Path(f"{created}{suffix}").unlink(missing_ok=True)
        raise
    with engine:
        resume = Resume.of(engine) if engine.seq > 0 else None
        missing = (
            [] if resume is None else [p for p in portfolios if p.account not in resume.accounts]
        )
        first: list[dict[str, object]] = []
        for ack in engine.apply_many([NewAccount(p, engine.now) for p in missing]):
            if not ack.accepted:
                raise InputError(ack.reason or "refused", path=ack.path or str(accounts))
            first.extend(e.to_obj() for e in ack.events)
        located = _stream(ticks, tick_format, feed, ids, vol_rule, snap)
        # a file's id-less account updates get <file>#<line> (a resumed run reads the same
        # file again); a live stream's cannot: its lines are not replayed
        stream = (u for u, _ in located) if live_stream else with_ids(located, prefix=ticks.name)
        run = _Run(engine, fmt, not (quiet or use_live), out)
        run.events(first)
        steps = replay(engine, stream, limit=limit, resume=resume)
        if use_live:
            title = f"crossmargin monitor — {'stdin' if live_stream else ticks.name} — {model}"
            with LiveView(con, title=title, total=total) as view:
                for step in steps:
                    run.step(step)
                    view.record(
                        step.kind,
                        format_instant(step.update.time),
                        step.events,
                        step.latency_ns,
                        _feed_of(step.update),
                    )
                    if view.due():
                        view.draw(run.rows(view.rows))
                view.draw(run.rows(view.rows))
        else:
            # the bar is drawn on stderr; by default not when the events go to the same terminal
            bar = progress_bar(
                show_progress(progress, quiet)
                and (progress is not None or not (run.printing and out.isatty())),
                counter="{task.completed} updates"
                if total is None
                else "{task.completed}/{task.total}",
            )
            with bar:
                task = bar.add_task("replay", total=total)
                for step in steps:
                    run.step(step)
                    bar.advance(task)
        complete = limit is None or run.kinds["applied"] + run.kinds["refused"] < limit
        sweep = engine.sweep() if complete else None
        if sweep is not None:
            run.events([e.to_obj() for e in sweep.events])
        name = "<stdin>" if live_stream else ticks.name
        summary = run.summary(name, total, resumed=resume is not None, opened=len(missing))
        summary["sweep"] = (
            None
            if sweep is None
            else {
                "accounts": sweep.accounts,
                "mismatches": list(sweep.mismatches),
                "max_abs_diff": sweep.max_abs_diff,
            }
        )
    if fmt == Format.json:
        out.write(dumps_line(summary) + "\n")
    else:
        print_summary(con, summary, run.latency)
    if sweep is not None and sweep.mismatches:
        raise fail(
            f"engine: the full sweep differs from the incremental state for "
            f"{len(sweep.mismatches)} account(s)",
            EXIT_INTERNAL,
        )
