"""Risk configuration (YAML, validated) and the shipped defaults."""

from crossmargin.config.model import (
    BasisConfig,
    DeltaShockConfig,
    GridConfig,
    HaircutConfig,
    InterCommodityConfig,
    LinearTier,
    LiquidityConfig,
    LiquidityParams,
    MarketRules,
    OptionRuleConfig,
    RiskClassConfig,
    RiskConfig,
    config_from_dict,
    default_config,
    load_config,
)

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
    "config_from_dict",
    "default_config",
    "load_config",
]
