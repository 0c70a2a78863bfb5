"""The contract every command and loader must keep, checked on one case.

A command either

* exits 0 with valid output: JSON on stdout parses strictly (no ``NaN``/``Infinity``), no margin
  printed as ``null``, every requested output file written and nothing else left in the output
  directory (no temporary, lock or backup file); or
* exits 2 with exactly one line ``error: <path>: <reason>`` on stderr, nothing on stdout and
  nothing in the output directory.

Never a traceback, never another exit code, never a file written next to the inputs. When the
mutation removed or corrupted margin data, an accepted result must show a warning or margins no
smaller than the unmutated input's (``silent_smaller`` otherwise).

A public loader either returns or raises a :class:`~crossmargin.errors.CrossMarginError` with a
path and a one-line message.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from crossmargin.cli.app import app
from crossmargin.cli.errors import TRACEBACK_ENV
from crossmargin.errors import CrossMarginError

from .cases import Case

ERROR_LINE = re.compile(r"^error: (?P<path>\S[^\n]*?): (?P<reason>\S[^\n]*)$")
#: failure kinds (each must be 0 in a clean run)
FAILURES = (
    "tracebacks",
    "bad_errors",
    "internal_errors",
    "invalid_outputs",
    "silent_smaller",
    "files_on_error",
    "stray_files",
    "timeouts",
    "loader_failures",
)
CASE_TIMEOUT = 90.0
_RUNNER = CliRunner()


@dataclass
class Outcome:
    """What one command run did."""

    kind: str  # exit_0 | clean_error | one of FAILURES
    detail: str = ""
    ims: list[float] | None = None
    warned: bool = False


def signature(kind: str, detail: str) -> str:
    """What distinguishes a failure's cause: its kind and the last line of its detail."""
    lines = [ln.strip() for ln in detail.strip().splitlines() if ln.strip()]
    last = re.sub(r"\d+(\.\d+)?", "N", lines[-1] if lines else "")
    last = re.sub(r"/tmp/\S+", "<tmp>", last)
    return f"{kind}: {last[:200]}"


@dataclass
class Tally:
    """Counts of a run, and one reproducer per distinct failure (kind + cause)."""

    counts: dict[str, int] = field(default_factory=dict)
    signatures: dict[str, int] = field(default_factory=dict)
    failures: list[dict[str, Any]] = field(default_factory=list)
    max_signatures: int = 100

    def add(self, key: str, n: int = 1) -> None:
        """Count ``key``."""
        self.counts[key] = self.counts.get(key, 0) + n

    def fail(self, kind: str, case: Case | None, detail: str, files: dict[str, bytes]) -> None:
        """Count a failure and keep a reproducer of each distinct cause."""
        self.add(kind)
        sig = signature(kind, detail)
        self.signatures[sig] = self.signatures.get(sig, 0) + 1
        if self.signatures[sig] == 1 and len(self.failures) < self.max_signatures:
            self.failures.append(
                {
                    "kind": kind,
                    "signature": sig,
                    "command": case.argv if case else None,
                    "label": case.label if case else "",
                    "detail": detail[-3000:],
                    "files": {k: v[:4000].decode("utf-8", "replace") for k, v in files.items()
                              if len(v) < 200_000},
                }
            )  # fmt: skip

    def merge(self, other: Tally) -> None:
        """Add another tally's counts and reproducers."""
        for k, v in other.counts.items():
            self.add(k, v)
        for f in other.failures:
            if f["signature"] not in self.signatures and len(self.failures) < self.max_signatures:
                self.failures.append(f)
        for sig, n in other.signatures.items():
            self.signatures[sig] = self.signatures.get(sig, 0) + n

    def failure_count(self) -> int:
        """Total failures of every kind."""
        return sum(self.counts.get(k, 0) for k in FAILURES)


class _CaseTimeout(BaseException):
    """Raised by the alarm: the case ran too long (a hang)."""


@contextlib.contextmanager
def _time_limit(seconds: float) -> Iterator[None]:
    if not hasattr(signal, "setitimer") or os.name != "posix":  # pragma: no cover
        yield
        return

    def on_alarm(signum: int, frame: Any) -> None:
        raise _CaseTimeout

    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def _listing(d: Path) -> set[str]:
    return {str(p.relative_to(d)) for p in d.rglob("*")} if d.exists() else set()


def _strict_json(text: str) -> Any:
    def refuse(tok: str) -> Any:
        raise ValueError(f"non-standard JSON token {tok}")

    return json.loads(text, parse_constant=refuse)


def _warned(doc: Any) -> bool:
    stack = [doc]
    while stack:
        v = stack.pop()
        if isinstance(v, dict):
            for k, x in v.items():
                if k == "warnings" and x:
                    return True
                stack.append(x)
        elif isinstance(v, list):
            stack.extend(v)
    return False


def _null_margin(doc: Any) -> str | None:
    stack: list[tuple[str, Any]] = [("", doc)]
    while stack:
        where, v = stack.pop()
        if isinstance(v, dict):
            for k, x in v.items():
                if k in ("initial_margin", "maintenance_margin") and (
                    x is None or (isinstance(x, float) and not math.isfinite(x))
                ):
                    return f"{where}.{k} is {x}"
                stack.append((f"{where}.{k}", x))
        elif isinstance(v, list):
            stack.extend((f"{where}[{i}]", x) for i, x in enumerate(v))
    return None


def _ims(command: str, doc: Any) -> list[float] | None:
    """Initial margins of the accounts (and models) of a JSON result."""
    try:
        if command == "compare":
            items = doc.get("accounts", [doc])
            return [float(m["initial_margin"]) for a in items for m in a["models"].values()]
        if command == "whatif":
            return [float(doc["before"]["initial_margin"])]
        if command in ("margin", "explain"):
            items = doc.get("accounts", [doc])
            return [float(a["initial_margin"]) for a in items]
    except (KeyError, TypeError, ValueError):
        return None
    return None


def _table_ims(path: Path) -> tuple[list[float] | None, bool]:
    import pandas as pd

    if path.suffix == ".csv":
        df = pd.read_csv(path)
    elif path.suffix == ".parquet":
        df = pd.read_parquet(path)
    else:
        df = pd.read_json(path, orient="records")
    warned = "warnings" in df.columns and df["warnings"].astype(str).str.len().gt(2).any()
    if "initial_margin" not in df.columns:
        return None, bool(warned)
    return [float(x) for x in df["initial_margin"]], bool(warned)


def _substitute(argv: list[str], d_in: Path, d_out: Path) -> list[str]:
    return [a.replace("{in}", str(d_in)).replace("{out}", str(d_out)) for a in argv]


def run_case(case: Case, *, subprocess_mode: bool = False) -> Outcome:
    """Run one case in a fresh directory and classify the result."""
    root = Path(tempfile.mkdtemp(prefix="cmfuzz-"))
    try:
        return _run_in(case, root, subprocess_mode)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _run_in(case: Case, root: Path, subprocess_mode: bool) -> Outcome:
    d_in, d_out = root / "in", root / "out"
    d_in.mkdir()
    d_out.mkdir()
    for name, data in case.files.items():
        (d_in / name).write_bytes(data)
    argv = _substitute(case.argv, d_in, d_out)
    before_in = _listing(d_in)
    if subprocess_mode:
        try:
            p = subprocess.run(
                [sys.executable, "-m", "crossmargin", *argv],
                capture_output=True, text=True, timeout=CASE_TIMEOUT * 2, cwd=root,
                env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
            )  # fmt: skip
        except subprocess.TimeoutExpired:
            return Outcome("timeouts", f"over {CASE_TIMEOUT * 2:.0f} s (subprocess)")
        code, out, err, exc_text = p.returncode, p.stdout, p.stderr, ""
    else:
        try:
            with _time_limit(CASE_TIMEOUT):
                # a bug raises with its traceback in-process (the reproducer shows where); a real
                # process (subprocess mode) shows what a user sees: one line, exit code 1
                r = _RUNNER.invoke(app, argv, env={TRACEBACK_ENV: "1"})
        except _CaseTimeout:
            return Outcome("timeouts", f"over {CASE_TIMEOUT:.0f} s")
        code, out, err = r.exit_code, r.stdout, r.stderr
        exc_text = ""
        if r.exception is not None and not isinstance(r.exception, SystemExit):
            exc_text = "".join(traceback.format_exception(r.exception))
    if exc_text or "Traceback (most recent call last)" in err + out:
        return Outcome("tracebacks", exc_text or err[-3000:])
    new_in = _listing(d_in) - before_in
    if new_in:
        return Outcome("stray_files", f"written next to the inputs: {sorted(new_in)}")
    written = _listing(d_out)
    if code == 2:
        lines = err.splitlines()
        if len(lines) != 1 or not ERROR_LINE.match(lines[0]) or out:
            return Outcome("bad_errors", f"stdout={out[-300:]!r} stderr={err[-1000:]!r}")
        if written:
            return Outcome("files_on_error", f"{sorted(written)} after {lines[0]}")
        return Outcome("clean_error", lines[0])
    if code != 0:
        return Outcome("internal_errors", f"exit {code}: {err[-1500:]}")
    # exit 0: valid output
    expected = set(case.outputs)
    missing = [o for o in case.outputs if not (d_out / o).exists()]
    if missing:
        return Outcome("invalid_outputs", f"missing outputs {missing}")
    extra = {w for w in written if w.split("/")[0] not in expected}
    hidden = {w for w in written if any(part.startswith(".") for part in w.split("/"))}
    if (case.exact_outputs and extra) or hidden:
        return Outcome("stray_files", f"left in the output directory: {sorted(extra | hidden)}")
    ims: list[float] | None = None
    warned = any(ln.startswith("warning:") for ln in err.splitlines())
    if case.json_stdout:
        try:
            doc = _strict_json(out)
        except ValueError as exc:
            return Outcome("invalid_outputs", f"stdout is not strict JSON ({exc}): {out[:300]!r}")
        bad = _null_margin(doc)
        if bad:
            return Outcome("invalid_outputs", f"margin not a number: {bad}")
        ims = _ims(case.command, doc)
        warned = warned or _warned(doc)
    if case.command == "batch" and case.outputs:
        try:
            ims, w = _table_ims(d_out / case.outputs[0])
        except Exception as exc:  # the result table must be readable
            return Outcome("invalid_outputs", f"result table unreadable: {exc}")
        warned = warned or w
    return Outcome("exit_0", ims=ims, warned=warned)


def smaller(ims: list[float], base: list[float]) -> str | None:
    """Where a margin is below the unmutated run's (beyond rounding)."""
    if len(ims) != len(base):
        return None
    for i, (x, b) in enumerate(zip(ims, base, strict=True)):
        if x < b - 1e-9 * abs(b) - 1e-6:
            return f"initial margin [{i}] {x:.6g} < unmutated {b:.6g} ({x / b - 1:+.3%})"
    return None


# -- public loaders -------------------------------------------------------------------------------
def loader_check(kind: str, path: Path) -> tuple[str, str]:
    """Call the public loaders of ``kind`` on ``path``: ``("ok"|"error"|"failure", detail)``."""
    results = [_call(fn, path) for fn in LOADERS.get(kind, ())]
    for r in results:
        if r[0] == "failure":
            return r
    return results[0] if results else ("ok", "")


def _call(fn: Callable[[Path], Any], path: Path) -> tuple[str, str]:
    try:
        with _time_limit(CASE_TIMEOUT):
            fn(path)
    except _CaseTimeout:
        return "failure", f"{fn.__name__}: over {CASE_TIMEOUT:.0f} s"
    except CrossMarginError as exc:
        text = str(exc)
        if not exc.path or "\n" in text:
            return "failure", f"{fn.__name__}: error without a path or on several lines: {text!r}"
        return "error", text
    except Exception as exc:
        tb = "".join(traceback.format_exception(exc))
        return "failure", f"{fn.__name__}: {type(exc).__name__}: {exc}\n{tb}"
    return "ok", ""


def _load_portfolio(p: Path) -> Any:
    from crossmargin.io.portfolio import load_portfolios

    return load_portfolios(p)


def _load_market(p: Path) -> Any:
    from crossmargin.io.market import load_market

    return load_market(p)


def _load_config(p: Path) -> Any:
    from crossmargin.config import load_config

    return load_config(p)


def _load_positions(p: Path) -> Any:
    from crossmargin.cli.cmd_info import examples_dir
    from crossmargin.io.tables import book_from_frames, read_table

    col = read_table(examples_dir() / "venue_collateral.csv", what="collateral")
    return book_from_frames(read_table(p, what="positions"), col)


def _load_collateral(p: Path) -> Any:
    from crossmargin.cli.cmd_info import examples_dir
    from crossmargin.io.tables import book_from_frames, read_table

    pos = read_table(examples_dir() / "venue_positions.csv", what="positions")
    return book_from_frames(pos, read_table(p, what="collateral"))


def _load_price_history(p: Path) -> Any:
    from crossmargin.market.history import load_price_history

    return load_price_history(p)


def _load_backtest_history(p: Path) -> Any:
    from crossmargin.backtest.run import load_history

    return load_history(p)


def _load_shock(p: Path) -> Any:
    from crossmargin.config import default_config
    from crossmargin.liquidation.shocks import parse_shock

    return parse_shock(str(p), symbols=["BTC", "ETH", "USDC", "USDT"], config=default_config())


def _load_book(p: Path) -> Any:
    from crossmargin.backtest.spec import load_book

    return load_book(str(p))


def _load_case(p: Path) -> Any:
    from crossmargin.venues.derive.case import load_case

    return load_case(p)


def _load_span(p: Path) -> Any:
    from crossmargin.venues.span.files import load_span_file

    return load_span_file(p)


def _load_oracles(p: Path) -> Any:
    from crossmargin.io.oracles import StaticFileOracle

    return StaticFileOracle(p).fetch(["WSTETH", "AUSDC"])


LOADERS: dict[str, tuple[Callable[[Path], Any], ...]] = {
    "portfolio": (_load_portfolio,),
    "market": (_load_market,),
    "config": (_load_config,),
    "positions": (_load_positions,),
    "collateral": (_load_collateral,),
    "history": (_load_price_history, _load_backtest_history),
    "shock": (_load_shock,),
    "backtest_book": (_load_book,),
    "derive_case": (_load_case,),
    "span_file": (_load_span,),
    "oracles": (_load_oracles,),
}
