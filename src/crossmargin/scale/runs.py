"""What a run of tasks returns, and the one way a failed run is raised.

Shared by the executors (:mod:`crossmargin.scale.executors`, which produce runs) and by the work
they run (:mod:`crossmargin.scale.accounts`, :mod:`crossmargin.scale.batch`, which read them);
:class:`TaskRunner` is what that work needs of an executor.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, NoReturn, Protocol, TypeVar

from crossmargin.errors import CrossMarginError, ExecutionError

__all__ = ["RunResult", "TaskFailure", "TaskRunner", "raise_first_failure"]

R = TypeVar("R")


@dataclass(frozen=True, slots=True)
class TaskFailure:
    """A task that still failed after its retries."""

    key: str
    error: BaseException
    attempts: int


@dataclass(slots=True)
class RunResult(Generic[R]):
    """Outcome of a run: the value of each task that completed, and each that did not.

    Attributes
    ----------
    values
        Key → value of every task that completed.
    failures
        Key → failure of every task that did not complete after its retries.
    retried
        Key → number of failed attempts before the last one (only keys that were retried).
    """

    values: dict[str, R] = field(default_factory=dict)
    failures: dict[str, TaskFailure] = field(default_factory=dict)
    retried: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """Every task completed."""
        return not self.failures


class TaskRunner(Protocol):
    """Runs ``fn(shared, item)`` over items (every :class:`~crossmargin.scale.executors.Executor`)."""

    @property
    def workers(self) -> int:
        """Number of worker processes."""
        ...

    def run(
        self,
        fn: Callable[[Any, Any], Any],
        shared: Any,
        items: Mapping[str, Any],
        *,
        retries: int = 2,
        progress: Callable[[str, bool], None] | None = None,
    ) -> RunResult[Any]:
        """Run ``fn(shared, item)`` for every ``key → item``; retry failures; report the rest."""
        ...


def raise_first_failure(run: RunResult[Any], order: list[str]) -> NoReturn:
    """Raise the error of the first failed task (in ``order``).

    A crossmargin error is raised as it is (the same error a single process raises); anything
    else (a lost worker, a bug) as an :class:`~crossmargin.errors.ExecutionError` naming the task.
    """
    key = next(k for k in order if k in run.failures)
    f = run.failures[key]
    if isinstance(f.error, CrossMarginError):
        raise f.error
    text = str(f.error).strip().splitlines()
    reason = f"{type(f.error).__name__}: {text[0]}" if text else type(f.error).__name__
    raise ExecutionError(f"task {key} failed after {f.attempts} attempts: {reason}")
