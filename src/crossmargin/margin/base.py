"""The margin-model protocol and the registry of models by name.

A model is anything with a ``name``, a one-line ``description`` and
``compute(resolved_book, *, detail=False) -> MarginBatch``. Models register a factory taking the
risk configuration; ``get_model("portfolio", config)`` builds one. Venue presets and the VaR/ES
models plug in the same way (``register_model``).
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from crossmargin.config import RiskConfig
from crossmargin.errors import ConfigError, ModelError
from crossmargin.margin.result import MarginBatch
from crossmargin.resolve.book import ResolvedBook

__all__ = [
    "MarginModel",
    "ModelInfo",
    "available_models",
    "get_model",
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


_REGISTRY: dict[str, ModelInfo] = {}


def register_model(info: ModelInfo) -> None:
    """Register (or replace) a model under ``info.name``.

    Raises
    ------
    ModelError
        ``info`` is not a :class:`ModelInfo` with a name and a callable factory.
    """
    if not isinstance(info, ModelInfo):
        raise ModelError(f"must be a ModelInfo, got {type(info).__name__}", path="model")
    if not isinstance(info.name, str) or not info.name.strip() or not callable(info.factory):
        raise ModelError("a model needs a non-empty name and a callable factory", path="model")
    _REGISTRY[info.name] = info


def available_models() -> tuple[str, ...]:
    """Names of the registered models, in registration order."""
    _ensure_builtin()
    return tuple(_REGISTRY)


def model_info(name: str) -> ModelInfo:
    """Registry entry of ``name``."""
    _ensure_builtin()
    if not isinstance(name, str):
        raise ModelError(f"model name must be a string, got {type(name).__name__}", path="model")
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ModelError(
            f"unknown model {name!r}; available: {', '.join(_REGISTRY)}", path="model"
        ) from None


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


_LOADED = False


def _ensure_builtin() -> None:
    """Import every module under :mod:`crossmargin.margin` (models register on import)."""
    global _LOADED
    if _LOADED:
        return
    _LOADED = True
    import crossmargin.margin as pkg

    for mod in pkgutil.walk_packages(pkg.__path__, prefix="crossmargin.margin."):
        importlib.import_module(mod.name)
