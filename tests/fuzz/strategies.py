"""Hypothesis strategies over the input schemas, and the cases they drive.

Where the mutation corpus starts from the bundled examples, these strategies build inputs from
the schemas themselves: market snapshots (prices, confidences, timestamps, vols, rates, perps,
expiries with smiles or SVI), portfolios (named and explicit instruments, quantities and entry
prices across magnitudes), risk-configuration overrides, batch tables in every format and column
type, shocks, price histories and trades — valid and invalid values mixed, so that both the
computation and the validation are exercised.
"""

from __future__ import annotations

import io
import json
from typing import Any

from hypothesis import strategies as st

from .cases import Case

UNDERLYINGS = ("BTC", "ETH")
EXPIRIES = ("27NOV26", "26DEC26", "26MAR27", "25JUN27")
INSTANTS = ("2026-11-22T08:00:00Z", "2026-11-22T07:59:00Z", "2026-11-22T08:00:00+01:00",
            "2026-11-21T08:00:00Z", "2026-11-22T08:01:00Z", "2026-11-22T08:00:00",
            "0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-01:00", "2020-01-01T00:00:00Z",
            "not a date", "")  # fmt: skip

finite = st.floats(allow_nan=False, allow_infinity=False, min_value=-1e12, max_value=1e12)
positive = st.floats(min_value=1e-6, max_value=1e9, allow_nan=False, allow_infinity=False)
odd = st.sampled_from([float("nan"), float("inf"), -float("inf"), 0.0, -1.0, 1e308, 5e-324,
                       True, False, None, "1", "", [], {}])  # fmt: skip


def _number(base: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Mostly sensible numbers, sometimes odd values."""
    return st.one_of(base, base, base, odd)


@st.composite
def smiles(draw: st.DrawFn) -> dict[str, Any]:
    """A smile ``{strikes, vols}`` (sometimes unsorted, mismatched or non-positive)."""
    n = draw(st.integers(1, 6))
    strikes = sorted(draw(st.lists(positive, min_size=n, max_size=n, unique=True)))
    if draw(st.booleans()) and n > 1 and draw(st.integers(0, 9)) == 0:
        strikes = strikes[::-1]
    vols = draw(
        st.lists(_number(st.floats(0.05, 3.0)), min_size=n, max_size=n + draw(st.integers(0, 1)))
    )
    return {"strikes": strikes, "vols": vols}


@st.composite
def svis(draw: st.DrawFn) -> dict[str, Any]:
    """Raw SVI parameters (sometimes outside their domain)."""
    return {
        "a": draw(_number(st.floats(0.0, 0.5))),
        "b": draw(_number(st.floats(0.0, 1.0))),
        "rho": draw(_number(st.floats(-0.99, 0.99))),
        "m": draw(_number(st.floats(-0.5, 0.5))),
        "sigma": draw(_number(st.floats(0.01, 1.0))),
    }


@st.composite
def expiry_blocks(draw: st.DrawFn, spot: float) -> dict[str, Any]:
    """One expiry's market data."""
    d: dict[str, Any] = {}
    if draw(st.booleans()):
        d["forward"] = draw(_number(st.floats(spot * 0.8, spot * 1.2)))
    if draw(st.booleans()):
        d["discount"] = draw(_number(st.floats(0.9, 1.0)))
    vol = draw(st.sampled_from(["smile", "svi", "vol", "none"]))
    if vol == "smile":
        d["smile"] = draw(smiles())
    elif vol == "svi":
        d["svi"] = draw(svis())
    elif vol == "vol":
        d["vol"] = draw(_number(st.floats(0.05, 3.0)))
    return d


@st.composite
def markets(draw: st.DrawFn) -> dict[str, Any]:
    """A market snapshot document."""
    assets: dict[str, Any] = {
        "USD": {"price": 1.0},
        "USDC": {"price": draw(_number(st.floats(0.9, 1.1)))},
    }
    for u in UNDERLYINGS:
        spot = draw(st.floats(10.0, 1e6))
        a: dict[str, Any] = {"price": draw(st.one_of(st.just(spot), odd))}
        if draw(st.booleans()):
            a["vol"] = draw(_number(st.floats(0.05, 3.0)))
        if draw(st.booleans()):
            a["rate"] = draw(_number(st.floats(-0.5, 0.5)))
        if draw(st.booleans()):
            a["confidence"] = draw(_number(st.floats(0.0, 1.0)))
        if draw(st.booleans()):
            a["timestamp"] = draw(st.sampled_from(INSTANTS))
        if draw(st.booleans()):
            a["perp"] = {"mark": draw(_number(st.floats(spot * 0.9, spot * 1.1)))}
        exps = draw(st.lists(st.sampled_from(EXPIRIES), unique=True, max_size=4))
        if exps:
            a["expiries"] = {e: draw(expiry_blocks(spot)) for e in exps}
        assets[u] = a
    return {"as_of": draw(st.sampled_from(INSTANTS[:3] + INSTANTS[5:8])), "base_currency": "USD",
            "assets": assets}  # fmt: skip


@st.composite
def instruments(draw: st.DrawFn) -> Any:
    """An instrument name or explicit object (sometimes nonsense)."""
    u = draw(st.sampled_from(UNDERLYINGS))
    e = draw(st.sampled_from(EXPIRIES))
    kind = draw(st.sampled_from(["perp", "future", "option", "spot", "object", "junk"]))
    if kind == "perp":
        return f"{u}-PERP" + draw(st.sampled_from(["", "", "-INV"]))
    if kind == "future":
        return f"{u}-{e}"
    if kind == "spot":
        return f"{u}-SPOT"
    if kind == "option":
        k = draw(st.integers(1, 200)) * (500 if u == "BTC" else 50)
        return f"{u}-{e}-{k}-{draw(st.sampled_from('CP'))}"
    if kind == "object":
        return {
            "kind": draw(st.sampled_from(["option", "future", "perpetual", "spot", "swap"])),
            "underlying": u,
            "expiry": draw(st.sampled_from([e, "2026-12-26T08:00:00Z", *INSTANTS[6:9]])),
            "strike": draw(_number(positive)),
            "right": draw(st.sampled_from(["call", "put", "C", "straddle"])),
            "multiplier": draw(_number(st.floats(0.001, 1000))),
        }
    return draw(st.text(max_size=30))


@st.composite
def portfolios(draw: st.DrawFn) -> dict[str, Any]:
    """A portfolio document (one account or several)."""

    def account(i: int) -> dict[str, Any]:
        pos = [
            {"instrument": draw(instruments()), "quantity": draw(_number(finite))}
            | ({"entry_price": draw(_number(positive))} if draw(st.booleans()) else {})
            for _ in range(draw(st.integers(0, 6)))
        ]
        col = {s: draw(_number(st.floats(-1e6, 1e7))) for s in
               draw(st.lists(st.sampled_from(["USDC", "USD", "BTC", "ETH", "usdc"]), max_size=3,
                             unique=True))}  # fmt: skip
        return {"account": f"a{i}", "collateral": col, "positions": pos}

    n = draw(st.integers(1, 3))
    return account(0) if n == 1 else {"accounts": [account(i) for i in range(n)]}


@st.composite
def table_frames(draw: st.DrawFn) -> tuple[bytes, bytes, str]:
    """Positions and collateral tables in one format (bytes), with odd column types."""
    import pandas as pd

    fmt = draw(st.sampled_from(["csv", "json", "parquet"]))
    n = draw(st.integers(1, 8))
    pos = pd.DataFrame({
        "account": [f"a{draw(st.integers(0, 2))}" for _ in range(n)],
        "instrument": [draw(instruments()) if fmt == "json" else str(draw(instruments())) for _ in range(n)],
        "quantity": [draw(st.one_of(finite, st.sampled_from([float("nan"), True, "5", None]))) for _ in range(n)],
    })  # fmt: skip
    col = pd.DataFrame({"account": ["a0", "a1"], "asset": ["USDC", draw(st.sampled_from(["BTC", "btc", "DOGE"]))],
                        "amount": [draw(_number(st.floats(0, 1e7))), 1.0]})  # fmt: skip

    def enc(df: pd.DataFrame) -> bytes:
        buf = io.BytesIO()
        try:
            if fmt == "csv":
                buf.write(df.to_csv(index=False).encode())
            elif fmt == "json":
                buf.write(
                    json.dumps(df.to_dict(orient="records"), allow_nan=True, default=str).encode()
                )
            else:
                df.to_parquet(buf, index=False)
        except Exception:  # an object column Arrow cannot store: as text
            buf = io.BytesIO()
            df.astype(str).to_parquet(buf, index=False)
        return buf.getvalue()

    return enc(pos), enc(col), fmt


shock_strings = st.one_of(
    st.lists(
        st.tuples(st.sampled_from(["BTC", "ETH", "btc", "*", "vol", "vol.ETH", "XRP", ""]),
                  st.sampled_from(["-0.2", "-1", "-0.999", "0", "nan", "inf", "1e400", "x", "3"])),
        min_size=1, max_size=4,
    ).map(lambda kv: ",".join(f"{k}={v}" for k, v in kv)),
    st.sampled_from(["history:crypto-2018", "history:nope", "history:2018-01-01:2017-01-01",
                     "hourly", "hourly:2018-02-05T04:00:00Z/2018-02-05T10:00:00Z", "hourly:x"]),
)  # fmt: skip

trades = st.builds(
    lambda i, q, p: f"{i}:{q}" + (f"@{p}" if p is not None else ""),
    st.sampled_from(["BTC-PERP", "ETH-PERP", "BTC-26DEC26-70000-C", "BTC-27NOV26", "SOL-PERP", "-PERP"]),
    st.sampled_from(["1", "-2", "0", "nan", "inf", "1e400", "x", ""]),
    st.sampled_from([None, "65000", "-1", "0", "nan"]),
)  # fmt: skip


@st.composite
def histories(draw: st.DrawFn) -> bytes:
    """A price-history CSV (dates × assets, blank cells, odd values, ragged rows)."""
    n = draw(st.integers(2, 40))
    cols = draw(st.lists(st.sampled_from(["BTC", "ETH", "SPX", "btc", ""]), min_size=1, max_size=3))
    lines = ["date," + ",".join(cols)]
    for i in range(n):
        cells = [draw(st.sampled_from(["100", "101.5", "", "nan", "0", "-1", "x", "1e400"]))
                 if draw(st.integers(0, 9)) == 0 else str(100 + i) for _ in cols]  # fmt: skip
        if draw(st.integers(0, 30)) == 0:
            cells = cells[:-1]
        date = draw(st.sampled_from([f"2019-01-{i + 1:02d}" if i < 28 else f"2019-02-{i - 27:02d}",
                                     "2019-13-01", ""])) if draw(st.integers(0, 19)) == 0 else (
            f"2019-01-{i + 1:02d}" if i < 28 else f"2019-02-{i - 27:02d}")  # fmt: skip
        lines.append(",".join([date, *cells]))
    return ("\n".join(lines) + "\n").encode()


@st.composite
def schema_cases(draw: st.DrawFn) -> Case:
    """A command line over generated inputs."""
    which = draw(st.sampled_from(["margin", "batch", "cascade", "whatif", "history", "price"]))
    if which in ("margin", "whatif", "price"):
        mk = json.dumps(draw(markets()), allow_nan=True).encode()
        pf = json.dumps(draw(portfolios()), allow_nan=True).encode()
        if which == "margin":
            model = draw(st.sampled_from(["portfolio", "cross", "isolated", "deribit-pm", "var"]))
            return Case("margin", ["margin", "{in}/p.json", "-m", "{in}/m.json", "-f", "json",
                                   "--model", model], {"p.json": pf, "m.json": mk},
                        f"generated portfolio and market ({model})", mutated={"market": "m.json", "portfolio": "p.json"})  # fmt: skip
        if which == "whatif":
            return Case("whatif", ["whatif", "{in}/p.json", "-m", "{in}/m.json", "-f", "json",
                                   "--account", "a0", "-t", draw(trades)], {"p.json": pf, "m.json": mk},
                        "generated whatif")  # fmt: skip
        return Case("price", ["price", str(draw(instruments())), "-m", "{in}/m.json", "-f", "json"],
                    {"m.json": mk}, "generated price")  # fmt: skip
    if which == "batch":
        p, c, fmt = draw(table_frames())
        from . import corpus

        mk = corpus.portfolios()[0][1]
        return Case("batch", ["batch", f"{{in}}/p.{fmt}", "--collateral", f"{{in}}/c.{fmt}", "-m",
                              f"{{in}}/{mk.name}", "-o", "{out}/r.csv"],
                    {f"p.{fmt}": p, f"c.{fmt}": c, mk.name: mk.data}, f"generated {fmt} tables",
                    ("r.csv",), json_stdout=False)  # fmt: skip
    if which == "cascade":
        from . import corpus

        mk = corpus.portfolios()[4][1]
        return Case("cascade", ["cascade", "synthetic:20", "-m", f"{{in}}/{mk.name}", "-s",
                                draw(shock_strings), "--no-progress", "-f", "json",
                                "--regimes", "portfolio"], {mk.name: mk.data}, "generated shock")  # fmt: skip
    return Case("history", ["history", "{in}/h.csv", "-f", "json"], {"h.csv": draw(histories())},
                "generated history", mutated={"history": "h.csv"})  # fmt: skip
