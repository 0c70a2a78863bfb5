"""The command line: ``import``, ``--from`` on margin/compare/explain, ``--check``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from .helpers import DATA, invoke

POS, SUM = DATA / "deribit_positions.json", DATA / "deribit_summaries_cross.json"
AS_OF = "2026-01-16T08:00:00Z"


def test_import_writes_what_from_margins(tmp_path: Path) -> None:
    p, m = tmp_path / "p.json", tmp_path / "m.json"
    r = invoke(
        "import", "deribit", POS, SUM, "--as-of", AS_OF, "--out-portfolio", p, "--out-market", m
    )
    assert r.exit_code == 0, r.stderr
    assert "BTC-PERPETUAL" in r.stdout and "BTC-PERP-INV" in r.stdout  # the conversion table
    via_files = invoke("margin", p, "-m", m, "--model", "isolated", "-f", "json")
    direct = invoke("margin", "--from", "deribit", POS, SUM, "--as-of", AS_OF,
                    "--model", "isolated", "-f", "json")  # fmt: skip
    assert via_files.exit_code == 0 and direct.exit_code == 0, (via_files.stderr, direct.stderr)
    a, b = json.loads(via_files.stdout), json.loads(direct.stdout)
    # hand calculation in test_deribit.py: IM 38 748, MM 24 255.5
    assert a["initial_margin"] == b["initial_margin"] == pytest.approx(38_748.0)
    assert b["import_notes"] == [] or isinstance(b["import_notes"], list)


def test_check_prints_the_venue_figures_beside_ours() -> None:
    r = invoke("margin", "--from", f"deribit={POS},{SUM}", "--as-of", AS_OF, "--check")
    assert r.exit_code == 0, r.stderr
    assert "the venue's own figures (cross_pm) vs ours (portfolio)" in r.stdout
    assert "39,789.40" in r.stdout  # total_initial_margin_usd
    j = json.loads(
        invoke(
            "margin",
            "--from",
            f"deribit={POS},{SUM}",
            "--as-of",
            AS_OF,
            "--check",
            "--model",
            "isolated",
            "-f",
            "json",
        ).stdout
    )
    (c,) = j["check"]
    assert c["initial_margin"]["difference"] == pytest.approx(38_748.0 - 39_789.4)
    assert c["initial_margin"]["relative"] == pytest.approx((38_748.0 - 39_789.4) / 39_789.4)


def test_compare_from_one_venue() -> None:
    r = invoke("compare", "--from", "deribit", POS, SUM, "--as-of", AS_OF, "--check")
    assert r.exit_code == 0, r.stderr
    assert "isolated" in r.stdout and "portfolio" in r.stdout and "vs ours" in r.stdout


@pytest.mark.parametrize(
    ("args", "path", "why"),
    [
        (["margin", "--from", "deribit", str(POS)], "--as-of", "no timestamp"),
        (
            ["margin", str(DATA / "okx_positions.json"), "--check", "-m", "x.json"],
            "--check",
            "needs --from",
        ),
        (["margin", "--from", "kraken=x.json"], "--from", "unknown source 'kraken'"),
        (["margin", "--from", "deribit", "--from", "okx", str(POS)], "--from", "several --from"),
        (["margin", "--from", "deribit="], "--from", "give the files"),
        (["margin", str(POS)], "--market", "give --market"),
        (["margin", "--from", "deribit", str(POS), "--as-of", "yesterday"], "--as-of", "ISO-8601"),
        (["import", str(POS)], "sources", "comes before any venue"),
        (["import", "deribit"], "sources", "no file given for deribit"),
        (["margin", "--from", f"deribit={DATA / 'missing.json'}"], "missing.json", "not found"),
    ],
)
def test_argument_errors_are_one_line(args: list[str], path: str, why: str) -> None:
    r = invoke(*args)
    assert r.exit_code == 2, r.stdout
    (line,) = r.stderr.strip().splitlines()
    assert line.startswith("error: ") and path in line and why in line, line


def test_market_file_completes_an_export(tmp_path: Path) -> None:
    # Binance carries no index: a market file gives one (and wins), the rest comes from the export
    m = tmp_path / "m.json"
    m.write_text(json.dumps({"as_of": "2022-07-13T10:15:00Z",
                             "assets": {"BTC": {"price": 21100.0}, "USDT": {"price": 0.9995}}}))  # fmt: skip
    files = ",".join(
        str(DATA / f) for f in ("binance_um_positions_docs.json", "binance_account_docs.json")
    )
    r = invoke("margin", "--from", f"binance={files}", "-m", m, "--model", "isolated", "-f", "json")
    assert r.exit_code == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["as_of"] == "2022-07-13T10:15:00Z"
    # the perp mark still comes from the export: 0.001 × 21 123.05052574 × 5 %
    assert d["initial_margin"] == pytest.approx(0.001 * 21_123.05052574 * 0.05)
    assert not any("par" in n for n in d["import_notes"])


def test_readme_three_lines(tmp_path: Path) -> None:
    """README, "margin of my Deribit account": the installed command, exit code 0."""
    exe = Path(sys.executable).with_name("crossmargin")
    out = subprocess.run(
        [str(exe), "margin", "--from", "deribit", str(POS), str(SUM), "--as-of", AS_OF, "--check"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "initial margin" in out.stdout and "vs ours" in out.stdout
