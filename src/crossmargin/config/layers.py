"""Configuration files as overlays over the shipped defaults, and where each value comes from.

A user's YAML file needs to hold only what it changes: it is merged over the shipped
``default_risk.yaml`` and the result is validated as a whole, so an unknown key or a wrong type
is still refused naming its full path (``config.risk_classes.crypto.grid.vol_upp: unknown
field``).

Merge rules (the same as Helm's values files):

* a mapping merges key by key, recursively (``risk_classes.crypto.grid.vol_up: 0.6`` changes
  that one number and keeps the rest of the crypto class);
* a list or a scalar replaces the default's whole value (``tail_moves: [-0.5, 1.0]``,
  ``inter_commodity: []`` removes every default spread);
* ``null`` removes the key: a field falls back to its schema default (``default_risk_class:
  null`` makes an unmapped underlying an error, as before), an entry of a map is dropped
  (``collateral: {WBTC: null}``), a required field left without a value is refused.

:func:`config_layers` also reports the source of every effective value: the user's file, the
shipped defaults, or the schema's built-in default (a field the defaults file does not set).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crossmargin.config.model import DEFAULTS_FILE, RiskConfig, config_from_dict, default_data
from crossmargin.errors import ConfigError
from crossmargin.limits import load_yaml_bounded

__all__ = ["BUILT_IN", "EffectiveConfig", "config_layers", "load_config", "merge_overlay"]

#: Source of a value that neither the user's file nor ``default_risk.yaml`` sets.
BUILT_IN = "built-in default"


@dataclass(frozen=True, slots=True)
class EffectiveConfig:
    """A validated configuration with the source of each of its values.

    Attributes
    ----------
    config
        The validated configuration.
    layers
        The sources merged, first to last (``default_risk.yaml``, then the user's file).
    sources
        Dotted path of every leaf (a scalar, a list or an empty mapping) → the layer that set
        it, or :data:`BUILT_IN`.
    removed
        Dotted paths the user's file removed with ``null``.
    """

    config: RiskConfig
    layers: tuple[str, ...]
    sources: dict[str, str]
    removed: tuple[str, ...] = ()


def merge_overlay(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """``over`` merged into a copy of ``base`` (see the module docstring for the rules)."""
    out = copy.deepcopy(dict(base))
    for key, value in over.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merge_overlay(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def config_layers(path: str | Path | None = None) -> EffectiveConfig:
    """The shipped defaults, overlaid by the YAML file at ``path`` (if any), validated.

    Raises
    ------
    ConfigError
        If the file is missing, not YAML, over an input limit, not a mapping, or the merged
        configuration violates the schema (naming the key path, ``config.<path>``).
    """
    defaults = default_data()
    layers = [DEFAULTS_FILE]
    data = defaults
    over: dict[str, Any] = {}
    if path is not None:
        raw = load_yaml_bounded(path, what="config", error=ConfigError)
        if not isinstance(raw, dict):
            raise ConfigError("must be a mapping (the fields to change)", path="config")
        over = raw
        data = merge_overlay(defaults, over)
        layers.append(str(path))
    cfg = config_from_dict(data, source="config")
    effective = cfg.model_dump(mode="json")
    sources: dict[str, str] = {}
    _attribute(effective, (), defaults, over, str(path), sources)
    return EffectiveConfig(cfg, tuple(layers), sources, tuple(_nulls(over, ())))


def load_config(path: str | Path) -> RiskConfig:
    """Load a risk configuration YAML file: an overlay over the shipped defaults.

    The file is read under the input limits (:func:`crossmargin.limits.load_yaml_bounded`):
    duplicate keys, over-long numbers or strings and deep nesting are refused. It may hold only
    the values it changes (merge rules: :mod:`crossmargin.config.layers`).

    Raises
    ------
    ConfigError
        If the file is missing, not YAML, over a limit, or the merged configuration violates the
        schema (naming the key path).
    """
    if not isinstance(path, str | Path):
        raise ConfigError(
            f"must be a file path, got {type(path).__name__} (default_config() for the defaults)",
            path="config",
        )
    return config_layers(path).config


def _is_set(data: Any, path: tuple[str, ...]) -> bool:
    """Whether ``data`` sets the value at ``path`` (itself, or a list or scalar above it)."""
    node = data
    for key in path:
        if not isinstance(node, Mapping) or key not in node:
            return False
        node = node[key]
        if not isinstance(node, Mapping):
            return True  # a list or scalar at or above the leaf sets all of it
    return True


def _nulls(node: Mapping[str, Any], path: tuple[str, ...]) -> list[str]:
    out: list[str] = []
    for k, v in node.items():
        if v is None:
            out.append(".".join((*path, str(k))))
        elif isinstance(v, Mapping):
            out += _nulls(v, (*path, str(k)))
    return out


def _attribute(
    node: Any,
    path: tuple[str, ...],
    defaults: Mapping[str, Any],
    over: Mapping[str, Any],
    user: str,
    out: dict[str, str],
) -> None:
    if isinstance(node, dict) and node:
        for k, v in node.items():
            _attribute(v, (*path, str(k)), defaults, over, user, out)
        return
    dotted = ".".join(path)
    if _is_set(over, path):
        out[dotted] = user
    elif _is_set(defaults, path):
        out[dotted] = DEFAULTS_FILE
    else:
        out[dotted] = BUILT_IN
