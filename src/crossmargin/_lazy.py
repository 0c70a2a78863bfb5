"""Public names of a package imported on first use (PEP 562 ``__getattr__`` / ``__dir__``).

``import crossmargin`` (and ``crossmargin.io``) must stay light — the command line's start-up
and a program that needs one loader should not pay for pandas, SciPy or Arrow — while
``crossmargin.compute_margin`` keeps working: the name is imported from its home module the
first time it is used, then cached in the package.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(
    package: str, home: Mapping[str, str], public: Sequence[str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for ``package``: ``name`` is imported from ``home[name]``."""

    def getattr_(name: str) -> Any:
        where = home.get(name)
        if where is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(where), name)
        setattr(sys.modules[package], name, value)
        return value

    def dir_() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(public))

    return getattr_, dir_
