"""The bundled examples run end to end under every built-in model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from crossmargin import compute_margin, load_market, load_portfolios

CASES = [
    ("crypto_book.json", "market_crypto.json"),
    ("hedged_book.json", "market_crypto.json"),
    ("index_book.json", "market_index.json"),
    ("venue_accounts.json", "market_venue.json"),
]


@pytest.mark.parametrize("model", ["isolated", "cross", "portfolio"])
@pytest.mark.parametrize(("pf", "mk"), CASES)
def test_examples_margin(examples: Path, pf: str, mk: str, model: str) -> None:
    pfs, prefixes = load_portfolios(examples / pf)
    res = compute_margin(pfs, load_market(examples / mk), model=model, prefixes=prefixes)
    assert res.n == len(pfs)
    assert np.all(res.initial_margin >= 0)
    assert np.all(res.maintenance_margin <= res.initial_margin + 1e-9)
    assert np.all(np.isfinite(res.equity))
