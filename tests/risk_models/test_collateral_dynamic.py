"""Dynamic collateral haircuts: volatility, size premium, concentration, floors."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from crossmargin import account_dict
from crossmargin.config import config_from_dict, default_config
from crossmargin.errors import MarketDataError
from crossmargin.market.snapshot import AssetMarket

from .helpers import crypto_market, gbm_frame, history_of_frame, margin
from .helpers import portfolio as pf

#: Drift publishes its weights to 4 decimals (integer arithmetic with truncation).
DRIFT_TOL = 1e-4


def dyn(**changes: object) -> object:
    d = default_config().model_dump(mode="json")
    d["dynamic_haircuts"].update({"enabled": True, **changes})
    return config_from_dict(d)


def collateral(res: object, asset: str) -> dict[str, object]:
    rows = account_dict(res, 0)["collateral"]  # type: ignore[arg-type]
    return next(r for r in rows if r["asset"] == asset)


def snap_with_vol(tmp: Path, vol: float, name: str) -> object:
    """ETH without an implied vol, so its EWMA history volatility drives the haircut."""
    df = gbm_frame(["BTC", "ETH"], n=400, vols=[vol, vol], start="2025-10-01", seed=2)
    snap = crypto_market(history=history_of_frame(df, tmp, name))
    return snap.shifted(assets={"ETH": replace(snap.assets["ETH"], vol=None)})


def test_haircut_rises_with_volatility(tmp_path: Path) -> None:
    book = pf(("BTC-PERP", 1.0), collateral={"ETH": 100.0, "USD": 1e5})
    cfg = dyn(concentration={"default_max_share": None, "max_share": {}, "excess_haircut": 1.0})
    hs = []
    for vol in (0.8, 1.6, 3.2):
        r = margin(book, snap_with_vol(tmp_path, vol, f"h{vol}.csv"), "portfolio", cfg)
        hs.append(collateral(r, "ETH")["haircut_im"])
    assert hs[0] < hs[1] < hs[2]
    # at 3.2 annual vol, z sigma sqrt(2) is far above the 18 % static haircut
    assert hs[2] > 0.3


def test_implied_vol_comes_first(tmp_path: Path) -> None:
    # the one volatility policy: the snapshot's implied vol, then the history's EWMA
    book = pf(("BTC-PERP", 1.0), collateral={"ETH": 100.0, "USD": 1e5})
    cfg = dyn(concentration={"default_max_share": None, "max_share": {}, "excess_haircut": 1.0})
    wild = snap_with_vol(tmp_path, 3.2, "wild.csv")
    implied = wild.shifted(assets={"ETH": replace(wild.assets["ETH"], vol=0.7)})
    h = collateral(margin(book, implied, "portfolio", cfg), "ETH")["haircut_detail"]
    dh = cfg.dynamic_haircuts
    assert h["volatility_im"] == pytest.approx(
        dh.z_im * 0.7 / np.sqrt(365.0) * np.sqrt(dh.horizon_days)
    )


def test_floored_by_static_haircut_and_off_by_default(tmp_path: Path) -> None:
    snap = snap_with_vol(tmp_path, 0.05, "calm.csv")  # very calm: the static haircut binds
    book = pf(("BTC-PERP", 1.0), collateral={"ETH": 100.0, "USD": 1e5})
    no_limit = {"default_max_share": None, "max_share": {}, "excess_haircut": 1.0}
    r = margin(book, snap, "portfolio", dyn(concentration=no_limit))
    row = collateral(r, "ETH")
    assert row["haircut_im"] == pytest.approx(0.18)
    assert row["haircut_detail"]["volatility_im"] < 0.18  # type: ignore[index]
    off = margin(book, snap, "portfolio")
    assert collateral(off, "ETH")["haircut_im"] == 0.18
    assert "haircut_detail" not in collateral(off, "ETH")
    assert collateral(r, "USD")["haircut_im"] == 0.0  # the snapshot currency is never haircut


@pytest.mark.parametrize(
    ("f", "tokens", "asset_weight"),
    [(0.1, 1000.0, 0.2642), (0.01, 1000.0, 0.8357), (0.00001, 1e9, 0.8357)],
)
def test_size_premium_matches_drift_examples(f: float, tokens: float, asset_weight: float) -> None:
    # ../shared/methodologies/drift-v2.md section 2: A(S) = min(w, 1.1 / (1 + f sqrt(S))),
    # initial asset weight 0.9 (the 10 % static haircut is below the size premium here)
    d = default_config().model_dump(mode="json")
    d["collateral"]["SOL"] = {"im": 0.1, "mm": 0.05}
    d["dynamic_haircuts"].update(
        {"enabled": True, "size_factor": {"SOL": f}, "vols": {"SOL": 1e-6}, "liquidity_cost": False,
         "concentration": {"default_max_share": None, "max_share": {}, "excess_haircut": 1.0}}
    )  # fmt: skip
    snap = crypto_market()
    assets = dict(snap.assets)
    assets["SOL"] = AssetMarket(price=1.0)
    snap = replace(snap, assets=assets)
    r = margin(pf(collateral={"SOL": tokens}), snap, "portfolio", config_from_dict(d))
    assert 1.0 - collateral(r, "SOL")["haircut_im"] == pytest.approx(asset_weight, abs=DRIFT_TOL)


def test_concentration_limit_haircuts_the_excess(tmp_path: Path) -> None:
    snap = snap_with_vol(tmp_path, 0.05, "calm2.csv")
    cfg = dyn(
        concentration={"default_max_share": None, "max_share": {"ETH": 0.5}, "excess_haircut": 0.5}
    )
    book = pf(collateral={"ETH": 100.0, "USD": 100_000.0})  # ETH ~262 k of ~362 k after haircuts
    r = margin(book, snap, "portfolio", cfg)
    eth = collateral(r, "ETH")
    v = 100.0 * 3200.0 * (1 - 0.18)
    total = v + 100_000.0
    expected = v - 0.5 * (v - 0.5 * total)
    assert eth["value"] == pytest.approx(expected, rel=1e-9)
    assert eth["haircut_detail"]["concentration"] > 0  # type: ignore[index]
    small = margin(pf(collateral={"ETH": 10.0, "USD": 100_000.0}), snap, "portfolio", cfg)
    assert collateral(small, "ETH")["haircut_detail"]["concentration"] == 0.0  # type: ignore[index]


def test_missing_volatility_is_an_error_naming_the_field() -> None:
    d = default_config().model_dump(mode="json")
    d["collateral"]["XYZ"] = {"im": 0.3, "mm": 0.2}
    d["dynamic_haircuts"].update({"enabled": True, "vols": {}})
    snap = crypto_market()
    assets = dict(snap.assets)
    assets["XYZ"] = AssetMarket(price=2.0)
    with pytest.raises(MarketDataError) as e:
        margin(
            pf(collateral={"XYZ": 10.0}),
            replace(snap, assets=assets),
            "portfolio",
            config_from_dict(d),
        )
    assert e.value.path == "assets.XYZ.vol"
    assert "dynamic_haircuts.vols.XYZ" in e.value.reason


def test_liability_is_charged_more(tmp_path: Path) -> None:
    snap = snap_with_vol(tmp_path, 1.0, "h.csv")
    r = margin(pf(collateral={"ETH": -10.0, "USD": 1e5}), snap, "portfolio", dyn())
    eth = collateral(r, "ETH")
    assert eth["value"] < eth["market_value"] < 0
    assert np.isclose(eth["value"], eth["market_value"] * (1 + eth["haircut_im"]))
