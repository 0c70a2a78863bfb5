"""Liquidation engine, insurance fund and loss waterfall, liquidation-cascade simulator.

The path of a liquidation (docs/methodology.md, section "Liquidation")::

    account health (crossmargin.account.assess: maintenance equity < MM)
        │
        ▼
    units.py      who is liquidated: whole accounts, or isolated positions with their margin
    planner.py    full / partial plan per unit (ranking, prefix, fraction search)
    virtual.py    re-margin candidate close-outs as virtual accounts, all units at once
    closeout.py   close-out prices: spread + square-root impact; options at mark ± vol impact
    projection.py costs, capped fees, collateral sales and value after a close-out
    engine.py     one round at fixed prices: close, fees, collateral sales, bankruptcy
    adl.py        the market / ADL split of bankrupt units and their counterparties
    waterfall.py  insurance fund → ADL at the bankruptcy price | socialised loss
    ledger.py     every transfer, payer → payee (money is conserved)
    state.py, run.py   the mutable venue state; liquidate a book (``crossmargin liquidate``)
        │
        ▼
    cascade.py    rounds of re-margin → liquidate → aggregate flow → price impact, per regime
    shocks.py     spot / vol moves, bundled history paths (daily 2018 crash, hourly BTC)
    synthetic.py  seeded synthetic venues (documented leverage / hedge / size distributions)
    report.py, plot.py   JSON contracts and the PNG report
    reference.py  Drift v2 and dYdX v4 test oracles (USDC adapters over presets/*_rules.py)
"""

from crossmargin.liquidation.cascade import (
    REGIMES,
    CascadeResult,
    CascadeSettings,
    RegimeRun,
    run_cascade,
    run_regime,
)
from crossmargin.liquidation.closeout import CloseOutPricer, CollateralPricer
from crossmargin.liquidation.engine import InsuranceFund, RoundResult, liquidate_round
from crossmargin.liquidation.ledger import Ledger
from crossmargin.liquidation.report import cascade_dict, liquidation_dict
from crossmargin.liquidation.run import LiquidationRun, liquidate_book
from crossmargin.liquidation.shocks import NAMED_PATHS, ShockPath, parse_shock
from crossmargin.liquidation.state import VenueState
from crossmargin.liquidation.synthetic import Venue, synthetic_venue

__all__ = [
    "NAMED_PATHS",
    "REGIMES",
    "CascadeResult",
    "CascadeSettings",
    "CloseOutPricer",
    "CollateralPricer",
    "InsuranceFund",
    "Ledger",
    "LiquidationRun",
    "RegimeRun",
    "RoundResult",
    "ShockPath",
    "Venue",
    "VenueState",
    "cascade_dict",
    "liquidate_book",
    "liquidate_round",
    "liquidation_dict",
    "parse_shock",
    "run_cascade",
    "run_regime",
    "synthetic_venue",
]
