"""Tests of the backtest (issue 6): statistics, data handling, replay, netting, reports, CLI."""
