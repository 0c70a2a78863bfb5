"""The executor seam: run one function over many partitions, in process, on a pool or on Dask.

Every executor runs ``fn(shared, item)`` for each ``item`` of a run, where ``shared`` (the
venue's resolved contracts, the snapshot and the configuration) is shipped to each worker
**once per run**, not once per task:

* :class:`InProcessExecutor` — in the calling process, one item after the other (streaming:
  one partition in memory at a time); ``shared`` is not copied at all;
* :class:`LocalPoolExecutor` — a local pool of worker processes (``concurrent.futures``, spawn
  start method); ``shared`` is pickled once and unpickled once by each process, in the pool's
  initializer;
* :class:`DaskExecutor` — a Dask ``distributed.Client`` (a ``LocalCluster`` it starts, or an
  existing scheduler); ``shared`` is scattered to every worker with ``broadcast=True`` and tasks
  refer to it by key. A worker that joins later (a restarted one) copies it from a peer.

Failures are handled the same way by all three: a task that raises is resubmitted up to
``retries`` times; a task that still fails is reported with its key, its error and its number
of attempts (:class:`RunResult`), and the other tasks carry on, so the caller knows exactly which
items completed. A worker process that dies mid-task is a failure of the tasks it held (Dask
reschedules them on its own first, up to ``distributed.scheduler.allowed-failures``); a broken
local pool is rebuilt.

Progress is reported as tasks complete on the cluster (``progress(key, ok)``): on Dask this is
the scheduler's stream of finished tasks, not an estimate.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import pickle
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import TYPE_CHECKING, Any, TypeVar

from crossmargin._closing import Closing
from crossmargin.errors import ExecutionError, InputError
from crossmargin.scale.runs import RunResult, TaskFailure, raise_first_failure

if TYPE_CHECKING:
    from distributed import Client

    from crossmargin.margin.result import MarginBatch
    from crossmargin.resolve.book import ResolvedBook

__all__ = [
    "DaskExecutor",
    "Executor",
    "InProcessExecutor",
    "LocalPoolExecutor",
    "RunResult",
    "TaskFailure",
    "executor_from_spec",
    "raise_first_failure",
]

R = TypeVar("R")
TaskFn = Callable[[Any, Any], Any]
ProgressFn = Callable[[str, bool], None]

#: Environment variable read by the blocked kernels (``kernels/blocks.py``) for their threads.
THREADS_ENV = "CROSSMARGIN_THREADS"

#: glibc allocator settings for the worker processes a local cluster starts. By default glibc
#: maps every array above its (adaptive) mmap threshold afresh and unmaps it on free, and Dask
#: trims the heap at 64 KiB: each of the many scenario-sized temporaries of a var/es partition
#: is then page-faulted in again, which cost more system time than the arithmetic (57 s of
#: system CPU against 145 s of user CPU in the var/es scale benchmark). Arrays below 1 GiB come
#: from the heap and 256 MiB of freed heap is kept for reuse; peak memory is unchanged (the
#: measured figures are in docs/scaling.md). Set the same on a real cluster's workers
#: (``distributed.nanny.pre-spawn-environ``).
WORKER_MALLOC_ENV = {"MALLOC_MMAP_THRESHOLD_": str(2**30), "MALLOC_TOP_PAD_": str(2**28)}

#: Dask settings of the local clusters this module starts. Dask's defaults serve interactive
#: clusters with a dashboard: a statistical profiler in every worker, a 20 ms event-loop tick,
#: system metrics every 0.5 s and memory polls every 0.1 s — measured idle, 2.5 % of a core per
#: worker and 6.3 % in the process of the client and scheduler (11 % of one core on a 2-worker
#: cluster, taken from the tasks when workers and cores are as many); with these 0.5 % per
#: worker and 1.5 %. Memory is still polled four times a second (the nanny's memory limit).
LOCAL_CLUSTER_CONFIG: dict[str, Any] = {
    "distributed.worker.profile.enabled": False,
    "distributed.admin.tick.interval": "1s",
    "distributed.admin.system-monitor.interval": "2s",
    "distributed.worker.memory.monitor-interval": "250ms",
}


def worker_environ(threads: int = 1) -> dict[str, str]:
    """Environment variables the worker processes of :meth:`DaskExecutor.local` start with.

    Dask's pre-spawn environment (one BLAS/OpenMP thread, its heap-trim setting), the allocator
    settings (:data:`WORKER_MALLOC_ENV`) and the kernels' threads (``CROSSMARGIN_THREADS``). A
    single-process baseline started with the same variables runs the same code on the same
    allocator and threads as one worker.
    """
    import dask.config

    base = dask.config.get("distributed.nanny.pre-spawn-environ", {})
    return {
        **{k: str(v) for k, v in base.items()},
        **WORKER_MALLOC_ENV,
        THREADS_ENV: str(threads),
    }


class Executor(Closing, ABC):
    """Runs ``fn(shared, item)`` over items with ``shared`` shipped once (module docstring)."""

    #: Short name shown in reports (``in-process``, ``local-pool:2``, ``dask:tcp://...``).
    name: str = "executor"

    @property
    @abstractmethod
    def workers(self) -> int:
        """Number of worker processes (1 in process)."""

    def run(
        self,
        fn: TaskFn,
        shared: Any,
        items: Mapping[str, Any],
        *,
        retries: int = 2,
        progress: ProgressFn | None = None,
    ) -> RunResult[Any]:
        """Run ``fn(shared, item)`` for every ``key → item``; retry failures; report the rest.

        Parameters
        ----------
        fn
            A module-level function (workers import it by name).
        shared
            Shipped to each worker once for this run.
        items
            Task key (e.g. a partition name) → its small, picklable description.
        retries
            Further attempts of a failed task.
        progress
            Called with ``(key, ok)`` as each task completes or finally fails.
        """
        if retries < 0:
            raise InputError(f"must be >= 0, got {retries}", path="retries")
        out: RunResult[Any] = RunResult()
        if not items:
            return out
        handle = self._share(shared)
        try:
            pending: dict[Any, tuple[str, int]] = {}
            for key, item in items.items():
                pending[self._submit(fn, handle, item, key)] = (key, 1)
            while pending:
                for fut in self._wait_any(list(pending)):
                    key, attempt = pending.pop(fut)
                    try:
                        value = self._outcome(fut)
                    except Exception as exc:
                        if attempt <= retries:
                            out.retried[key] = attempt
                            handle = self._reshare_if_lost(handle, shared)
                            pending[self._submit(fn, handle, items[key], key)] = (key, attempt + 1)
                            continue
                        out.failures[key] = TaskFailure(key, exc, attempt)
                        if progress is not None:
                            progress(key, False)
                        continue
                    out.values[key] = value
                    if progress is not None:
                        progress(key, True)
        finally:
            self._unshare(handle)
        return out

    def margin(self, book: ResolvedBook, model: str) -> MarginBatch:
        """Margin a resolved book under ``model``, its accounts split over the workers.

        The seam of :func:`crossmargin.engine.margin_book` (``executor=``); see
        :mod:`crossmargin.scale.accounts`.
        """
        from crossmargin.scale.accounts import margin_accounts

        return margin_accounts(self, book, model)

    # -- primitives of an executor --------------------------------------------------------------
    @abstractmethod
    def _share(self, value: Any) -> Any:
        """Ship ``value`` to the workers once; return what tasks receive instead of it."""

    def _unshare(self, handle: Any) -> None:
        """Release what :meth:`_share` shipped."""

    def _reshare_if_lost(self, handle: Any, value: Any) -> Any:
        """Before a retry: ship ``value`` again if every worker holding it was lost."""
        return handle

    @abstractmethod
    def _submit(self, fn: TaskFn, handle: Any, item: Any, key: str) -> Any:
        """Start ``fn(shared, item)``; return a future."""

    @abstractmethod
    def _wait_any(self, futures: list[Any]) -> list[Any]:
        """Block until at least one of ``futures`` is done; return the done ones."""

    @abstractmethod
    def _outcome(self, future: Any) -> Any:
        """The value of a done future (raises the task's exception)."""

    # -- lifetime -------------------------------------------------------------------------------
    def close(self) -> None:
        """Release the workers this executor started (nothing for a borrowed client)."""


# -- in process ---------------------------------------------------------------------------------
class _Lazy:
    """A task of the in-process executor: run when waited for (one partition at a time)."""

    __slots__ = ("args", "done", "error", "fn", "value")

    def __init__(self, fn: TaskFn, args: tuple[Any, Any]) -> None:
        self.fn, self.args = fn, args
        self.done = False
        self.value: Any = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.value = self.fn(*self.args)
        except Exception as exc:
            self.error = exc
        self.done = True
        self.args = (None, None)  # release the partition


class InProcessExecutor(Executor):
    """Runs the tasks in the calling process, one after the other."""

    name = "in-process"

    @property
    def workers(self) -> int:
        """One: the calling process."""
        return 1

    def _share(self, value: Any) -> Any:
        return value

    def _submit(self, fn: TaskFn, handle: Any, item: Any, key: str) -> Any:
        return _Lazy(fn, (handle, item))

    def _wait_any(self, futures: list[Any]) -> list[Any]:
        task: _Lazy = futures[0]
        task.run()
        return [task]

    def _outcome(self, future: Any) -> Any:
        if future.error is not None:
            raise future.error
        return future.value


# -- local process pool -------------------------------------------------------------------------
_POOL_SHARED: dict[str, Any] = {}


def _pool_init(token: str, payload: bytes, threads: int) -> None:
    """Pool initializer: unpickle the shared value once in this worker process."""
    os.environ.setdefault(THREADS_ENV, str(threads))
    _POOL_SHARED.clear()
    _POOL_SHARED[token] = pickle.loads(payload)


def _pool_call(fn: TaskFn, token: str, item: Any) -> Any:
    return fn(_POOL_SHARED[token], item)


class LocalPoolExecutor(Executor):
    """A pool of local worker processes (``concurrent.futures``, spawn start method).

    Parameters
    ----------
    processes
        Number of worker processes.
    threads
        Kernel threads per process (``CROSSMARGIN_THREADS``; default 1).
    """

    def __init__(self, processes: int, *, threads: int = 1) -> None:
        if processes < 1:
            raise InputError(f"must be at least 1, got {processes}", path="processes")
        self.processes = processes
        self.threads = threads
        self.name = f"local-pool:{processes}"
        self._pool: ProcessPoolExecutor | None = None
        self._init: tuple[str, bytes, int] | None = None

    @property
    def workers(self) -> int:
        """Number of worker processes."""
        return self.processes

    def _start(self) -> ProcessPoolExecutor:
        assert self._init is not None
        self._pool = ProcessPoolExecutor(
            max_workers=self.processes,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_pool_init,
            initargs=self._init,
        )
        return self._pool

    def _share(self, value: Any) -> Any:
        import cloudpickle  # type: ignore[import-untyped]  # as Dask: snapshots hold mappingproxies

        token = uuid.uuid4().hex
        payload = cloudpickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
        self._init = (token, payload, self.threads)
        self._start()
        return token

    def _unshare(self, handle: Any) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
        self._pool = None
        self._init = None

    def _submit(self, fn: TaskFn, handle: Any, item: Any, key: str) -> Any:
        pool = self._pool or self._start()
        try:
            return pool.submit(_pool_call, fn, handle, item)
        except BrokenProcessPool:  # a worker died: rebuild the pool (shared shipped again)
            pool.shutdown(wait=False, cancel_futures=True)
            return self._start().submit(_pool_call, fn, handle, item)

    def _wait_any(self, futures: list[Any]) -> list[Any]:
        done, _ = wait(futures, return_when=FIRST_COMPLETED)
        return list(done)

    def _outcome(self, future: Any) -> Any:
        fut: Future[Any] = future
        return fut.result()

    def close(self) -> None:
        """Shut the pool down (if a run left it open)."""
        self._unshare(None)


# -- Dask distributed ---------------------------------------------------------------------------
class DaskExecutor(Executor):
    """Tasks on a Dask cluster through a ``distributed.Client``.

    Use :meth:`local` to start a ``LocalCluster`` (closed with the executor) or :meth:`connect`
    to use a running scheduler; or pass any client you already have (left open on close).
    """

    def __init__(self, client: Client, *, owns: Any = None) -> None:
        self.client = client
        self._owns = owns  # the LocalCluster this executor started, closed with it
        self.name = f"dask:{client.scheduler.address}" if client.scheduler else "dask"

    @classmethod
    def local(
        cls,
        n_workers: int,
        *,
        threads_per_worker: int = 1,
        memory_limit: str | float | None = "auto",
        quiet: bool = True,
    ) -> DaskExecutor:
        """Start a ``LocalCluster`` of ``n_workers`` worker processes (loopback only).

        Parameters
        ----------
        n_workers
            Worker processes.
        threads_per_worker
            Task threads per worker; also the kernels' threads (``CROSSMARGIN_THREADS``).
        memory_limit
            Per worker (``"1.5GiB"``, bytes, or ``"auto"``: the machine's memory / workers).
            Dask spills, pauses and finally restarts a worker that exceeds it.
        quiet
            Keep the cluster's logs below ERROR off the terminal.
        """
        if n_workers < 1:
            raise InputError(f"must be at least 1 worker, got {n_workers}", path="--cluster")
        distributed = _distributed()
        level = logging.ERROR if quiet else logging.WARNING
        logging.getLogger("distributed").setLevel(level)
        import dask.config

        # quiet workers (LOCAL_CLUSTER_CONFIG); glibc's allocator told to keep the large
        # scenario arrays in the heap (WORKER_MALLOC_ENV) before the worker process starts
        settings = {
            **LOCAL_CLUSTER_CONFIG,
            "distributed.nanny.pre-spawn-environ": worker_environ(threads_per_worker),
        }
        with dask.config.set(settings):
            cluster = distributed.LocalCluster(
                n_workers=n_workers,
                threads_per_worker=threads_per_worker,
                processes=True,
                host="127.0.0.1",
                memory_limit=memory_limit,
                dashboard_address="127.0.0.1:0",
                silence_logs=level,
            )
        try:
            client = distributed.Client(cluster)
        except BaseException:
            cluster.close()
            raise
        ex = cls(client, owns=cluster)
        ex.name = f"local:{n_workers}"
        return ex

    @classmethod
    def connect(cls, address: str, *, timeout: float = 30.0) -> DaskExecutor:
        """Connect to a running scheduler (``tcp://HOST:PORT``).

        Raises
        ------
        ExecutionError
            The scheduler cannot be reached within ``timeout`` seconds.
        """
        try:
            client = _distributed().Client(address, timeout=timeout)
        except (OSError, TimeoutError) as exc:
            raise ExecutionError(
                f"cannot reach the Dask scheduler: {exc}", path="--cluster"
            ) from None
        return cls(client)

    @property
    def workers(self) -> int:
        """Workers currently connected to the scheduler."""
        return max(1, len(self.client.scheduler_info().get("workers", {})))

    def _share(self, value: Any) -> Any:
        client: Any = self.client
        [handle] = client.scatter([value], broadcast=True, hash=False)
        return handle

    def _unshare(self, handle: Any) -> None:
        handle.release()

    def _reshare_if_lost(self, handle: Any, value: Any) -> Any:
        if handle.status == "finished":
            return handle
        handle.release()
        return self._share(value)

    def _submit(self, fn: TaskFn, handle: Any, item: Any, key: str) -> Any:
        return self.client.submit(
            fn, handle, item, key=f"crossmargin-{key}-{uuid.uuid4().hex[:12]}", pure=False
        )

    def _wait_any(self, futures: list[Any]) -> list[Any]:
        done, _ = _distributed().wait(futures, return_when="FIRST_COMPLETED")
        return list(done)

    def _outcome(self, future: Any) -> Any:
        return future.result()

    def close(self) -> None:
        """Close the client; and the cluster, if this executor started it."""
        client: Any = self.client
        client.close()
        if self._owns is not None:
            self._owns.close()
            self._owns = None


def _distributed() -> Any:
    """The ``distributed`` module (imported on first use: it takes a second to import)."""
    import distributed

    return distributed


def executor_from_spec(
    spec: str | None, *, memory_limit: str | None = None, quiet: bool = True
) -> Executor:
    """The executor named by a ``--cluster`` value.

    ``None`` or ``in-process``: the calling process; ``local:N``: a Dask ``LocalCluster`` of N
    worker processes; ``processes:N``: a local process pool without Dask; ``tcp://HOST:PORT``
    (or ``tls://``): an existing Dask scheduler.

    Raises
    ------
    InputError
        A malformed value.
    ExecutionError
        The scheduler cannot be reached.
    """
    if spec is None or spec == "in-process":
        return InProcessExecutor()
    kind, _, arg = spec.partition(":")
    if kind in ("local", "processes"):
        try:
            n = int(arg)
        except ValueError:
            raise InputError(
                f"expected {kind}:N with N the number of workers, got {spec!r}", path="--cluster"
            ) from None
        if n < 1:
            raise InputError(f"must be at least 1 worker, got {n}", path="--cluster")
        if kind == "processes":
            return LocalPoolExecutor(n)
        return DaskExecutor.local(n, memory_limit=memory_limit or "auto", quiet=quiet)
    if kind in ("tcp", "tls") and arg.startswith("//"):
        return DaskExecutor.connect(spec)
    raise InputError(
        f"expected local:N, processes:N or tcp://HOST:PORT, got {spec!r}", path="--cluster"
    )
