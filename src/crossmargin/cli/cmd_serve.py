"""``serve``: the risk service (HTTP API, event stream, dashboard) over the live engine."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Annotated, Literal

import typer

from crossmargin.cli.errors import fail, handle_errors
from crossmargin.cli.lazy import command_set
from crossmargin.errors import InputError

app = command_set()  # this module's commands (crossmargin.cli.lazy loads it on use)

_DEMO = ("live", "crash_2020_03")
#: The demo's history is 2-hourly: a feed may stay silent 3 hours (as in its monitor replay).
_DEMO_HEARTBEAT = 10800.0
#: The banner's crash: BTC 8 753 -> 4 800 with vol up, an hour after the demo market's as_of.
_DEMO_CRASH = (
    '{"type":"market","feed":"demo","time":"2020-03-05T01:00:00Z","asset":"BTC",'
    '"price":4800,"vol":1.5}'
)


@app.command()
@handle_errors
def serve(
    db: Annotated[
        str | None,
        typer.Option(
            "--db",
            help="Store: an SQLite file (default crossmargin.db) or a postgresql:// URL; "
            "resumes the engine it holds",
        ),
    ] = None,
    market: Annotated[
        Path | None,
        typer.Option("--market", "-m", help="Opening market snapshot (a new database only)"),
    ] = None,
    accounts: Annotated[
        Path | None,
        typer.Option("--accounts", help="Opening accounts, portfolio JSON (a new database only)"),
    ] = None,
    host: Annotated[str, typer.Option("--host", help="Interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port", min=0, max=65535)] = 8000,
    demo: Annotated[
        bool,
        typer.Option(
            "--demo",
            help="Bundled example venue (1 000 accounts, BTC, 2020-03-05) on a fresh database; "
            "prints a demo admin key",
        ),
    ] = False,
    model: Annotated[
        str | None, typer.Option("--model", help="Margin model of a new engine (portfolio)")
    ] = None,
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help="Risk configuration YAML")
    ] = None,
    auto_liquidate: Annotated[
        str, typer.Option("--auto-liquidate", help="off | partial | full")
    ] = "off",
    heartbeat: Annotated[
        float | None,
        typer.Option("--heartbeat", help="Seconds a feed may stay silent before it is stale"),
    ] = None,
    sweep_every: Annotated[
        float, typer.Option("--sweep-every", help="Engine seconds between full sweeps (0: off)")
    ] = 0.0,
    clock: Annotated[
        str | None,
        typer.Option(
            "--clock",
            help="wall: the engine clock follows the wall clock (silent feeds go stale); "
            "inputs: it moves with market data only (default: wall; inputs with --demo)",
        ),
    ] = None,
    admin_key_file: Annotated[
        Path | None,
        typer.Option(
            "--admin-key-file", help="File holding the admin key (else CROSSMARGIN_ADMIN_KEY)"
        ),
    ] = None,
    read_only: Annotated[
        bool,
        typer.Option(
            "--read-only",
            help="Read replica: events and key checks from the store, no engine (any number)",
        ),
    ] = False,
    workers: Annotated[
        int,
        typer.Option("--workers", min=1, max=64, help="uvicorn worker processes (--read-only)"),
    ] = 1,
    max_body: Annotated[int, typer.Option("--max-body", help="Largest request body, bytes")] = 1
    << 20,
    secure_cookies: Annotated[
        bool, typer.Option("--secure-cookies", help="Session cookie only over HTTPS")
    ] = False,
    access_log: Annotated[
        bool, typer.Option("--access-log/--no-access-log", help="Log every request")
    ] = True,
) -> None:
    """Serve the live engine over HTTP: JSON API, event stream and the dashboard at /."""
    from crossmargin.service.config import ServiceConfig, demo_admin_key, load_admin_key
    from crossmargin.service.server import run, run_replicas

    if auto_liquidate not in ("off", "partial", "full"):
        raise InputError("must be off, partial or full", path="--auto-liquidate")
    if clock is not None and clock not in ("wall", "inputs"):
        raise InputError("must be wall or inputs", path="--clock")
    if workers > 1 and not read_only:
        raise fail(
            "--workers: one process holds the engine; several workers are read replicas "
            "(--read-only --workers N) beside one writer (see docs/service.md)"
        )
    key = load_admin_key(key_file=admin_key_file)
    demo_key = None
    if demo:
        from crossmargin.cli.cmd_info import examples_dir

        if read_only:
            raise fail("--demo starts a writer; it cannot be --read-only")
        ex = examples_dir().joinpath(*_DEMO)
        market = market or ex / "market.json"
        accounts = accounts or ex / "accounts.json"
        if db is None:
            db = str(Path(tempfile.mkdtemp(prefix="crossmargin-demo-")) / "demo.db")
        if heartbeat is None:
            heartbeat = _DEMO_HEARTBEAT
        if key is None:
            demo_key = demo_admin_key()
            key = load_admin_key(environ={"CROSSMARGIN_ADMIN_KEY": demo_key})
    if key is None and not read_only:
        print(
            "note: no admin key (CROSSMARGIN_ADMIN_KEY or --admin-key-file): only keys issued "
            "in the store are accepted",
            file=sys.stderr,
        )
    cfg = ServiceConfig(
        db=db or "crossmargin.db",
        market=market,
        accounts=accounts,
        risk_config=config,
        model=model,
        auto_liquidate=_policy(auto_liquidate),
        heartbeat=heartbeat,
        sweep_every=sweep_every,
        clock=_clock(clock, demo),
        admin_key=key,
        read_only=read_only,
        max_body_bytes=max_body,
        secure_cookies=secure_cookies,
        demo=demo,
    )
    if read_only and workers > 1:
        run_replicas(cfg, host=host, port=port, workers=workers, access_log=access_log)
        return
    from crossmargin.service.runtime import Service

    service = Service(cfg)
    service.open()  # bad files, a busy database: one clear error before the server starts
    if demo:
        _banner(cfg.db, host, port, demo_key)
    run(cfg, host=host, port=port, access_log=access_log, service=service)


def _policy(p: str) -> Literal["off", "partial", "full"]:
    return "partial" if p == "partial" else "full" if p == "full" else "off"


def _clock(c: str | None, demo: bool) -> Literal["wall", "inputs"]:
    if c is None:
        return "inputs" if demo else "wall"
    return "inputs" if c == "inputs" else "wall"


def _banner(db: str, host: str, port: int, demo_key: str | None) -> None:
    url = f"http://{host}:{port}"
    lines = [
        "",
        "crossmargin demo: 1 000 accounts of the bundled 2020-03 BTC venue",
        f"  database   {db}  (fresh; pass --db to keep one)",
        f"  dashboard  {url}/   (log in with the admin key)",
    ]
    if demo_key is not None:
        lines += [
            "  DEMO admin key (printed only because of --demo; never do this in production):",
            f"             {demo_key}",
        ]
    else:
        lines.append("  admin key  the one in CROSSMARGIN_ADMIN_KEY / --admin-key-file")
    lines += [
        "  a crash:   curl -X POST -H 'Authorization: Bearer KEY' "
        "-H 'Content-Type: application/json' \\",
        f"               -d '{_DEMO_CRASH}' {url}/v1/market",
        "",
    ]
    print("\n".join(lines), file=sys.stderr, flush=True)
