"""Derive PMRM_2 parameters (``IPMRMLib_2``), with the spec's two published parameter sets.

Field names are snake_case versions of the contract fields; each docstring gives the JSON key
of the venue's portfolio-case files (``derive-pmrm2.md`` §8, §10.2). Two sets are provided:

* :func:`mainnet_params` — ``scripts/config-mainnet.sol`` (``getPMRM2Params``,
  ``getDefaultPM2Scenarios``) as written, the preset's default. **Flag:** the script sets
  ``shortBaseStaticDiscount = 0.95`` and ``longBaseStaticDiscount = 1.05``, the opposite
  orientation to the portfolio cases (long values marked *up*); the deployed values could not
  be confirmed (``derive-pmrm2.md`` §8 note).
* :func:`portfolio_case_params` — the parameter block shared by the venue's portfolio cases
  (§11; conservative orientation: longs marked down by 0.95, shorts up by 1.04).

The contract's admin bounds and scenario-list rules (§8, §5.1) are enforced for configured
parameters; the venue-case adapter validates with ``context={"lenient": True}`` so that every
published case loads as written (domains — non-negative factors, positive shocks — still hold)
and reports each departure from the contract's rules as a note.
"""

from __future__ import annotations

from typing import Any, Literal, Self, cast

from pydantic import Field, ValidationInfo, field_validator, model_validator

from crossmargin.margin.presets._common import Fraction, PresetParams

__all__ = [
    "DeriveBasisParams",
    "DeriveCollateralParams",
    "DeriveMarginParams",
    "DeriveOtherParams",
    "DeriveParams",
    "DeriveScenario",
    "DeriveSkewParams",
    "DeriveVolShockParams",
    "VolDirection",
    "check_haircut_sum",
    "mainnet_params",
    "portfolio_case_params",
]

VolDirection = Literal["up", "down", "none", "linear", "abs"]


def _lenient(info: ValidationInfo) -> bool:
    return bool(info.context and info.context.get("lenient"))


_BOUNDS = "contract_bounds"


def _param(key: str, lo: float, hi: float, *, ge: float | None = 0.0, note: str = "") -> Any:
    """A contract parameter: its JSON key, the contract's admin bounds ``[lo, hi]`` and domain.

    The domain (``ge``; ``None`` for any finite value) always holds; the admin bounds are
    checked by :class:`_ContractParams` unless the model is validated as lenient.
    """
    return Field(
        ge=ge,
        description=f"{key} ({note})" if note else key,
        json_schema_extra={_BOUNDS: [lo, hi]},
    )


class _ContractParams(PresetParams):
    """A parameter section whose :func:`_param` fields carry the contract's admin bounds."""

    @model_validator(mode="after")
    def _contract_bounds(self, info: ValidationInfo) -> Self:
        if _lenient(info):
            return self
        for name, field in type(self).model_fields.items():
            extra = field.json_schema_extra
            if not isinstance(extra, dict) or _BOUNDS not in extra:
                continue
            lo, hi = cast("list[float]", extra[_BOUNDS])
            v = getattr(self, name)
            if not lo <= v <= hi:
                raise ValueError(
                    f"{name} = {v!r} is outside the contract's bounds [{lo:g}, {hi:g}]"
                )
        return self


class DeriveVolShockParams(_ContractParams):
    """Vol shocks (JSON section ``VolShock``)."""

    vol_range_up: float = _param("VOLRANGEUP", 0.0, 10.0)
    vol_range_down: float = _param("VOLRANGEDOWN", 0.0, 10.0)
    short_term_power: float = _param("SHORTTERMPOWER", 0.0, 10.0)
    long_term_power: float = _param("LONGTERMPOWER", 0.0, 10.0)
    dte_floor_days: float = _param("DTE_FLOOR", 0.0, 400.0, note="days; the contract uses seconds")
    min_vol_up_shock: float = _param("MIN_VOL_EVAL_SHOCKED", 0.0, 20.0)


class DeriveMarginParams(_ContractParams):
    """Loss factors and static discounts (JSON section ``Margin``)."""

    im_factor: float = _param("IM_LOSS_FACTOR", 0.5, 10.0)
    mm_factor: float = _param("MM_LOSS_FACTOR", 0.1, 10.0)
    short_rate_mult_scale: float = _param("SHORT_RATE_MULTSCALE", 0.0, 10.0)
    long_rate_mult_scale: float = _param("LONG_RATE_MULTSCALE", 0.0, 10.0)
    short_rate_add_scale: float = _param("SHORT_RATE_ADDSCALE", 0.0, 10.0)
    long_rate_add_scale: float = _param("LONG_RATE_ADDSCALE", 0.0, 10.0)
    short_base_static_discount: float = _param(
        "BASE_STATIC_DISCOUNT_NEG", 0.0, 4.0, note="negative expiry values"
    )
    long_base_static_discount: float = _param(
        "BASE_STATIC_DISCOUNT", 0.0, 4.0, note="positive expiry values"
    )


class DeriveBasisParams(_ContractParams):
    """Forward ("basis") contingency (JSON section ``BasisContingency``)."""

    scenario_spot_up: float = Field(gt=0.0, description="SCENARIO_SPOT_UP")
    scenario_spot_down: float = Field(gt=0.0, description="SCENARIO_SPOT_DOWN")
    add_factor: float = _param("BASIS_CONT_ADD_FACTOR", 0.0, 20.0)
    mult_factor: float = _param("BASIS_CONT_MULT_FACTOR", 0.0, 20.0, note="per year")

    @model_validator(mode="after")
    def _spot_scenarios(self, info: ValidationInfo) -> DeriveBasisParams:
        if not _lenient(info):
            if not 1.0 < self.scenario_spot_up < 3.0:
                raise ValueError("scenario_spot_up must be in (1, 3)")
            if not self.scenario_spot_down < 1.0:
                raise ValueError("scenario_spot_down must be below 1")
        return self


class DeriveOtherParams(_ContractParams):
    """Peg loss, oracle confidence and perp/option contingencies (``OtherContingency``)."""

    peg_loss_threshold: float = _param("PEG_LOSS_THRESHOLD", 0.0, 100.0)
    peg_loss_factor: float = _param("PEG_LOSS_FACTOR", 0.0, 10.0)
    conf_threshold: float = _param("CONF_THRESHOLD", 0.0, 1.0)
    conf_margin: float = _param("CONF_MARGIN", 0.0, 20.0)
    mm_perp_percent: float = _param("MM_PERP_PERCENT", 0.0, 3.0)
    im_perp_percent: float = _param("IM_PERP_PERCENT", 0.0, 3.0, note="on top of MM")
    mm_option_percent: float = _param("MM_OPTION_PERCENT", 0.0, 2.0)
    im_option_percent: float = _param("IM_OPTION_PERCENT", 0.0, 2.0, note="on top of MM")


class DeriveSkewParams(_ContractParams):
    """Skew rotations (JSON section ``SkewShock``)."""

    linear_base_cap: float = _param("LINEAR_SCALE_CAP", 0.0, 10.0, ge=None)
    abs_base_cap: float = _param("ABS_SCALE_CAP", 0.0, 10.0, ge=None)
    linear_c_base: float = _param("LINEAR_CBASE", -10.0, 10.0, ge=None)
    abs_c_base: float = _param("ABS_CBASE", -10.0, 10.0, ge=None)
    min_k_star: float = _param("MIN_K_STAR", 0.0, 10.0, ge=None)
    width_scale: float = _param("MIN_WIDTH_SCALE", 0.0, 10.0, ge=None)
    vol_param_static: float = _param("VOL_PARAM_STATIC", 0.0, 10.0, ge=None)
    vol_param_scale: float = _param("VOL_PARAM_SCALE", -20.0, 20.0, ge=None)


class DeriveScenario(PresetParams):
    """One scenario ``(spot shock x, vol direction, dampening δ)``."""

    spot_shock: float = Field(gt=0.0, allow_inf_nan=False, description="SpotShock (1.18 = +18 %)")
    vol: VolDirection = Field(description="VolShockDirection: up, down, none, linear, abs")
    dampening: float = Field(
        default=1.0, ge=0.0, allow_inf_nan=False, description="DampeningFactor"
    )

    @field_validator("vol", mode="before")
    @classmethod
    def _lower(cls, v: Any) -> Any:
        return v.lower() if isinstance(v, str) else v


def check_haircut_sum(mm: float, im: float, what: str) -> None:
    """The PMRM_2 contract's rule: a collateral's MM and IM haircuts add up to at most 1.

    Raises
    ------
    ValueError
        ``what`` (the two fields' names) exceeds 1 (pydantic turns it into a validation error).
    """
    if mm + im > 1.0 + 1e-12:
        raise ValueError(f"{what} must not exceed 1 (contract rule)")


class DeriveCollateralParams(PresetParams):
    """One collateral token: haircuts (charged as contingencies) and risk-cancelling flag.

    ``underlying``: the base market whose spot shocks a risk-cancelling collateral follows
    (default: the asset itself).
    """

    mm_haircut: Fraction
    im_haircut: Fraction = Field(description="on top of MM")
    risk_cancelling: bool = False
    underlying: str | None = None

    @model_validator(mode="after")
    def _sum(self) -> DeriveCollateralParams:
        check_haircut_sum(self.mm_haircut, self.im_haircut, "mm_haircut + im_haircut")
        return self


class DeriveParams(PresetParams):
    """All PMRM_2 parameters of one base market (plus the preset's account mapping).

    Attributes
    ----------
    cash_asset
        The collateral asset that is PMRM_2's cash (its snapshot price is the stable price
        ``s``); margin is computed in units of it.
    settlement_twap_seconds
        Within this time of expiry only ``F·T/twap`` of the forward moves with spot (used when
        the snapshot gives no ``forward_fixed``; Derive's settlement TWAP is 30 minutes).
    collaterals
        Per collateral asset; unlisted assets take the risk configuration's haircuts (MM = its
        ``mm``, IM = ``im − mm``) and are risk-cancelling when the account holds derivatives on
        that asset.
    """

    vol_shock: DeriveVolShockParams
    margin: DeriveMarginParams
    basis: DeriveBasisParams
    other: DeriveOtherParams
    skew: DeriveSkewParams
    scenarios: tuple[DeriveScenario, ...] = Field(min_length=1, max_length=40)
    collaterals: dict[str, DeriveCollateralParams] = Field(default_factory=dict)
    cash_asset: str = "USDC"
    settlement_twap_seconds: float = Field(default=1800.0, ge=0.0, allow_inf_nan=False)

    @model_validator(mode="after")
    def _scenarios(self, info: ValidationInfo) -> DeriveParams:
        if not _lenient(info):
            n_lin = sum(s.vol == "linear" for s in self.scenarios)
            n_abs = sum(s.vol == "abs" for s in self.scenarios)
            if n_lin > 1 or n_abs > 1:
                raise ValueError("at most one linear and one abs skew scenario (contract rule)")
            for i, s in enumerate(self.scenarios):
                if s.vol in ("linear", "abs") and s.spot_shock != 1.0:
                    raise ValueError(
                        f"scenarios[{i}]: a skew scenario must have spot_shock 1 (contract rule)"
                    )
        return self


def _grid(moves: tuple[float, ...], order: tuple[VolDirection, ...]) -> list[dict[str, Any]]:
    return [{"spot_shock": x, "vol": v, "dampening": 1.0} for x in moves for v in order]


def mainnet_params() -> DeriveParams:
    """``config-mainnet.sol`` parameters and its 33 scenarios (``derive-pmrm2.md`` §8, §8.1)."""
    scen: list[dict[str, Any]] = [{"spot_shock": 1.18, "vol": "up", "dampening": 1.0}]
    scen += _grid((1.135, 1.09, 1.045, 1.0, 0.955, 0.91, 0.865), ("up", "none", "down"))
    scen += [{"spot_shock": 0.82, "vol": "up", "dampening": 1.0}]
    tails: list[tuple[float, float]] = [(0.34, 0.21), (0.67, 0.42), (1.5, 0.2772), (2.0, 0.1386)]
    tails += [(3.0, 0.0693), (4.0, 0.0462), (5.0, 0.03465), (6.0, 0.02772)]
    scen += [{"spot_shock": x, "vol": "up", "dampening": d} for x, d in tails]
    scen += [{"spot_shock": 1.0, "vol": "linear"}, {"spot_shock": 1.0, "vol": "abs"}]
    return DeriveParams.model_validate(
        {
            "vol_shock": {
                "vol_range_up": 0.5,
                "vol_range_down": 0.3,
                "short_term_power": 0.3,
                "long_term_power": 0.13,
                "dte_floor_days": 1.0,
                "min_vol_up_shock": 0.4,
            },
            "margin": {
                "im_factor": 1.0,
                "mm_factor": 0.8,
                "short_rate_mult_scale": 0.0,
                "long_rate_mult_scale": 0.0,
                "short_rate_add_scale": 0.16,
                "long_rate_add_scale": 0.16,
                "short_base_static_discount": 0.95,
                "long_base_static_discount": 1.05,
            },
            "basis": {
                "scenario_spot_up": 1.045,
                "scenario_spot_down": 0.955,
                "add_factor": 0.5,
                "mult_factor": 2.0,
            },
            "other": {
                "peg_loss_threshold": 0.99,
                "peg_loss_factor": 4.0,
                "conf_threshold": 0.55,
                "conf_margin": 1.0,
                "mm_perp_percent": 0.03,
                "im_perp_percent": 0.01,
                "mm_option_percent": 0.003,
                "im_option_percent": 0.002,
            },
            "skew": {
                "linear_base_cap": 0.25,
                "abs_base_cap": 0.25,
                "linear_c_base": -0.1,
                "abs_c_base": -0.1,
                "min_k_star": 0.01,
                "width_scale": 4.0,
                "vol_param_static": 0.6,
                "vol_param_scale": 0.0,
            },
            "scenarios": scen,
        }
    )


def portfolio_case_params() -> DeriveParams:
    """The parameter block of the venue's portfolio cases (``derive-pmrm2.md`` §11)."""
    scen: list[dict[str, Any]] = [{"spot_shock": 1.18, "vol": "up", "dampening": 1.0}]
    scen += _grid((1.135, 1.09, 1.045, 1.0, 0.955, 0.91, 0.865), ("down", "none", "up"))
    scen += [{"spot_shock": 0.82, "vol": "up", "dampening": 1.0}]
    scen += [
        {"spot_shock": x, "vol": "up", "dampening": 0.036 / abs(x - 1.0)}
        for x in (0.34, 0.67, 1.5, 2.0, 3.0, 4.0)
    ]
    scen += [{"spot_shock": 1.0, "vol": "linear"}, {"spot_shock": 1.0, "vol": "abs"}]
    return DeriveParams.model_validate(
        {
            "vol_shock": {
                "vol_range_up": 0.5,
                "vol_range_down": 0.275,
                "short_term_power": 0.3,
                "long_term_power": 0.13,
                "dte_floor_days": 1.0,
                "min_vol_up_shock": 0.45,
            },
            "margin": {
                "im_factor": 1.0,
                "mm_factor": 0.8,
                "short_rate_mult_scale": 0.5,
                "long_rate_mult_scale": 1.0,
                "short_rate_add_scale": 0.08,
                "long_rate_add_scale": 0.08,
                "short_base_static_discount": 1.04,
                "long_base_static_discount": 0.95,
            },
            "basis": {
                "scenario_spot_up": 1.045,
                "scenario_spot_down": 0.955,
                "add_factor": 0.5,
                "mult_factor": 2.0,
            },
            "other": {
                "peg_loss_threshold": 0.98,
                "peg_loss_factor": 2.0,
                "conf_threshold": 0.55,
                "conf_margin": 1.0,
                "mm_perp_percent": 0.015,
                "im_perp_percent": 0.005,
                "mm_option_percent": 0.003,
                "im_option_percent": 0.002,
            },
            "skew": {
                "linear_base_cap": 0.15,
                "abs_base_cap": 0.15,
                "linear_c_base": -0.05,
                "abs_c_base": -0.05,
                "min_k_star": 0.01,
                "width_scale": 4.0,
                "vol_param_static": 0.6,
                "vol_param_scale": -0.1,
            },
            "scenarios": scen,
        }
    )
