"""The golden cases: every documented command's JSON output on the bundled examples.

Each case is a command line of the ``crossmargin`` CLI (the stable public surface, run in
process) whose ``--format json`` output is stored under ``tests/golden/data/<case>.json`` by
``python tests/golden/generate.py`` and compared by ``test_golden.py``. A command that fails is
stored as its exit code (and, for information, its message).

Cases (every registered model and preset on every example book, the README's liquidation,
cascade and backtest commands, the venue test cases):

* ``margin`` and ``explain`` of each example book under each registered model;
* ``compare``, ``price`` and ``whatif`` as in the README;
* ``liquidate`` of the liquidation and venue books (policies x regimes);
* ``cascade`` of the venue accounts and of small synthetic venues (README shocks);
* ``backtest`` of two bundled books over a short window (every model);
* ``venue-case`` of the Derive and SPAN test vectors in ``tests/presets/data``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
EX = ROOT / "examples"
PRESET_DATA = ROOT / "tests" / "presets" / "data"
DATA = Path(__file__).resolve().parent / "data"

#: Example books and the snapshot each one is priced against.
BOOKS: dict[str, tuple[Path, Path]] = {
    "crypto": (EX / "crypto_book.json", EX / "market_crypto.json"),
    "hedged": (EX / "hedged_book.json", EX / "market_crypto.json"),
    "index": (EX / "index_book.json", EX / "market_index.json"),
    "liquidation": (EX / "liquidation_book.json", EX / "market_crypto.json"),
    "venue": (EX / "venue_accounts.json", EX / "market_venue.json"),
    "preset": (PRESET_DATA / "preset_book.json", EX / "market_crypto.json"),
    "perps": (
        Path(__file__).resolve().parent / "books" / "perps_book.json",
        EX / "market_crypto.json",
    ),
    "inverse": (
        Path(__file__).resolve().parent / "books" / "inverse_spot_book.json",
        EX / "market_crypto.json",
    ),
}

#: The registered models when the golden file was generated (registry order).
MODELS_FILE = DATA / "_models.json"


def models() -> list[str]:
    """Registered model names stored with the golden file."""
    return list(json.loads(MODELS_FILE.read_text()))


#: Models that read price history, and the opt-in to the bundled one (it ends 2026-03-27, before
#: the examples' as_of 2026-11-22; issue 13's freshness policy refuses it otherwise).
HISTORY_MODELS = ("var", "es")
STALE_OK = "--allow-stale-history"


def cases() -> dict[str, list[str]]:
    """Case name → CLI arguments (after ``crossmargin``)."""
    out: dict[str, list[str]] = {}
    for book, (pf, mk) in BOOKS.items():
        for m in models():
            out[f"margin-{book}-{m}"] = [
                "margin",
                str(pf),
                "-m",
                str(mk),
                "--model",
                m,
                "-f",
                "json",
            ]
            out[f"explain-{book}-{m}"] = [
                "explain", str(pf), "-m", str(mk), "--model", m, "-f", "json",
            ]  # fmt: skip
            if m in HISTORY_MODELS:  # the examples are dated after the bundled history ends
                out[f"margin-{book}-{m}"].append(STALE_OK)
                out[f"explain-{book}-{m}"].append(STALE_OK)
        out[f"compare-{book}"] = ["compare", str(pf), "-m", str(mk), "-f", "json", STALE_OK]
    crypto, mcrypto = BOOKS["crypto"]
    # without the opt-in, a stale history is refused (exit 2, naming the dates)
    out["margin-crypto-var-stale-refused"] = [
        "margin", str(crypto), "-m", str(mcrypto), "--model", "var", "-f", "json",
    ]  # fmt: skip
    venue, mvenue = BOOKS["venue"]
    liq = BOOKS["liquidation"][0]
    out["price"] = [
        "price", "BTC-26DEC26-70000-C", "BTC-26DEC26", "BTC-PERP", "-m", str(mcrypto), "-f", "json",
    ]  # fmt: skip
    out["whatif"] = [
        "whatif", str(crypto), "-m", str(mcrypto), "--trade", "BTC-26DEC26-80000-C:-2",
        "--trade", "BTC-PERP:1@65000", "-f", "json",
    ]  # fmt: skip
    for policy in ("partial", "full"):
        out[f"liquidate-liquidation-{policy}"] = [
            "liquidate", str(liq), "-m", str(mcrypto), "--policy", policy, "-f", "json",
        ]  # fmt: skip
        for m in ("portfolio", "cross", "isolated"):
            out[f"liquidate-venue-{policy}-{m}"] = [
                "liquidate", str(venue), "-m", str(mvenue), "--policy", policy, "--model", m,
                "-f", "json",
            ]  # fmt: skip
    out["cascade-venue-moves"] = [
        "cascade", str(venue), "-m", str(mvenue), "--shock", "BTC=-0.2,vol=0.5", "-f", "json",
    ]  # fmt: skip
    out["cascade-venue-moves-full"] = [
        "cascade", str(venue), "-m", str(mvenue), "--shock", "*=-0.3", "--policy", "full",
        "-f", "json",
    ]  # fmt: skip
    out["cascade-synthetic-file"] = [
        "cascade", "synthetic:1500:7", "-m", str(mvenue), "--shock", str(EX / "shock_crash.json"),
        "-f", "json",
    ]  # fmt: skip
    out["cascade-synthetic-history"] = [
        "cascade", "synthetic:1000", "-m", str(mvenue), "--shock", "history:crypto-2018",
        "-f", "json",
    ]  # fmt: skip
    out["cascade-synthetic-fixed-adl"] = [
        "cascade", "synthetic:800:3", "-m", str(mvenue), "--shock", "BTC=-0.35,ETH=-0.4,vol=0.8",
        "--collateral-mode", "fixed", "--last-resort", "adl", "--insurance-fund", "0", "-f", "json",
    ]  # fmt: skip
    out["backtest-crypto"] = [
        "backtest", "crypto_options_perps", "--mpor", "2", "--start", "2018-11-01",
        "--end", "2019-01-31", "-f", "json",
    ]  # fmt: skip
    out["backtest-mixed"] = [
        "backtest", "mixed_crypto_equity", "--mpor", "2", "--start", "2018-01-20",
        "--end", "2018-03-31", "--models", "isolated,cross,portfolio,var,es,span", "-f", "json",
    ]  # fmt: skip
    for case in sorted(PRESET_DATA.glob("derive_*.json")):
        out[f"venue-case-{case.stem}"] = ["venue-case", "derive-pmrm2", str(case), "-f", "json"]
    for case in sorted(PRESET_DATA.glob("span_*.json")):
        out[f"venue-case-{case.stem}"] = ["venue-case", "span", str(case), "-f", "json"]
    return out


#: Keys whose values are not part of the contract (wall-clock times, file locations).
VOLATILE = re.compile(r"^(seconds|elapsed|wall_time|time_s|case|source_path)$")


def run_case(args: list[str]) -> dict[str, Any]:
    """Run one CLI command in process; its JSON document (or its exit code when it fails)."""
    from typer.testing import CliRunner

    from crossmargin.cli.app import app

    res = CliRunner().invoke(app, args, catch_exceptions=False)
    if res.exit_code != 0:
        msg = (res.stderr or res.stdout or "").strip().splitlines()
        return {"exit_code": res.exit_code, "_message": msg[0] if msg else ""}
    return {"exit_code": 0, "output": _portable(json.loads(res.stdout))}


def _portable(obj: Any) -> Any:
    """Replace absolute paths of the worktree by ``<root>`` so the file is portable."""
    if isinstance(obj, dict):
        return {k: _portable(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_portable(v) for v in obj]
    if isinstance(obj, str) and str(ROOT) in obj:
        return obj.replace(str(ROOT), "<root>")
    return obj
