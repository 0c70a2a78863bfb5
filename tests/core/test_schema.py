"""``crossmargin schema portfolio|market|config``: JSON Schemas that agree with the parsers.

No JSON-Schema library is a dependency, so a small validator for the subset pydantic emits
(``$ref``, ``type``, ``properties``, ``required``, ``additionalProperties``, ``items``,
``anyOf``/``oneOf``, ``enum``/``const``, ``minItems``/``minLength``) checks that every bundled
example is valid under its schema and that typical mistakes are invalid under it too.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from crossmargin.io.schema import json_schema

from .helpers import invoke

_TYPES = {
    "object": dict,
    "array": list,
    "string": str,
    "boolean": bool,
    "null": type(None),
}


def valid(schema: dict[str, Any], value: Any, root: dict[str, Any]) -> bool:
    if "$ref" in schema:
        name = schema["$ref"].removeprefix("#/$defs/")
        return valid(root["$defs"][name], value, root)
    if "anyOf" in schema and not any(valid(s, value, root) for s in schema["anyOf"]):
        return False
    if "oneOf" in schema and sum(valid(s, value, root) for s in schema["oneOf"]) != 1:
        return False
    if "enum" in schema and value not in schema["enum"]:
        return False
    if "const" in schema and value != schema["const"]:
        return False
    t = schema.get("type")
    if t is not None:
        types = t if isinstance(t, list) else [t]
        ok = False
        for name in types:
            if name == "number":
                ok |= isinstance(value, int | float) and not isinstance(value, bool)
            elif name == "integer":
                ok |= isinstance(value, int) and not isinstance(value, bool)
            else:
                ok |= isinstance(value, _TYPES[name])
        if not ok:
            return False
    if isinstance(value, dict):
        props = schema.get("properties", {})
        if any(r not in value for r in schema.get("required", [])):
            return False
        extra = schema.get("additionalProperties", True)
        for k, v in value.items():
            if k in props:
                if not valid(props[k], v, root):
                    return False
            elif extra is False or (isinstance(extra, dict) and not valid(extra, v, root)):
                return False
    if isinstance(value, list):
        if len(value) < schema.get("minItems", 0):
            return False
        if "items" in schema and not all(valid(schema["items"], v, root) for v in value):
            return False
    return not (isinstance(value, str) and len(value) < schema.get("minLength", 0))


def schema_of(kind: str) -> dict[str, Any]:
    r = invoke("schema", kind)
    assert r.exit_code == 0, r.stderr
    s = json.loads(r.stdout)
    assert s == json_schema(kind)  # type: ignore[arg-type]
    assert s["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    return s  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    "name", ["crypto_book.json", "hedged_book.json", "index_book.json", "venue_accounts.json"]
)
def test_example_portfolios_are_valid(examples: Path, name: str) -> None:
    s = schema_of("portfolio")
    assert valid(s, json.loads((examples / name).read_text()), s)


@pytest.mark.parametrize("name", ["market_crypto.json", "market_index.json", "market_venue.json"])
def test_example_markets_are_valid(examples: Path, name: str) -> None:
    s = schema_of("market")
    assert valid(s, json.loads((examples / name).read_text()), s)


def test_shipped_config_is_valid() -> None:
    from importlib import resources

    s = schema_of("config")
    text = resources.files("crossmargin.config").joinpath("default_risk.yaml").read_text("utf-8")
    # as JSON: YAML's native dates become ISO strings (the schema's "format": "date")
    as_json = json.loads(json.dumps(yaml.safe_load(text), default=str))
    assert valid(s, as_json, s)


@pytest.mark.parametrize(
    "mutate",
    [
        lambda d: d.pop("account"),
        lambda d: d.update(extra=1),
        lambda d: d["positions"][0].pop("quantity"),
        lambda d: d["positions"][0].pop("instrument"),
        lambda d: d["positions"][0].update(qty=1),
        lambda d: d["positions"][0].update(quantity="1"),
        lambda d: d["collateral"].update(USDC="lots"),
        lambda d: d.update(accounts=[]),
    ],
)
def test_portfolio_schema_rejects_what_the_parser_rejects(examples: Path, mutate: Any) -> None:
    from crossmargin import portfolios_from_obj
    from crossmargin.errors import InputError

    s = schema_of("portfolio")
    d = copy.deepcopy(json.loads((examples / "crypto_book.json").read_text()))
    mutate(d)
    assert not valid(s, d, s)
    with pytest.raises(InputError):
        portfolios_from_obj(d)


@pytest.mark.parametrize(
    "mutate",
    [
        lambda d: d.pop("as_of"),
        lambda d: d["assets"]["BTC"].pop("price"),
        lambda d: d["assets"]["BTC"].update(colour="orange"),
        lambda d: d["assets"]["BTC"]["expiries"]["26DEC26"].update(forwrd=1.0),
        lambda d: d["assets"]["BTC"].update(price="65000"),
    ],
)
def test_market_schema_rejects_what_the_parser_rejects(examples: Path, mutate: Any) -> None:
    from crossmargin import market_from_obj
    from crossmargin.errors import InputError

    s = schema_of("market")
    d = copy.deepcopy(json.loads((examples / "market_crypto.json").read_text()))
    mutate(d)
    assert not valid(s, d, s)
    with pytest.raises(InputError):
        market_from_obj(d)


def test_unknown_schema_kind_is_a_usage_error() -> None:
    r = invoke("schema", "trades")
    assert r.exit_code == 2 and "Traceback" not in r.stderr
