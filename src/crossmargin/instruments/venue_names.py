"""Venue instrument names are not ours: recognise them and say which convention to pick.

A venue's name carries the venue's units: Deribit's ``BTC-PERPETUAL`` is an *inverse* perpetual
sized in USD, OKX's ``BTC-USD-SWAP`` is sized in 100-USD contracts, Bybit's ``BTCUSDT`` in
coins. Read as one of our names, a Deribit position of 650 000 (USD) would become 650 000 BTC.
So our grammar (:mod:`crossmargin.instruments.naming`) refuses them, and this module turns the
refusal into advice: import the venue's export (``--from VENUE`` / ``crossmargin import VENUE``,
where the venue's convention is applied exactly) or write our equivalent name.

:func:`venue_name_hint` recognises a name; :func:`is_venue_only_name` says whether it must be
refused even though our grammar could read it (Deribit's ``_USDC`` names: ``SOL_USDC`` would
otherwise be taken for an asset symbol).
"""

from __future__ import annotations

import re

from crossmargin._time import format_expiry_code

__all__ = ["is_venue_only_name", "venue_name_hint"]

_DERIBIT_PERP = re.compile(r"^([A-Z0-9]+)-PERPETUAL(-.*)?$")
_DERIBIT_LINEAR = re.compile(r"^([A-Z0-9]+)_(USDC|USDT)(-.*)?$")
_OKX = re.compile(r"^([A-Z0-9]+)-(USD|USDT|USDC)(_UM)?-(SWAP|\d{6})(-\d+-[CP])?$")
_BYBIT_OPTION = re.compile(r"^([A-Z0-9]+)-(\d{1,2}[A-Z]{3}\d{2})-(\d+)-([CP])-(USDT|USDC)$")
_CONCAT = re.compile(
    r"^([A-Z0-9]+?)(USDT|USDC|USD|PERP)([FGHJKMNQUVXZ]\d{2})?(_PERP|_\d{6}|-\d{1,2}[A-Z]{3}\d{2})?$"
)


def _do(venue: str) -> str:
    return f"import the export with `--from {venue}` (or `crossmargin import {venue}`)"


def _yymmdd(code: str) -> str:
    from datetime import UTC, datetime

    try:
        return format_expiry_code(
            datetime(2000 + int(code[:2]), int(code[2:4]), int(code[4:6]), tzinfo=UTC)
        )
    except ValueError:
        return code


def is_venue_only_name(name: str) -> bool:
    """Whether ``name`` is a venue's own name that our grammar would misread."""
    n = name.strip().upper()
    return bool(_DERIBIT_PERP.match(n) or _DERIBIT_LINEAR.match(n))


def venue_name_hint(name: str) -> str | None:
    """Advice for a venue-specific instrument name, or ``None`` if it is not one.

    Examples
    --------
    >>> venue_name_hint("BTC-PERP") is None
    True
    >>> "Deribit" in venue_name_hint("BTC-PERPETUAL")
    True
    """
    n = name.strip().upper()
    if m := _DERIBIT_PERP.match(n):
        u = m.group(1)
        return (
            f"{n} is a Deribit name: an inverse perpetual sized in USD; {_do('deribit')}, or "
            f"write our {u}-PERP-INV (inverse, quantity in USD) — {u}-PERP is the linear "
            f"perpetual (quantity in {u})"
        )
    if m := _DERIBIT_LINEAR.match(n):
        u, rest = m.group(1), (m.group(3) or "").replace("-PERPETUAL", "-PERP")
        return (
            f"{n} is a Deribit linear {m.group(2)} name sized in {u}; {_do('deribit')}, or "
            f"write our {u}{rest or '-SPOT'} (linear, quantity in {u})"
        )
    if m := _OKX.match(n):
        u, q, when, opt = m.group(1), m.group(2), m.group(4), m.group(5) or ""
        inv = q == "USD" and not m.group(3)
        ours = f"{u}-PERP" if when == "SWAP" else f"{u}-{_yymmdd(when)}{opt}"
        unit = u if opt or not inv else "USD"
        return (
            f"{n} is an OKX name sized in contracts (their value ctVal × ctMult is needed); "
            f"{_do('okx')}, or write our {ours}{'-INV' if inv else ''} (quantity in {unit})"
        )
    if m := _BYBIT_OPTION.match(n):
        u, exp, k, r = m.groups()[:4]
        return (
            f"{n} is a Bybit {m.group(5)}-settled option; {_do('bybit')}, or write our "
            f"{u}-{exp}-{k}-{r} (quantity in {u})"
        )
    if m := _CONCAT.match(n):
        u, q, tail = m.group(1), m.group(2), m.group(4) or ""
        binance = tail.startswith("_")
        inv = q == "USD"
        if m.group(3):  # Bybit inverse future: the delivery day is not in the name
            ours = f"{u}-DDMMMYY"
        elif tail.startswith("_") and tail != "_PERP":
            ours = f"{u}-{_yymmdd(tail[1:])}"
        elif tail.startswith("-"):
            ours = f"{u}{tail}"
        else:
            ours = f"{u}-PERP"
        return (
            f"{n} looks like a {'Binance' if binance else 'Bybit or Binance'} symbol "
            f"({'inverse, sized in USD contracts' if inv else 'linear, sized in ' + u}); "
            f"{_do('binance' if binance else 'bybit')}, or write our {ours}{'-INV' if inv else ''} "
            f"(quantity in {'USD' if inv else u})"
        )
    return None
