"""The NumPy twins that keep SciPy out of a small command-line run give SciPy's doubles.

``kernels.ndtr.ndtr_numpy`` (Cephes' ``ndtr`` in NumPy) against ``scipy.special.ndtr``, and
``risk.aggregate.csr_product_numpy`` against SciPy's CSR × dense product, compared bit for bit
(the int64 views of the doubles): the oracle is the very function the twin replaces, so the
tolerance is zero. ``tests/edges/test_startup.py`` checks that a small margin run really takes
the twins (no SciPy in ``sys.modules``).
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import sparse
from scipy.special import ndtr as scipy_ndtr

from crossmargin.kernels import ndtr as ndtr_mod
from crossmargin.kernels.black76 import black76_greeks, black76_price
from crossmargin.kernels.ndtr import ndtr, ndtr_numpy
from crossmargin.risk.aggregate import GroupMatrix, Groups, csr_product_numpy

#: Cephes' branch points in N's argument a (x = a/√2): |x| = 1/√2, 1, 8 and √MAXLOG.
EDGES = (1.0, np.sqrt(2.0), 8.0 * np.sqrt(2.0), np.sqrt(2.0 * 7.09782712893383996843e2))


def _same_bits(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    assert a.shape == b.shape
    return (a.view(np.int64) == b.view(np.int64)) | (np.isnan(a) & np.isnan(b))


def _neighbours(x: float, k: int) -> np.ndarray:
    """``x`` and its ``k`` nearest doubles on each side, for both signs."""
    out = [np.float64(x)]
    up = down = np.float64(x)
    for _ in range(k):
        up, down = np.nextafter(up, np.inf), np.nextafter(down, -np.inf)
        out += [up, down]
    a = np.array(out)
    return np.concatenate([a, -a])


def test_ndtr_numpy_is_scipy_bit_for_bit_on_a_dense_grid_edges_and_specials() -> None:
    rng = np.random.default_rng(20261208)
    x = np.concatenate(
        [
            np.linspace(-40.0, 40.0, 800_001),  # both tails past the underflow, the centre
            rng.standard_normal(200_000) * 4.0,
            *(_neighbours(e, 500) for e in EDGES),
            np.logspace(-310, 2.5, 20_000),  # subnormals to the deep tail
            -np.logspace(-310, 2.5, 20_000),
            [0.0, -0.0, np.inf, -np.inf, np.nan, 1e308, -1e308, np.finfo(float).max],
        ]
    )
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # and no warnings
        ours = ndtr_numpy(x)
    assert _same_bits(ours, scipy_ndtr(x)).all()
    assert ours[-8] == 0.5 and ours[-7] == 0.5  # ±0
    assert ours[-6] == 1.0 and ours[-5] == 0.0 and np.isnan(ours[-4])


@settings(max_examples=300, deadline=None)
@given(st.floats(allow_nan=True, allow_infinity=True, allow_subnormal=True))
def test_ndtr_numpy_is_scipy_bit_for_bit_at_any_double(a: float) -> None:
    x = np.array([a, -a])
    assert _same_bits(ndtr_numpy(x), scipy_ndtr(x)).all()


@pytest.mark.parametrize("shape", [(), (0,), (7,), (3, 5)])
def test_ndtr_numpy_keeps_the_shape(shape: tuple[int, ...]) -> None:
    x = np.random.default_rng(1).standard_normal(shape) * 3.0
    assert _same_bits(ndtr_numpy(x), scipy_ndtr(x)).all()


def test_ndtr_twin_runs_on_small_calls_within_the_budget_then_scipy(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Both paths of the dispatcher give the same doubles; the switch follows the rules."""
    calls: list[str] = []
    real = ndtr_numpy
    monkeypatch.setattr(ndtr_mod, "ndtr_numpy", lambda x: calls.append("twin") or real(x))
    modules: dict[str, object] = {}  # what the dispatcher sees of sys.modules: no SciPy yet
    monkeypatch.setattr(ndtr_mod, "sys", SimpleNamespace(modules=modules))
    monkeypatch.setattr(ndtr_mod, "_twin_used", 0)
    small = np.linspace(-9.0, 9.0, ndtr_mod.TWIN_CALL)
    assert _same_bits(ndtr(small), scipy_ndtr(small)).all()
    assert calls == ["twin"]
    big = np.linspace(-9.0, 9.0, ndtr_mod.TWIN_CALL + 1)
    assert _same_bits(ndtr(big), scipy_ndtr(big)).all()
    assert calls == ["twin"]  # a large call goes to SciPy
    monkeypatch.setattr(ndtr_mod, "_twin_used", ndtr_mod.TWIN_BUDGET - 2)
    assert _same_bits(ndtr(small[:3]), scipy_ndtr(small[:3])).all()
    assert calls == ["twin"]  # the budget is spent
    monkeypatch.setattr(ndtr_mod, "_twin_used", 0)
    modules["scipy.special"] = object()
    assert _same_bits(ndtr(small), scipy_ndtr(small)).all()
    assert calls == ["twin"]  # SciPy loaded: always its ufunc


def test_black76_prices_and_greeks_equal_with_either_ndtr(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(7)
    n = 500
    args = (
        rng.uniform(50, 150, n),
        rng.uniform(20, 300, n),
        rng.uniform(-0.1, 3.0, n),
        rng.uniform(0.0, 2.0, n),
        rng.uniform(0.8, 1.0, n),
        rng.random(n) < 0.5,
    )
    monkeypatch.setattr(ndtr_mod, "TWIN_CALL", 0)  # SciPy's ufunc only
    p_scipy = black76_price(*args)
    g_scipy = black76_greeks(100.0, *args)
    monkeypatch.setattr(ndtr_mod, "TWIN_CALL", 10**9)
    monkeypatch.setattr(ndtr_mod, "TWIN_BUDGET", 10**9)
    monkeypatch.setattr(ndtr_mod, "sys", SimpleNamespace(modules={}))
    monkeypatch.setattr(ndtr_mod, "_twin_used", 0)
    p_twin = black76_price(*args)
    g_twin = black76_greeks(100.0, *args)
    assert ndtr_mod._twin_used > 0  # the twin really ran
    assert _same_bits(p_twin, p_scipy).all()
    for name in ("price", "delta", "gamma", "vega", "theta"):
        assert _same_bits(getattr(g_twin, name), getattr(g_scipy, name)).all(), name


def _layout(rng: np.random.Generator) -> tuple[GroupMatrix, int]:
    """A random net-position layout: distinct (account, contract) pairs, shuffled."""
    n_acc, n_und, n_c = (int(v) for v in rng.integers(1, (40, 4, 60)))
    key = np.unique(rng.integers(0, n_acc * n_c, int(rng.integers(0, 300))))
    acc, con = key // n_c, key % n_c
    und_of = rng.integers(0, n_und, n_c)
    uniq, inv = np.unique(acc * n_und + und_of[con], return_inverse=True)
    perm = rng.permutation(key.size)
    groups = Groups(
        account=uniq // n_und, und=uniq % n_und, of_position=inv[perm].astype(np.int64), n_und=n_und
    )
    return GroupMatrix.build(groups, con[perm].astype(np.int64), n_c), n_c


@pytest.mark.parametrize("seed", range(40))
def test_csr_product_numpy_is_scipy_bit_for_bit(seed: int) -> None:
    rng = np.random.default_rng(seed)
    layout, n_c = _layout(rng)
    n = layout.order.size
    q = rng.standard_normal(n) * 10 ** rng.uniform(-3, 6, n)
    q[rng.random(n) < 0.1] = -0.0
    unit = rng.standard_normal((n_c, 33)) * 10 ** rng.uniform(-3, 6, (n_c, 1))
    unit[rng.random(unit.shape) < 0.05] = -0.0
    ours = csr_product_numpy(layout.indptr, layout.indices, q[layout.order], unit)
    ref = (
        sparse.csr_matrix(
            (q[layout.order], layout.indices, layout.indptr), shape=(layout.groups.n, n_c)
        )
        @ unit
    )
    assert _same_bits(ours, np.asarray(ref)).all()
    assert _same_bits(layout.product(q, unit), np.asarray(ref)).all()
