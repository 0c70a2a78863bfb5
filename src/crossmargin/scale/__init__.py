"""Scale-out: partitioned datasets and an executor seam (in process, local pool, Dask).

* :mod:`~crossmargin.scale.partitioning` writes a venue's tables as a dataset hashed by account;
  :mod:`~crossmargin.scale.dataset` finds, reads and scans partitions;
* :mod:`~crossmargin.scale.executors` runs one function over many partitions with the shared
  data shipped once per worker, retries and per-task failure reports;
* :mod:`~crossmargin.scale.context` is what is shipped: the venue's contracts resolved once;
* :mod:`~crossmargin.scale.batch` margins a dataset (one result file per partition,
  :mod:`~crossmargin.scale.output`); :mod:`~crossmargin.scale.accounts` margins an in-memory
  book over slices of its accounts (``margin_book(..., executor=...)``);
* :mod:`~crossmargin.scale.backtest` runs backtests of many books × models as tasks.

See docs/scaling.md for running on a real cluster.
"""

from crossmargin.scale.batch import DatasetResult, PartitionReport, margin_dataset
from crossmargin.scale.context import VenueContracts
from crossmargin.scale.dataset import Dataset, Partition, open_dataset
from crossmargin.scale.executors import (
    DaskExecutor,
    Executor,
    InProcessExecutor,
    LocalPoolExecutor,
    RunResult,
    TaskFailure,
    executor_from_spec,
)
from crossmargin.scale.partitioning import write_dataset

__all__ = [
    "DaskExecutor",
    "Dataset",
    "DatasetResult",
    "Executor",
    "InProcessExecutor",
    "LocalPoolExecutor",
    "Partition",
    "PartitionReport",
    "RunResult",
    "TaskFailure",
    "VenueContracts",
    "executor_from_spec",
    "margin_dataset",
    "open_dataset",
    "write_dataset",
]
