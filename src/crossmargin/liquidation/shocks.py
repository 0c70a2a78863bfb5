"""Exogenous shocks for the cascade simulator: instant moves, historical paths, vol shocks.

A shock is a **path** of price and vol factors per asset, one step per cascade round (the last
step is held once the path ends). Forms accepted by :func:`parse_shock`:

* ``BTC=-0.2,ETH=-0.25`` — instant relative spot moves; ``*=-0.2`` moves every held underlying
  (not the snapshot currency); ``vol=0.5`` / ``vol.BTC=0.5`` scale implied vols by ``1 + x``.
* ``history:crypto-2018`` (and the other :data:`NAMED_PATHS`) or ``history:START:END`` — the
  bundled daily closes (``crossmargin.history``), factor ``P_t / P_start`` per step; a
  non-trading day keeps the previous close (equities on weekends). Underlyings without their
  own series follow a proxy of their risk class (``crypto`` → BTC, ``equity_index`` → SPX),
  reported in the output; stablecoins do not move. Equity index vols follow VIX where it is
  available in the window.
* ``hourly`` or ``hourly:START:END`` — the bundled hourly BTC closes (Coinbase); other crypto
  underlyings follow BTC. The default window is the largest 24-hour fall in the file
  (2018-02-05 04:00 → 2018-02-06 04:00 UTC, −27 %).
* a ``.json`` file: ``{"name": ..., "steps": [{"BTC": -0.05, "vol": 0.2}, ...]}`` (cumulative
  moves per step) or ``{"name": ..., "moves": {"BTC": -0.2}}`` (one step).

Prices move, the clock does not: every step revalues at the snapshot's ``as_of`` (instantaneous
revaluation, as in the margin grids). Forwards and perpetual marks scale with spot; implied vols
are sticky by strike for smiles and scaled for vol shocks.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from crossmargin._typing import FloatArray
from crossmargin._validation import read_json
from crossmargin.config.model import RiskConfig
from crossmargin.errors import InputError
from crossmargin.history import load_daily_closes, load_hourly_btc
from crossmargin.market.snapshot import MarketSnapshot

__all__ = [
    "NAMED_PATHS",
    "ShockPath",
    "parse_shock",
    "risky_assets",
    "shocked_snapshot",
]

#: Named historical windows of the bundled daily closes: name → (start, end, description).
NAMED_PATHS: dict[str, tuple[str, str, str]] = {
    "crypto-2018": (
        "2018-11-13",
        "2018-11-26",
        "November 2018 crypto capitulation (BTC 6,394 → 3,812, ETH 209 → 109), daily",
    ),
    "crypto-2018-jan": (
        "2018-01-06",
        "2018-02-05",
        "January 2018 crypto crash (BTC 17,040 → 6,852), daily",
    ),
    "equity-2008": (
        "2008-09-12",
        "2008-10-27",
        "Lehman default to the October 2008 low (SPX 1,252 → 848), daily",
    ),
    "volmageddon-2018": (
        "2018-02-01",
        "2018-02-09",
        "February 2018 'Volmageddon' (VIX 13 → 37 on 5 February), daily",
    ),
}
HOURLY_DEFAULT = ("2018-02-05T04:00:00Z", "2018-02-06T04:00:00Z")
# Risk class -> the bundled series that stands in for an underlying without its own history
# (ETH has its own class, crypto_eth, since the issue-13 calibration; it is still a crypto asset).
_CLASS_PROXY = {"crypto": "BTC", "crypto_eth": "BTC", "equity_index": "SPX"}


@dataclass(frozen=True, slots=True, eq=False)
class ShockPath:
    """Price and vol factors per asset per step (cumulative from the snapshot).

    Attributes
    ----------
    name, description, source
        What the shock is and where it comes from.
    labels
        One label per step (a date, an hour, or ``t+1``).
    spot, vol
        Symbol → factors (one per step). ``*`` applies to every held underlying without its own.
    proxies
        Symbol → the series it follows (historical paths).
    """

    name: str
    description: str
    labels: tuple[str, ...]
    spot: Mapping[str, FloatArray]
    vol: Mapping[str, FloatArray] = field(default_factory=dict)
    source: str = ""
    proxies: Mapping[str, str] = field(default_factory=dict)

    @property
    def steps(self) -> int:
        """Number of steps."""
        return len(self.labels)

    def factors(
        self, step: int, symbols: Sequence[str], *, star: set[str] | None = None
    ) -> tuple[dict[str, float], dict[str, float]]:
        """Spot and vol factor of each symbol at ``step`` (held at the last step afterwards).

        The ``*`` spot path applies only to symbols in ``star`` (default: all).
        """
        s = min(max(step, 0), self.steps - 1)
        spot: dict[str, float] = {}
        vol: dict[str, float] = {}
        for sym in symbols:
            starred = star is None or sym in star
            path = self.spot.get(sym, self.spot.get("*") if starred else None)
            spot[sym] = float(path[s]) if path is not None else 1.0
            vp = self.vol.get(sym, self.vol.get("*"))
            vol[sym] = float(vp[s]) if vp is not None else 1.0
        return spot, vol

    def check_vols(
        self, snap: MarketSnapshot, symbols: Sequence[str], *, star: set[str] | None = None
    ) -> None:
        """Refuse the shock before it runs if a step takes a vol of ``snap`` beyond range.

        See :meth:`~crossmargin.market.snapshot.MarketSnapshot.check_vol_shock`: a cascade stops
        up front, naming the shock, its step and the asset, never in the middle of its rounds.

        Raises
        ------
        InputError
            Naming the shock, the step and the asset (``path``: ``vol.<SYMBOL>``).
        """
        for step in range(self.steps):
            _, vol = self.factors(step, symbols, star=star)
            try:
                snap.check_vol_shock(vol)
            except InputError as e:
                raise InputError(
                    f"shock {self.name!r} at {self.labels[step]}: {e.reason}", path=e.path
                ) from None

    def describe(self) -> dict[str, Any]:
        """JSON-friendly summary."""
        return {
            "name": self.name,
            "description": self.description,
            "source": self.source,
            "steps": self.steps,
            "labels": list(self.labels),
            "spot": {k: [float(x) for x in v] for k, v in self.spot.items()},
            "vol": {k: [float(x) for x in v] for k, v in self.vol.items()},
            "proxies": dict(self.proxies),
        }


def risky_assets(snap: MarketSnapshot, held: Sequence[str]) -> set[str]:
    """Assets a ``*`` move applies to: held underlyings and assets with a vol, perp or expiries."""
    return {
        s
        for s, a in snap.assets.items()
        if s != snap.base_currency
        and (s in held or a.vol is not None or a.perp_mark is not None or bool(a.expiries))
    }


def shocked_snapshot(
    snap: MarketSnapshot, shock: ShockPath, step: int, held: Sequence[str]
) -> MarketSnapshot:
    """The snapshot moved by step ``step`` of ``shock`` (no liquidation impact)."""
    symbols = sorted(s for s in snap.assets if s != snap.base_currency)
    spot, vol = shock.factors(step, symbols, star=risky_assets(snap, held))
    return snap.shifted(spot=spot, vol=vol)


def _move(text: str, path: str) -> float:
    try:
        x = float(text)
    except ValueError:
        raise InputError(f"{text!r} is not a number", path=path) from None
    if not math.isfinite(x) or x <= -1.0:
        raise InputError(f"move must be finite and > -1, got {text}", path=path)
    return x


#: Limits of a shock given on the command line or in a file (see docs/formats.md).
MAX_SHOCK_STEPS = 10_000
MAX_SHOCK_SYMBOLS = 1_000


class _Moves:
    """Moves per step by canonical key, checked against the snapshot's symbols.

    Keys: ``*`` and ``SYM`` (spot), ``vol`` and ``vol.SYM`` (implied vol), in any case.
    """

    def __init__(self, symbols: Sequence[str]) -> None:
        self.symbols = {s.upper() for s in symbols}
        self.spot: dict[str, list[float]] = {}
        self.vol: dict[str, list[float]] = {}

    def key(self, raw: str, path: str, seen: dict[str, str]) -> tuple[str, str]:
        """``("spot"|"vol", SYMBOL)`` of a key; unknown or repeated (any case) keys are errors."""
        k = raw.strip()
        low = k.lower()
        if low == "vol":
            kind, sym = "vol", "*"
        elif low.startswith("vol."):
            kind, sym = "vol", k[4:].strip().upper()
        else:
            kind, sym = "spot", k.upper()
        if not sym:
            raise InputError(f"empty symbol in {raw!r}", path=path)
        if sym != "*" and sym not in self.symbols:
            known = ", ".join(sorted(self.symbols)) or "none"
            raise InputError(
                f"unknown symbol {sym!r}: the snapshot prices {known} (a move of an unknown "
                "symbol would silently move nothing)",
                path=path,
            )
        canon = f"{kind}:{sym}"
        if canon in seen:
            raise InputError(f"{raw!r} repeats {seen[canon]!r} (symbols ignore case)", path=path)
        seen[canon] = raw
        return kind, sym

    def add(self, kind: str, sym: str, x: float) -> None:
        (self.vol if kind == "vol" else self.spot).setdefault(sym, []).append(1.0 + x)


def _moves(text: str, symbols: Sequence[str]) -> ShockPath:
    moves = _Moves(symbols)
    seen: dict[str, str] = {}
    items = [p.strip() for p in text.split(",")]
    if len(items) > MAX_SHOCK_SYMBOLS:
        raise InputError(f"more than {MAX_SHOCK_SYMBOLS} moves", path="shock")
    for i, item in enumerate(items):
        if not item:
            continue
        if "=" not in item:
            raise InputError(
                f"{item!r} must be SYMBOL=MOVE, *=MOVE, vol=X or vol.SYMBOL=X", path=f"shock[{i}]"
            )
        key, val = (s.strip() for s in item.split("=", 1))
        kind, sym = moves.key(key, f"shock[{i}].{key}", seen)
        moves.add(kind, sym, _move(val, f"shock[{i}].{key}"))
    if not moves.spot and not moves.vol:
        raise InputError("no moves given", path="shock")
    return ShockPath(
        "moves",
        text,
        ("t+1",),
        {k: np.asarray(v) for k, v in moves.spot.items()},
        {k: np.asarray(v) for k, v in moves.vol.items()},
        source="command line",
    )


def _class_proxies(
    symbols: Sequence[str], config: RiskConfig, have: Sequence[str]
) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for s in symbols:
        if s in have:
            out[s] = s
            continue
        rc = config.risk_class_of(s)
        proxy = _CLASS_PROXY.get(rc or "")
        out[s] = proxy if proxy in have else None
    return out


def _daily(
    start: str, end: str, name: str, description: str, symbols: Sequence[str], config: RiskConfig
) -> ShockPath:
    try:
        t0, t1 = pd.Timestamp(start), pd.Timestamp(end)
    except ValueError:
        raise InputError(f"bad date in {start}:{end}", path="shock") from None
    full = load_daily_closes()
    # a series that did not trade on the first day starts from its previous close (weekends)
    df = full.loc[t0 - pd.Timedelta(days=10) : t1].ffill().loc[t0:t1]
    if df.shape[0] < 2:
        raise InputError(
            f"the bundled daily history has fewer than 2 days in {start}..{end}", path="shock"
        )
    have = [c for c in ("BTC", "ETH", "SPX", "NDX") if df[c].notna().any()]
    proxies = _class_proxies(symbols, config, have)
    spot: dict[str, FloatArray] = {}
    used: dict[str, str] = {}
    for sym, src in proxies.items():
        if src is None:
            continue
        col = df[src]
        if not np.isfinite(col.iloc[0]):
            raise InputError(
                f"{src} has no close on {df.index[0].date()} (start of the window)", path="shock"
            )
        spot[sym] = (col.to_numpy()[1:] / float(col.iloc[0])).astype(np.float64)
        used[sym] = src
    vol: dict[str, FloatArray] = {}
    vix = df["VIX"]
    if vix.notna().all():
        for sym in symbols:
            if config.risk_class_of(sym) == "equity_index":
                vol[sym] = (vix.to_numpy()[1:] / float(vix.iloc[0])).astype(np.float64)
    labels = tuple(str(d.date()) for d in df.index[1:])
    return ShockPath(
        name,
        description,
        labels,
        spot,
        vol,
        source="crossmargin.history.load_daily_closes (CoinGecko; S&P DJI, Nasdaq via FRED; Cboe)",
        proxies={k: v for k, v in used.items() if k != v},
    )


def _hourly(start: str, end: str, symbols: Sequence[str], config: RiskConfig) -> ShockPath:
    try:
        t0, t1 = pd.Timestamp(start), pd.Timestamp(end)
    except ValueError:
        raise InputError(f"bad instant in {start}:{end}", path="shock") from None
    if t0.tzinfo is None:
        t0 = t0.tz_localize("UTC")
    if t1.tzinfo is None:
        t1 = t1.tz_localize("UTC")
    c = load_hourly_btc()["close"].loc[t0:t1]
    if c.shape[0] < 2:
        raise InputError(
            f"the bundled hourly BTC history has fewer than 2 hours in {start}..{end}", path="shock"
        )
    f = (c.to_numpy()[1:] / float(c.iloc[0])).astype(np.float64)
    spot: dict[str, FloatArray] = {}
    proxies: dict[str, str] = {}
    for sym in symbols:
        if sym == "BTC" or _CLASS_PROXY.get(config.risk_class_of(sym) or "") == "BTC":
            spot[sym] = f
            if sym != "BTC":
                proxies[sym] = "BTC"
    return ShockPath(
        "hourly BTC replay",
        f"hourly BTC/USD closes {c.index[0]} .. {c.index[-1]}",
        tuple(str(t) for t in c.index[1:]),
        spot,
        source="crossmargin.history.load_hourly_btc (Coinbase via CryptoDataDownload)",
        proxies=proxies,
    )


def _from_file(path: Path, symbols: Sequence[str]) -> ShockPath:
    obj = read_json(path, what="shock")
    if not isinstance(obj, dict):
        raise InputError("a shock file must be a JSON object", path=str(path))
    unknown = set(obj) - {"name", "description", "moves", "steps"}
    if unknown:
        raise InputError(
            f"unknown field {sorted(unknown)[0]!r}", path=f"shock.{sorted(unknown)[0]}"
        )
    for key in ("name", "description"):
        if key in obj and not isinstance(obj[key], str):
            raise InputError("must be a string", path=f"shock.{key}")
        if len(obj.get(key, "")) > 1_000:
            raise InputError("longer than 1000 characters", path=f"shock.{key}")
    if ("moves" in obj) == ("steps" in obj):
        raise InputError("give exactly one of 'moves' or 'steps'", path="shock")
    steps = [obj["moves"]] if "moves" in obj else obj["steps"]
    field = "shock.moves" if "moves" in obj else "shock.steps"
    if not isinstance(steps, list) or not steps:
        raise InputError("must be a non-empty list of {symbol: move}", path=field)
    if len(steps) > MAX_SHOCK_STEPS:
        raise InputError(f"more than {MAX_SHOCK_STEPS:,} steps", path=field)
    moves = _Moves(symbols)
    keys: dict[str, tuple[str, str]] = {}  # raw key -> (kind, symbol), checked once
    seen: dict[str, str] = {}
    for i, s in enumerate(steps):
        where = field if "moves" in obj else f"{field}[{i}]"
        if not isinstance(s, dict):
            raise InputError("must be an object {symbol: move}", path=where)
        step_seen: dict[str, str] = {}
        for k in s:
            kind, sym = moves.key(k, f"{where}.{k}", step_seen)
            if k not in keys:
                if f"{kind}:{sym}" in seen and seen[f"{kind}:{sym}"] != k:
                    raise InputError(
                        f"{k!r} and {seen[f'{kind}:{sym}']!r} name the same symbol in "
                        "different steps (symbols ignore case): write it one way",
                        path=f"{where}.{k}",
                    )
                seen[f"{kind}:{sym}"] = k
                keys[k] = (kind, sym)
        if len(keys) > MAX_SHOCK_SYMBOLS:
            raise InputError(f"more than {MAX_SHOCK_SYMBOLS} symbols", path=where)
    for i, s in enumerate(steps):
        where = field if "moves" in obj else f"{field}[{i}]"
        for k, (kind, sym) in keys.items():
            raw = s.get(k, 0.0)  # a symbol absent from a step has not moved (yet)
            if not isinstance(raw, int | float) or isinstance(raw, bool):
                raise InputError(f"must be a number, got {raw!r}"[:120], path=f"{where}.{k}")
            try:
                x = float(raw)
            except OverflowError:
                raise InputError("number out of range", path=f"{where}.{k}") from None
            moves.add(kind, sym, _move(repr(x), f"{where}.{k}"))
    return ShockPath(
        str(obj.get("name", path.stem)),
        str(obj.get("description", "")),
        tuple(f"t+{i + 1}" for i in range(len(steps))),
        {k: np.asarray(v) for k, v in moves.spot.items()},
        {k: np.asarray(v) for k, v in moves.vol.items()},
        source=str(path),
    )


def parse_shock(text: str, *, symbols: Sequence[str], config: RiskConfig) -> ShockPath:
    """Build a shock from its command-line form (module docstring).

    Parameters
    ----------
    text
        The ``--shock`` value.
    symbols
        The venue's underlyings (historical paths are built for these).
    config
        Risk configuration (risk classes choose history proxies).

    Raises
    ------
    InputError
        Unknown form, bad number, unknown named path or an empty history window.
    """
    t = text.strip()
    if t.lower().endswith(".json"):
        return _from_file(Path(t), symbols)
    if t.startswith("history:"):
        rest = t[len("history:") :]
        if rest in NAMED_PATHS:
            s, e, d = NAMED_PATHS[rest]
            return _daily(s, e, rest, d, symbols, config)
        parts = rest.split(":")
        if len(parts) != 2:
            raise InputError(
                f"unknown history path {rest!r}; use one of {', '.join(NAMED_PATHS)} or START:END",
                path="shock",
            )
        return _daily(
            parts[0], parts[1], f"history {rest}", f"daily closes {rest}", symbols, config
        )
    if t == "hourly" or t.startswith("hourly:"):
        if t == "hourly":
            return _hourly(*HOURLY_DEFAULT, symbols, config)
        rest = t[len("hourly:") :]
        # instants contain ':' — split on the separator between two ISO instants or dates
        parts = (
            rest.split("/") if "/" in rest else rest.split(":", 1) if rest.count(":") == 1 else []
        )
        if len(parts) != 2:
            raise InputError(
                "use hourly:START/END with ISO instants (or hourly:DATE:DATE)", path="shock"
            )
        return _hourly(parts[0], parts[1], symbols, config)
    return _moves(t, symbols)
