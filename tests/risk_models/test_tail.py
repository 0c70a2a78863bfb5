"""Weighted VaR / ES (crossmargin.scenarios.tail): references, invariants, fast vs slow."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from crossmargin.scenarios.tail import tail_measures, tail_stats

#: Exact arithmetic on small integers; only float rounding separates the implementations.
TOL = 1e-9


def slow_tail(loss: np.ndarray, w: np.ndarray, alpha: float) -> tuple[float, float]:
    """Textbook definitions, one scenario at a time (the test oracle).

    VaR = min{l : P(L > l) <= 1 - alpha}; ES = (1/tau)(sum of the worst tau of probability mass)
    (C. Acerbi & D. Tasche, J. Banking & Finance 26, 2002, Def. 2.6 / Prop. 3.2).
    """
    tau = 1.0 - alpha
    var = None
    for x in sorted(set(loss.tolist())):
        if w[loss > x].sum() <= tau + 1e-12:
            var = x
            break
    assert var is not None
    order = sorted(range(loss.size), key=lambda i: -loss[i])
    left, es = tau, 0.0
    for i in order:
        take = min(w[i], max(left, 0.0))
        es += take * loss[i]
        left -= take
    return float(var), es / tau


def test_reference_equal_weights_1_to_100() -> None:
    # losses 1..100, each 1 %: VaR99 = 99 (P(L > 99) = 1 %), ES99 = 100 (the worst 1 %);
    # VaR97.5 = 98, ES97.5 = (100 + 99 + 0.5 * 98) / 2.5 = 99.2 (Acerbi & Tasche 2002)
    loss = np.arange(1.0, 101.0)[None, :]
    w = np.full(100, 0.01)
    t = tail_stats(loss, w, 0.99)
    assert t.var[0] == pytest.approx(99.0, abs=TOL)
    assert t.es[0] == pytest.approx(100.0, abs=TOL)
    t = tail_stats(loss, w, 0.975)
    assert t.var[0] == pytest.approx(98.0, abs=TOL)
    assert t.es[0] == pytest.approx(99.2, abs=TOL)
    assert t.worst_index[0] == 99


def test_reference_500_scenarios_sixth_worst() -> None:
    # 500 equal scenarios at 99 %: 5 scenarios (1 %) may exceed VaR -> the 6th worst loss
    loss = np.arange(500.0)[None, ::-1]
    t = tail_stats(np.ascontiguousarray(loss), np.full(500, 1 / 500), 0.99)
    assert t.var[0] == pytest.approx(494.0, abs=TOL)
    assert t.es[0] == pytest.approx(np.mean([499, 498, 497, 496, 495]), abs=TOL)


def test_weighted_scenarios_stress_weight() -> None:
    # one heavy stressed scenario (30 %) dominates the tail of a 90 % ES
    loss = np.array([[1.0, 2.0, 10.0, 3.0]])
    w = np.array([0.3, 0.3, 0.05, 0.35])
    t = tail_stats(loss, w, 0.9, keep_weights=True)
    # tail mass 0.1: scenario 2 (0.05 at 10) + 0.05 of scenario 3 (at 3)
    assert t.es[0] == pytest.approx((0.05 * 10 + 0.05 * 3) / 0.1, abs=TOL)
    assert t.var[0] == pytest.approx(3.0, abs=TOL)
    assert t.tail_weight is not None
    np.testing.assert_allclose(t.tail_weight[0], [0, 0, 0.5, 0.5], atol=TOL)


weights = arrays(np.float64, st.integers(2, 40), elements=st.floats(0.01, 1.0))


@given(weights, st.integers(0, 2**31), st.sampled_from([0.9, 0.95, 0.975, 0.99]))
def test_fast_matches_slow(w: np.ndarray, seed: int, alpha: float) -> None:
    w = w / w.sum()
    rng = np.random.default_rng(seed)
    loss = np.round(rng.standard_normal((3, w.size)) * 100)  # ties on purpose
    t = tail_stats(loss, w, alpha, keep_weights=True)
    for r in range(3):
        var, es = slow_tail(loss[r], w, alpha)
        assert t.var[r] == pytest.approx(var, abs=1e-9)
        assert t.es[r] == pytest.approx(es, rel=1e-9, abs=1e-9)
    assert t.tail_weight is not None
    np.testing.assert_allclose(t.tail_weight.sum(axis=1), 1.0, atol=1e-9)


@given(st.integers(0, 2**31), st.integers(5, 300))
def test_invariants(seed: int, S: int) -> None:
    rng = np.random.default_rng(seed)
    w = rng.random(S) + 0.1
    w /= w.sum()
    a = rng.standard_normal((4, S))
    b = rng.standard_normal((4, S)) * 3
    ta, tb, tab = (tail_stats(x, w, 0.975) for x in (a, b, a + b))
    # ES >= VaR; coherence: sub-additive, positively homogeneous, translation equivariant
    assert np.all(ta.es >= ta.var - 1e-12)
    assert np.all(tab.es <= ta.es + tb.es + 1e-9)
    np.testing.assert_allclose(tail_stats(2.5 * a, w, 0.975).es, 2.5 * ta.es, rtol=1e-9)
    np.testing.assert_allclose(tail_stats(a + 7.0, w, 0.975).es, ta.es + 7.0, rtol=1e-9)
    # ES is monotone in the confidence level
    assert np.all(tail_stats(a, w, 0.99).es >= ta.es - 1e-12)


@given(st.integers(0, 2**31))
def test_components_sum_to_es(seed: int) -> None:
    rng = np.random.default_rng(seed)
    parts = rng.standard_normal((3, 200))  # losses of three underlyings
    w = np.full(200, 1 / 200)
    t = tail_stats(parts.sum(axis=0)[None, :], w, 0.975, keep_weights=True)
    assert t.tail_weight is not None
    comp = (t.tail_weight[0] * parts).sum(axis=1)
    assert comp.sum() == pytest.approx(t.es[0], rel=1e-12, abs=1e-12)


@given(
    st.integers(0, 2**31),
    st.integers(1, 600),
    st.sampled_from([0.9, 0.975, 0.99]),
    st.booleans(),
    st.booleans(),
)
def test_values_only_tail_is_tail_stats_bit_for_bit(
    seed: int, S: int, alpha: float, equal: bool, scratch: bool
) -> None:
    """tail_measures (partition of values, equal weights) == tail_stats exactly, ties included."""
    rng = np.random.default_rng(seed)
    w = np.full(S, 1.0 / S) if equal else rng.random(S) + 0.1
    w /= w.sum()
    loss = rng.standard_normal((6, S)) * 100
    loss[:2] = np.round(loss[:2] / 50)  # many ties
    loss[2] = 0.0
    t = tail_stats(loss, w, alpha)
    var, es = tail_measures(loss.copy() if scratch else loss, w, alpha, scratch=scratch)
    np.testing.assert_array_equal(var, t.var)
    np.testing.assert_array_equal(es, t.es)
