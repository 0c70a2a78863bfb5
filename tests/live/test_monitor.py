"""``crossmargin monitor`` end to end: the crash replay through the live engine.

Most runs use 150 accounts of the bundled 2020-03 crash venue (the full 1 000 run once, in a
subprocess, as the README writes it); every run replays all 180 real Bitstamp closes.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from crossmargin.cli.app import app
from crossmargin.io.market import load_market
from crossmargin.live.engine import LiveEngine
from crossmargin.live.replay import example_dir

EX = example_dir("crash_2020_03")
HEARTBEAT = "10800"  # 2-hour bars: a feed is stale after 3 hours without a print
EVENT_KEYS = {
    "seq", "time", "type", "account", "status_before", "status_after", "equity", "im", "mm",
    "margin_ratio", "cause",
}  # fmt: skip


def invoke(*args: str | Path) -> Any:
    return CliRunner().invoke(app, [str(a) for a in args])


@dataclass(frozen=True)
class Venue:
    accounts: Path
    market: Path
    ticks: Path


@pytest.fixture(scope="module")
def venue(tmp_path_factory: pytest.TempPathFactory) -> Venue:
    """150 accounts of the crash venue and every tick (account updates of others dropped; the
    deposits lose their ids, so a resumed run must not apply them twice on its own)."""
    d = tmp_path_factory.mktemp("venue")
    accounts = json.loads((EX / "accounts.json").read_text())["accounts"][:150]
    names = {a["account"] for a in accounts} | {"dip-buyer"}
    (d / "accounts.json").write_text(json.dumps({"accounts": accounts}))
    lines = []
    for line in (EX / "ticks.jsonl").read_text().splitlines():
        o = json.loads(line)
        if "account" in o and o["account"] not in names:
            continue
        if o["type"] == "deposit":
            o.pop("id")
        lines.append(json.dumps(o))
    (d / "ticks.jsonl").write_text("\n".join(lines) + "\n")
    return Venue(d / "accounts.json", EX / "market.json", d / "ticks.jsonl")


def monitor(v: Venue, *extra: str | Path, ticks: Path | None = None) -> Any:
    return invoke(
        "monitor", v.accounts, "--market", v.market, "--ticks", ticks or v.ticks,
        "--heartbeat", HEARTBEAT, *extra,
    )  # fmt: skip


def lines(text: str) -> list[dict[str, Any]]:
    out = [
        json.loads(x, parse_constant=lambda c: pytest.fail(f"non-strict JSON {c}"))
        for x in text.splitlines()
    ]
    return out


@pytest.fixture(scope="module")
def json_run(venue: Venue, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    db = tmp_path_factory.mktemp("db") / "full.sqlite"
    r = monitor(venue, "--format", "json", "--db", db)
    assert r.exit_code == 0, r.stderr
    return r.stdout, db


def test_json_lines_events_then_summary(json_run: tuple[str, Path]) -> None:
    out = lines(json_run[0])
    *events, summary = out
    assert summary["type"] == "summary"
    assert all(e["type"] != "summary" and set(e) == EVENT_KEYS for e in events)
    assert [e["seq"] for e in events] == sorted(e["seq"] for e in events)
    t = summary["ticks"]
    assert (t["total"], t["read"], t["skipped"]) == (183, 183, 0)
    assert t["applied"] + t["refused"] == 183
    assert summary["accounts"]["total"] == 151  # 150 + the dip buyer who opened during the replay
    assert summary["sweep"]["mismatches"] == []
    assert sum(summary["events"].values()) == len(events)


def test_margin_calls_and_liquidations_during_the_crash(json_run: tuple[str, Path]) -> None:
    events = lines(json_run[0])[:-1]
    crash = Counter(e["type"] for e in events if "2020-03-12T08" <= e["time"] <= "2020-03-13T12")
    assert crash["margin_call"] >= 10 and crash["liquidation"] >= 10
    for e in events:
        if e["type"] in ("margin_call", "liquidation"):
            assert e["account"] and e["status_after"] == e["type"]
            assert e["equity"] is not None and e["mm"] > 0
            assert e["cause"]["kind"] in (
                "market",
                "trade",
                "deposit",
                "withdrawal",
                "account",
                "open",
            )
    # the cause of a tick's events names the tick's feed and underlying
    tick = next(e for e in events if e["type"] == "liquidation" and e["cause"]["kind"] == "market")
    assert tick["cause"]["feed"] == "bitstamp" and tick["cause"]["underlying"] == "BTC"


def test_determinism(venue: Venue, json_run: tuple[str, Path]) -> None:
    """Same inputs, same JSON Lines: an in-memory run equals the journaled one."""
    r = monitor(venue, "--format", "json")
    assert r.exit_code == 0, r.stderr
    assert r.stdout == json_run[0]


def test_resume_from_the_database(venue: Venue, json_run: tuple[str, Path], tmp_path: Path) -> None:
    """Stop after 60 updates, run again on the same database: the two runs print exactly the
    events of one uninterrupted run, and the final states are equal."""
    db = tmp_path / "resumed.sqlite"
    first = monitor(venue, "--format", "json", "--db", db, "--limit", "60")
    assert first.exit_code == 0, first.stderr
    *ev1, s1 = lines(first.stdout)
    assert s1["ticks"]["applied"] + s1["ticks"]["refused"] == 60 and s1["sweep"] is None
    second = monitor(venue, "--format", "json", "--db", db)
    assert second.exit_code == 0, second.stderr
    *ev2, s2 = lines(second.stdout)
    assert s2["resumed"] is True and s2["ticks"]["skipped"] == 60
    *full, summary = lines(json_run[0])
    assert ev1 + ev2 == full
    assert s2["accounts"] == summary["accounts"] and s2["journal_seq"] == summary["journal_seq"]
    snap = load_market(venue.market)
    with (
        LiveEngine.open(market=snap, store_url=str(db)) as a,
        LiveEngine.open(market=snap, store_url=str(json_run[1])) as b,
    ):
        assert a.state_digest() == b.state_digest()
    # a third run has nothing left to do
    third = monitor(venue, "--format", "json", "--db", db)
    *ev3, s3 = lines(third.stdout)
    assert ev3 == [] and s3["ticks"]["skipped"] == 183


def test_table_output(venue: Venue) -> None:
    r = monitor(venue, "--format", "table")
    assert r.exit_code == 0, r.stderr
    assert "margin_call  acct-" in r.stdout and "healthy -> margin_call" in r.stdout
    assert "accounts (151)" in r.stdout and "lowest margin ratios" in r.stdout
    assert "tick-to-event latency" in r.stdout


def test_quiet_and_live_view(venue: Venue) -> None:
    q = monitor(venue, "--quiet", "--format", "json")
    assert q.exit_code == 0 and len(q.stdout.splitlines()) == 1
    live = monitor(venue, "--live")
    assert live.exit_code == 0, live.stderr
    for part in ("accounts by margin ratio", "latest events", "feeds", "bitstamp", "p99"):
        assert part in live.stdout


def test_progress_bar_on_stderr_and_quiet_turns_it_off(venue: Venue) -> None:
    n = len(venue.ticks.read_text().splitlines())
    r = monitor(venue, "--format", "json", "--progress")
    assert r.exit_code == 0, r.stderr
    assert "replay" in r.stderr and f"{n}/{n}" in r.stderr  # the bar's final state, once
    assert lines(r.stdout)[-1]["type"] == "summary"  # stdout: JSON lines only
    plain = monitor(venue, "--format", "json")  # stderr not a terminal: no bar by default
    assert plain.exit_code == 0 and plain.stderr == "" and plain.stdout == r.stdout
    q = monitor(venue, "--format", "json", "--progress", "--quiet")
    assert q.exit_code == 0 and q.stderr == "" and len(q.stdout.splitlines()) == 1


def test_bad_tick_file_exits_2_and_writes_nothing(venue: Venue, tmp_path: Path) -> None:
    text = venue.ticks.read_text().splitlines()
    bad = json.loads(text[149])
    bad["price"] = float("nan")
    text[149] = json.dumps(bad)
    ticks = tmp_path / "bad.jsonl"
    ticks.write_text("\n".join(text) + "\n")
    db = tmp_path / "never.sqlite"
    r = monitor(venue, "--db", db, ticks=ticks)
    assert r.exit_code == 2
    assert r.stderr.strip() == f"error: {ticks}:150.price: must be a finite number, got NaN"
    assert r.stdout == "" and not db.exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--tick-format", "pyth"], "unknown field in a Pyth price update"),
        (["--model", "nope"], "unknown"),
        (["--map", "abc"], "ID=SYMBOL"),
        (["--heartbeat", "0"], "0"),
    ],
)
def test_bad_options_exit_2(venue: Venue, args: list[str], message: str, tmp_path: Path) -> None:
    r = monitor(venue, *args, "--db", tmp_path / "x.sqlite")
    assert r.exit_code == 2
    assert message in r.stderr and not (tmp_path / "x.sqlite").exists()


def test_csv_closes_with_the_vol_proxy(venue: Venue) -> None:
    """The raw Bitstamp closes replayed directly, vols from the EWMA proxy: the same margin
    calls as the prepared JSON Lines (which were built from them the same way)."""
    r = monitor(
        venue, "--format", "json", "--vol-rule", "ewma", "--feed", "bitstamp",
        ticks=EX / "btcusd_2h.csv",
    )  # fmt: skip
    assert r.exit_code == 0, r.stderr
    *events, s = lines(r.stdout)
    assert s["ticks"]["total"] == 181
    assert Counter(e["type"] for e in events)["liquidation"] > 0


def test_readme_command_in_a_subprocess() -> None:
    """The README's one-line command on the full 1 000-account venue (real exit code)."""
    exe = Path(sys.executable).with_name("crossmargin")
    p = subprocess.run(
        [str(exe), "monitor", str(EX / "accounts.json"), "--market", str(EX / "market.json"),
         "--ticks", str(EX / "ticks.jsonl"), "--heartbeat", HEARTBEAT, "--format", "json"],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert p.returncode == 0, p.stderr
    *events, summary = lines(p.stdout)
    assert summary["accounts"]["total"] == 1001
    crash = Counter(e["type"] for e in events if e["time"].startswith(("2020-03-12", "2020-03-13")))
    assert crash["margin_call"] > 50 and crash["liquidation"] > 50


def hermes_stream() -> str:
    """The Bitstamp closes as a Pyth Hermes SSE stream (``data:`` lines, blank separators)."""
    btc = "e62df6c8b4a85fe1a67db44dc12de5db330f7ac66b72dc658afedf0f4a415b43"
    out = []
    for row in (EX / "btcusd_2h.csv").read_text().splitlines()[2:]:
        when, close = row.split(",")
        ts = int(datetime.fromisoformat(when.replace("Z", "+00:00")).timestamp())
        mant = round(float(close) * 1e8)
        rec = {"id": btc, "price": {"price": str(mant), "conf": str(mant // 2000), "expo": -8,
                                    "publish_time": ts}}  # fmt: skip
        out.append("data: " + json.dumps({"parsed": [rec]}))
    return "\n\n".join(out) + "\n"


def test_pyth_records_drive_the_engine(venue: Venue, tmp_path: Path) -> None:
    """Prices with a confidence, ordered by publish time (no sequence numbers)."""
    ticks = tmp_path / "hermes.txt"
    ticks.write_text(hermes_stream())
    r = monitor(venue, "--format", "json", "--tick-format", "pyth", ticks=ticks)
    assert r.exit_code == 0, r.stderr
    *events, s = lines(r.stdout)
    assert s["ticks"]["total"] == 180 and s["ticks"]["refused"] == 0
    assert any(e["type"] == "liquidation" and e["cause"].get("feed") == "pyth" for e in events)


def test_ftx_replay() -> None:
    ex = example_dir("ftx_2022_11")
    r = invoke(
        "monitor", ex / "accounts.json", "--market", ex / "market.json", "--ticks",
        ex / "ticks.jsonl", "--heartbeat", "129600", "--format", "json",
    )  # fmt: skip
    assert r.exit_code == 0, r.stderr
    *events, s = lines(r.stdout)
    assert s["sweep"]["mismatches"] == [] and s["accounts"]["frozen"] == 0
    crash = Counter(e["type"] for e in events if "2022-11-09" <= e["time"] <= "2022-11-11")
    assert crash["liquidation"] > 20 and crash["margin_call"] > 20
    underlyings = {e["cause"].get("underlying") for e in events if e["type"] == "liquidation"}
    assert {"BTC", "ETH"} <= underlyings


def test_accounts_the_market_cannot_margin_exit_2_and_leave_no_database(
    venue: Venue, tmp_path: Path
) -> None:
    accounts = tmp_path / "accounts.json"
    accounts.write_text(
        json.dumps({"account": "x", "collateral": {"USD": 100},
                    "positions": [{"instrument": "SOL-PERP", "quantity": 1}]})
    )  # fmt: skip
    db = tmp_path / "live.sqlite"
    r = invoke("monitor", accounts, "-m", venue.market, "--ticks", venue.ticks, "--db", db)
    assert r.exit_code == 2
    assert r.stderr.strip() == "error: assets.SOL: no market data for SOL (needed by SOL-PERP)"
    assert list(tmp_path.iterdir()) == [accounts]


def test_gaps_duplicates_and_late_messages_are_reported(venue: Venue, tmp_path: Path) -> None:
    rows = venue.ticks.read_text().splitlines()
    # line 10 sent twice, 20 and 21 swapped, 30 lost
    damaged = [*rows[:10], rows[9], *rows[10:19], rows[20], rows[19], *rows[21:29], *rows[30:]]
    ticks = tmp_path / "damaged.jsonl"
    ticks.write_text("\n".join(damaged) + "\n")
    r = monitor(venue, "--format", "json", ticks=ticks)
    assert r.exit_code == 0, r.stderr
    *events, s = lines(r.stdout)
    gaps = [e["cause"]["missing"] for e in events if e["type"] == "feed_gap"]
    assert gaps == [1, 1]  # 21 before it arrived late, 30 lost
    reasons = [x["reason"] for x in s["refusals"]]
    assert len(reasons) == 2 and "resent" in reasons[0] and "arrived late" in reasons[1]
    table = monitor(venue, ticks=ticks)
    assert "refused  bitstamp #11  bitstamp: seq 11 resent" in table.stdout


def test_a_live_stream_on_standard_input(venue: Venue) -> None:
    """``--ticks -``: a Pyth SSE stream piped in, read as it comes (a subprocess: real stdin)."""
    exe = Path(sys.executable).with_name("crossmargin")
    args = [str(exe), "monitor", str(venue.accounts), "--market", str(venue.market), "--ticks",
            "-", "--tick-format", "pyth", "--heartbeat", HEARTBEAT, "--format", "json"]  # fmt: skip
    p = subprocess.run(
        args, input=hermes_stream(), capture_output=True, text=True, timeout=600, check=False
    )
    assert p.returncode == 0, p.stderr
    *events, s = lines(p.stdout)
    assert s["ticks"]["file"] == "<stdin>" and s["ticks"]["total"] is None
    assert s["ticks"]["applied"] == 180 and s["sweep"]["mismatches"] == []
    assert any(e["type"] == "liquidation" for e in events)
    # a bad line stops a live stream where it is (what came before it was applied)
    bad = subprocess.run(
        args, input=hermes_stream() + "data: {oops\n", capture_output=True, text=True,
        timeout=600, check=False,
    )  # fmt: skip
    assert bad.returncode == 2
    assert bad.stderr.startswith("error: <stdin>:360: not valid JSON")
    assert len(bad.stderr.strip().splitlines()) == 1
