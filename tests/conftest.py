"""Shared fixtures: the bundled examples and a small market built in code."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from crossmargin.cli.cmd_info import examples_dir
from crossmargin.config import RiskConfig, default_config
from crossmargin.io.market import load_market
from crossmargin.market.snapshot import MarketSnapshot
from support.postgres import postgres_cluster  # noqa: F401  (session fixture, shared)

settings.register_profile(
    "ci", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("dev", max_examples=25, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(scope="session")
def examples() -> Path:
    """Directory of the bundled examples."""
    return examples_dir()


@pytest.fixture(scope="session")
def crypto_market(examples: Path) -> MarketSnapshot:
    """The bundled crypto market snapshot."""
    return load_market(examples / "market_crypto.json")


@pytest.fixture(scope="session")
def index_market(examples: Path) -> MarketSnapshot:
    """The bundled SPX/NDX market snapshot."""
    return load_market(examples / "market_index.json")


@pytest.fixture(scope="session")
def config() -> RiskConfig:
    """The shipped default risk configuration."""
    return default_config()
