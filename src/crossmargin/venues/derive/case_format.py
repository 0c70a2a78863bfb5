"""The layout of Derive's portfolio-case JSON files, validated field by field (``derive-pmrm2.md`` §10).

The venue's harness reads 139 files with three top-level keys: ``Scenario`` (the arranged
portfolio), ``Parameters`` and ``Result`` (expected values). This module accepts every shape the
venue publishes and refuses everything else with an error naming the field:

* **numbers** are JSON numbers or decimal strings, read as 18-decimal fixed point (truncated),
  as the harness does; NaN, infinities, booleans and values beyond the contract's fixed-point
  range (``|x| ≤ (2²⁵⁵ − 1)/10¹⁸ ≈ 5.79·10⁵⁸``) are errors;
* **flags** (``IsCall``, ``IsRiskCancelling``) are ``0``/``1``, ``true``/``false`` or those as
  strings;
* ``OptionVolConfidences`` is one number per feed (as the published files give it) or a list
  (one per option of the expiry); the expiry takes the lowest, as the contract does (§2.1);
* ``VolShockDirection`` is ``Up``/``Down``/``None``/``LINEAR``/``ABS`` in any case, or the
  ``1``/``0``/``−1`` code the ``Result`` rows use;
* parameter sections may carry keys the contract does not read (``IM_PERP_PERCENT_NORMAL``…);
  only the keys :data:`PARAMETER_KEYS` lists are read and validated;
* diagnostic keys (``ExiryTs``, ``MarkDiscount``, ``k``, ``LastEntryPrice``, …) are ignored.

Fail closed: every input the margin depends on is **required** (a missing confidence, rate,
haircut or dampening would otherwise default to a value that can only lower the margin); prices,
forwards and the stable price must be positive, amounts of collateral, strikes and vols
non-negative, confidences and haircuts in [0, 1]. The perp price and confidence are required
only when the case holds a perp (the contract does not read them otherwise).

The case files are BUSL-1.1 and are never vendored; this module only reads the layout.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from decimal import ROUND_DOWN, Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from crossmargin.margin.presets.derive.params import check_haircut_sum

__all__ = [
    "FIXED18_MAX",
    "PARAMETER_KEYS",
    "CaseCollateral",
    "CaseFeed",
    "CaseInputs",
    "CaseOption",
    "CaseParameters",
    "CaseScenario",
    "DeriveCase",
    "fixed18",
]

_Q18 = Decimal("1e-18")
#: Largest magnitude an 18-decimal int256 fixed-point number can hold (the contract's range).
FIXED18_MAX = Decimal(2**255 - 1) / Decimal(10**18)


def fixed18(v: Any) -> float:
    """A number or decimal string read as 18-decimal fixed point (truncated), as the harness.

    Raises
    ------
    ValueError
        A boolean, a non-number, NaN/infinity, or a magnitude beyond :data:`FIXED18_MAX`.
    """
    if isinstance(v, bool):
        raise ValueError("must be a number, got a boolean")
    if not isinstance(v, int | float | str):
        raise ValueError(f"must be a number or a decimal string, got {type(v).__name__}")
    if isinstance(v, str) and len(v) > 100:
        raise ValueError(f"a decimal string of {len(v)} characters is not a number the venue uses")
    try:
        d = Decimal(str(v).strip())
    except (InvalidOperation, ValueError):
        raise ValueError(f"must be a number or a decimal string, got {str(v)[:40]!r}") from None
    if not d.is_finite():
        raise ValueError(f"must be finite, got {str(v)[:40]!r}")
    if abs(d) > FIXED18_MAX:
        raise ValueError(
            f"{float(d):.3g} is outside the contract's 18-decimal fixed-point range "
            f"(|x| <= {float(FIXED18_MAX):.3g})"
        )
    return float(d.quantize(_Q18, rounding=ROUND_DOWN)) if abs(d) < Decimal("1e30") else float(d)


def _fixed18_in(domain: str) -> Callable[[Any], float]:
    """A :func:`fixed18` reader that also checks ``domain``: ``>=0``, ``>0`` or ``[0,1]``."""
    ok: dict[str, Callable[[float], bool]] = {
        ">=0": lambda x: x >= 0.0,
        ">0": lambda x: x > 0.0,
        "[0,1]": lambda x: 0.0 <= x <= 1.0,
    }
    words = {">=0": "non-negative", ">0": "positive", "[0,1]": "between 0 and 1"}

    def read(v: Any) -> float:
        x = fixed18(v)
        if not ok[domain](x):
            raise ValueError(f"must be {words[domain]}, got {x!r}")
        return x

    return read


_non_negative = _fixed18_in(">=0")
_positive = _fixed18_in(">0")
_unit = _fixed18_in("[0,1]")


def _flag(v: Any) -> bool:
    if isinstance(v, bool):
        return v
    if isinstance(v, str) and v.strip().lower() in ("true", "false"):
        return v.strip().lower() == "true"
    if isinstance(v, int | float | str):
        try:
            x = fixed18(v)
        except ValueError:
            x = math.nan
        if x in (0.0, 1.0):
            return x == 1.0
    raise ValueError(f"must be 0/1 or true/false, got {str(v)[:40]!r}")


def _confidences(v: Any) -> tuple[float, ...]:
    if isinstance(v, list | tuple):
        out = []
        for i, x in enumerate(v):
            try:
                out.append(_unit(x))
            except ValueError as exc:
                raise ValueError(f"[{i}] {exc}") from None
        return tuple(out)
    return (_unit(v),)


Num = Annotated[float, BeforeValidator(fixed18)]
NonNegative = Annotated[float, BeforeValidator(_non_negative)]
Positive = Annotated[float, BeforeValidator(_positive)]
Unit = Annotated[float, BeforeValidator(_unit)]
Flag = Annotated[bool, BeforeValidator(_flag)]
Confidences = Annotated[tuple[float, ...], BeforeValidator(_confidences)]


class _Lenient(BaseModel):
    """Published files carry diagnostic keys the contract never reads: they are ignored."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)


class CaseCollateral(_Lenient):
    """``Scenario.Collaterals[]`` (``ConfidenceFactor`` is not read by the contract)."""

    Name: str = ""
    Amount: NonNegative
    Price: Positive
    Confidence: Unit
    MMHaircut: Unit
    IMHaircut: Unit
    IsRiskCancelling: Flag

    @model_validator(mode="after")
    def _haircuts(self) -> CaseCollateral:
        check_haircut_sum(self.MMHaircut, self.IMHaircut, "MMHaircut + IMHaircut")
        return self


class CaseOption(_Lenient):
    """``Scenario.Options[]``: ``Expiry`` in seconds from the reference time (≤ 0 expired)."""

    Expiry: Num
    Strike: NonNegative
    IsCall: Flag
    Amount: Num
    MarkVol: NonNegative | None = None


class CaseFeed(_Lenient):
    """``Scenario.OptionFeeds[]`` (one per expiry)."""

    FeedExpiry: Num
    Forward: Positive
    ForwardConfidence: Unit
    Rate: Num
    RateConfidence: Unit
    SVIparam: list[Num] | None = Field(default=None, min_length=7, max_length=7)
    OptionVolConfidences: Confidences


class CaseInputs(_Lenient):
    """``Scenario``: the arranged portfolio (``StableConfidence`` is not read by PMRM_2)."""

    Cash: Num
    SpotPrice: Positive
    SpotConfidence: Unit
    NumPerps: Num
    PerpPrice: NonNegative | None = None
    PerpConfidence: Unit | None = None
    UnrealisedPerpPNL: Num
    UnrealisedFunding: Num
    StablePrice: Positive
    StableConfidence: Unit | None = None
    Collaterals: list[CaseCollateral]
    Options: list[CaseOption]
    OptionFeeds: list[CaseFeed]

    @property
    def perp_price(self) -> float:
        """``P_p`` (0 when the case holds no perp: the contract does not read it)."""
        return self.PerpPrice if self.PerpPrice is not None and self.NumPerps != 0.0 else 0.0

    @property
    def perp_confidence(self) -> float:
        """``c_p`` (1 when the case holds no perp: the contract ignores it, §2.1)."""
        return (
            self.PerpConfidence if self.PerpConfidence is not None and self.NumPerps != 0.0 else 1.0
        )


_DIRECTIONS = {"up": "up", "down": "down", "none": "none", "linear": "linear", "abs": "abs"}
_DIRECTION_CODES = {1.0: "up", 0.0: "none", -1.0: "down"}


class CaseScenario(_Lenient):
    """``Parameters.Scenarios[]``."""

    SpotShock: Positive
    VolShockDirection: str
    DampeningFactor: NonNegative

    @field_validator("VolShockDirection", mode="before")
    @classmethod
    def _direction(cls, v: Any) -> str:
        if isinstance(v, str) and v.strip().lower() in _DIRECTIONS:
            return _DIRECTIONS[v.strip().lower()]
        if isinstance(v, int | float) and not isinstance(v, bool) and float(v) in _DIRECTION_CODES:
            return _DIRECTION_CODES[float(v)]
        raise ValueError(f"must be Up, Down, None, LINEAR or ABS, got {str(v)[:40]!r}")


class CaseParameters(_Lenient):
    """``Parameters``: each section is read key by key (:data:`PARAMETER_KEYS`)."""

    Scenarios: list[CaseScenario] = Field(min_length=1, max_length=40)
    VolShock: dict[str, Any]
    Margin: dict[str, Any]
    BasisContingency: dict[str, Any]
    OtherContingency: dict[str, Any]
    SkewShock: dict[str, Any]


class DeriveCase(_Lenient):
    """One portfolio-case file (``Result`` is optional: a case without expected values runs)."""

    Scenario: CaseInputs
    Parameters: CaseParameters
    Result: dict[str, Any] = Field(default_factory=dict)


#: JSON key → our parameter field, per section (``derive-pmrm2.md`` §8).
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
