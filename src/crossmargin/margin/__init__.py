"""Margin models behind one protocol, selected by name from a static registry.

Importing this package imports no model: :data:`~crossmargin.margin.base.BUILTIN_MODELS` maps
each name to the module that implements it, imported the first time the model is used.
"""

from crossmargin.margin.base import (
    BUILTIN_MODELS,
    MarginModel,
    ModelInfo,
    available_models,
    get_model,
    model_info,
    register_model,
)
from crossmargin.margin.result import AddOnRows, GroupTable, MarginBatch

__all__ = [
    "BUILTIN_MODELS",
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
