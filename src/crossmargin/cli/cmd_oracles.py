"""``oracles``: fetch collateral-oracle records from a file or an HTTP-JSON source."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from crossmargin._validation import read_json
from crossmargin.cli.common import (
    ConfigOpt,
    Format,
    FormatOpt,
    console,
    load_risk_config,
    number_check,
)
from crossmargin.cli.errors import handle_errors
from crossmargin.cli.files import OutputFiles, write_text
from crossmargin.cli.lazy import command_set
from crossmargin.cli.output import dumps
from crossmargin.cli.render import data_table
from crossmargin.errors import InputError
from crossmargin.io.market import market_from_obj, oracle_to_obj
from crossmargin.io.oracles import CollateralOracle, HttpJsonOracle, StaticFileOracle

app = command_set()  # this module's commands (crossmargin.cli.lazy loads it on use)

__all__ = ["oracle_source"]


def oracle_source(spec: str, *, timeout: float = 5.0) -> CollateralOracle:
    """A built-in oracle source from a file path or an ``http(s)://`` URL."""
    if spec.startswith(("http://", "https://")):
        return HttpJsonOracle(spec, timeout=timeout)
    return StaticFileOracle(Path(spec))


@app.command("oracles")
@handle_errors
def oracles_cmd(
    source: Annotated[str, typer.Argument(help="Oracle records: a JSON file or an http(s) URL")],
    symbols: Annotated[
        str | None,
        typer.Option(
            "--symbols", help="Comma-separated symbols (default: every configured oracle asset)"
        ),
    ] = None,
    market: Annotated[
        Path | None,
        typer.Option("--market", "-m", help="Snapshot to merge the records into (with --out)"),
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write the merged snapshot JSON here")
    ] = None,
    config: ConfigOpt = None,
    timeout: Annotated[
        float,
        typer.Option(
            "--timeout", help="HTTP timeout, seconds", callback=number_check(gt=0.0, le=600.0)
        ),
    ] = 5.0,
    fmt: FormatOpt = Format.table,
) -> None:
    """Fetch oracle records of oracle-valued collateral (lending deposits, vault shares, LSTs)."""
    cfg = load_risk_config(config)
    wanted = (
        list(dict.fromkeys(s.strip().upper() for s in symbols.split(",") if s.strip()))
        if symbols is not None
        else sorted(cfg.oracles.assets)
    )
    if not wanted:
        raise InputError("no symbols given", path="--symbols")
    if (market is None) != (out is None):
        raise InputError("give both --market and --out to write a merged snapshot", path="--out")
    with OutputFiles() as files:
        files.declare("--out", out)  # checked (and locked) before anything is fetched
        doc = read_json(market, what="market") if market is not None else None
        recs = oracle_source(source, timeout=timeout).fetch(wanted)
        missing = [s for s in wanted if s not in recs]
        if missing:
            raise InputError(f"no record for {', '.join(missing)}", path=source)
        items = {s: oracle_to_obj(r) for s, r in recs.items()}
        if doc is not None and out is not None:
            if not isinstance(doc, dict):
                raise InputError("a market file must be a JSON object", path=str(market))
            merged = dict(doc)
            merged["oracles"] = {**dict(doc.get("oracles") or {}), **items}
            market_from_obj(merged)  # validate before anything is written
            files.stage("--out", write_text(json.dumps(merged, indent=2)))
            files.commit()
    if fmt is Format.json:
        print(dumps(items))
        return
    t = data_table(
        f"oracle records from {source}",
        ("symbol", "value", "timestamp", "confidence", "source", "reference"),
        right=("value", "confidence", "reference"),
    )
    for s, d in items.items():
        t.add_row(
            s,
            f"{d['value']:.8g}",
            d["timestamp"],
            f"{d['confidence']:g}",
            d["source"],
            f"{d['reference']:.8g}" if "reference" in d else "-",
        )
    con = console()
    con.print(t)
    if out is not None:
        con.print(f"snapshot with {len(items)} oracle records written to {out}")
