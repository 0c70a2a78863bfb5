"""The ``portfolio`` grid's calibration parameters and their configuration overlay.

A parameter point is a flat mapping (:data:`DEFAULT`); :func:`overlay` turns it into a YAML
overlay on ``default_risk.yaml``; :func:`relevant` names the parameters that can change a given
book's margins (so that identical runs are computed once).

* ``c_range``: crypto scan range, down and up (Deribit PM ``price_range``, default 0.16);
* ``eth_range``: ``None`` (ETH in the crypto class) or ETH's own range (ETH moved to a class
  ``crypto_eth``, a copy of ``crypto`` with that range);
* ``c_volup`` / ``c_voldown``: crypto vol shocks;
* ``be_credit``: BTC/ETH inter-commodity credit rate;
* ``e_down`` / ``e_up`` / ``e_volup``: equity-index scan range and vol-up shock;
* ``sn_credit``: SPX/NDX credit rate.
"""
# ruff: noqa: N812  (study modules imported under one-letter names)

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import common as C

DEFAULT: dict[str, Any] = {
    "c_range": 0.16,
    "eth_range": None,
    "c_volup": 0.5,
    "c_voldown": 0.25,
    "be_credit": 0.5,
    "e_down": 0.08,
    "e_up": 0.06,
    "e_volup": 0.40,
    "sn_credit": 0.75,
}

CRYPTO = {"BTC", "ETH"}
EQUITY = {"SPX", "NDX"}


def overlay(p: Mapping[str, Any]) -> dict[str, Any]:
    """Configuration overlay of a parameter point (only what differs from the defaults)."""
    q = {**DEFAULT, **p}
    base = C.default_yaml()
    ov: dict[str, Any] = {}
    rc: dict[str, Any] = {}
    crypto_grid: dict[str, Any] = {}
    if q["c_range"] != DEFAULT["c_range"]:
        crypto_grid |= {"price_range_down": q["c_range"], "price_range_up": q["c_range"]}
    if q["c_volup"] != DEFAULT["c_volup"]:
        crypto_grid["vol_up"] = q["c_volup"]
    if q["c_voldown"] != DEFAULT["c_voldown"]:
        crypto_grid["vol_down"] = q["c_voldown"]
    if crypto_grid:
        rc["crypto"] = {"grid": crypto_grid}
    if q["eth_range"] is not None:
        eth = copy.deepcopy(base["risk_classes"]["crypto"])
        eth["grid"] |= crypto_grid
        eth["grid"] |= {"price_range_down": q["eth_range"], "price_range_up": q["eth_range"]}
        rc["crypto_eth"] = eth
        ov["underlyings"] = {"ETH": "crypto_eth"}
        ov["var"] = {"vol_response": {"crypto_eth": base["var"]["vol_response"]["crypto"]}}
    eq_grid: dict[str, Any] = {}
    if q["e_down"] != DEFAULT["e_down"]:
        eq_grid["price_range_down"] = q["e_down"]
    if q["e_up"] != DEFAULT["e_up"]:
        eq_grid["price_range_up"] = q["e_up"]
    if q["e_volup"] != DEFAULT["e_volup"]:
        eq_grid["vol_up"] = q["e_volup"]
    if eq_grid:
        rc["equity_index"] = {"grid": eq_grid}
    if rc:
        ov["risk_classes"] = rc
    if q["be_credit"] != DEFAULT["be_credit"] or q["sn_credit"] != DEFAULT["sn_credit"]:
        ov["inter_commodity"] = [
            {"legs": ["BTC", "ETH"], "ratio": [1.0, 1.0], "credit": q["be_credit"]},
            {"legs": ["SPX", "NDX"], "ratio": [1.0, 1.0], "credit": q["sn_credit"]},
        ]
    return ov


def relevant(book: str, p: Mapping[str, Any]) -> dict[str, Any]:
    """The part of ``p`` that can change ``book``'s portfolio margins (rest at defaults)."""
    b = C.book(book)
    und = set(b.underlyings)
    opt = set(b.option_underlyings)
    q = {**DEFAULT, **p}
    out: dict[str, Any] = {}
    if und & CRYPTO:
        if "BTC" in und or q["eth_range"] is None:
            out["c_range"] = q["c_range"]
        if "ETH" in und:
            out["eth_range"] = q["eth_range"]
        if opt & CRYPTO:
            out["c_volup"] = q["c_volup"]
            out["c_voldown"] = q["c_voldown"]
        if {"BTC", "ETH"} <= und:
            out["be_credit"] = q["be_credit"]
    if und & EQUITY:
        out["e_down"] = q["e_down"]
        out["e_up"] = q["e_up"]
        if opt & EQUITY:
            out["e_volup"] = q["e_volup"]
        if {"SPX", "NDX"} <= und:
            out["sn_credit"] = q["sn_credit"]
    return out
