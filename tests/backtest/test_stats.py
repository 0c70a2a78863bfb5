"""Coverage statistics against published values, hand calculations and simulation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

from crossmargin.backtest.stats import (
    christoffersen,
    es_backtest,
    kupiec_pof,
    normal_es_var_ratio,
    overlap_inflation,
    traffic_light,
)

# Kupiec LR: the published values (n = 250, p = 1 %), to the 3 decimals published.
KUPIEC_TOL = 5e-4
# Basel 1996 table of cumulative probabilities, published to 2 decimals in percent.
BASEL_TOL = 5e-5


@pytest.mark.parametrize(
    ("x", "lr", "reject"),
    [(7, 5.497, True), (6, 3.555, False)],
)
def test_kupiec_published_values(x: int, lr: float, reject: bool) -> None:
    # Source: issue 6 acceptance; Kupiec (1995) POF statistic, n = 250, p = 0.01.
    res = kupiec_pof(x, 250, 0.01)
    assert res.lr == pytest.approx(lr, abs=KUPIEC_TOL)
    assert res.df == 1
    assert res.rejects(0.05) is reject
    assert res.p_value == pytest.approx(stats.chi2.sf(lr, 1), abs=1e-3)


def test_kupiec_edge_counts() -> None:
    # x = 0: LR = -2 n ln(1 - p); x = n: LR = -2 n ln p (0 ln 0 = 0)
    assert kupiec_pof(0, 250, 0.01).lr == pytest.approx(-2 * 250 * math.log(0.99), rel=1e-12)
    assert kupiec_pof(10, 10, 0.01).lr == pytest.approx(-2 * 10 * math.log(0.01), rel=1e-12)
    with pytest.raises(ValueError, match="exceedances"):
        kupiec_pof(11, 10, 0.01)
    with pytest.raises(ValueError, match="probability"):
        kupiec_pof(1, 10, 1.0)


# Basel Committee (1996), Supervisory framework for backtesting, Table 1 (250 days, 99 %):
# cumulative probability of at most x exceptions.
BASEL_CUMULATIVE = [
    0.0811, 0.2858, 0.5432, 0.7581, 0.8922, 0.9588, 0.9863, 0.9960, 0.9989, 0.9997, 0.9999,
]  # fmt: skip


def test_basel_zones_and_cumulative_probabilities() -> None:
    tl = traffic_light(250, 0.01)
    assert (tl.green_max, tl.yellow_max) == (4, 9)
    assert tl.inflation == 1.0
    for x, c in enumerate(BASEL_CUMULATIVE):
        assert round(tl.cumulative(x), 4) == pytest.approx(c, abs=BASEL_TOL)
    assert [tl.zone(x) for x in (0, 4, 5, 9, 10, 30)] == [
        "green", "green", "yellow", "yellow", "red", "red",
    ]  # fmt: skip


def test_christoffersen_against_hand_calculation() -> None:
    # A clustered sequence: exceedances come in runs.
    seq = np.array([0, 0, 0, 1, 1, 0, 0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0], dtype=bool)
    # Hand count of transitions (yesterday -> today): n00 12, n01 2, n10 2, n11 3.
    n00, n01, n10, n11 = 12, 2, 2, 3
    pi01, pi11, pi = 2 / 14, 3 / 5, 5 / 19
    ln = math.log
    l_null = 14 * ln(1 - pi) + 5 * ln(pi)
    l_alt = 12 * ln(1 - pi01) + 2 * ln(pi01) + 2 * ln(1 - pi11) + 3 * ln(pi11)
    lr_ind = -2 * (l_null - l_alt)  # = 3.6873 by hand
    p = 0.05
    lr_cc = -2 * (14 * ln(1 - p) + 5 * ln(p) - l_alt)
    res = christoffersen(seq, p)
    assert (res.n00, res.n01, res.n10, res.n11) == (n00, n01, n10, n11)
    assert res.pi01 == pytest.approx(pi01) and res.pi11 == pytest.approx(pi11)
    assert lr_ind == pytest.approx(3.6873, abs=1e-4)
    assert res.independence.lr == pytest.approx(lr_ind, rel=1e-12)
    assert res.independence.p_value == pytest.approx(stats.chi2.sf(lr_ind, 1), rel=1e-12)
    assert res.conditional_coverage.lr == pytest.approx(lr_cc, rel=1e-12)
    assert res.conditional_coverage.df == 2
    # clustered at 5 %: independence rejected at 10 %, not at 5 %
    assert res.independence.rejects(0.10) and not res.independence.rejects(0.05)
    # clustered: an exceedance is likelier after an exceedance; spread out: the opposite
    assert res.pi11 > res.pi01
    spread = np.zeros(20, dtype=bool)
    spread[[2, 6, 10, 14, 18]] = True
    sp = christoffersen(spread, p)
    assert sp.n11 == 0 and sp.pi11 < sp.pi01


def test_conditional_coverage_decomposes() -> None:
    rng = np.random.default_rng(3)
    seq = rng.random(500) < 0.02
    res = christoffersen(seq, 0.01)
    pof_t = kupiec_pof(int(seq[1:].sum()), 499, 0.01)
    # LR_cc = Kupiec on the n - 1 transitions + LR_ind, exactly
    exp = pof_t.lr + res.independence.lr
    # Kupiec counts the exceedances among "today" values; the Markov null counts n01 + n11
    assert res.n01 + res.n11 == int(seq[1:].sum())
    assert res.conditional_coverage.lr == pytest.approx(exp, rel=1e-9)


def test_overlap_inflation_matches_monte_carlo() -> None:
    # Exact variance of the count of overlapping h-day windows vs a seeded simulation.
    n, p, h = 250, 0.01, 5
    rng = np.random.default_rng(11)
    q = stats.norm.isf(p) * math.sqrt(h)
    paths = 20_000
    z = rng.standard_normal((paths, n + h - 1)).astype(np.float32)
    c = np.cumsum(np.concatenate([np.zeros((paths, 1), np.float32), z], axis=1), axis=1)
    counts = ((c[:, h:] - c[:, :-h]) > q).sum(axis=1)
    phi = overlap_inflation(n, p, h)
    mc_phi = counts.var() / (n * p * (1 - p))
    # MC standard error of a variance ratio at 20k paths with this skew is ~3 %
    assert phi == pytest.approx(mc_phi, rel=0.06)
    assert phi > 2.0
    tl = traffic_light(n, p, overlap=h)
    assert tl.green_max > 4 and tl.yellow_max > 9  # wider than the 1-day table
    # the green bound is where the simulated count reaches 95 % (MC tolerance 2 points)
    assert np.mean(counts <= tl.green_max) < 0.95 + 0.02
    assert np.mean(counts <= tl.green_max + 1) > 0.95 - 0.02


def test_no_overlap_is_binomial() -> None:
    assert overlap_inflation(1000, 0.01, 1) == 1.0
    tl = traffic_light(1000, 0.01)
    for x in (5, 10, 15):
        assert tl.cumulative(x) == pytest.approx(stats.binom.cdf(x, 1000, 0.01), rel=1e-12)


def test_normal_es_var_ratio() -> None:
    # phi(2.3263) / (0.01 x 2.3263) = 1.1456 (standard normal, 99 %)
    assert normal_es_var_ratio(0.99) == pytest.approx(1.1456, abs=1e-4)


def test_es_backtest_hand_calculation() -> None:
    losses = np.array([1.0, 5.0, 0.5, 12.0, 2.0])
    margin = np.array([4.0, 4.0, 4.0, 8.0, 4.0])
    # exceedances at index 1 (5 > 4) and 3 (12 > 8); alpha 0.01, kappa 1.2
    res = es_backtest(losses, margin, confidence=0.99, kappa=1.2)
    z2 = 1.0 - (5.0 / (1.2 * 4.0) + 12.0 / (1.2 * 8.0)) / (5 * 0.01)
    assert res.z2 == pytest.approx(z2, rel=1e-12)
    assert res.rejected
    assert res.severity == pytest.approx((5 / 4 + 12 / 8) / 2)
    assert res.mean_shortfall == pytest.approx((1.0 + 4.0) / 2)
    assert res.max_shortfall == pytest.approx(4.0)
    clean = es_backtest(np.zeros(5), margin, confidence=0.99)
    assert clean.z2 == 1.0 and clean.severity is None and not clean.rejected


@given(
    n=st.integers(1, 2000),
    frac=st.floats(0.0, 1.0),
    p=st.sampled_from([0.001, 0.01, 0.025, 0.05]),
)
def test_kupiec_is_nonnegative_and_zero_at_the_promised_rate(n: int, frac: float, p: float) -> None:
    x = round(frac * n)
    res = kupiec_pof(x, n, p)
    assert res.lr >= 0.0
    assert 0.0 <= res.p_value <= 1.0
    if x == n * p:
        assert res.lr == pytest.approx(0.0, abs=1e-9)


@given(seq=st.lists(st.booleans(), min_size=2, max_size=300))
def test_christoffersen_statistics_are_valid(seq: list[bool]) -> None:
    res = christoffersen(np.asarray(seq), 0.01)
    assert res.n00 + res.n01 + res.n10 + res.n11 == len(seq) - 1
    assert res.independence.lr >= 0.0
    assert res.conditional_coverage.lr >= res.independence.lr - 1e-9


@given(n=st.integers(10, 3000), h=st.integers(1, 10))
def test_zone_bounds_widen_with_overlap(n: int, h: int) -> None:
    base = traffic_light(n, 0.01)
    wide = traffic_light(n, 0.01, overlap=h)
    assert wide.green_max >= base.green_max
    assert wide.yellow_max >= base.yellow_max
    assert wide.green_max <= wide.yellow_max
