"""Fixtures of the venue-preset tests: test data directory and small books built in code."""

from __future__ import annotations

from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="session")
def data() -> Path:
    """Directory of the preset test vectors (written from the specs' published numbers)."""
    return DATA
