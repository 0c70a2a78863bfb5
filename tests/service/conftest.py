"""Fixtures of the service tests: a running service on SQLite or on a PostgreSQL cluster
started by the tests (``support.postgres``), and keys issued through the API.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from .helpers import Running, start_service, stop_service


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    """Database backend of the service under test."""
    return str(request.param)


@pytest.fixture
def db_url(request: pytest.FixtureRequest, backend: str, tmp_path: Path) -> str:
    """A fresh database of the backend."""
    if backend == "sqlite":
        return str(tmp_path / "service.db")
    cluster = request.getfixturevalue("postgres_cluster")
    return str(cluster.create_database("svc"))


@pytest.fixture
def service(db_url: str) -> Iterator[Running]:
    """A running service on a fresh database of each backend."""
    running = start_service(db_url)
    try:
        yield running
    finally:
        stop_service(running)


@pytest.fixture
def sqlite_service(tmp_path: Path) -> Iterator[Running]:
    """A running service on a fresh SQLite database."""
    running = start_service(str(tmp_path / "service.db"))
    try:
        yield running
    finally:
        stop_service(running)


@pytest.fixture
def issue_key(service: Running) -> Callable[..., str]:
    """Issue a key through the API (``role``, ``account``, ``feed``)."""

    def issue(role: str, **kw: str) -> str:
        with service.client() as c:
            r = c.post("/v1/keys", json={"role": role, **kw})
            assert r.status_code == 201, r.text
            token: str = r.json()["token"]
            return token

    return issue
