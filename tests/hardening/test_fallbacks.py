"""Issue 9 §6: market fallbacks never lower margin silently.

* An option between two listed expiries gets its forward (ln F linear in T) and its total
  variance (σ²T linear in T at the same log-moneyness) from its neighbours; beyond the ends the
  nearest vol is extrapolated flat and the forward carried at the rate.
* Every fallback still used is a warning (code, path, message) in ``margin``/``explain``/
  ``compare`` JSON and tables, and ``market.fallbacks: error`` refuses it.
* For every bundled example: removing an expiry block, a smile/SVI/vol, a forward, a discount, a
  perp block, an asset vol or rate never gives a smaller margin for an account unless that account
  carries a warning (or the input is refused).
"""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import crossmargin as cm
from crossmargin.account.report import account_warnings
from crossmargin.config import config_from_dict, default_config
from crossmargin.errors import CrossMarginError, MarketDataError
from crossmargin.market.fallbacks import WARNING_CODES
from crossmargin.market.term import InterpolatedVol

from .helpers import invoke

EX = Path(cm.__file__).parent / "examples"
PAIRS = [
    ("crypto_book.json", "market_crypto.json"),
    ("hedged_book.json", "market_crypto.json"),
    ("index_book.json", "market_index.json"),
    ("venue_accounts.json", "market_venue.json"),
    ("liquidation_book.json", "market_crypto.json"),
]
AS_OF = "2026-11-22T08:00:00Z"


def _mutations(m: dict[str, Any]) -> Iterator[tuple[str, tuple[str, ...]]]:
    for sym, a in m["assets"].items():
        for k, e in a.get("expiries", {}).items():
            yield f"{sym}.expiries.{k}", ("assets", sym, "expiries", k)
            for f in ("smile", "svi", "vol", "forward", "discount", "rate"):
                if f in e:
                    yield f"{sym}.expiries.{k}.{f}", ("assets", sym, "expiries", k, f)
        for f in ("vol", "rate", "perp"):
            if f in a:
                yield f"{sym}.{f}", ("assets", sym, f)


def _drop(m: dict[str, Any], path: tuple[str, ...]) -> dict[str, Any]:
    out = copy.deepcopy(m)
    node: Any = out
    for k in path[:-1]:
        node = node[k]
    del node[path[-1]]
    return out


@pytest.mark.parametrize(("book", "market"), PAIRS)
@pytest.mark.parametrize("model", ["portfolio", "isolated"])
def test_removing_market_data_never_lowers_margin_silently(
    book: str, market: str, model: str
) -> None:
    pfs, prefixes = cm.load_portfolios(EX / book)
    m0 = json.loads((EX / market).read_text())
    base = cm.compute_margin(pfs, cm.market_from_obj(m0), model=model, prefixes=prefixes)
    assert all(not account_warnings(base, i) for i in range(base.n)), "examples are complete"
    strict = default_config().model_copy(
        update={"market": {**default_config().market.model_dump(), "fallbacks": "error"}}
    )
    checked = 0
    for label, path in _mutations(m0):
        snap = cm.market_from_obj(_drop(m0, path))
        try:
            res = cm.compute_margin(pfs, snap, model=model, prefixes=prefixes)
        except CrossMarginError:
            continue  # refused: fail closed
        for i in range(res.n):
            drop = res.initial_margin[i] < base.initial_margin[i] * (1 - 1e-12)
            if drop:
                assert account_warnings(res, i), f"{book} {model} {label}: smaller IM, no warning"
        # the same mutation under `fallbacks: error`: refused, or the margin is unchanged
        try:
            hard = cm.compute_margin(pfs, snap, model=model, prefixes=prefixes, config=strict)
        except MarketDataError:
            pass
        else:
            np.testing.assert_allclose(hard.initial_margin, base.initial_margin, rtol=1e-9)
        checked += 1
    assert checked >= 3


def _two_expiry_market() -> dict[str, Any]:
    return {
        "as_of": AS_OF,
        "timestamp": AS_OF,
        "assets": {
            "USD": {"price": 1.0},
            "BTC": {
                "price": 65_000.0,
                "vol": 0.4,
                "expiries": {
                    "26DEC26": {
                        "forward": 65_300.0,
                        "discount": 0.9965,
                        "smile": {"strikes": [50_000, 65_000, 80_000], "vols": [0.7, 0.55, 0.6]},
                    },
                    "26MAR27": {
                        "forward": 66_150.0,
                        "discount": 0.987,
                        "svi": {"a": 0.04, "b": 0.1, "rho": -0.2, "m": 0.0, "sigma": 0.3},
                    },
                },
            },
        },
    }


def test_between_two_expiries_forward_and_total_variance_are_interpolated() -> None:
    snap = cm.market_from_obj(_two_expiry_market())
    dec, mar = (cm.parse_instrument(f"BTC-{c}").expiry for c in ("26DEC26", "26MAR27"))
    mid = cm.parse_instrument("BTC-29JAN27").expiry
    assert dec and mar and mid
    t1, t2, t = (snap.time_to(x) for x in (dec, mar, mid))
    a = (t - t1) / (t2 - t1)
    f, w = snap.forward_term("BTC", mid)
    want_f = 65_000.0 * math.exp(
        math.log(65_300 / 65_000) + a * (math.log(66_150 / 65_000) - math.log(65_300 / 65_000))
    )
    assert f == pytest.approx(want_f, rel=1e-13)
    assert w is not None and w.code == "forward_interpolated"
    d, w = snap.discount_term("BTC", mid)
    assert d == pytest.approx(math.exp(math.log(0.9965) + a * (math.log(0.987) - math.log(0.9965))))
    assert w is not None and w.code == "discount_interpolated"
    surf, w = snap.surface_term("BTC", mid)
    assert isinstance(surf, InterpolatedVol) and w is not None and w.code == "vol_interpolated"
    # total variance at the same log-moneyness k, each surface read at its own forward
    K = np.array([55_000.0, 66_000.0, 90_000.0])
    k = np.log(K / f)
    s1 = snap.surface("BTC", dec).vols(65_300.0 * np.exp(k), 65_300.0, t1)
    s2 = snap.surface("BTC", mar).vols(66_150.0 * np.exp(k), 66_150.0, t2)
    w_want = s1**2 * t1 + a * (s2**2 * t2 - s1**2 * t1)
    np.testing.assert_allclose(surf.vols(K, f, t), np.sqrt(w_want / t), rtol=1e-13)
    # at a listed expiry the interpolation reproduces that expiry (continuity)
    np.testing.assert_allclose(
        surf.vols(K, 65_300.0, t1), snap.surface("BTC", dec).vols(K, 65_300.0, t1), rtol=1e-13
    )


def test_before_the_first_and_after_the_last_listed_expiry() -> None:
    snap = cm.market_from_obj(_two_expiry_market())
    early = cm.parse_instrument("BTC-4DEC26").expiry
    late = cm.parse_instrument("BTC-25JUN27").expiry
    dec = cm.parse_instrument("BTC-26DEC26").expiry
    mar = cm.parse_instrument("BTC-26MAR27").expiry
    assert early and late and dec and mar
    # before the first: ln F between spot (T = 0) and the first listed forward
    f, w = snap.forward_term("BTC", early)
    te, t1 = snap.time_to(early), snap.time_to(dec)
    assert f == pytest.approx(65_000.0 * (65_300 / 65_000) ** (te / t1), rel=1e-13)
    assert w is not None and w.code == "forward_interpolated"
    surf, w = snap.surface_term("BTC", early)
    assert w is not None and w.code == "vol_extrapolated"
    K = np.array([60_000.0, 70_000.0])
    k = np.log(K / f)
    np.testing.assert_allclose(
        surf.vols(K, f, te), snap.surface("BTC", dec).vols(65_300.0 * np.exp(k), 65_300.0, t1)
    )
    # after the last: carried at the implied carry of the last forward (no asset rate)
    f, w = snap.forward_term("BTC", late)
    t2, tl = snap.time_to(mar), snap.time_to(late)
    carry = math.log(66_150 / 65_000) / t2
    assert f == pytest.approx(66_150.0 * math.exp(carry * (tl - t2)), rel=1e-13)
    assert w is not None and w.code == "forward_extrapolated"
    assert snap.surface_term("BTC", late)[1].code == "vol_extrapolated"  # type: ignore[union-attr]


def test_no_listed_surface_uses_the_asset_vol_with_a_warning_and_error_mode_refuses() -> None:
    m = _two_expiry_market()
    for e in m["assets"]["BTC"]["expiries"].values():
        e.pop("smile", None)
        e.pop("svi", None)
    pf = cm.Portfolio(
        "a", "USD", {"USD": 1e6}, (cm.Position(cm.parse_instrument("BTC-26DEC26-60000-P"), -1.0),)
    )
    res = cm.compute_margin(pf, cm.market_from_obj(m))
    codes = [w["code"] for w in account_warnings(res, 0)]
    assert codes == ["asset_vol"]
    assert res.book.instruments.sigma[0] == 0.4
    strict = config_from_dict(
        {
            **default_config().model_dump(mode="json"),
            "market": {"min_confidence": 0.9, "max_age_seconds": 3600, "fallbacks": "error"},
        }
    )
    with pytest.raises(MarketDataError, match="asset_vol") as e:
        cm.compute_margin(pf, cm.market_from_obj(m), config=strict)
    assert e.value.path == "assets.BTC.expiries.2026-12-26T08:00:00Z.vol"


def test_perp_mark_fallback_is_a_warning() -> None:
    m = _two_expiry_market()
    pf = cm.Portfolio(
        "a", "USD", {"USD": 1e6}, (cm.Position(cm.parse_instrument("BTC-PERP"), 1.0),)
    )
    res = cm.compute_margin(pf, cm.market_from_obj(m))
    (w,) = account_warnings(res, 0)
    assert w["code"] == "perp_mark_from_spot" and w["path"] == "assets.BTC.perp.mark"


def test_warnings_only_reach_the_accounts_that_depend_on_them() -> None:
    m = _two_expiry_market()
    a = cm.Portfolio(
        "a", "USD", {"USD": 1e6}, (cm.Position(cm.parse_instrument("BTC-29JAN27-60000-P"), -1.0),)
    )
    b = cm.Portfolio(
        "b", "USD", {"USD": 1e6}, (cm.Position(cm.parse_instrument("BTC-26DEC26-60000-P"), -1.0),)
    )
    res = cm.compute_margin([a, b], cm.market_from_obj(m))
    assert {w["code"] for w in account_warnings(res, 0)} == {
        "forward_interpolated",
        "discount_interpolated",
        "vol_interpolated",
    }
    assert account_warnings(res, 1) == []
    table = cm.account.summary_table(res)
    assert list(table["warnings"]) == [
        "forward_interpolated;discount_interpolated;vol_interpolated",
        "",
    ]


def test_warnings_in_the_cli_json_table_explain_and_compare(tmp_path: Path) -> None:
    m = json.loads((EX / "market_crypto.json").read_text())
    del m["assets"]["BTC"]["expiries"]["26DEC26"]
    mk = tmp_path / "m.json"
    mk.write_text(json.dumps(m))
    book = EX / "crypto_book.json"
    r = invoke("margin", book, "-m", mk, "--format", "json")
    assert r.exit_code == 0, r.stderr
    codes = {w["code"] for w in json.loads(r.stdout)["warnings"]}
    assert {"forward_interpolated", "vol_interpolated"} <= codes
    r = invoke("margin", book, "-m", mk)
    assert "warning vol_interpolated assets.BTC.expiries.2026-12-26T08:00:00Z.vol" in r.stdout
    r = invoke("explain", book, "-m", mk, "--format", "json")
    assert {w["code"] for w in json.loads(r.stdout)["warnings"]} == codes
    r = invoke("explain", book, "-m", mk)
    assert "warning forward_interpolated" in r.stdout
    r = invoke("compare", book, "-m", mk, "--format", "json", "--allow-stale-history")
    got = {w["code"] for w in json.loads(r.stdout)["warnings"]}
    # var/es use the bundled history, which ends before as_of: accepted explicitly, and said
    assert codes <= got and {"bundled_history", "history_stale"} <= got
    r = invoke("price", "BTC-26DEC26-70000-C", "-m", mk, "--format", "json")
    assert {w["code"] for w in json.loads(r.stdout)[0]["warnings"]} == codes


def test_every_code_is_documented() -> None:
    doc = (Path(__file__).parents[2] / "docs" / "formats.md").read_text()
    missing = [c for c in WARNING_CODES if f"`{c}`" not in doc]
    assert not missing, f"warning codes not in docs/formats.md: {missing}"
