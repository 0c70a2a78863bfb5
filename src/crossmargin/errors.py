"""The crossmargin error tree.

Every error the library raises on purpose derives from :class:`CrossMarginError` and carries the
*path* of the offending input (``positions[3].quantity``, ``assets.BTC.vol``) so that a user can
fix it without reading a traceback::

    CrossMarginError
    ├── InputError            a portfolio, trade or file is malformed or refers to nonsense
    │   └── ConfigError       the risk configuration is malformed
    ├── MarketDataError       market data is missing, stale, NaN or low-confidence (fail closed)
    ├── ModelError            a margin model cannot produce a number for a valid input
    └── LiquidationError      the liquidation engine cannot produce a plan

The CLI maps :class:`InputError`, :class:`ConfigError` and :class:`MarketDataError` to exit code 2
and prints ``error: <path>: <reason>`` on one line. Exceptions of dependencies (pydantic, yaml,
pyarrow) are translated at the boundary in :mod:`crossmargin.io`.
"""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "CrossMarginError",
    "InputError",
    "LiquidationError",
    "MarketDataError",
    "ModelError",
    "StoreError",
]


class CrossMarginError(Exception):
    """Root of all crossmargin errors.

    Parameters
    ----------
    reason
        What is wrong, in words a user understands.
    path
        Location of the offending value, e.g. ``positions[3].quantity``; empty if none.
    """

    def __init__(self, reason: str, *, path: str = "") -> None:
        self.reason = reason
        self.path = path
        super().__init__(f"{path}: {reason}" if path else reason)


class InputError(CrossMarginError):
    """A portfolio, trade, table or command-line value is invalid."""


class ConfigError(InputError):
    """The risk configuration (YAML) is invalid."""


class MarketDataError(CrossMarginError):
    """Market data needed for a held instrument is missing, stale, non-finite or low-confidence."""


class ModelError(CrossMarginError):
    """A margin model cannot compute a requirement (e.g. unknown model name)."""


class LiquidationError(CrossMarginError):
    """The liquidation engine cannot build a plan."""


class StoreError(CrossMarginError):
    """The durable store (journal, snapshots, events, keys) cannot read or write.

    Raised for an unreachable or locked database, a schema newer than this version of
    crossmargin, or a stored record that fails its integrity check. Nothing was acknowledged.
    """
