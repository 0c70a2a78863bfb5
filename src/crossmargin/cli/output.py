"""Output helpers: JSON (strict, NaN → null), atomic file writes, number formatting."""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from crossmargin._format import fmt_money, fmt_num, fmt_pct
from crossmargin.errors import InputError

__all__ = ["atomic_write", "dumps", "dumps_line", "fmt_money", "fmt_num", "fmt_pct"]


def _clean(obj: Any) -> Any:
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_clean(v) for v in obj]
    return obj


def dumps(obj: Any) -> str:
    """Strict JSON (no NaN/Infinity tokens), indented."""
    return json.dumps(_clean(obj), indent=2, allow_nan=False)


def dumps_line(obj: Any) -> str:
    """Strict JSON (no NaN/Infinity tokens) on one line: a JSON Lines record."""
    return json.dumps(_clean(obj), allow_nan=False, separators=(", ", ": "))


def atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    """Write through a temporary file in the same directory, then rename (all or nothing)."""
    path = Path(path)
    directory = path.parent if str(path.parent) else Path()
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=path.suffix, dir=directory)
    except OSError as exc:  # missing directory, no permission: a one-line input error
        raise InputError(f"cannot write file: {exc.strerror}", path=str(path)) from None
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        write(tmp_path)
        # mkstemp creates 0600; give the result the permissions a normal file would get
        umask = os.umask(0)
        os.umask(umask)
        tmp_path.chmod(0o666 & ~umask)
        tmp_path.replace(path)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise
