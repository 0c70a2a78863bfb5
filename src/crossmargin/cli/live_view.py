"""Rendering of ``crossmargin monitor``: the live terminal view, event lines, the summary.

Three outputs over the same data (events as JSON objects, the engine's accounts):

* :class:`LiveView` — on a terminal: accounts ordered by margin ratio with status colours, the
  latest events, feed freshness, tick-to-event latency, progress; redrawn at most 10 times a
  second (a replay is not slowed down by its own display);
* :func:`event_line` — one plain line per event (``--format table`` into a file or a pipe);
* :func:`print_summary` — the final tables.
"""

from __future__ import annotations

import time
from collections import Counter, deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.panel import Panel
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from crossmargin.cli.output import fmt_money, fmt_num
from crossmargin.cli.render import data_table, status_markup

__all__ = ["LatencyStats", "LiveView", "event_line", "print_summary"]

_EVENT_STYLE = {
    "margin_call": "yellow",
    "liquidation": "red",
    "liquidation_trade": "red",
    "bankrupt": "bold red",
    "recovered": "green",
    "reduce_only": "dark_orange",
    "market_data_stale": "magenta",
    "market_data_fresh": "cyan",
    "feed_gap": "magenta",
    "sweep_mismatch": "bold white on red",
    "input_refused": "dim",
}
_RATIO_WIDTH = 9


def _f(v: Any, digits: int = 3) -> str:
    return fmt_num(v, digits) if isinstance(v, int | float) else "-"


def _m(v: Any) -> str:
    return fmt_money(v) if isinstance(v, int | float) else "-"


def _cause(ev: Mapping[str, Any]) -> str:
    cause = ev.get("cause")
    if not isinstance(cause, Mapping):
        return ""
    parts = []
    for key in ("kind", "feed", "underlying", "asset", "policy", "reason"):
        v = cause.get(key)
        if v not in (None, ""):
            parts.append(str(v))
    if isinstance(cause.get("update_seq"), int):
        parts.append(f"#{cause['update_seq']}")
    ws = cause.get("worst_scenario")
    if isinstance(ws, Mapping) and (ws.get("scenario") or ws.get("label")):
        parts.append(f"worst: {ws.get('scenario') or ws.get('label')}")
    return " ".join(parts)


def _age(clock: str, last: str) -> str:
    """``clock − last`` (ISO instants) as ``1h05m`` / ``42s``; ``-`` when unknown."""
    if not clock or not last:
        return "-"
    secs = int((datetime.fromisoformat(clock) - datetime.fromisoformat(last)).total_seconds())
    if secs < 60:
        return f"{secs}s"
    h, m = divmod(secs // 60, 60)
    return f"{h}h{m:02d}m" if h else f"{m}m"


def event_line(ev: Mapping[str, Any]) -> str:
    """One plain-text line of an event (no colour, fixed field order)."""
    before, after = ev.get("status_before"), ev.get("status_after")
    status = f"{before or '-'} -> {after or '-'}" if (before or after) else ""
    cells = [
        str(ev.get("time", "")),
        f"{ev.get('type', '')}",
        str(ev.get("account") or "-"),
        status,
        f"equity {_m(ev.get('equity'))}" if ev.get("equity") is not None else "",
        f"IM {_m(ev.get('im'))}" if ev.get("im") is not None else "",
        f"MM {_m(ev.get('mm'))}" if ev.get("mm") is not None else "",
        f"ratio {_f(ev.get('margin_ratio'))}" if ev.get("margin_ratio") is not None else "",
        _cause(ev),
    ]
    return "  ".join(c for c in cells if c)


@dataclass
class LatencyStats:
    """Tick-to-event latencies (wall time per applied update), kept in a bounded ring."""

    size: int = 100_000
    _ring: deque[int] = field(default_factory=deque)
    count: int = 0
    worst_ns: int = 0

    def add(self, ns: int) -> None:
        """Record one latency."""
        if len(self._ring) >= self.size:
            self._ring.popleft()
        self._ring.append(ns)
        self.count += 1
        self.worst_ns = max(self.worst_ns, ns)

    def quantiles_ms(self) -> dict[str, float]:
        """``{p50, p99, max}`` in milliseconds (empty before the first update)."""
        if not self._ring:
            return {}
        a = np.fromiter(self._ring, dtype=np.float64) / 1e6
        return {
            "p50": float(np.quantile(a, 0.5)),
            "p99": float(np.quantile(a, 0.99)),
            "max": self.worst_ns / 1e6,
        }

    def describe(self) -> str:
        """``p50 … ms · p99 … ms · max … ms``."""
        q = self.quantiles_ms()
        if not q:
            return "-"
        return f"p50 {q['p50']:.2f} ms · p99 {q['p99']:.2f} ms · max {q['max']:.2f} ms"


@dataclass
class FeedInfo:
    """Freshness of one feed as the view shows it."""

    last_seq: int | None = None
    last_time: str = ""
    gaps: int = 0
    stale: bool = False


class LiveView:
    """The live terminal view of a replay (a rich ``Live`` display).

    Parameters
    ----------
    console
        Where to draw.
    title
        Header line.
    total
        Number of updates in the stream (for the progress bar; ``None``: a live stream).
    rows
        Accounts shown (the lowest margin ratios).
    """

    def __init__(self, console: Console, *, title: str, total: int | None, rows: int = 12) -> None:
        self.console = console
        self.title = title
        self.total = total
        self.rows = rows
        self.done = 0
        self.kinds: Counter[str] = Counter()
        self.counts: Counter[str] = Counter()
        self.events: deque[Mapping[str, Any]] = deque(maxlen=10)
        self.feeds: dict[str, FeedInfo] = {}
        self.latency = LatencyStats()
        self.clock = ""
        self.accounts: Sequence[Mapping[str, Any]] = ()
        self._live = Live(console=console, auto_refresh=False, transient=False)
        self._last_draw = 0.0

    def __enter__(self) -> LiveView:
        self._live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._live.update(self._render(), refresh=True)
        self._live.__exit__(None, None, None)

    def record(
        self,
        kind: str,
        time_text: str,
        events: Sequence[Mapping[str, Any]],
        latency_ns: int,
        feed: tuple[str, int | None] | None,
    ) -> None:
        """Take one step of the replay into account."""
        self.done += 1
        self.kinds[kind] += 1
        self.clock = max(self.clock, time_text)
        if kind != "skipped":
            self.latency.add(latency_ns)
        if feed is not None and kind == "applied":
            info = self.feeds.setdefault(feed[0], FeedInfo())
            info.last_seq = feed[1]
            info.last_time = time_text
            info.stale = False
        for ev in events:
            t = str(ev.get("type"))
            self.counts[t] += 1
            self.events.append(ev)
            cause = ev.get("cause")
            name = cause.get("feed") if isinstance(cause, Mapping) else None
            if t in ("feed_gap", "market_data_stale", "market_data_fresh") and name:
                info = self.feeds.setdefault(str(name), FeedInfo())
                if t == "feed_gap":
                    info.gaps += 1
                else:
                    info.stale = t == "market_data_stale"

    def due(self) -> bool:
        """Whether a redraw is due (at most 10 per second)."""
        return time.monotonic() - self._last_draw >= 0.1

    def draw(self, accounts: Sequence[Mapping[str, Any]]) -> None:
        """Redraw with the given accounts (lowest margin ratio first)."""
        self.accounts = accounts[: self.rows]
        self._live.update(self._render(), refresh=True)
        self._last_draw = time.monotonic()

    # -- parts --------------------------------------------------------------------------------------
    def _render(self) -> RenderableType:
        head = Table.grid(expand=True)
        head.add_column(ratio=3)
        head.add_column(justify="right", ratio=2)
        done = f"{self.done}/{self.total} updates" if self.total else f"{self.done} updates"
        skipped = f" ({self.kinds['skipped']} already applied)" if self.kinds["skipped"] else ""
        head.add_row(Text(self.title, style="bold"), Text(f"clock {self.clock or '-'}"))
        bar = ProgressBar(total=max(self.total, 1) if self.total else None, completed=self.done)
        head.add_row(bar, Text(done + skipped))
        counts = " · ".join(
            f"[{_EVENT_STYLE.get(k, 'white')}]{k} {v}[/]" for k, v in sorted(self.counts.items())
        )
        lat = f"tick-to-event latency {self.latency.describe()}"
        return Group(
            Panel(Group(head, Text.from_markup(counts or "no events yet"), Text(lat))),
            self._accounts_table(),
            self._events_table(),
            self._feeds_table(),
        )

    def _accounts_table(self) -> Table:
        return _accounts_table(
            "accounts by margin ratio (lowest first)", self.accounts, frozen=True, expand=True
        )

    def _events_table(self) -> Table:
        t = data_table(
            "latest events",
            ("seq", "time", "type", "account", "status", "equity", "MM", "cause"),
            right=("seq", "equity", "MM"),
            expand=True,
        )
        for ev in reversed(self.events):
            style = _EVENT_STYLE.get(str(ev.get("type")), "white")
            before, after = ev.get("status_before"), ev.get("status_after")
            t.add_row(
                str(ev.get("seq", "")),
                str(ev.get("time", "")),
                f"[{style}]{ev.get('type')}[/]",
                str(ev.get("account") or "-"),
                f"{before or '-'} → {after or '-'}" if (before or after) else "",
                _m(ev.get("equity")),
                _m(ev.get("mm")),
                _cause(ev),
            )
        return t

    def _feeds_table(self) -> Table:
        t = data_table(
            "feeds",
            ("feed", "last seq", "last source time", "age", "gaps", "state"),
            right=("last seq", "age", "gaps"),
            expand=True,
        )
        for name, info in sorted(self.feeds.items()):
            state = "[magenta]stale[/]" if info.stale else "[green]fresh[/]"
            seq = "-" if info.last_seq is None else str(info.last_seq)
            t.add_row(
                name, seq, info.last_time or "-", _age(self.clock, info.last_time), str(info.gaps),
                state,
            )  # fmt: skip
        return t


def print_summary(
    con: Console, summary: Mapping[str, Any], latency: LatencyStats | None = None
) -> None:
    """The final tables of a replay (the ``summary`` object of ``--format json``)."""
    ticks = summary["ticks"]
    head = data_table("replay", ("field", "value"), show_header=False)
    head.add_row("tick file", str(ticks["file"]))
    for key in ("read", "applied", "skipped", "refused"):
        head.add_row(f"updates {key}", str(ticks[key]))
    head.add_row("resumed from the database", "yes" if summary["resumed"] else "no")
    head.add_row("engine clock", str(summary.get("clock") or "-"))
    if latency is not None:
        head.add_row("tick-to-event latency", latency.describe())
    con.print(head)
    ev = data_table("events", ("type", "count"))
    for k, v in sorted(summary["events"].items()):
        ev.add_row(f"[{_EVENT_STYLE.get(k, 'white')}]{k}[/]", str(v))
    if summary["events"]:
        con.print(ev)
    acc = summary["accounts"]
    st = data_table(f"accounts ({acc['total']})", ("status", "accounts"))
    for k, v in acc["by_status"].items():
        st.add_row(status_markup(k), str(v))
    con.print(st)
    worst = summary.get("worst") or []
    if worst:
        con.print(_accounts_table("lowest margin ratios", worst, frozen=False))


def _accounts_table(
    title: str, accounts: Sequence[Mapping[str, Any]], *, frozen: bool, **options: Any
) -> Table:
    """Accounts with their status (``frozen``: frozen ones marked), equity, IM, MM, margin ratio."""
    t = data_table(
        title,
        ("account", "status", "equity", "IM", "MM", "margin ratio"),
        left=("account", "status"),
        **options,
    )
    for a in accounts:
        mark = " [magenta](frozen)[/]" if frozen and a.get("frozen") else ""
        t.add_row(
            str(a.get("account")),
            status_markup(str(a.get("status"))) + mark,
            _m(a.get("equity")),
            _m(a.get("initial_margin")),
            _m(a.get("maintenance_margin")),
            _f(a.get("margin_ratio")),
        )
    return t
