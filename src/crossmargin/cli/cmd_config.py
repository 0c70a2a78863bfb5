"""``config show``: the effective risk configuration and where each value comes from."""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Annotated, Any

import typer

from crossmargin.cli.common import ConfigOpt
from crossmargin.cli.errors import handle_errors
from crossmargin.cli.lazy import command_set

app = command_set()  # this module's commands (crossmargin.cli.lazy loads it on use)
config_app = typer.Typer(
    help="The risk configuration: the shipped defaults overlaid by your file, with each "
    "value's source.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
app.add_typer(config_app, name="config")

__all__ = ["annotated_yaml", "show"]


class ShowFormat(StrEnum):
    """Output of ``config show``."""

    yaml = "yaml"
    json = "json"


def _scalar(value: Any) -> str:
    import yaml

    text: str = yaml.safe_dump(value, default_flow_style=True, width=10_000)
    return text.strip().removesuffix("...").strip()


def annotated_yaml(
    data: dict[str, Any], sources: dict[str, str], *, only: str = "", prefix: bool = False
) -> str:
    """The effective configuration as YAML, each value followed by ``# <source>``.

    The text is itself a valid configuration file (a comment does not change a value).
    ``only`` keeps the values from that source (and the keys leading to them); with
    ``prefix``, also those whose source starts with it.
    """
    lines: list[str] = []

    def walk(node: dict[str, Any], path: tuple[str, ...], indent: int) -> bool:
        wrote = False
        for key, value in node.items():
            p = (*path, str(key))
            pad = "  " * indent
            k = _scalar(str(key))
            if isinstance(value, dict) and value:
                mark = len(lines)
                lines.append(f"{pad}{k}:")
                if walk(value, p, indent + 1):
                    wrote = True
                else:
                    del lines[mark:]
                continue
            src = sources.get(".".join(p), "")
            if only and src != only and not (prefix and src.startswith(only + " ")):
                continue
            lines.append(f"{pad}{k}: {_scalar(value)}  # {src}")
            wrote = True
        return wrote

    walk(data, (), 0)
    return "\n".join(lines) + "\n"


@config_app.command("show")
@handle_errors
def show(
    config: ConfigOpt = None,
    fmt: Annotated[
        ShowFormat,
        typer.Option(
            "--format", "-f", help="yaml (annotated with each value's source; a valid file) or json"
        ),
    ] = ShowFormat.yaml,
    changed: Annotated[
        bool,
        typer.Option("--changed", help="Only the values your --config file sets"),
    ] = False,
) -> None:
    """Print the effective configuration: each value and its source (your file or the defaults).

    A configuration file holds only what it changes: mappings merge key by key, a list or a
    value replaces the default, ``null`` removes a key (see docs/formats.md, "Risk
    configuration").
    """
    from crossmargin.config import config_layers

    eff = config_layers(config)
    data = eff.config.model_dump(mode="json")
    user = str(config) if config is not None else ""
    if changed and config is None:
        from crossmargin.errors import InputError

        raise InputError("needs --config FILE (the values it changes)", path="--changed")
    if fmt is ShowFormat.json:
        sources = {k: v for k, v in eff.sources.items() if not changed or v == user}
        doc = {
            "layers": list(eff.layers),
            "config": data,
            "sources": sources,
            "removed": list(eff.removed),
        }
        print(json.dumps(doc, indent=2, allow_nan=False))
        return
    # a key removed with null is shown as null, so that the text reloads to the same config
    sources = dict(eff.sources)
    for path in eff.removed:
        *parents, key = path.split(".")
        node = data
        for part in parents:
            node = node.setdefault(part, {})
        node[key] = None
        sources[path] = f"{user} (null: removed)"
    print("# effective risk configuration; layers: " + " <- ".join(eff.layers))
    print(annotated_yaml(data, sources, only=user if changed else "", prefix=True), end="")
