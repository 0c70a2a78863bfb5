"""Derive's portfolio-case JSON files: load a case and arrange it for the PMRM_2 core.

The venue's harness (``TestPMRM_2_PortfolioCasesNEW.t.sol``) reads 139 JSON files
(``derive-pmrm2.md`` §10); their layout and field validation are :mod:`.case_format`.
:func:`run_case` computes a case with the same PMRM_2 core as the ``derive-pmrm2`` margin model;
:mod:`.compare` applies the harness's comparison rule. :func:`case_notes` lists what a case
contains that the contract itself would refuse (the venue's ``test_67`` has a skew scenario with a
spot move) and how the adapter reads it, so that no such reading is silent.

The case files are BUSL-1.1 and are never vendored; this module only reads the layout.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import ValidationError

from crossmargin._validation import read_json, validate_document
from crossmargin.errors import InputError
from crossmargin.margin.presets.derive.core import DeriveInputs, DeriveResult, derive_margin
from crossmargin.margin.presets.derive.kernel import derive_svi_vols
from crossmargin.margin.presets.derive.params import DeriveParams
from crossmargin.venues.derive.case_format import PARAMETER_KEYS, DeriveCase, fixed18

__all__ = [
    "REFERENCE_TIME",
    "CaseLayout",
    "DeriveCase",
    "VolSource",
    "case_from_obj",
    "case_inputs",
    "case_notes",
    "case_params",
    "checked_result",
    "fixed18",
    "load_case",
    "run_case",
]

#: The harness's reference time (Unix seconds); option expiries are offsets from it.
REFERENCE_TIME = 1_630_000_000


def load_case(path: str | Path) -> DeriveCase:
    """Read and validate a portfolio-case JSON file.

    Raises
    ------
    InputError
        Naming the offending key (e.g. ``Scenario.Options[2].Strike``).
    """
    obj = read_json(path, what="venue case")
    return case_from_obj(obj)


def case_from_obj(obj: Any) -> DeriveCase:
    """Validate a parsed portfolio-case document (see :mod:`.case_format`).

    Raises
    ------
    InputError
        Naming the offending key, e.g. ``Scenario.OptionFeeds[0].ForwardConfidence``.
    """
    case = validate_document(DeriveCase, obj, what="venue case", path="case")
    sc = case.Scenario
    if sc.NumPerps != 0.0:
        if sc.PerpPrice is None or sc.PerpPrice <= 0.0:
            raise InputError(
                "a positive perp price is required when NumPerps is not 0",
                path="Scenario.PerpPrice",
            )
        if sc.PerpConfidence is None:
            raise InputError(
                "required when NumPerps is not 0 (it enters the portfolio confidence)",
                path="Scenario.PerpConfidence",
            )
    seen: dict[float, int] = {}
    for i, f in enumerate(sc.OptionFeeds):
        if f.FeedExpiry in seen:
            raise InputError(
                f"duplicate FeedExpiry {f.FeedExpiry:g} (also OptionFeeds[{seen[f.FeedExpiry]}])",
                path=f"Scenario.OptionFeeds[{i}].FeedExpiry",
            )
        seen[f.FeedExpiry] = i
    return case


def _parameter_data(case: DeriveCase) -> tuple[dict[str, Any], dict[tuple[str, str], str]]:
    """Our parameter mapping from the case's sections, and the JSON path of each field."""
    P = case.Parameters
    data: dict[str, Any] = {}
    where: dict[tuple[str, str], str] = {}
    for section, (ours, keys) in PARAMETER_KEYS.items():
        given: dict[str, Any] = getattr(P, section)
        out: dict[str, float] = {}
        for key, name in keys.items():
            path = f"Parameters.{section}.{key}"
            if key not in given:
                raise InputError("required parameter is missing", path=path)
            try:
                out[name] = fixed18(given[key])
            except ValueError as exc:
                raise InputError(str(exc), path=path) from None
            where[(ours, name)] = path
        data[ours] = out
    data["scenarios"] = [
        {"spot_shock": s.SpotShock, "vol": s.VolShockDirection, "dampening": s.DampeningFactor}
        for s in P.Scenarios
    ]
    return data, where


def _param_path(exc: ValidationError, where: dict[tuple[str, str], str]) -> InputError:
    err = exc.errors()[0]
    loc = tuple(err["loc"])
    msg = str(err["msg"]).removeprefix("Value error, ")
    if len(loc) >= 2 and loc[0] == "scenarios":
        return InputError(msg, path=f"Parameters.Scenarios[{loc[1]}]")
    if len(loc) >= 2 and (str(loc[0]), str(loc[1])) in where:
        return InputError(msg, path=where[(str(loc[0]), str(loc[1]))])
    section = {ours: sec for sec, (ours, _) in PARAMETER_KEYS.items()}.get(
        str(loc[0]) if loc else ""
    )
    return InputError(msg, path=f"Parameters.{section}" if section else "Parameters")


def case_params(case: DeriveCase) -> DeriveParams:
    """The case's ``Parameters`` as :class:`DeriveParams`.

    Read as written: the contract's admin bounds and its scenario-list rules (a skew scenario
    must have spot shock 1, at most one of each skew) are not enforced here — every published
    case loads — but :func:`case_notes` reports each departure.

    Raises
    ------
    InputError
        A parameter is missing, not a number, or outside its domain (named by its JSON key).
    """
    data, where = _parameter_data(case)
    try:
        return DeriveParams.model_validate(data, context={"lenient": True})
    except ValidationError as exc:
        raise _param_path(exc, where) from None


def case_notes(case: DeriveCase, *, vols: VolSource = "svi") -> tuple[str, ...]:
    """How the adapter reads what the contract would refuse or what the case leaves out."""
    notes: list[str] = []
    scen = case.Parameters.Scenarios
    for j, s in enumerate(scen):
        if s.VolShockDirection in ("linear", "abs") and s.SpotShock != 1.0:
            notes.append(
                f"scenario[{j}] is a skew scenario with spot shock {s.SpotShock:g}; the contract "
                "rejects such a list and never shocks spot in a skew scenario (computed at spot "
                f"shock 1 with dampening {s.DampeningFactor:g}; only MM/IM are comparable)"
            )
    for d in ("linear", "abs"):
        n = sum(s.VolShockDirection == d for s in scen)
        if n > 1:
            notes.append(
                f"{n} {d.upper()} scenarios: the contract accepts at most one (each is computed)"
            )
    data, where = _parameter_data(case)
    for sc in data["scenarios"]:
        if sc["vol"] in ("linear", "abs"):
            sc["spot_shock"] = 1.0
    if sum(sc["vol"] == "linear" for sc in data["scenarios"]) <= 1 and (
        sum(sc["vol"] == "abs" for sc in data["scenarios"]) <= 1
    ):
        try:
            DeriveParams.model_validate(data)
        except ValidationError as exc:
            e = _param_path(exc, where)
            notes.append(
                f"{e.path}: {e.reason} — the contract would refuse this parameter set; "
                "computed as written"
            )
    if vols == "svi":
        held = {o.Expiry for o in case.Scenario.Options}
        for i, f in enumerate(case.Scenario.OptionFeeds):
            if f.SVIparam is None and f.FeedExpiry in held and f.FeedExpiry > 0:
                notes.append(
                    f"OptionFeeds[{i}] has no SVIparam: its options use their MarkVol "
                    "(the contract evaluates the SVI fit)"
                )
    return tuple(notes)


VolSource = Literal["svi", "mark"]


@dataclass(frozen=True, slots=True)
class CaseLayout:
    """Where each array row of the case's inputs came from (for reports and translation)."""

    feeds: tuple[int, ...]
    """``OptionFeeds`` index of each expiry row."""
    option_feed: tuple[int, ...]
    """Expiry row of each option (``Options`` order)."""
    vols: tuple[float, ...]
    """Implied vol used for each option."""
    vol_conf: tuple[float, ...]
    """Vol-feed confidence applied to each option."""


def _feed_rows(case: DeriveCase) -> tuple[list[int], list[int]]:
    sc = case.Scenario
    by_expiry: dict[float, int] = {}
    for i, f in enumerate(sc.OptionFeeds):
        by_expiry.setdefault(f.FeedExpiry, i)
    rows: list[int] = []
    row_of_feed: dict[int, int] = {}
    option_row: list[int] = []
    for j, o in enumerate(sc.Options):
        fi = by_expiry.get(o.Expiry)
        if fi is None:
            raise InputError(
                f"no OptionFeeds entry with FeedExpiry {o.Expiry:g}",
                path=f"Scenario.Options[{j}].Expiry",
            )
        if fi not in row_of_feed:
            row_of_feed[fi] = len(rows)
            rows.append(fi)
        option_row.append(row_of_feed[fi])
    return rows, option_row


def case_inputs(case: DeriveCase, *, vols: VolSource = "svi") -> tuple[DeriveInputs, CaseLayout]:
    """Arrange one case as :class:`DeriveInputs` (one account, one subaccount).

    Parameters
    ----------
    vols
        ``svi``: evaluate each feed's SVI at the strike as the contract does (falls back to
        ``MarkVol`` when a feed has no SVI); ``mark``: use the file's ``MarkVol``.
    """
    sc = case.Scenario
    s = sc.StablePrice
    rows, option_row = _feed_rows(case)
    feeds = [sc.OptionFeeds[i] for i in rows]
    T = np.asarray([max(f.FeedExpiry, 0.0) for f in feeds], dtype=np.float64)
    F = np.asarray([f.Forward for f in feeds], dtype=np.float64)
    twap = 1800.0
    F_fix = np.where(twap > T, F * (twap - T) / twap, 0.0)
    vol_list: list[float] = []
    conf_list: list[float] = []
    for j, o in enumerate(sc.Options):
        f = feeds[option_row[j]]
        fi = rows[option_row[j]]
        v: float | None
        if max(f.FeedExpiry, 0.0) <= 0.0:
            v = 0.0  # expired: valued at intrinsic, the vol is never used
        elif vols == "svi" and f.SVIparam is not None:
            if not f.SVIparam[5] > 0.0:
                raise InputError(
                    "the fit's forward (SVIparam[5]) must be positive",
                    path=f"Scenario.OptionFeeds[{fi}].SVIparam",
                )
            a, b, rho, m, sig, fs, ts = (np.asarray([x]) for x in f.SVIparam)
            v = float(
                derive_svi_vols(
                    np.asarray([o.Strike]),
                    a,
                    b,
                    rho,
                    m,
                    sig,
                    fs,
                    ts,
                    path=f"Scenario.OptionFeeds[{fi}].SVIparam",
                )[0]
            )
        else:
            v = o.MarkVol
        if v is None or not math.isfinite(v) or v < 0:
            raise InputError(
                "no usable vol (MarkVol missing and no SVIparam)", path=f"Scenario.Options[{j}]"
            )
        vol_list.append(v)
        confs = f.OptionVolConfidences
        if not confs:
            raise InputError(
                "no vol confidence for the options of this expiry",
                path=f"Scenario.OptionFeeds[{fi}].OptionVolConfidences",
            )
        # one number per feed (as published) or one per option: the expiry takes the lowest
        conf_list.append(min(confs))
    n_opt = len(sc.Options)
    coll = sc.Collaterals
    c_value = np.asarray([c.Amount * c.Price / s for c in coll], dtype=np.float64)
    inputs = DeriveInputs(
        cash=np.asarray([sc.Cash]),
        stable_price=np.asarray([s]),
        g_account=np.zeros(1, np.int64),
        g_spot=np.asarray([sc.SpotPrice]),
        g_spot_conf=np.asarray([sc.SpotConfidence]),
        g_perp_qty=np.asarray([sc.NumPerps]),
        g_perp_price=np.asarray([sc.perp_price]),
        g_perp_conf=np.asarray([sc.perp_confidence]),
        g_perp_value=np.asarray([sc.UnrealisedPerpPNL + sc.UnrealisedFunding]),
        e_seconds=T,
        e_forward=F,
        e_forward_fixed=F_fix,
        e_rate=np.asarray([f.Rate for f in feeds], dtype=np.float64),
        e_conf=np.asarray(
            [min(f.ForwardConfidence, f.RateConfidence) for f in feeds], dtype=np.float64
        ),
        o_expiry=np.asarray(option_row, dtype=np.int64),
        o_strike=np.asarray([o.Strike for o in sc.Options], dtype=np.float64),
        o_call=np.asarray([o.IsCall for o in sc.Options], dtype=np.bool_),
        o_vol=np.asarray(vol_list, dtype=np.float64),
        h_group=np.zeros(n_opt, np.int64),
        h_option=np.arange(n_opt, dtype=np.int64),
        h_amount=np.asarray([o.Amount for o in sc.Options], dtype=np.float64),
        h_vol_conf=np.asarray(conf_list, dtype=np.float64),
        c_account=np.zeros(len(coll), np.int64),
        c_group=np.asarray([0 if c.IsRiskCancelling else -1 for c in coll], dtype=np.int64),
        c_value=c_value,
        c_conf=np.asarray([min(c.Confidence, sc.SpotConfidence) for c in coll], dtype=np.float64),
        c_mm_haircut=np.asarray([c.MMHaircut for c in coll], dtype=np.float64),
        c_im_haircut=np.asarray([c.IMHaircut for c in coll], dtype=np.float64),
    )
    layout = CaseLayout(tuple(rows), tuple(option_row), tuple(vol_list), tuple(conf_list))
    return inputs, layout


def run_case(case: DeriveCase, *, vols: VolSource = "svi") -> DeriveResult:
    """Compute the case with the PMRM_2 core.

    Raises
    ------
    InputError
        The case's values are so large that MM or IM overflow float64 (never a silent NaN).
    """
    inputs, _ = case_inputs(case, vols=vols)
    return checked_result(derive_margin(inputs, case_params(case)))


def checked_result(r: DeriveResult) -> DeriveResult:
    """``r`` if its MM and IM are finite, else an :class:`InputError` (fail closed)."""
    for name, v in (("MM", r.mm), ("IM", r.im)):
        if not np.all(np.isfinite(v)):
            raise InputError(
                f"{name} is not finite: the case's amounts overflow float64", path="Scenario"
            )
    return r
