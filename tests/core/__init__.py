"""Tests of the core engine (issue 2): kernels, market data, instruments, models, CLI."""
