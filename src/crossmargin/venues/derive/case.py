"""Derive's portfolio-case JSON layout: load a case and arrange it for the PMRM_2 core.

The venue's harness (``TestPMRM_2_PortfolioCasesNEW.t.sol``) reads 139 JSON files
(``derive-pmrm2.md`` §10): ``Scenario`` (inputs), ``Parameters`` and ``Result`` (expected
values). Numbers may be JSON numbers or decimal strings; both are read as 18-decimal fixed
point (truncated), like the harness. :func:`run_case` computes a case with the same PMRM_2 core
as the ``derive-pmrm2`` margin model; :mod:`.compare` applies the harness's comparison rule.

The case files are BUSL-1.1 and are never vendored; this module only reads the layout.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from crossmargin._validation import read_json, translate, validate_document
from crossmargin.errors import InputError
from crossmargin.margin.presets.derive.core import DeriveInputs, DeriveResult, derive_margin
from crossmargin.margin.presets.derive.kernel import derive_svi_vols
from crossmargin.margin.presets.derive.params import DeriveParams

__all__ = [
    "REFERENCE_TIME",
    "CaseLayout",
    "DeriveCase",
    "VolSource",
    "case_from_obj",
    "case_inputs",
    "case_params",
    "fixed18",
    "load_case",
    "run_case",
]

#: The harness's reference time (Unix seconds); option expiries are offsets from it.
REFERENCE_TIME = 1_630_000_000
_Q18 = Decimal("1e-18")


def fixed18(v: Any) -> float:
    """A number or decimal string read as 18-decimal fixed point (truncated), as the harness."""
    if isinstance(v, bool):
        raise ValueError("must be a number, got a boolean")
    if isinstance(v, int | float | str):
        try:
            d = Decimal(str(v).strip())
        except InvalidOperation:
            raise ValueError(f"must be a number or a decimal string, got {v!r}") from None
        if not d.is_finite():
            raise ValueError(f"must be finite, got {v!r}")
        return (
            float(d.quantize(_Q18, rounding=ROUND_DOWN)) if abs(d) < Decimal("1e30") else float(d)
        )
    raise ValueError(f"must be a number or a decimal string, got {type(v).__name__}")


def _flag(v: Any) -> bool:
    if isinstance(v, bool):
        return v
    if isinstance(v, int | float | str):
        x = fixed18(v)
        if x in (0.0, 1.0):
            return x == 1.0
    raise ValueError(f"must be 0/1 or true/false, got {v!r}")


Num = Annotated[float, BeforeValidator(fixed18)]
Flag = Annotated[bool, BeforeValidator(_flag)]


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


class CaseCollateral(_Lenient):
    """``Scenario.Collaterals[]``."""

    Name: str = ""
    Amount: Num
    Price: Num
    Confidence: Num = 1.0
    MMHaircut: Num = 0.0
    IMHaircut: Num = 0.0
    IsRiskCancelling: Flag = False


class CaseOption(_Lenient):
    """``Scenario.Options[]``."""

    Expiry: Num
    Strike: Num
    IsCall: Flag
    Amount: Num
    MarkVol: Num | None = None


class CaseFeed(_Lenient):
    """``Scenario.OptionFeeds[]`` (one per expiry)."""

    FeedExpiry: Num
    Forward: Num
    ForwardConfidence: Num = 1.0
    Rate: Num = 0.0
    RateConfidence: Num = 1.0
    SVIparam: list[Num] | None = None
    OptionVolConfidences: list[Num] = Field(default_factory=list)


class CaseInputs(_Lenient):
    """``Scenario``: the arranged portfolio."""

    Cash: Num = 0.0
    SpotPrice: Num
    SpotConfidence: Num = 1.0
    NumPerps: Num = 0.0
    PerpPrice: Num = 0.0
    PerpConfidence: Num = 1.0
    UnrealisedPerpPNL: Num = 0.0
    UnrealisedFunding: Num = 0.0
    StablePrice: Num = 1.0
    Collaterals: list[CaseCollateral] = Field(default_factory=list)
    Options: list[CaseOption] = Field(default_factory=list)
    OptionFeeds: list[CaseFeed] = Field(default_factory=list)


class CaseScenario(_Lenient):
    """``Parameters.Scenarios[]``."""

    SpotShock: Num
    VolShockDirection: str
    DampeningFactor: Num = 1.0


class CaseParameters(_Lenient):
    """``Parameters``."""

    Scenarios: list[CaseScenario] = Field(min_length=1)
    VolShock: dict[str, Num]
    Margin: dict[str, Num]
    BasisContingency: dict[str, Num]
    OtherContingency: dict[str, Num]
    SkewShock: dict[str, Num]


class DeriveCase(_Lenient):
    """One portfolio-case file."""

    Scenario: CaseInputs
    Parameters: CaseParameters
    Result: dict[str, Any] = Field(default_factory=dict)


# JSON key → our parameter field, per section (derive-pmrm2.md §8)
PARAMETER_KEYS: dict[str, tuple[str, dict[str, str]]] = {
    "VolShock": (
        "vol_shock",
        {
            "VOLRANGEUP": "vol_range_up",
            "VOLRANGEDOWN": "vol_range_down",
            "SHORTTERMPOWER": "short_term_power",
            "LONGTERMPOWER": "long_term_power",
            "DTE_FLOOR": "dte_floor_days",
            "MIN_VOL_EVAL_SHOCKED": "min_vol_up_shock",
        },
    ),
    "Margin": (
        "margin",
        {
            "IM_LOSS_FACTOR": "im_factor",
            "MM_LOSS_FACTOR": "mm_factor",
            "SHORT_RATE_MULTSCALE": "short_rate_mult_scale",
            "LONG_RATE_MULTSCALE": "long_rate_mult_scale",
            "SHORT_RATE_ADDSCALE": "short_rate_add_scale",
            "LONG_RATE_ADDSCALE": "long_rate_add_scale",
            "BASE_STATIC_DISCOUNT_NEG": "short_base_static_discount",
            "BASE_STATIC_DISCOUNT": "long_base_static_discount",
        },
    ),
    "BasisContingency": (
        "basis",
        {
            "SCENARIO_SPOT_UP": "scenario_spot_up",
            "SCENARIO_SPOT_DOWN": "scenario_spot_down",
            "BASIS_CONT_ADD_FACTOR": "add_factor",
            "BASIS_CONT_MULT_FACTOR": "mult_factor",
        },
    ),
    "OtherContingency": (
        "other",
        {
            "PEG_LOSS_THRESHOLD": "peg_loss_threshold",
            "PEG_LOSS_FACTOR": "peg_loss_factor",
            "CONF_THRESHOLD": "conf_threshold",
            "CONF_MARGIN": "conf_margin",
            "MM_PERP_PERCENT": "mm_perp_percent",
            "IM_PERP_PERCENT": "im_perp_percent",
            "MM_OPTION_PERCENT": "mm_option_percent",
            "IM_OPTION_PERCENT": "im_option_percent",
        },
    ),
    "SkewShock": (
        "skew",
        {
            "LINEAR_SCALE_CAP": "linear_base_cap",
            "ABS_SCALE_CAP": "abs_base_cap",
            "LINEAR_CBASE": "linear_c_base",
            "ABS_CBASE": "abs_c_base",
            "MIN_K_STAR": "min_k_star",
            "MIN_WIDTH_SCALE": "width_scale",
            "VOL_PARAM_STATIC": "vol_param_static",
            "VOL_PARAM_SCALE": "vol_param_scale",
        },
    ),
}


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
    """Validate a parsed portfolio-case document."""
    return validate_document(DeriveCase, obj, what="venue case", path="case")


def case_params(case: DeriveCase) -> DeriveParams:
    """The case's ``Parameters`` as :class:`DeriveParams` (contract bounds not re-checked)."""
    P = case.Parameters
    data: dict[str, Any] = {}
    for section, (ours, keys) in PARAMETER_KEYS.items():
        given: dict[str, float] = getattr(P, section)
        out: dict[str, float] = {}
        for key, name in keys.items():
            if key not in given:
                raise InputError(
                    "required parameter is missing", path=f"Parameters.{section}.{key}"
                )
            out[name] = given[key]
        data[ours] = out
    data["scenarios"] = [
        {
            "spot_shock": s.SpotShock,
            "vol": s.VolShockDirection.lower(),
            "dampening": s.DampeningFactor,
        }
        for s in P.Scenarios
    ]
    try:
        return DeriveParams.model_validate(data, context={"lenient": True})
    except ValidationError as exc:
        raise translate(exc, "Parameters") from None


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
    if s <= 0:
        raise InputError("must be positive", path="Scenario.StablePrice")
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
            prm = f.SVIparam
            if len(prm) != 7:
                raise InputError(
                    "SVIparam must be [a, b, rho, m, sigma, forward, tau]",
                    path=f"Scenario.OptionFeeds[{fi}].SVIparam",
                )
            a, b, rho, m, sig, fs, ts = (np.asarray([x]) for x in prm)
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
        conf_list.append(min(confs) if confs else 1.0)
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
        g_perp_price=np.asarray([sc.PerpPrice]),
        g_perp_conf=np.asarray([sc.PerpConfidence]),
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
    """Compute the case with the PMRM_2 core."""
    inputs, _ = case_inputs(case, vols=vols)
    return derive_margin(inputs, case_params(case))
