"""The risk configuration: validated, immutable parameters for every margin model.

Loaded from YAML (the shipped ``default_risk.yaml`` or a user file given with ``--config``) and
validated with pydantic at the edge; a malformed file raises
:class:`~crossmargin.errors.ConfigError` naming the field. ``crossmargin schema config`` prints
the JSON Schema.
"""

from __future__ import annotations

import math
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from crossmargin.errors import ConfigError

__all__ = [
    "BasisConfig",
    "DeltaShockConfig",
    "GridConfig",
    "HaircutConfig",
    "InterCommodityConfig",
    "LinearTier",
    "LiquidityConfig",
    "LiquidityParams",
    "MarketRules",
    "OptionRuleConfig",
    "RiskClassConfig",
    "RiskConfig",
    "default_config",
    "load_config",
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


Fraction = Field(ge=0.0, le=1.0, allow_inf_nan=False)


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

    @model_validator(mode="after")
    def _mm_le_im(self) -> LinearTier:
        if self.mm > self.im:
            raise ValueError("mm rate must not exceed im rate")
        return self


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

    @model_validator(mode="after")
    def _mm_le_im(self) -> HaircutConfig:
        if self.mm > self.im:
            raise ValueError("mm haircut must not exceed im haircut")
        return self


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


class LiquidityConfig(_Strict):
    """Liquidity parameters per underlying, with a default."""

    default: LiquidityParams
    underlyings: dict[str, LiquidityParams] = Field(default_factory=dict)


class MarketRules(_Strict):
    """Fail-closed rules for market data."""

    min_confidence: float = Fraction
    max_age_seconds: float = Field(gt=0.0, allow_inf_nan=False)


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


def _format_validation(exc: ValidationError, root: str) -> ConfigError:
    err = exc.errors()[0]
    loc = ".".join(str(p) for p in err["loc"] if not str(p).startswith("function-after"))
    path = f"{root}.{loc}" if loc else root
    return ConfigError(err["msg"].removeprefix("Value error, "), path=path)


def config_from_dict(data: Any, *, source: str = "config") -> RiskConfig:
    """Validate a parsed YAML/JSON mapping into a :class:`RiskConfig`."""
    if not isinstance(data, dict):
        raise ConfigError("must be a mapping", path=source)
    try:
        return RiskConfig.model_validate(data)
    except ValidationError as exc:
        raise _format_validation(exc, source) from None


def load_config(path: str | Path) -> RiskConfig:
    """Load and validate a risk configuration YAML file.

    Raises
    ------
    ConfigError
        If the file is missing, not YAML, or violates the schema.
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read file: {exc.strerror}", path=str(p)) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"not valid YAML: {exc}".splitlines()[0], path=str(p)) from None
    return config_from_dict(data, source="config")


@lru_cache(maxsize=1)
def default_config() -> RiskConfig:
    """The shipped default configuration (``crossmargin/config/default_risk.yaml``)."""
    text = resources.files("crossmargin.config").joinpath("default_risk.yaml").read_text("utf-8")
    return config_from_dict(yaml.safe_load(text), source="default_risk.yaml")
