"""Static collateral haircuts: the asset's own, else its risk class's (fail closed)."""

from __future__ import annotations

from crossmargin.config import HaircutConfig, RiskConfig
from crossmargin.errors import ConfigError

__all__ = ["static_haircut"]


def static_haircut(config: RiskConfig, asset: str, base_currency: str) -> HaircutConfig:
    """Static IM/MM haircut of ``asset`` (its own, else its risk class's).

    Raises
    ------
    ConfigError
        The asset has neither.
    """
    h = config.haircut(asset, base_currency=base_currency)
    if h is None:
        raise ConfigError(
            f"no haircut for collateral {asset}: add it under 'collateral' or map it to a risk class",
            path="config.collateral",
        )
    return h
