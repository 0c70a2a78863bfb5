"""The risk configuration: validated, immutable parameters for every margin model.

Loaded from YAML (the shipped ``default_risk.yaml``, overlaid by a user file given with
``--config``: :mod:`crossmargin.config.layers`) and validated with pydantic at the edge; a malformed file raises
:class:`~crossmargin.errors.ConfigError` naming the field. ``crossmargin schema config`` prints
the JSON Schema.
"""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Mapping
from datetime import date
from functools import lru_cache
from importlib import resources
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic._internal._model_construction import ModelMetaclass

from crossmargin._time import MAX_INSTANT, MIN_INSTANT
from crossmargin.errors import ConfigError

__all__ = [
    "AddOnsConfig",
    "BasisAddOnConfig",
    "BasisConfig",
    "CascadeConfig",
    "CollateralConcentrationConfig",
    "CorrelationBreakdownConfig",
    "CorrelationInput",
    "DeltaShockConfig",
    "DynamicHaircutConfig",
    "GridConfig",
    "HaircutConfig",
    "InterCommodityConfig",
    "LastResort",
    "LinearTier",
    "LiquidationBufferConfig",
    "LiquidationConfig",
    "LiquidationPolicy",
    "LiquidityAddOnConfig",
    "LiquidityConfig",
    "LiquidityParams",
    "MarketRules",
    "MonteCarloConfig",
    "OptionRuleConfig",
    "OracleAssetConfig",
    "OracleSourceConfig",
    "OraclesConfig",
    "RiskClassConfig",
    "RiskConfig",
    "StressPeriod",
    "VarConfig",
    "VolResponse",
    "WrongWayConfig",
    "config_from_dict",
    "default_config",
    "default_data",
]


class _StrictMeta(ModelMetaclass):
    """``RiskConfig(...)`` validates like a file: JSON types, strictly; errors are ConfigError."""

    def __call__(cls, *args: Any, **data: Any) -> Any:  # noqa: N805 (a metaclass)
        if args:
            raise ConfigError("configuration models take keyword arguments only", path=cls.__name__)
        text = json.dumps(_json_ready(data, cls.__name__), allow_nan=True)
        try:
            return cls.model_validate_json(text, strict=True)  # type: ignore[attr-defined]
        except ValidationError as exc:
            raise _format_validation(exc, cls.__name__) from None


class _Strict(BaseModel, metaclass=_StrictMeta):
    """Frozen, no unknown fields, no NaN/inf, strict JSON types.

    ``'0.8'`` and ``true`` are not numbers; building one by hand or with :meth:`model_copy`
    validates like a file and raises :class:`ConfigError`.
    """

    # defer_build: a model's validator is built when first used, not when the module is
    # imported — validating a RiskConfig builds one schema for the whole tree instead of one
    # per nested model (~10 % less start-up for every command that loads a configuration)
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False, defer_build=True)

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Self:
        """A copy with ``update`` applied — validated like a file (pydantic's copy is not)."""
        if not update:
            return super().model_copy(deep=deep)
        data = self.model_dump(mode="json")
        for k, v in update.items():  # the raw values: pydantic's serializer would coerce '0.8'
            data[k] = _json_ready(v, k)
        try:
            return type(self).model_validate_json(json.dumps(data), strict=True)
        except ValidationError as exc:
            raise _format_validation(exc, type(self).__name__) from None


Fraction = Field(ge=0.0, le=1.0, allow_inf_nan=False)


def _mm_not_above_im(what: str) -> Any:
    """The rule of every IM/MM pair of a model: the MM ``what`` must not exceed the IM one."""

    def check(self: Any) -> Any:
        if self.mm > self.im:
            raise ValueError(f"mm {what} must not exceed im {what}")
        return self

    return model_validator(mode="after")(check)


class GridConfig(_Strict):
    """Scenario grid of one risk class (spot moves x vol states, plus dampened tails)."""

    price_range_down: float = Field(gt=0.0, lt=1.0, allow_inf_nan=False)
    price_range_up: float = Field(gt=0.0, allow_inf_nan=False)
    steps_per_side: int = Field(ge=1, le=50)
    vol_up: float = Field(ge=0.0, allow_inf_nan=False)
    vol_down: float = Field(ge=0.0, le=1.0, allow_inf_nan=False)
    min_vol_up: float = Field(ge=0.0, allow_inf_nan=False)
    short_term_vega_power: float = Field(ge=0.0, le=2.0, allow_inf_nan=False)
    long_term_vega_power: float = Field(ge=0.0, le=2.0, allow_inf_nan=False)
    vega_power_cutoff_days: float = Field(gt=0.0, allow_inf_nan=False)
    dte_floor_days: float = Field(gt=0.0, allow_inf_nan=False)
    tail_moves: tuple[float, ...] = ()
    tail_vol: Literal["up", "unchanged", "down", "all"] = "up"

    @field_validator("tail_moves")
    @classmethod
    def _tails(cls, v: tuple[float, ...]) -> tuple[float, ...]:
        for x in v:
            if not math.isfinite(x) or x <= -1.0 or x == 0.0:
                raise ValueError(f"tail move {x} must be finite, non-zero and > -1")
        return v


class LinearTier(_Strict):
    """One notional bracket of the progressive linear-contract rates."""

    up_to: float | None = Field(default=None, gt=0.0, allow_inf_nan=False)
    im: float = Fraction
    mm: float = Fraction

    _mm_le_im = _mm_not_above_im("rate")


class OptionRuleConfig(_Strict):
    """Isolated short-option rule: ``max(im_base − OTM/F, im_floor) × F + mark``."""

    im_base: float = Fraction
    im_floor: float = Fraction
    mm_rate: float = Fraction


class BasisConfig(_Strict):
    """Per-expiry basis move ``max(min_move, annual_move × T)``."""

    annual_move: float = Field(ge=0.0, allow_inf_nan=False)
    min_move: float = Field(ge=0.0, allow_inf_nan=False)


class DeltaShockConfig(_Strict):
    """Extra move on net delta notional above ``threshold``."""

    threshold: float = Field(ge=0.0, allow_inf_nan=False)
    slope_per_million: float = Field(ge=0.0, allow_inf_nan=False)
    max_shock: float = Fraction


class HaircutConfig(_Strict):
    """Collateral haircuts (fractions of market value)."""

    im: float = Fraction
    mm: float = Fraction

    _mm_le_im = _mm_not_above_im("haircut")


class RiskClassConfig(_Strict):
    """All parameters of one risk class (crypto, equity index, stablecoin, ...)."""

    grid: GridConfig
    linear_tiers: tuple[LinearTier, ...] = Field(min_length=1)
    option_rule: OptionRuleConfig
    short_option_minimum: float = Fraction
    basis: BasisConfig
    delta_shock: DeltaShockConfig
    collateral_haircut: HaircutConfig

    @field_validator("linear_tiers")
    @classmethod
    def _tiers(cls, v: tuple[LinearTier, ...]) -> tuple[LinearTier, ...]:
        last = 0.0
        for i, t in enumerate(v):
            if t.up_to is None:
                if i != len(v) - 1:
                    raise ValueError("only the last tier may have up_to: null")
            elif t.up_to <= last:
                raise ValueError("tier bounds must increase")
            else:
                last = t.up_to
        if v[-1].up_to is not None:
            raise ValueError("the last tier must have up_to: null (unbounded)")
        return v


class InterCommodityConfig(_Strict):
    """A SPAN-style inter-commodity spread between two underlyings."""

    legs: tuple[str, str]
    ratio: tuple[float, float] = (1.0, 1.0)
    credit: float = Fraction

    @field_validator("ratio")
    @classmethod
    def _ratio(cls, v: tuple[float, float]) -> tuple[float, float]:
        if any((not math.isfinite(x)) or x <= 0 for x in v):
            raise ValueError("ratios must be positive")
        return v


class LiquidityParams(_Strict):
    """Liquidity of one underlying for the square-root impact model."""

    spread: float = Field(
        ge=0.0, lt=1.0, allow_inf_nan=False, description="relative bid-ask spread"
    )
    adv: float = Field(gt=0.0, allow_inf_nan=False, description="average daily volume, notional")
    impact_k: float = Field(
        ge=0.0, allow_inf_nan=False, description="square-root impact coefficient"
    )
    concentration_share: float = Field(
        gt=0.0,
        le=1.0,
        allow_inf_nan=False,
        description="share of ADV beyond which a position is concentrated",
    )
    option_vol_impact: float = Field(
        ge=0.0,
        allow_inf_nan=False,
        description="close-out impact of options in vol points (absolute)",
    )
    open_interest: float | None = Field(
        default=None,
        gt=0.0,
        allow_inf_nan=False,
        description="open interest (notional); a position above concentration_share of it is "
        "concentrated too",
    )


class LiquidityConfig(_Strict):
    """Liquidity parameters per underlying, with a default."""

    default: LiquidityParams
    underlyings: dict[str, LiquidityParams] = Field(default_factory=dict)


# -- risk models beyond the grid (issue 3): var/es, add-ons, dynamic haircuts, oracles ------------
class StressPeriod(_Strict):
    """A calendar window of stressed history (both ends included)."""

    start: date
    end: date
    label: str = ""

    @model_validator(mode="after")
    def _order(self) -> StressPeriod:
        lo, hi = MIN_INSTANT.date(), MAX_INSTANT.date()
        for d in (self.start, self.end):
            if not lo <= d < hi:
                raise ValueError(
                    f"date {d.isoformat()} is outside the supported range {lo} to {hi}"
                )
        if self.end <= self.start:
            raise ValueError("a stress period must end after it starts")
        return self


class VolResponse(_Strict):
    """Implied-vol response to a return ``x`` (log): ``ln(σ'/σ) = beta·x + gamma·|x|``."""

    beta: float = Field(default=0.0, allow_inf_nan=False)
    gamma: float = Field(default=0.0, allow_inf_nan=False)


class CorrelationInput(_Strict):
    """A user correlation matrix for Monte Carlo (validated: square, symmetric, unit diagonal)."""

    assets: tuple[str, ...] = Field(min_length=2)
    matrix: tuple[tuple[float, ...], ...]

    @model_validator(mode="after")
    def _shape(self) -> CorrelationInput:
        n = len(self.assets)
        if len(set(self.assets)) != n:
            raise ValueError("assets must be distinct")
        if len(self.matrix) != n or any(len(r) != n for r in self.matrix):
            raise ValueError(f"matrix must be {n} x {n} (one row and column per asset)")
        for i in range(n):
            if self.matrix[i][i] != 1.0:
                raise ValueError(f"diagonal entry [{i}][{i}] must be 1")
            for j in range(n):
                x = self.matrix[i][j]
                if not math.isfinite(x) or abs(x) > 1.0:
                    raise ValueError(f"entry [{i}][{j}] = {x!r} must be in [-1, 1]")
                if abs(x - self.matrix[j][i]) > 1e-9:
                    raise ValueError(f"matrix is not symmetric at [{i}][{j}]")
        return self


class MonteCarloConfig(_Strict):
    """Monte Carlo scenario set (method ``mc``)."""

    paths: int = Field(default=2000, ge=100, le=1_000_000)
    seed: int = 20_260_101
    distribution: Literal["normal", "student_t"] = "student_t"
    dof: float = Field(default=4.0, gt=2.0, allow_inf_nan=False)
    correlation: CorrelationInput | None = None
    non_psd: Literal["repair", "reject"] = "repair"


class VarConfig(_Strict):
    """Historical / filtered historical / Monte Carlo VaR and ES (models ``var`` and ``es``)."""

    method: Literal["fhs", "hs", "mc"] = "fhs"
    var_confidence: float = Field(default=0.99, gt=0.5, lt=1.0)
    es_confidence: float = Field(default=0.975, gt=0.5, lt=1.0)
    mpor_days: float = Field(default=2.0, gt=0.0, le=30.0)
    lookback_days: int = Field(default=730, ge=30)
    ewma_lambda: float = Field(default=0.97, gt=0.0, lt=1.0)
    stress_periods: tuple[StressPeriod, ...] = ()
    stress_weight: float = Field(default=0.0, ge=0.0, lt=1.0)
    stress_window_days: int = Field(default=365, ge=30)
    anti_procyclicality: Literal[
        "none", "buffer", "stress_weight", "floor", "releasable_buffer"
    ] = "releasable_buffer"
    apc_buffer: float = Field(default=0.25, ge=0.0, le=1.0)
    apc_floor_years: float = Field(default=10.0, gt=0.0, le=50.0)
    apc_release_from: float = Field(default=1.0, gt=0.0, le=10.0)
    apc_release_window_days: int = Field(default=3652, ge=30)
    vol_index: dict[str, str] = Field(default_factory=dict)
    vol_response: dict[str, VolResponse] = Field(default_factory=dict)
    depeg: dict[str, float] = Field(default_factory=dict)
    min_observations: int = Field(default=250, ge=10)
    max_gap_days: float = Field(default=5.0, gt=0.0)
    max_history_age_days: float | None = Field(default=7.0, gt=0.0)
    allow_stale_history: bool = False
    montecarlo: MonteCarloConfig = Field(default_factory=MonteCarloConfig)

    @model_validator(mode="after")
    def _apc(self) -> VarConfig:
        if self.anti_procyclicality == "stress_weight" and self.stress_weight < 0.25:
            raise ValueError(
                f"anti_procyclicality stress_weight needs stress_weight >= 0.25 (EMIR RTS 153/2013 "
                f"Art. 28(1)(b)), got {self.stress_weight:g}: set var.stress_weight: 0.25"
            )
        for k, p in self.depeg.items():
            if not (math.isfinite(p) and 0.0 < p < 1.0):
                raise ValueError(f"depeg.{k}: stressed price {p!r} must be in (0, 1)")
        return self


class CorrelationBreakdownConfig(_Strict):
    """Correlation-breakdown add-on: re-margin with stressed dependence per pair of underlyings."""

    models: tuple[str, ...] = ("var", "es")
    low_factor: float = Field(default=0.5, ge=-1.0, le=1.0)
    high_factor: float = Field(default=1.25, ge=1.0, le=2.0)
    worst_window: bool = True
    window_days: int = Field(default=60, ge=10)
    independent: bool = False
    seed: int = 20_260_102


class LiquidityAddOnConfig(_Strict):
    """Liquidity (close-out cost) and concentration add-ons."""

    models: tuple[str, ...] = ("var", "es")
    concentration: bool = True


class WrongWayConfig(_Strict):
    """Wrong-way collateral: collateral that loses in the book's worst scenario."""

    models: tuple[str, ...] = ("var", "es")


class BasisAddOnConfig(_Strict):
    """Basis/roll add-on for models whose scenarios move all expiries together (var/es)."""

    models: tuple[str, ...] = ("var", "es")


class AddOnsConfig(_Strict):
    """Which models apply which of the issue-3 add-ons (and their parameters)."""

    correlation_breakdown: CorrelationBreakdownConfig = Field(
        default_factory=CorrelationBreakdownConfig
    )
    liquidity: LiquidityAddOnConfig = Field(default_factory=LiquidityAddOnConfig)
    wrong_way: WrongWayConfig = Field(default_factory=WrongWayConfig)
    basis: BasisAddOnConfig = Field(default_factory=BasisAddOnConfig)


class CollateralConcentrationConfig(_Strict):
    """Concentration limits: value of one asset above ``max_share`` of the account's collateral."""

    default_max_share: float | None = Field(default=None, gt=0.0, le=1.0)
    max_share: dict[str, float] = Field(default_factory=dict)
    excess_haircut: float = Field(default=1.0, ge=0.0, le=1.0)


class DynamicHaircutConfig(_Strict):
    """Volatility- and liquidity-driven collateral haircuts (floored by the static ones)."""

    enabled: bool = False
    z_im: float = Field(default=2.326, gt=0.0, allow_inf_nan=False)
    z_mm: float = Field(default=1.645, gt=0.0, allow_inf_nan=False)
    horizon_days: float = Field(default=2.0, gt=0.0, le=30.0)
    ewma_lambda: float = Field(default=0.97, gt=0.0, lt=1.0)
    liquidity_cost: bool = True
    vols: dict[str, float] = Field(default_factory=dict)
    size_factor: dict[str, float] = Field(default_factory=dict)
    concentration: CollateralConcentrationConfig = Field(
        default_factory=CollateralConcentrationConfig
    )


class OracleSourceConfig(_Strict):
    """Fail-closed rules of one collateral-oracle source."""

    heartbeat_seconds: float = Field(default=3600.0, gt=0.0)
    on_stale: Literal["zero", "error"] = "zero"
    min_confidence: float = Field(default=0.5, ge=0.0, le=1.0)
    confidence_threshold: float = Field(default=0.95, ge=0.0, le=1.0)
    confidence_margin: float = Field(default=1.0, ge=0.0, allow_inf_nan=False)
    on_low_confidence: Literal["haircut", "zero"] = "haircut"
    max_deviation: float = Field(default=0.02, gt=0.0, allow_inf_nan=False)
    on_deviation: Literal["zero", "error"] = "zero"
    protocol_haircut: float = Field(default=0.0, ge=0.0, le=1.0)


class OracleAssetConfig(_Strict):
    """A collateral asset valued through an oracle: ``amount × oracle value × underlying price``."""

    kind: Literal["lending_deposit", "vault_share", "liquid_staking"]
    underlying: str
    source: str


class OraclesConfig(_Strict):
    """Oracle-valued collateral kinds and the rules of their sources."""

    default: OracleSourceConfig = Field(default_factory=OracleSourceConfig)
    sources: dict[str, OracleSourceConfig] = Field(default_factory=dict)
    assets: dict[str, OracleAssetConfig] = Field(default_factory=dict)

    def source(self, name: str) -> OracleSourceConfig:
        """Rules of source ``name`` (its own, else the default)."""
        return self.sources.get(name, self.default)


# -- liquidation engine, loss waterfall and cascade simulator (issue 5) ---------------------------
class LiquidationBufferConfig(_Strict):
    """How far above MM a partial liquidation restores an account (docs/methodology.md)."""

    kind: Literal["maintenance", "notional"] = Field(
        default="maintenance",
        description="maintenance: rate x MM after (Derive bufferMarginPercentage); "
        "notional: rate x gross notional after (Drift liquidation_margin_buffer_ratio)",
    )
    rate: float = Field(default=0.15, ge=0.0, le=1.0, allow_inf_nan=False)


class CascadeConfig(_Strict):
    """Liquidation-cascade simulator parameters."""

    max_rounds: int = Field(default=20, ge=1, le=10_000)
    depth_recovery: float = Field(
        default=0.5,
        ge=0.0,
        le=1.0,
        allow_inf_nan=False,
        description="share of the liquidation price impact that decays each round (book resilience)",
    )


#: How an account below maintenance is liquidated: closed out in full or partially.
LiquidationPolicy = Literal["full", "partial"]
#: What covers a deficit the insurance fund cannot.
LastResort = Literal["adl", "socialize_profitable", "socialize_all", "none"]


class LiquidationConfig(_Strict):
    """Liquidation policy, fees, insurance fund and last resort (crossmargin.liquidation)."""

    policy: LiquidationPolicy = "partial"
    buffer: LiquidationBufferConfig = Field(default_factory=LiquidationBufferConfig)
    fee_rate: float = Field(default=0.015, ge=0.0, lt=1.0, allow_inf_nan=False)
    fee_to_insurance: float = Field(default=1.0, ge=0.0, le=1.0, allow_inf_nan=False)
    liquidator_fee: float = Field(default=0.0, ge=0.0, lt=1.0, allow_inf_nan=False)
    insurance_fund: float | None = Field(default=None, ge=0.0, allow_inf_nan=False)
    insurance_fund_share: float = Field(default=0.01, ge=0.0, le=1.0, allow_inf_nan=False)
    last_resort: LastResort = "adl"
    sell_collateral: bool = True
    cascade: CascadeConfig = Field(default_factory=CascadeConfig)


class MarketRules(_Strict):
    """Fail-closed rules for market data (docs/formats.md, "Time rules" and "Fallbacks")."""

    min_confidence: float = Fraction
    max_age_seconds: float = Field(gt=0.0, allow_inf_nan=False)
    require_timestamps: bool = Field(
        default=True,
        description="a price needs an observation time (its own timestamp or the snapshot's); "
        "false: accepted without one, with a no_timestamp warning",
    )
    fallbacks: Literal["warn", "error"] = Field(
        default="warn",
        description="derived market data (interpolated expiries, asset-level vol, rate-based "
        "forwards, perp mark = spot): used with a warning, or refused",
    )


class RiskConfig(_Strict):
    """The whole risk configuration."""

    version: Literal[1] = 1
    mm_factor: float = Field(gt=0.0, le=1.0, allow_inf_nan=False)
    market: MarketRules
    default_risk_class: str | None = None
    underlyings: dict[str, str] = Field(default_factory=dict)
    risk_classes: dict[str, RiskClassConfig] = Field(min_length=1)
    inter_commodity: tuple[InterCommodityConfig, ...] = ()
    collateral: dict[str, HaircutConfig] = Field(default_factory=dict)
    liquidity: LiquidityConfig
    var: VarConfig = Field(default_factory=VarConfig)
    margin_addons: AddOnsConfig = Field(default_factory=AddOnsConfig)
    dynamic_haircuts: DynamicHaircutConfig = Field(default_factory=DynamicHaircutConfig)
    oracles: OraclesConfig = Field(default_factory=OraclesConfig)
    liquidation: LiquidationConfig = Field(default_factory=LiquidationConfig)
    #: Venue-preset parameter overrides, ``preset name -> {field: value}`` (merged over the
    #: preset's published defaults and validated by the preset; see ``crossmargin presets``).
    presets: dict[str, dict[str, Any]] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _refs(self) -> RiskConfig:
        if self.default_risk_class is not None and self.default_risk_class not in self.risk_classes:
            raise ValueError(f"default_risk_class {self.default_risk_class!r} is not a risk class")
        for und, rc in self.underlyings.items():
            if rc not in self.risk_classes:
                raise ValueError(f"underlyings.{und}: unknown risk class {rc!r}")
        for p in self.inter_commodity:
            if p.legs[0] == p.legs[1]:
                raise ValueError("an inter-commodity spread needs two different underlyings")
        return self

    def risk_class_of(self, underlying: str) -> str | None:
        """Risk class name of ``underlying`` (``None`` if unmapped and no default)."""
        return self.underlyings.get(underlying, self.default_risk_class)

    def haircut(self, asset: str, *, base_currency: str) -> HaircutConfig | None:
        """Haircut of a collateral asset: its own, else its risk class's, else ``None``."""
        if asset in self.collateral:
            return self.collateral[asset]
        if asset == base_currency:
            return HaircutConfig(im=0.0, mm=0.0)
        rc = self.risk_class_of(asset)
        return self.risk_classes[rc].collateral_haircut if rc is not None else None


_TYPE_ERRORS = {
    "float_type": "a number",
    "float_parsing": "a number",
    "int_type": "an integer",
    "int_parsing": "an integer",
    "int_from_float": "an integer",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "string_type": "a string",
}


def _format_validation(exc: ValidationError, root: str) -> ConfigError:
    err = exc.errors()[0]
    loc = ".".join(str(p) for p in err["loc"] if not str(p).startswith("function-after"))
    path = f"{root}.{loc}" if loc else root
    want = _TYPE_ERRORS.get(err["type"])
    if want is not None:
        got = err.get("input")
        shown = str(got).lower() if isinstance(got, bool) else f"{type(got).__name__} {got!r}"[:80]
        return ConfigError(f"must be {want}, got {shown}", path=path)
    if err["type"] == "finite_number":
        return ConfigError("must be finite", path=path)
    msg = err["msg"].removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        msg = "unknown field"
    elif err["type"] == "missing":
        msg = "required field is missing"
    return ConfigError(msg, path=path)


def _json_ready(obj: Any, path: str) -> Any:
    """A parsed YAML/Python mapping as JSON types (keys must be strings; dates as ISO text)."""
    if isinstance(obj, dict):
        out: dict[str, Any] = {}
        for k, v in obj.items():
            if not isinstance(k, str):
                raise ConfigError(f"key {k!r} must be a string", path=f"{path}.{k}")
            out[k] = _json_ready(v, f"{path}.{k}")
        return out
    if isinstance(obj, list | tuple):
        return [_json_ready(v, f"{path}[{i}]") for i, v in enumerate(obj)]
    if isinstance(obj, date):  # also datetime
        return obj.isoformat()
    if isinstance(obj, BaseModel):
        return obj.model_dump(mode="json")
    if obj is None or isinstance(obj, str | int | float | bool):
        return obj
    raise ConfigError(f"unsupported value of type {type(obj).__name__}", path=path)


def config_from_dict(data: Any, *, source: str = "config") -> RiskConfig:
    """Validate a parsed YAML/JSON mapping into a :class:`RiskConfig`.

    Values are validated with JSON's types, strictly: a number must be written as a number
    (``'0.8'`` and ``true`` are refused where a number is expected), an integer field refuses
    ``2.5``, NaN and infinities are refused everywhere; keys must be strings.

    Raises
    ------
    ConfigError
        Naming the offending key path (``config.risk_classes.crypto.grid.vol_up``).
    """
    if not isinstance(data, dict):
        raise ConfigError("must be a mapping", path=source)
    text = json.dumps(_json_ready(data, source), allow_nan=True)
    try:
        return RiskConfig.model_validate_json(text, strict=True)
    except ValidationError as exc:
        raise _format_validation(exc, source) from None


#: The shipped defaults, in the package (``crossmargin/config/default_risk.yaml``).
DEFAULTS_FILE = "default_risk.yaml"


@lru_cache(maxsize=1)
def _default_tree() -> dict[str, Any]:
    """The shipped file parsed once, with libyaml's C parser when installed.

    The file is ours (a test checks that this parse equals the strict, bounded parser's that
    reads user files: :func:`crossmargin.limits.parse_yaml`); the C parser saves ~0.2 s of
    pure-Python scanning on every command's start.
    """
    import yaml

    text = resources.files("crossmargin.config").joinpath(DEFAULTS_FILE).read_text("utf-8")
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    data = yaml.load(text, Loader=loader)
    if not isinstance(data, dict):  # pragma: no cover - the shipped file is a mapping
        raise ConfigError("must be a mapping", path=DEFAULTS_FILE)
    return data


def default_data() -> dict[str, Any]:
    """The shipped defaults as parsed YAML (a fresh copy; a user file overlays it)."""
    return copy.deepcopy(_default_tree())


@lru_cache(maxsize=1)
def default_config() -> RiskConfig:
    """The shipped default configuration (``crossmargin/config/default_risk.yaml``)."""
    return config_from_dict(default_data(), source=DEFAULTS_FILE)
