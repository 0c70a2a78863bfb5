"""Risk configuration (YAML, validated) and the shipped defaults."""

from crossmargin.config.layers import EffectiveConfig, config_layers, load_config
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
)

__all__ = [
    "BasisConfig",
    "DeltaShockConfig",
    "EffectiveConfig",
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
    "config_layers",
    "default_config",
    "load_config",
]
