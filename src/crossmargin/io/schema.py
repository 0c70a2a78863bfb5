"""JSON Schemas of the input files (``crossmargin schema portfolio|market|config``)."""

from __future__ import annotations

from typing import Any, Literal

from crossmargin.config.model import RiskConfig
from crossmargin.io.market import MarketIn
from crossmargin.io.portfolio import PortfolioFile, PortfolioIn

__all__ = ["SCHEMAS", "json_schema"]

SCHEMAS = ("portfolio", "market", "config")


def json_schema(kind: Literal["portfolio", "market", "config"]) -> dict[str, Any]:
    """The JSON Schema of a portfolio, market snapshot or risk configuration file."""
    if kind == "portfolio":
        one = PortfolioIn.model_json_schema()
        many = PortfolioFile.model_json_schema()
        defs = {**one.pop("$defs", {}), **many.pop("$defs", {})}
        return {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "title": "crossmargin portfolio",
            "description": 'One account, or {"accounts": [...]} for several.',
            "oneOf": [one, many],
            "$defs": defs,
        }
    model = MarketIn if kind == "market" else RiskConfig
    schema = model.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = f"crossmargin {kind}"
    return schema
