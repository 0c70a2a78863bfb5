"""A closed stdout pipe (``crossmargin margin … | head -1``) ends the command quietly.

The reader of the output went away: that is no error of the command, so nothing is printed on
stderr (no "internal error BrokenPipeError", no "Exception ignored" at exit) and the exit code is
141, a Unix tool's when SIGPIPE ends it (docs/formats.md, "Errors and exit codes").
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from crossmargin.cli.errors import EXIT_BROKEN_PIPE

EX = Path(__file__).resolve().parents[2] / "src" / "crossmargin" / "examples"


@pytest.fixture(scope="module")
def many_accounts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """300 copies of the crypto example: about 1 MB of output, far more than a pipe buffers."""
    one = json.loads((EX / "crypto_book.json").read_text())
    path = tmp_path_factory.mktemp("pipe") / "many.json"
    path.write_text(json.dumps({"accounts": [{**one, "account": f"a{i}"} for i in range(300)]}))
    return path


@pytest.mark.parametrize(
    ("command", "fmt"), [("margin", "json"), ("margin", "table"), ("explain", "table")]
)
def test_output_cut_by_the_reader_exits_quietly(
    many_accounts: Path, command: str, fmt: str
) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "crossmargin", command, str(many_accounts),
         "-m", str(EX / "market_crypto.json"), "-f", fmt],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )  # fmt: skip
    assert proc.stdout is not None and proc.stderr is not None
    first = proc.stdout.readline()
    proc.stdout.close()  # like `| head -1`: the rest of the output can no longer be written
    err = proc.stderr.read().decode()
    code = proc.wait(timeout=300)
    assert first.strip(), "the command printed nothing before the pipe closed"
    assert err == "", err[-800:]
    assert code == EXIT_BROKEN_PIPE == 141


def test_output_read_to_the_end_still_exits_0(many_accounts: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "crossmargin", "margin", str(many_accounts),
         "-m", str(EX / "market_crypto.json"), "-f", "json"],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-800:]
    assert len(json.loads(proc.stdout)["accounts"]) == 300
