"""Backtesting margin models and their netting assumptions on real market history.

The path of one backtest (each step its own module)::

    cleaning.py     stale repeats and bad prints dropped — and listed
    calendar.py     the book's calendar: dates where every needed series closed; gaps flagged
    vol.py          point-in-time vol estimates (realised, EWMA, VIX)
    spec.py         backtest books: legs rebuilt daily (static / constant notional / delta)
    schedule.py     rolls and sizes of every leg on every day
    snapshots.py    point-in-time snapshots; all days resolved at once ("stacked")
    replay.py       margins per model, realised P&L over the margin period of risk
    stats.py        Kupiec, Christoffersen, Basel traffic light (overlap-aware), ES (Z2)
    procyclicality.py, netting.py, analysis.py    the measures of one model
    run.py          run_backtest(): the front door; load_history() (the bundled closes or a file)
    report.py, charts.py, html.py                 JSON / CSV / PNG / HTML

``crossmargin backtest BOOK`` is the command-line edge (``cli/cmd_backtest.py``).
"""

from crossmargin.backtest.analysis import ModelResult
from crossmargin.backtest.cleaning import CleaningRules, DroppedPoint
from crossmargin.backtest.html import html_report
from crossmargin.backtest.replay import BookReplay, ModelRun, ReplayOptions
from crossmargin.backtest.report import daily_frame, summary_dict, summary_row
from crossmargin.backtest.run import BacktestResult, load_history, run_backtest
from crossmargin.backtest.spec import BacktestBook, Leg, book_from_obj, bundled_books, load_book
from crossmargin.backtest.stats import (
    christoffersen,
    es_backtest,
    kupiec_pof,
    overlap_inflation,
    traffic_light,
)
from crossmargin.market.history import PriceHistory, history_from_frame

__all__ = [
    "BacktestBook",
    "BacktestResult",
    "BookReplay",
    "CleaningRules",
    "DroppedPoint",
    "Leg",
    "ModelResult",
    "ModelRun",
    "PriceHistory",
    "ReplayOptions",
    "book_from_obj",
    "bundled_books",
    "christoffersen",
    "daily_frame",
    "es_backtest",
    "history_from_frame",
    "html_report",
    "kupiec_pof",
    "load_book",
    "load_history",
    "overlap_inflation",
    "run_backtest",
    "summary_dict",
    "summary_row",
    "traffic_light",
]
