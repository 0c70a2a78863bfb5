"""Bad-argument probes of every name in ``crossmargin.__all__`` (issue 9, library API).

Each probe calls a public function or constructor with a bad argument (wrong type, ``None``,
NaN, inf, a negative or zero where a positive is needed, a naive or out-of-range datetime, an
empty or mismatched container, an unknown name) and must raise a
:class:`~crossmargin.errors.CrossMarginError` subclass — never a ``TypeError``,
``AttributeError``, ``IndexError``, ``OverflowError`` ... and never compute silently.

``PROBES`` is a list of ``(label, thunk)``; ``run_probes`` classifies each outcome.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np

import crossmargin as cm
from crossmargin.errors import CrossMarginError

NAN, INF = math.nan, math.inf
AS_OF = datetime(2026, 11, 22, 8, tzinfo=UTC)
DEC26 = datetime(2026, 12, 26, 8, tzinfo=UTC)
NAIVE = datetime(2026, 12, 26, 8)
FAR = datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=5)))
EXAMPLES = Path(cm.__file__).parent / "examples"

Probe = tuple[str, Callable[[], Any]]


def _market() -> cm.MarketSnapshot:
    return cm.load_market(EXAMPLES / "market_crypto.json")


def _portfolio() -> cm.Portfolio:
    return cm.load_portfolios(EXAMPLES / "crypto_book.json")[0][0]


def _result() -> cm.AccountResults:
    return cm.compute_margin(_portfolio(), _market())


def _opt(**kw: Any) -> Callable[[], Any]:
    args: dict[str, Any] = {
        "underlying": "BTC",
        "expiry": DEC26,
        "strike": 70_000.0,
        "right": "call",
    }
    args.update(kw)
    return lambda: cm.Option(**args)


def _resolved_parts() -> tuple[Any, ...]:
    rb = _result().book
    return (rb.book, rb.snapshot, rb.config, rb.instruments, rb.positions, rb.collateral, rb.fx)


def _book(**kw: Any) -> Callable[[], Any]:
    c = cm.Perpetual("BTC")
    args: dict[str, Any] = {
        "accounts": ("a",),
        "base_currency": ("USD",),
        "contracts": (c,),
        "pos_account": np.array([0]),
        "pos_instrument": np.array([0]),
        "pos_quantity": np.array([1.0]),
        "pos_entry": np.array([np.nan]),
        "assets": ("USD",),
        "col_account": np.array([0]),
        "col_asset": np.array([0]),
        "col_amount": np.array([100.0]),
    }
    args.update(kw)
    return lambda: cm.Book(**args)


def _asset(**kw: Any) -> Callable[[], Any]:
    args: dict[str, Any] = {"price": 65_000.0}
    args.update(kw)
    return lambda: cm.AssetMarket(**args)


def _snap(**kw: Any) -> Callable[[], Any]:
    args: dict[str, Any] = {"as_of": AS_OF, "assets": {"BTC": cm.AssetMarket(65_000.0)}}
    args.update(kw)
    return lambda: cm.MarketSnapshot(**args)


def _margin(*args: Any, **kw: Any) -> Callable[[], Any]:
    def run() -> Any:
        a = list(args) + [None] * (2 - len(args))
        pf = _portfolio() if a[0] == "pf" else a[0]
        mk = _market() if a[1] == "mk" else a[1]
        return cm.compute_margin(pf, mk, **kw)

    return run


def _probes() -> list[Probe]:
    p: list[Probe] = []
    add = p.append
    # -- contracts ---------------------------------------------------------------------------
    add(("Option strike 0", _opt(strike=0)))
    add(("Option strike -1", _opt(strike=-1)))
    add(("Option strike NaN", _opt(strike=NAN)))
    add(("Option strike inf", _opt(strike=INF)))
    add(("Option strike '5'", _opt(strike="5")))
    add(("Option strike True", _opt(strike=True)))
    add(("Option strike 10**400", _opt(strike=10**400)))
    add(("Option right straddle", _opt(right="straddle")))
    add(("Option right None", _opt(right=None)))
    add(("Option settlement quanto", _opt(settlement="quanto")))
    add(("Option multiplier -1", _opt(multiplier=-1)))
    add(("Option multiplier 0", _opt(multiplier=0)))
    add(("Option naive expiry", _opt(expiry=NAIVE)))
    add(("Option expiry year 1", _opt(expiry=FAR)))
    add(("Option expiry str", _opt(expiry="26DEC26")))
    add(("Option expiry None", _opt(expiry=None)))
    add(("Option underlying empty", _opt(underlying="")))
    add(("Option underlying None", _opt(underlying=None)))
    add(("Option underlying with dash", _opt(underlying="BTC-USD")))
    add(("Future naive expiry", lambda: cm.Future("BTC", NAIVE)))
    add(("Future kind option", lambda: cm.Future("BTC", DEC26, kind="option")))  # type: ignore[arg-type]
    add(("Perpetual multiplier NaN", lambda: cm.Perpetual("BTC", multiplier=NAN)))
    add(("Perpetual underlying 3", lambda: cm.Perpetual(3)))  # type: ignore[arg-type]
    add(("Spot settlement None", lambda: cm.Spot("BTC", None)))  # type: ignore[arg-type]
    # -- positions, portfolios ---------------------------------------------------------------
    perp = cm.Perpetual("BTC")
    add(("Position quantity '5'", lambda: cm.Position(perp, "5")))  # type: ignore[arg-type]
    add(("Position quantity True", lambda: cm.Position(perp, True)))
    add(("Position quantity NaN", lambda: cm.Position(perp, NAN)))
    add(("Position quantity None", lambda: cm.Position(perp, None)))  # type: ignore[arg-type]
    add(("Position quantity 10**400", lambda: cm.Position(perp, 10**400)))
    add(("Position entry -1", lambda: cm.Position(perp, 1.0, -1.0)))
    add(("Position entry 0", lambda: cm.Position(perp, 1.0, 0.0)))
    add(("Position contract str", lambda: cm.Position("BTC-PERP", 1.0)))  # type: ignore[arg-type]
    add(("Position contract None", lambda: cm.Position(None, 1.0)))  # type: ignore[arg-type]
    add(("Portfolio account None", lambda: cm.Portfolio(None)))  # type: ignore[arg-type]
    add(("Portfolio account blank", lambda: cm.Portfolio("  ")))
    add(("Portfolio base ccy bad", lambda: cm.Portfolio("a", "US D")))
    add(("Portfolio collateral list", lambda: cm.Portfolio("a", "USD", [1, 2])))  # type: ignore[arg-type]
    add(("Portfolio collateral NaN", lambda: cm.Portfolio("a", "USD", {"USDC": NAN})))
    add(("Portfolio collateral '5'", lambda: cm.Portfolio("a", "USD", {"USDC": "5"})))  # type: ignore[dict-item]
    add(("Portfolio collateral dup", lambda: cm.Portfolio("a", "USD", {"usdc": 1, "USDC": 2})))
    add(("Portfolio positions str", lambda: cm.Portfolio("a", positions="BTC")))  # type: ignore[arg-type]
    add(("Portfolio positions of str", lambda: cm.Portfolio("a", positions=("BTC-PERP",))))  # type: ignore[arg-type]
    add(("Portfolio positions None", lambda: cm.Portfolio("a", positions=None)))  # type: ignore[arg-type]
    # -- books -------------------------------------------------------------------------------
    add(("Book mismatched lengths", _book(pos_quantity=np.array([1.0, 2.0]))))
    add(("Book instrument out of range", _book(pos_instrument=np.array([3]))))
    add(("Book account out of range", _book(pos_account=np.array([-1]))))
    add(("Book NaN quantity", _book(pos_quantity=np.array([np.nan]))))
    add(("Book negative entry", _book(pos_entry=np.array([-5.0]))))
    add(("Book string quantities", _book(pos_quantity=np.array(["1"]))))
    add(("Book 2-D quantities", _book(pos_quantity=np.ones((1, 1)))))
    add(("Book base ccy count", _book(base_currency=("USD", "EUR"))))
    add(("Book contracts of str", _book(contracts=("BTC-PERP",))))
    add(("Book accounts None", _book(accounts=None)))
    add(("Book collateral asset range", _book(col_asset=np.array([5]))))
    add(("Book from_portfolios of str", lambda: cm.Book.from_portfolios(["a"])))  # type: ignore[list-item]
    # -- market data -------------------------------------------------------------------------
    add(("AssetMarket confidence NaN", _asset(confidence=NAN)))
    add(("AssetMarket confidence 2", _asset(confidence=2.0)))
    add(("AssetMarket price 0", _asset(price=0.0)))
    add(("AssetMarket price None", _asset(price=None)))
    add(("AssetMarket price '1'", _asset(price="1")))
    add(("AssetMarket vol -0.5", _asset(vol=-0.5)))
    add(("AssetMarket vol 55 (percent)", _asset(vol=55.0)))
    add(("AssetMarket rate -50", _asset(rate=-50.0)))
    add(("AssetMarket naive timestamp", _asset(timestamp=NAIVE)))
    add(("AssetMarket timestamp year 1", _asset(timestamp=FAR)))
    add(("AssetMarket expiries naive key", _asset(expiries={NAIVE: cm.ExpiryMarket(65_000.0)})))
    add(("AssetMarket expiries value float", _asset(expiries={DEC26: 1.0})))
    add(("AssetMarket settlements -1", _asset(settlements={DEC26: -1.0})))
    add(("AssetMarket perp mark NaN", _asset(perp_mark=NAN)))
    add(("AssetMarket expiries list", _asset(expiries=[1, 2])))
    add(("ExpiryMarket forward 0", lambda: cm.ExpiryMarket(forward=0.0)))
    add(("ExpiryMarket discount -1", lambda: cm.ExpiryMarket(discount=-1.0)))
    add(("ExpiryMarket rate inf", lambda: cm.ExpiryMarket(rate=INF)))
    add(("ExpiryMarket surface str", lambda: cm.ExpiryMarket(surface="flat")))  # type: ignore[arg-type]
    add(("ExpiryMarket vol conf NaN", lambda: cm.ExpiryMarket(vol_confidence=NAN)))
    add(("ExpiryMarket fixed > forward", lambda: cm.ExpiryMarket(forward=10.0, forward_fixed=11.0)))
    add(("FlatVol -0.2", lambda: cm.FlatVol(-0.2)))
    add(("FlatVol NaN", lambda: cm.FlatVol(NAN)))
    add(("FlatVol None", lambda: cm.FlatVol(None)))  # type: ignore[arg-type]
    add(("SmileVol unsorted", lambda: cm.SmileVol((2.0, 1.0), (0.5, 0.5))))
    add(("SmileVol mismatched", lambda: cm.SmileVol((1.0, 2.0), (0.5,))))
    add(("SmileVol empty", lambda: cm.SmileVol((), ())))
    add(("SmileVol zero vol", lambda: cm.SmileVol((1.0,), (0.0,))))
    add(("SmileVol None", lambda: cm.SmileVol(None, None)))  # type: ignore[arg-type]
    add(("SVIVol rho 2", lambda: cm.SVIVol(0.01, 0.1, 2.0, 0.0, 0.1)))
    add(("SVIVol negative variance", lambda: cm.SVIVol(-1.0, 0.1, 0.0, 0.0, 0.1)))
    add(("SVIVol sigma 0", lambda: cm.SVIVol(0.01, 0.1, 0.0, 0.0, 0.0)))
    add(("SVIVol b NaN", lambda: cm.SVIVol(0.01, NAN, 0.0, 0.0, 0.1)))
    add(("MarketSnapshot naive as_of", _snap(as_of=NAIVE)))
    add(("MarketSnapshot as_of year 1", _snap(as_of=FAR)))
    add(("MarketSnapshot as_of str", _snap(as_of="2026-11-22T08:00:00Z")))
    add(("MarketSnapshot assets list", _snap(assets=[1])))
    add(("MarketSnapshot asset value float", _snap(assets={"BTC": 65_000.0})))
    add(("MarketSnapshot asset key -PERP", _snap(assets={"-PERP": cm.AssetMarket(1.0)})))
    add(
        (
            "MarketSnapshot duplicate asset",
            _snap(assets={"btc": cm.AssetMarket(1.0), "BTC": cm.AssetMarket(1.0)}),
        )
    )
    add(("MarketSnapshot base ccy price 2", _snap(assets={"USD": cm.AssetMarket(2.0)})))
    add(
        (
            "MarketSnapshot forward 10x spot",
            _snap(
                assets={
                    "BTC": cm.AssetMarket(65_000.0, expiries={DEC26: cm.ExpiryMarket(650_000.0)})
                }
            ),
        )
    )
    add(
        (
            "MarketSnapshot settlement in future",
            _snap(assets={"BTC": cm.AssetMarket(65_000.0, settlements={DEC26: 1.0})}),
        )
    )
    add(("MarketSnapshot base ccy None", _snap(base_currency=None)))
    # -- engine ------------------------------------------------------------------------------
    add(("compute_margin(None, market)", _margin(None, "mk")))
    add(("compute_margin(pf, None)", _margin("pf", None)))
    add(("compute_margin(pf, dict)", _margin("pf", {"as_of": "x"})))
    add(("compute_margin model nope", _margin("pf", "mk", model="nope")))
    add(("compute_margin model None", _margin("pf", "mk", model=None)))
    add(("compute_margin config dict", _margin("pf", "mk", config={"mm_factor": 0.5})))
    add(("compute_margin list of str", _margin(["a"], "mk")))
    add(("compute_margin prefixes short", _margin("pf", "mk", prefixes=[])))
    add(("margin_book(None, market)", lambda: cm.margin_book(None, _market())))  # type: ignore[arg-type]
    add(("margin_book(portfolio, market)", lambda: cm.margin_book(_portfolio(), _market())))  # type: ignore[arg-type]
    add(("margin_resolved(None)", lambda: cm.margin_resolved(None)))  # type: ignore[arg-type]
    add(("compare models nope", lambda: cm.compare(_portfolio(), _market(), models=["nope"])))
    add(("compare models str", lambda: cm.compare(_portfolio(), _market(), models="portfolio")))
    add(("compare market None", lambda: cm.compare(_portfolio(), None)))  # type: ignore[arg-type]
    add(("resolve(None, ...)", lambda: cm.resolve(None, _market(), cm.default_config())))  # type: ignore[arg-type]
    add(
        (
            "resolve(book, market, None)",
            lambda: cm.resolve(cm.Book.from_portfolios([_portfolio()]), _market(), None),
        )
    )  # type: ignore[arg-type]
    add(("assess(None, None)", lambda: cm.assess(None, None)))  # type: ignore[arg-type]
    add(("ResolvedBook of None", lambda: cm.ResolvedBook(None, None, None, None, None, None, None)))  # type: ignore[arg-type]
    add(("ResolvedBook fx short", lambda: cm.ResolvedBook(*_resolved_parts()[:-1], np.ones(3))))
    add(("AccountResults of None", lambda: cm.AccountResults(*([None] * 15))))  # type: ignore[arg-type]
    add(("get_model nope", lambda: cm.get_model("nope", cm.default_config())))
    add(("get_model None", lambda: cm.get_model(None, cm.default_config())))  # type: ignore[arg-type]
    add(("get_model config None", lambda: cm.get_model("portfolio", None)))  # type: ignore[arg-type]
    add(("register_model None", lambda: cm.register_model(None)))  # type: ignore[arg-type]
    # -- reports -----------------------------------------------------------------------------
    add(("account_dict index 5", lambda: cm.account_dict(_result(), 5)))
    add(("account_dict index -1", lambda: cm.account_dict(_result(), -1)))
    add(("account_dict index '0'", lambda: cm.account_dict(_result(), "0")))  # type: ignore[arg-type]
    add(("account_dict None", lambda: cm.account_dict(None, 0)))  # type: ignore[arg-type]
    add(("explain_dict index 9", lambda: cm.explain_dict(_result(), 9)))
    add(("comparison_dict empty", lambda: cm.comparison_dict({}, 0)))
    add(("comparison_dict index 3", lambda: cm.comparison_dict({"portfolio": _result()}, 3)))
    # -- pricing, kernels --------------------------------------------------------------------
    add(
        ("black76_price negative vol", lambda: cm.black76_price(100.0, 100.0, 1.0, -0.2, 1.0, True))
    )
    add(("black76_price NaN forward", lambda: cm.black76_price(NAN, 100.0, 1.0, 0.2, 1.0, True)))
    add(("black76_price inf strike", lambda: cm.black76_price(100.0, INF, 1.0, 0.2, 1.0, True)))
    add(("black76_price inf T", lambda: cm.black76_price(100.0, 100.0, INF, 0.2, 1.0, True)))
    add(
        ("black76_price zero discount", lambda: cm.black76_price(100.0, 100.0, 1.0, 0.2, 0.0, True))
    )
    add(("black76_price str", lambda: cm.black76_price("100", 100.0, 1.0, 0.2, 1.0, True)))  # type: ignore[arg-type]
    add(("black76_price None", lambda: cm.black76_price(None, 100.0, 1.0, 0.2, 1.0, True)))  # type: ignore[arg-type]
    add(
        (
            "black76_price shapes",
            lambda: cm.black76_price([1.0, 2.0], [1.0, 2.0, 3.0], 1.0, 0.2, 1.0, True),
        )
    )
    add(
        (
            "black76_price is_call 'put'",
            lambda: cm.black76_price(100.0, 100.0, 1.0, 0.2, 1.0, "put"),
        )
    )  # type: ignore[arg-type]
    add(
        (
            "black76_greeks zero spot",
            lambda: cm.black76_greeks(0.0, 100.0, 100.0, 1.0, 0.2, 1.0, True),
        )
    )
    add(
        (
            "black76_greeks NaN vol",
            lambda: cm.black76_greeks(100.0, 100.0, 100.0, 1.0, NAN, 1.0, True),
        )
    )
    add(("price_contracts None market", lambda: cm.price_contracts([perp], None)))  # type: ignore[arg-type]
    add(("price_contracts of str", lambda: cm.price_contracts(["BTC-PERP"], _market())))  # type: ignore[list-item]
    add(
        (
            "price_contracts paths short",
            lambda: cm.price_contracts([perp, perp], _market(), paths=["x"]),
        )
    )
    # -- names, trades -----------------------------------------------------------------------
    add(("parse_instrument None", lambda: cm.parse_instrument(None)))  # type: ignore[arg-type]
    add(("parse_instrument -PERP", lambda: cm.parse_instrument("-PERP")))
    add(
        (
            "parse_instrument 10**400 strike",
            lambda: cm.parse_instrument("BTC-26DEC26-" + "9" * 400 + "-C"),
        )
    )
    add(("parse_instrument -INV-INV", lambda: cm.parse_instrument("BTC-PERP-INV-INV")))
    add(("contract_from_fields list", lambda: cm.contract_from_fields(["option"])))  # type: ignore[arg-type]
    add(("contract_from_fields None", lambda: cm.contract_from_fields(None)))  # type: ignore[arg-type]
    add(
        (
            "contract_from_fields big mult",
            lambda: cm.contract_from_fields(
                {"kind": "perp", "underlying": "BTC", "multiplier": 10**400}
            ),
        )
    )
    add(
        (
            "contract_from_fields year 9999",
            lambda: cm.contract_from_fields(
                {"kind": "future", "underlying": "BTC", "expiry": "9999-12-31T23:59:59-01:00"}
            ),
        )
    )
    add(("parse_trade None", lambda: cm.parse_trade(None)))  # type: ignore[arg-type]
    add(("parse_trade qty nan", lambda: cm.parse_trade("BTC-PERP:nan")))
    add(("parse_trade qty 1e400", lambda: cm.parse_trade("BTC-PERP:1e400")))
    add(("parse_trade price -1", lambda: cm.parse_trade("BTC-PERP:1@-1")))
    add(("Trade quantity '5'", lambda: cm.Trade(perp, "5")))  # type: ignore[arg-type]
    add(("Trade quantity 0", lambda: cm.Trade(perp, 0.0)))
    add(("Trade price NaN", lambda: cm.Trade(perp, 1.0, NAN)))
    add(("Trade contract str", lambda: cm.Trade("BTC-PERP", 1.0)))  # type: ignore[arg-type]
    add(("whatif trades of str", lambda: cm.whatif(_portfolio(), _market(), ["BTC-PERP:1"])))  # type: ignore[list-item]
    add(
        (
            "whatif portfolio None",
            lambda: cm.whatif(None, _market(), [cm.parse_trade("BTC-PERP:1")]),
        )
    )  # type: ignore[arg-type]
    add(
        (
            "whatif model nope",
            lambda: cm.whatif(
                _portfolio(), _market(), [cm.parse_trade("BTC-PERP:1")], model="nope"
            ),
        )
    )
    # -- loaders and configuration -----------------------------------------------------------
    add(("load_market None", lambda: cm.load_market(None)))  # type: ignore[arg-type]
    add(("load_market missing", lambda: cm.load_market("/nonexistent/m.json")))
    add(("load_market /dev/null", lambda: cm.load_market("/dev/null")))
    add(("load_portfolios directory", lambda: cm.load_portfolios(EXAMPLES)))
    add(("load_portfolios None", lambda: cm.load_portfolios(None)))  # type: ignore[arg-type]
    add(("load_config None", lambda: cm.load_config(None)))  # type: ignore[arg-type]
    add(("load_config missing", lambda: cm.load_config("/nonexistent/c.yaml")))
    add(("market_from_obj list", lambda: cm.market_from_obj([1])))
    add(
        (
            "market_from_obj as_of year 1",
            lambda: cm.market_from_obj({"as_of": "0001-01-01T00:00:00+05:00"}),
        )
    )
    add(
        (
            "market_from_obj as_of 9999",
            lambda: cm.market_from_obj({"as_of": "9999-12-31T23:59:59-01:00"}),
        )
    )
    add(
        (
            "market_from_obj rate -50",
            lambda: cm.market_from_obj(
                {"as_of": "2026-11-22T08:00:00Z", "assets": {"BTC": {"price": 1.0, "rate": -50}}}
            ),
        )
    )
    add(
        (
            "market_from_obj confidence NaN",
            lambda: cm.market_from_obj(
                {
                    "as_of": "2026-11-22T08:00:00Z",
                    "assets": {"BTC": {"price": 1.0, "confidence": NAN}},
                }
            ),
        )
    )
    add(
        (
            "market_from_obj big int price",
            lambda: cm.market_from_obj(
                {"as_of": "2026-11-22T08:00:00Z", "assets": {"BTC": {"price": 10**400}}}
            ),
        )
    )
    add(("portfolios_from_obj None", lambda: cm.portfolios_from_obj(None)))
    add(
        (
            "portfolios_from_obj quantity True",
            lambda: cm.portfolios_from_obj(
                {"account": "a", "positions": [{"instrument": "BTC-PERP", "quantity": True}]}
            ),
        )
    )
    add(
        (
            "portfolios_from_obj quantity '5'",
            lambda: cm.portfolios_from_obj(
                {"account": "a", "positions": [{"instrument": "BTC-PERP", "quantity": "5"}]}
            ),
        )
    )
    add(
        (
            "portfolios_from_obj big int",
            lambda: cm.portfolios_from_obj({"account": "a", "collateral": {"USDC": 10**400}}),
        )
    )
    add(
        (
            "portfolios_from_obj instrument list",
            lambda: cm.portfolios_from_obj(
                {"account": "a", "positions": [{"instrument": ["BTC-PERP"], "quantity": 1}]}
            ),
        )
    )
    add(("RiskConfig mm_factor 'x'", lambda: cm.RiskConfig(mm_factor="x")))  # type: ignore[arg-type]
    add(
        (
            "RiskConfig mm_factor True",
            lambda: cm.default_config().model_copy(update={"mm_factor": True}),
        )
    )
    add(
        (
            "RiskConfig mm_factor '0.8'",
            lambda: cm.default_config().model_copy(update={"mm_factor": "0.8"}),
        )
    )
    add(("RiskConfig() empty", lambda: cm.RiskConfig()))  # type: ignore[call-arg]
    return p


PROBES: list[Probe] = _probes()


def run_probes(probes: list[Probe] = PROBES) -> dict[str, list[str]]:
    """Outcome of every probe: ``typed`` (a CrossMarginError), ``untyped`` (anything else
    raised) or ``silent`` (no error at all). Lists of labels (with the exception for the bad)."""
    out: dict[str, list[str]] = {"typed": [], "untyped": [], "silent": []}
    for label, thunk in probes:
        try:
            thunk()
        except CrossMarginError:
            out["typed"].append(label)
        except Exception as exc:
            out["untyped"].append(f"{label}: {type(exc).__name__}: {exc}"[:200])
        else:
            out["silent"].append(label)
    return out


if __name__ == "__main__":  # pragma: no cover - manual use
    res = run_probes()
    print({k: len(v) for k, v in res.items()})
    for k in ("untyped", "silent"):
        for line in res[k]:
            print(k, line)
