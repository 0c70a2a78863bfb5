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
from functools import partial
from types import MappingProxyType
from typing import Any, ClassVar, Protocol, runtime_checkable

from crossmargin.config import RiskConfig
from crossmargin.errors import ConfigError, ModelError
from crossmargin.margin.result import MarginBatch
from crossmargin.resolve.book import ResolvedBook

__all__ = [
    "BUILTIN_MODELS",
    "BUILTIN_PRESETS",
    "MarginModel",
    "ModelInfo",
    "ModelVariant",
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


@dataclass(frozen=True, slots=True)
class ModelVariant:
    """Base of a model class that serves several registry names (e.g. ``isolated``/``cross``).

    A subclass sets :attr:`ABOUT` (name → description, source), narrows ``name`` to its names
    and writes ``compute``; :meth:`info` is the registry entry of one of its names.
    """

    ABOUT: ClassVar[Mapping[str, tuple[str, str]]]

    config: RiskConfig
    name: str

    @property
    def description(self) -> str:
        """One-line description."""
        return self.ABOUT[self.name][0]

    def compute(self, book: ResolvedBook, *, detail: bool = False) -> MarginBatch:
        """Compute every account's requirement (the subclass's methodology)."""
        raise NotImplementedError

    @classmethod
    def info(cls, name: str) -> ModelInfo:
        """Registry entry of ``name``: its description and source, built by ``cls(config)``."""
        return ModelInfo(name, *cls.ABOUT[name], partial(cls, name=name))


#: The built-in models, in listing order: name → ``"module:attribute"``. Nothing is imported (and
#: nothing registers itself) until a model is used: :func:`model_info` imports its module then.
#: The attribute is a :class:`ModelInfo`, a model class with ``description`` and ``source``
#: class attributes (built with ``Class(config)``), or an object with a ``model_info()`` method
#: (a venue preset's catalog entry, :class:`crossmargin.margin.presets.PresetInfo`).
BUILTIN_MODELS: Mapping[str, str] = MappingProxyType(
    {
        "isolated": "crossmargin.margin.standard:ISOLATED",
        "cross": "crossmargin.margin.standard:CROSS",
        "portfolio": "crossmargin.margin.portfolio:PortfolioMargin",
        "deribit-pm": "crossmargin.margin.presets.deribit:INFO",
        "derive-pmrm2": "crossmargin.margin.presets.derive.model:INFO",
        "drift-v2": "crossmargin.margin.presets.drift:INFO",
        "dydx-v4": "crossmargin.margin.presets.dydx:INFO",
        "okx-pm": "crossmargin.margin.presets.okx:INFO",
        "paradex-pm": "crossmargin.margin.presets.paradex:INFO",
        "span": "crossmargin.margin.presets.span.model:INFO",
        "var": "crossmargin.margin.var:VAR",
        "es": "crossmargin.margin.var:ES",
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
    """Register (or replace) a model under ``info.name`` (user models; built-ins are static).

    Raises
    ------
    ModelError
        ``info`` is not a :class:`ModelInfo` with a name and a callable factory.
    """
    if not isinstance(info, ModelInfo):
        raise ModelError(f"must be a ModelInfo, got {type(info).__name__}", path="model")
    if not isinstance(info.name, str) or not info.name.strip() or not callable(info.factory):
        raise ModelError("a model needs a non-empty name and a callable factory", path="model")
    _USER[info.name] = info


def available_models() -> tuple[str, ...]:
    """Names of the built-in models (in listing order), then those of registered user models."""
    return (*BUILTIN_MODELS, *(n for n in _USER if n not in BUILTIN_MODELS))


def load_factory(name: str) -> Any:
    """The registry attribute of built-in model ``name`` (imports its module)."""
    module, _, attr = BUILTIN_MODELS[name].partition(":")
    return getattr(importlib.import_module(module), attr)


def model_info(name: str) -> ModelInfo:
    """Registry entry of ``name``.

    Raises
    ------
    ModelError
        If no model has that name (or ``name`` is not a string).
    """
    if not isinstance(name, str):
        raise ModelError(f"model name must be a string, got {type(name).__name__}", path="model")
    if name in _USER:
        return _USER[name]
    if name not in BUILTIN_MODELS:
        raise ModelError(
            f"unknown model {name!r}; available: {', '.join(available_models())}", path="model"
        ) from None
    entry = load_factory(name)
    if isinstance(entry, ModelInfo):
        return entry
    if hasattr(entry, "model_info"):  # a venue preset's catalog entry
        info: ModelInfo = entry.model_info()
        return info
    return ModelInfo(name, entry.description, entry.source, entry)


def get_model(name: str, config: RiskConfig) -> MarginModel:
    """Build the model registered as ``name`` with ``config``.

    Raises
    ------
    ModelError
        If no model has that name.
    ConfigError
        If ``config`` is not a :class:`~crossmargin.config.RiskConfig`.
    """
    info = model_info(name)
    if not isinstance(config, RiskConfig):
        raise ConfigError(
            f"must be a RiskConfig (see load_config, default_config), got {type(config).__name__}",
            path="config",
        )
    return info.factory(config)
