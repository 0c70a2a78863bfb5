"""Margin models behind one protocol, selected by name from a registry.

Importing this package registers the built-in models: ``isolated``, ``cross``, ``portfolio``.
"""

from crossmargin.margin import standard as _standard  # isort: skip  (registration order)
from crossmargin.margin import portfolio as _portfolio  # isort: skip
from crossmargin.margin.base import (
    MarginModel,
    ModelInfo,
    available_models,
    get_model,
    model_info,
    register_model,
)
from crossmargin.margin.result import AddOnRows, GroupTable, MarginBatch

del _portfolio, _standard

__all__ = [
    "AddOnRows",
    "GroupTable",
    "MarginBatch",
    "MarginModel",
    "ModelInfo",
    "available_models",
    "get_model",
    "model_info",
    "register_model",
]
