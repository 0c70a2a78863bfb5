"""Translate a Derive portfolio case into crossmargin's own files: portfolio, snapshot, config.

The translation is exact — running ``crossmargin margin --model derive-pmrm2`` on the three
emitted files reproduces the case's MM and IM (the account reports in the cash asset, USDC, so
``free_collateral`` is Derive's IM and ``maintenance_equity − maintenance_margin`` its MM):

* snapshot ``as_of`` = the harness reference time; the base market is one underlying
  (``BASE`` by default) with spot, spot confidence, ``perp.mark`` = perp price,
  ``perp.confidence``; each expiry carries forward, ``forward_fixed`` (within the 30-minute
  settlement TWAP), rate, forward/rate confidences, the SVI fit (with its forward and year
  fraction) and per-option vol confidences as ``marks``; an expired expiry also gets a
  settlement price (= its forward);
* the cash stable ``USDC`` has the case's stable price; each collateral token is an asset;
* portfolio (base currency USDC): cash and tokens as collateral, the perp with an entry price
  that makes its mark-to-market equal ``V_p`` (unrealised P&L + funding; folded into cash when
  no positive entry price does), options as explicit instruments;
* configuration: the shipped defaults with ``market.min_confidence`` 0 (PMRM_2 charges low
  confidence instead of refusing it) and the case's parameters and per-token haircuts under
  ``presets.derive-pmrm2``.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from crossmargin._time import format_instant
from crossmargin.config import default_config
from crossmargin.venues.derive.case import (
    REFERENCE_TIME,
    DeriveCase,
    VolSource,
    case_inputs,
    case_params,
)

__all__ = ["CASH_ASSET", "case_to_files"]

CASH_ASSET = "USDC"
_SYMBOL = re.compile(r"[^A-Z0-9_.]")


def _instant(offset_seconds: float) -> str:
    t = datetime.fromtimestamp(REFERENCE_TIME, tz=UTC) + timedelta(seconds=offset_seconds)
    return format_instant(t)


def _names(case: DeriveCase, underlying: str) -> list[str]:
    taken = {underlying, CASH_ASSET, "USD"}
    out = []
    for j, c in enumerate(case.Scenario.Collaterals):
        base = _SYMBOL.sub("", c.Name.upper()) or f"COLL{j}"
        if not base[0].isalnum():
            base = f"C{base}"
        name = base
        k = 1
        while name in taken:
            name = f"{base}_{k}"
            k += 1
        taken.add(name)
        out.append(name)
    return out


def case_to_files(
    case: DeriveCase, *, underlying: str = "BASE", vols: VolSource = "svi"
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """Portfolio, market snapshot and risk configuration (plain JSON-able objects) of a case.

    Parameters
    ----------
    underlying
        Symbol given to the case's base market.
    vols
        ``svi``: carry each feed's SVI fit (the contract's vol source); ``mark``: carry each
        option's ``MarkVol`` as a mark. A feed whose SVI the snapshot schema rejects falls back
        to marks holding the vol Derive evaluates from it (identical numbers).
    """
    sc = case.Scenario
    params = case_params(case)
    inputs, layout = case_inputs(case, vols=vols)
    und = underlying.upper()
    coll_names = _names(case, und)

    # -- market --------------------------------------------------------------------------------
    expiries: dict[str, Any] = {}
    settlements: dict[str, float] = {}
    for row, fi in enumerate(layout.feeds):
        f = sc.OptionFeeds[fi]
        T = max(f.FeedExpiry, 0.0)
        key = _instant(T)
        e: dict[str, Any] = {
            "forward": f.Forward,
            "rate": f.Rate,
            "forward_confidence": f.ForwardConfidence,
            "rate_confidence": f.RateConfidence,
        }
        if 0.0 < T < 1800.0:
            e["forward_fixed"] = float(inputs.e_forward_fixed[row])
        if T <= 0.0:
            settlements[key] = f.Forward
        marks = []
        opts = [j for j, r in enumerate(layout.option_feed) if r == row]
        use_marks = vols == "mark" or f.SVIparam is None or not _svi_ok(f.SVIparam)
        if not use_marks and f.SVIparam is not None:
            a, b, rho, m, sig, fs, ts = f.SVIparam
            e["svi"] = {"a": a, "b": b, "rho": rho, "m": m, "sigma": sig, "forward": fs, "t": ts}
        for j in opts:
            o = sc.Options[j]
            mk: dict[str, Any] = {
                "strike": o.Strike,
                "right": "call" if o.IsCall else "put",
                "confidence": layout.vol_conf[j],
            }
            if use_marks and T > 0.0:
                mk["vol"] = layout.vols[j]
            marks.append(mk)
        if marks:
            e["marks"] = marks
        expiries[key] = e
    base: dict[str, Any] = {"price": sc.SpotPrice, "confidence": sc.SpotConfidence}
    if sc.NumPerps != 0:
        base["perp"] = {"mark": sc.perp_price, "confidence": sc.perp_confidence}
    if expiries:
        base["expiries"] = expiries
    if settlements:
        base["settlements"] = settlements
    assets: dict[str, Any] = {
        CASH_ASSET: {
            "price": sc.StablePrice,
            "confidence": 1.0 if sc.StableConfidence is None else sc.StableConfidence,
        },
        und: base,
    }
    for name, c in zip(coll_names, sc.Collaterals, strict=True):
        assets[name] = {"price": c.Price, "confidence": c.Confidence}
    market = {
        "as_of": _instant(0.0),
        "timestamp": _instant(0.0),  # the harness prices are observed at its reference time
        "base_currency": "USD",
        "assets": assets,
    }

    # -- portfolio -----------------------------------------------------------------------------
    cash = sc.Cash
    v_p = sc.UnrealisedPerpPNL + sc.UnrealisedFunding
    positions: list[dict[str, Any]] = []
    if sc.NumPerps != 0:
        entry = sc.perp_price - v_p / sc.NumPerps
        pos: dict[str, Any] = {"instrument": f"{und}-PERP", "quantity": sc.NumPerps}
        if entry > 0:
            pos["entry_price"] = entry
        else:
            cash += v_p
        positions.append(pos)
    else:
        cash += v_p
    for o in sc.Options:
        if o.Amount == 0:
            continue
        positions.append(
            {
                "instrument": {
                    "kind": "option",
                    "underlying": und,
                    "expiry": _instant(max(o.Expiry, 0.0)),
                    "strike": o.Strike,
                    "right": "call" if o.IsCall else "put",
                },
                "quantity": o.Amount,
            }
        )
    collateral: dict[str, float] = {CASH_ASSET: cash}
    for name, c in zip(coll_names, sc.Collaterals, strict=True):
        collateral[name] = collateral.get(name, 0.0) + c.Amount
    portfolio = {
        "account": "derive-case",
        "base_currency": CASH_ASSET,
        "collateral": collateral,
        "positions": positions,
    }

    # -- configuration -------------------------------------------------------------------------
    pp = params.model_dump(mode="json")
    for scen in pp["scenarios"]:
        if scen["vol"] in ("linear", "abs"):
            # the contract's skew rule has no spot shock; a case may write one (test_67): the
            # adapter reads it at 1 (case_notes says so), and so does the emitted configuration
            scen["spot_shock"] = 1.0
    pp["cash_asset"] = CASH_ASSET
    pp["collaterals"] = {
        name: {
            "mm_haircut": c.MMHaircut,
            "im_haircut": c.IMHaircut,
            "risk_cancelling": c.IsRiskCancelling,
            "underlying": und,
        }
        for name, c in zip(coll_names, sc.Collaterals, strict=True)
    }
    cfg = default_config().model_dump(mode="json")
    cfg["market"] = {**cfg["market"], "min_confidence": 0.0}
    cfg["presets"] = {"derive-pmrm2": pp}
    return portfolio, market, cfg


def _svi_ok(prm: list[float]) -> bool:
    """Whether the snapshot schema accepts the SVI fit (else the emitter writes marks)."""
    if len(prm) != 7:
        return False
    a, b, rho, _m, sig, fs, ts = prm
    return (
        b >= 0
        and sig > 0
        and -1 < rho < 1
        and fs > 0
        and ts > 0
        and (a + b * sig * (1 - rho * rho) ** 0.5 >= 0)
    )
