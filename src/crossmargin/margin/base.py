"""The margin-model protocol and the registry of models by name.

A model is anything with a ``name``, a one-line ``description`` and
``compute(resolved_book, *, detail=False) -> MarginBatch``. The registry is static: a table of
built-in names → ``"module:Factory"`` (:data:`BUILTIN_MODELS`), imported on first use, with no
registration by import side effect; ``get_model("portfolio", config)`` builds one. A user's own
model is added explicitly with :func:`register_model`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Protocol, runtime_checkable

from crossmargin.config import RiskConfig
from crossmargin.errors import ModelError
from crossmargin.margin.result import MarginBatch
from crossmargin.resolve.book import ResolvedBook

__all__ = [
    "BUILTIN_MODELS",
    "BUILTIN_PRESETS",
    "MarginModel",
    "ModelInfo",
    "available_models",
    "get_model",
    "load_factory",
    "model_info",
    "register_model",
]


@runtime_checkable
class MarginModel(Protocol):
    """A margin methodology."""

    @property
    def name(self) -> str:
        """Registry name of the model."""
        ...

    @property
    def description(self) -> str:
        """One-line description."""
        ...

    def compute(self, book: ResolvedBook, *, detail: bool = False) -> MarginBatch:
        """Compute every account's requirement; keep scenario P&L when ``detail``."""
        ...


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """Registry entry: name, description, source and factory."""

    name: str
    description: str
    source: str
    factory: Callable[[RiskConfig], MarginModel]


#: The built-in models, in listing order: name → ``"module:Factory"``. Nothing is imported (and
#: nothing registers itself) until a model is used: :func:`model_info` imports its module then.
#: A factory is a class with ``description`` and ``source`` class attributes, built with
#: ``Factory.from_config(config)`` when it has that classmethod, else ``Factory(config)``; a
#: venue preset carries its catalog entry as ``Factory.info`` (:mod:`crossmargin.margin.presets`).
BUILTIN_MODELS: Mapping[str, str] = MappingProxyType(
    {
        "isolated": "crossmargin.margin.standard:IsolatedMargin",
        "cross": "crossmargin.margin.standard:CrossMargin",
        "portfolio": "crossmargin.margin.portfolio:PortfolioMargin",
        "deribit-pm": "crossmargin.margin.presets.deribit:DeribitPM",
        "derive-pmrm2": "crossmargin.margin.presets.derive.model:DerivePMRM2",
        "drift-v2": "crossmargin.margin.presets.drift:DriftV2",
        "dydx-v4": "crossmargin.margin.presets.dydx:DydxV4",
        "okx-pm": "crossmargin.margin.presets.okx:OkxPM",
        "paradex-pm": "crossmargin.margin.presets.paradex:ParadexPM",
        "span": "crossmargin.margin.presets.span.model:SpanModel",
        "var": "crossmargin.margin.var:VaRMargin",
        "es": "crossmargin.margin.var:ESMargin",
    }
)
#: The built-in venue presets (a subset of :data:`BUILTIN_MODELS`).
BUILTIN_PRESETS = (
    "deribit-pm",
    "derive-pmrm2",
    "drift-v2",
    "dydx-v4",
    "okx-pm",
    "paradex-pm",
    "span",
)

#: Models registered by the user's code (:func:`register_model`), by name.
_USER: dict[str, ModelInfo] = {}


def register_model(info: ModelInfo) -> None:
    """Register (or replace) a model under ``info.name`` (user models; built-ins are static)."""
    _USER[info.name] = info


def available_models() -> tuple[str, ...]:
    """Names of the built-in models (in listing order), then those of registered user models."""
    return (*BUILTIN_MODELS, *(n for n in _USER if n not in BUILTIN_MODELS))


def load_factory(name: str) -> Any:
    """The factory class of built-in model ``name`` (imports its module)."""
    module, _, attr = BUILTIN_MODELS[name].partition(":")
    return getattr(importlib.import_module(module), attr)


def model_info(name: str) -> ModelInfo:
    """Registry entry of ``name``.

    Raises
    ------
    ModelError
        If no model has that name.
    """
    if name in _USER:
        return _USER[name]
    if name not in BUILTIN_MODELS:
        raise ModelError(
            f"unknown model {name!r}; available: {', '.join(available_models())}", path="model"
        ) from None
    cls = load_factory(name)
    factory = getattr(cls, "from_config", cls)
    info = getattr(cls, "info", None)
    if info is not None:  # a venue preset: its catalog entry names it
        return ModelInfo(name, info.title, info.sources[0], factory)
    return ModelInfo(name, cls.description, cls.source, factory)


def get_model(name: str, config: RiskConfig) -> MarginModel:
    """Build the model registered as ``name`` with ``config``.

    Raises
    ------
    ModelError
        If no model has that name.
    """
    return model_info(name).factory(config)
