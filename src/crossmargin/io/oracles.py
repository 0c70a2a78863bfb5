"""Sources of collateral-oracle records: a JSON file or an HTTP(S) JSON endpoint.

Sources are pluggable (:class:`CollateralOracle`): :class:`StaticFileOracle` reads a JSON file,
:class:`HttpJsonOracle` GETs a JSON document over HTTP(S); both return the same
``{"SYMBOL": {...record...}}`` shape, validated like the market snapshot's ``oracles`` object
(:func:`records_from_obj`). :func:`crossmargin.collateral.oracles.with_oracle_records` puts them
into a snapshot; :mod:`crossmargin.collateral.oracles` values the collateral.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from crossmargin.errors import InputError, MarketDataError
from crossmargin.io.market import market_from_obj
from crossmargin.limits import load_json_bounded, parse_json, read_bounded_stream
from crossmargin.market.snapshot import OracleRecord

__all__ = ["CollateralOracle", "HttpJsonOracle", "StaticFileOracle", "records_from_obj"]


@runtime_checkable
class CollateralOracle(Protocol):
    """A source of oracle records (implement ``name`` and ``fetch`` to add your own)."""

    @property
    def name(self) -> str:
        """Source name, for messages."""
        ...

    def fetch(self, symbols: Sequence[str]) -> dict[str, OracleRecord]:
        """Records of ``symbols`` (missing ones are simply absent)."""
        ...


def records_from_obj(obj: Any, *, where: str) -> dict[str, OracleRecord]:
    """Validate ``{"SYMBOL": {value, timestamp, confidence, source[, reference]}}``.

    Raises
    ------
    InputError
        Naming ``<where>.<SYMBOL>.<field>``.
    """
    if not isinstance(obj, dict):
        raise InputError("oracle records must be a JSON object of symbol -> record", path=where)
    try:
        snap = market_from_obj({"as_of": "1970-01-01T00:00:00Z", "oracles": obj}, history=None)
    except InputError as exc:
        raise InputError(exc.reason, path=f"{where}:{exc.path}") from None
    return dict(snap.oracles)


@dataclass(frozen=True, slots=True)
class StaticFileOracle:
    """Oracle records from a JSON file (reference implementation)."""

    path: Path

    @property
    def name(self) -> str:
        """The file path."""
        return str(self.path)

    def fetch(self, symbols: Sequence[str]) -> dict[str, OracleRecord]:
        """Read the file and return the records of ``symbols``."""
        recs = records_from_obj(load_json_bounded(self.path, what="oracle"), where=str(self.path))
        return {s: recs[s] for s in symbols if s in recs}


@dataclass(frozen=True, slots=True)
class HttpJsonOracle:
    """Oracle records from an HTTP(S) endpoint returning JSON (reference implementation).

    ``url`` may contain ``{symbols}`` (replaced by the comma-separated symbols requested).
    Network errors, non-200 answers, a response larger than ``max_bytes`` (1 MiB) and invalid JSON
    (or JSON over the input limits of :mod:`crossmargin.limits`) are :class:`MarketDataError` —
    never a silently missing record.
    """

    url: str
    timeout: float = 5.0
    #: Largest response accepted (bytes); a longer body is a :class:`MarketDataError`.
    max_bytes: int = 1024 * 1024

    @property
    def name(self) -> str:
        """The URL."""
        return self.url

    def fetch(self, symbols: Sequence[str]) -> dict[str, OracleRecord]:
        """GET the document and return the records of ``symbols``."""
        url = self.url.replace("{symbols}", ",".join(symbols))
        if not url.startswith(("http://", "https://")):
            raise InputError("oracle URL must start with http:// or https://", path=self.url)
        try:
            with urllib.request.urlopen(url, timeout=self.timeout) as resp:
                body = read_bounded_stream(
                    resp, source=url, limit=self.max_bytes, error=MarketDataError
                )
        except urllib.error.HTTPError as exc:
            raise MarketDataError(f"oracle endpoint answered HTTP {exc.code}", path=url) from None
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise MarketDataError(f"oracle endpoint unreachable: {reason}", path=url) from None
        obj = parse_json(body, source=url, error=MarketDataError)
        recs = records_from_obj(obj, where=url)
        return {s: recs[s] for s in symbols if s in recs}
