"""crossmargin — cross-margining and portfolio margin of derivatives.

A portfolio and a market snapshot in, a traceable margin out::

    import crossmargin as cm

    market = cm.load_market("examples/market_crypto.json")
    portfolios, _ = cm.load_portfolios("examples/crypto_book.json")
    res = cm.compute_margin(portfolios, market, model="portfolio")
    print(res.initial_margin[0], res.status(0))
    cm.account_dict(res, 0)          # the JSON contract, with breakdown and add-ons

The path a number travels: parse + validate (:mod:`crossmargin.io`) → resolve against market
data and configuration (:mod:`crossmargin.resolve`) → scenario P&L per contract
(:mod:`crossmargin.risk`) → margin model (:mod:`crossmargin.margin`) → collateral and account
health (:mod:`crossmargin.account`). See docs/architecture.md.
"""

from __future__ import annotations

import sys
import types
from typing import TYPE_CHECKING, Any

from crossmargin._lazy import lazy_exports

if TYPE_CHECKING:
    from crossmargin.account import STATUSES, AccountResults, account_dict, assess
    from crossmargin.comparison import comparison_dict
    from crossmargin.config import RiskConfig, default_config, load_config
    from crossmargin.engine import compare, compute_margin, margin_book, margin_resolved
    from crossmargin.errors import (
        ConfigError,
        CrossMarginError,
        InputError,
        LiquidationError,
        MarketDataError,
        ModelError,
    )
    from crossmargin.explain import explain_dict
    from crossmargin.instruments import (
        Book,
        Future,
        Option,
        Perpetual,
        Portfolio,
        Position,
        Spot,
        contract_from_fields,
        parse_instrument,
    )
    from crossmargin.io import load_market, load_portfolios, market_from_obj, portfolios_from_obj
    from crossmargin.kernels import black76_greeks, black76_price
    from crossmargin.margin import MarginModel, available_models, get_model, register_model
    from crossmargin.market import (
        AssetMarket,
        ExpiryMarket,
        FlatVol,
        MarketSnapshot,
        SmileVol,
        SVIVol,
    )
    from crossmargin.pricing import price_contracts
    from crossmargin.resolve import ResolvedBook, resolve
    from crossmargin.whatif import Trade, parse_trade, whatif

# Names are imported on first use (PEP 562): `import crossmargin` and the command line's start-up
# stay light, a name pulls in only the modules it needs (pandas, scipy, pyarrow where used).
_HOME: dict[str, str] = {
    "STATUSES": "crossmargin.account",
    "AccountResults": "crossmargin.account",
    "account_dict": "crossmargin.account",
    "assess": "crossmargin.account",
    "comparison_dict": "crossmargin.comparison",
    "RiskConfig": "crossmargin.config",
    "default_config": "crossmargin.config",
    "load_config": "crossmargin.config",
    "compare": "crossmargin.engine",
    "compute_margin": "crossmargin.engine",
    "margin_book": "crossmargin.engine",
    "margin_resolved": "crossmargin.engine",
    "ConfigError": "crossmargin.errors",
    "CrossMarginError": "crossmargin.errors",
    "InputError": "crossmargin.errors",
    "LiquidationError": "crossmargin.errors",
    "MarketDataError": "crossmargin.errors",
    "ModelError": "crossmargin.errors",
    "explain_dict": "crossmargin.explain",
    "Book": "crossmargin.instruments",
    "Future": "crossmargin.instruments",
    "Option": "crossmargin.instruments",
    "Perpetual": "crossmargin.instruments",
    "Portfolio": "crossmargin.instruments",
    "Position": "crossmargin.instruments",
    "Spot": "crossmargin.instruments",
    "contract_from_fields": "crossmargin.instruments",
    "parse_instrument": "crossmargin.instruments",
    "load_market": "crossmargin.io",
    "load_portfolios": "crossmargin.io",
    "market_from_obj": "crossmargin.io",
    "portfolios_from_obj": "crossmargin.io",
    "black76_greeks": "crossmargin.kernels",
    "black76_price": "crossmargin.kernels",
    "MarginModel": "crossmargin.margin",
    "available_models": "crossmargin.margin",
    "get_model": "crossmargin.margin",
    "register_model": "crossmargin.margin",
    "AssetMarket": "crossmargin.market",
    "ExpiryMarket": "crossmargin.market",
    "FlatVol": "crossmargin.market",
    "MarketSnapshot": "crossmargin.market",
    "SmileVol": "crossmargin.market",
    "SVIVol": "crossmargin.market",
    "price_contracts": "crossmargin.pricing",
    "ResolvedBook": "crossmargin.resolve",
    "resolve": "crossmargin.resolve",
    "Trade": "crossmargin.whatif",
    "parse_trade": "crossmargin.whatif",
    "whatif": "crossmargin.whatif",
}

__version__ = "0.1.0"

__all__ = [
    "STATUSES",
    "AccountResults",
    "AssetMarket",
    "Book",
    "ConfigError",
    "CrossMarginError",
    "ExpiryMarket",
    "FlatVol",
    "Future",
    "InputError",
    "LiquidationError",
    "MarginModel",
    "MarketDataError",
    "MarketSnapshot",
    "ModelError",
    "Option",
    "Perpetual",
    "Portfolio",
    "Position",
    "ResolvedBook",
    "RiskConfig",
    "SVIVol",
    "SmileVol",
    "Spot",
    "Trade",
    "__version__",
    "account_dict",
    "assess",
    "available_models",
    "black76_greeks",
    "black76_price",
    "compare",
    "comparison_dict",
    "compute_margin",
    "contract_from_fields",
    "default_config",
    "explain_dict",
    "get_model",
    "load_config",
    "load_market",
    "load_portfolios",
    "margin_book",
    "margin_resolved",
    "market_from_obj",
    "parse_instrument",
    "parse_trade",
    "portfolios_from_obj",
    "price_contracts",
    "register_model",
    "resolve",
    "whatif",
]


#: Public functions named like the submodule that defines them (``crossmargin.resolve.resolve``).
_SAME_NAME = frozenset({"resolve", "whatif"})


class _Package(types.ModuleType):
    """Keeps ``crossmargin.resolve`` the function when its submodule is imported later.

    Importing ``crossmargin.resolve`` (the module) binds it as an attribute of the package; with
    the names loaded on demand that would replace the public function of the same name, so such
    a binding is not stored (the module stays reachable through ``sys.modules``).
    """

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _SAME_NAME and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package


__getattr__, __dir__ = lazy_exports(__name__, _HOME, __all__)
