"""One Dask LocalCluster for the scale-out tests (2 worker processes, 1 thread each).

Started once per test session (on one pytest-xdist worker: the cluster tests share the
``dask`` xdist group), on loopback only, and closed at the end.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from crossmargin.scale.executors import DaskExecutor


@pytest.fixture(scope="session")
def _cluster() -> Iterator[DaskExecutor]:
    ex = DaskExecutor.local(2, threads_per_worker=1, memory_limit="2GiB")
    try:
        yield ex
    finally:
        ex.close()


@pytest.fixture
def dask_executor(_cluster: DaskExecutor) -> DaskExecutor:
    """The session's 2-worker process LocalCluster (1 thread each, 2 GiB per worker), with both
    workers up (a test that kills one leaves its restart to the nanny; the next test waits)."""
    _cluster.client.wait_for_workers(2, timeout=600)
    return _cluster
