"""Weighted Value at Risk and Expected Shortfall over a scenario axis (rows at once).

For losses ``L_s`` (positive = loss) with probabilities ``w_s`` and tail mass ``τ = 1 − α``:

* ``VaR_α = min { l : P(L > l) ≤ τ }`` — sorting losses from the worst, the loss at which the
  cumulative weight first *exceeds* ``τ`` (with 500 equal weights and α = 99 %: the 6th worst);
* ``ES_α = (1/τ) [ Σ_{s above VaR} w_s L_s + (τ − P(L > VaR)) · VaR ]`` — the probability-weighted
  mean of the worst ``τ`` of the distribution, the boundary scenario entering with the fraction
  needed to fill ``τ`` (C. Acerbi & D. Tasche, "On the coherence of expected shortfall", J.
  Banking & Finance 26, 2002). ES is coherent (sub-additive) and ``ES_α ≥ VaR_α`` always.

:func:`tail_stats` also returns each row's *tail weights* ``t_s`` (``Σ t_s = 1``), the weights of
that ES average. Any additive decomposition of the loss, ``L = Σ_u L_u``, then splits ES exactly
into components ``ES_u = Σ_s t_s L_{u,s}`` (the Euler allocation of ES for scenario sets; Tasche
1999) — the per-underlying contributions reported by ``explain``. VaR components are the
``L_u`` of the VaR scenario.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from crossmargin._typing import FloatArray, IntArray

__all__ = ["Tail", "TailStats", "tail_measures", "tail_stats"]

_EPS = 1e-12


@dataclass(frozen=True, slots=True, eq=False)
class TailStats:
    """VaR, ES and the scenarios behind them, per row.

    Attributes
    ----------
    var, es
        ``(n,)`` Value at Risk and Expected Shortfall (in loss units, may be negative).
    var_index
        ``(n,)`` scenario index of the VaR.
    worst_index
        ``(n,)`` scenario of the largest loss.
    tail_weight
        ``(n, S)`` ES tail weights (each row sums to 1), or ``None`` if not requested.
    tail_order, tail_mass
        ``(n, k)`` the ``k`` worst scenarios of each row (worst first) and their ES tail
        weights: the non-zero part of ``tail_weight``, always returned.
    """

    var: FloatArray
    es: FloatArray
    var_index: IntArray
    worst_index: IntArray
    tail_weight: FloatArray | None
    tail_order: IntArray
    tail_mass: FloatArray


def _tail_size(weight: FloatArray, tau: float) -> int:
    """How many of a row's worst scenarios can carry its tail (``k`` of :func:`tail_stats`)."""
    # k = how many of the *lightest* scenarios it takes to exceed tau, one more for the boundary
    light = np.cumsum(np.sort(weight))
    return min(weight.size, int(np.searchsorted(light, tau + _EPS, side="right")) + 2)


def _tail(
    ls: FloatArray, ws: FloatArray, tau: float
) -> tuple[FloatArray, FloatArray, IntArray, FloatArray]:
    """``(var, es, j, tw)`` of rows of losses ``ls`` sorted worst first, with weights ``ws``.

    ``j`` is the position of the VaR scenario, ``tw`` each sorted scenario's weight in the tail.
    ``ws`` may be one row ``(k,)`` shared by every row of ``ls`` (equal scenario weights): then
    ``j`` and ``tw`` are computed once and are one row too.
    """
    k = ls.shape[1]
    cw = np.cumsum(ws, axis=-1)
    j = np.argmax(cw > tau + _EPS, axis=-1)
    j = np.where(cw[..., -1] > tau + _EPS, j, k - 1)
    var = ls[np.arange(ls.shape[0]), j]
    tw = np.clip(tau - (cw - ws), 0.0, ws)  # weight of each sorted scenario inside the tail
    es = np.sum(tw * ls, axis=1) / tau
    return var, es, j, tw


@dataclass(frozen=True, slots=True, eq=False)
class Tail:
    """VaR and ES at one confidence over one scenario weighting, prepared for many calls.

    The tail size ``k`` (and, with equal weights, the tail weights of the ``k`` worst values)
    depend on the weights only: :meth:`of` computes them once, so the per-call work is the
    partition of the losses. :func:`tail_measures` and :func:`tail_stats` are the one-call forms.
    """

    weight: FloatArray
    tau: float
    k: int
    equal: bool
    j: int
    """Equal weights: position of the VaR among the ``k`` worst values."""
    tw: FloatArray
    """Equal weights: ``(k,)`` tail weight of each of the ``k`` worst values."""

    @classmethod
    def of(cls, weight: FloatArray, alpha: float) -> Tail:
        """The tail of confidence ``alpha`` over scenario probabilities ``weight``."""
        tau = 1.0 - alpha
        S = weight.shape[0]
        k = _tail_size(weight, tau) if S else 0
        equal = bool(S) and bool(np.all(weight == weight[0]))
        j, tw = 0, np.zeros(0)
        if equal and k:
            _, _, jj, tw = _tail(np.zeros((1, k)), weight[:k], tau)
            j = int(jj)
        return cls(weight, tau, k, equal, j, tw)

    def _sorted_tail(self, ls: FloatArray) -> tuple[FloatArray, FloatArray]:
        """``(var, es)`` of rows sorted worst first (equal weights: one shared ``j``, ``tw``)."""
        return ls[:, self.j], np.sum(self.tw * ls, axis=1) / self.tau

    def measures(self, loss: FloatArray, *, scratch: bool = False) -> tuple[FloatArray, FloatArray]:
        """``(VaR, ES)`` of each row of ``loss`` (see :func:`tail_measures`)."""
        n, S = loss.shape
        if n == 0 or S == 0 or not self.equal:
            t = self.stats(loss)
            return t.var, t.es
        k = self.k
        top = loss
        if k < S:
            if scratch and loss.flags.writeable:
                loss.partition(S - k, axis=1)
            else:
                top = np.partition(loss, S - k, axis=1)
            top = top[:, S - k :]
        ls = -np.sort(-top, axis=1)  # worst first
        return self._sorted_tail(ls)

    def stats(self, loss: FloatArray, *, keep_weights: bool = False) -> TailStats:
        """VaR, ES and the scenarios behind them of each row of ``loss`` (see :func:`tail_stats`)."""
        n, S = loss.shape
        tau, weight = self.tau, self.weight
        if n == 0:
            z = np.zeros(0)
            zi = np.zeros(0, np.int64)
            tw0 = np.zeros((0, S)) if keep_weights else None
            return TailStats(z, z, zi, zi, tw0, np.zeros((0, 0), np.int64), np.zeros((0, 0)))
        # only the k worst scenarios of a row can be in its tail — a partition, not a sort
        k = self.k
        if k < S:
            cand = np.argpartition(loss, S - k, axis=1)[:, S - k :]  # the k largest losses
        else:
            cand = np.broadcast_to(np.arange(S), (n, S))
        lc = np.take_along_axis(loss, cand, axis=1)
        o = np.lexsort((cand, -lc), axis=1)  # worst first, ties by scenario index
        order = np.take_along_axis(cand, o, axis=1)
        ls = np.take_along_axis(lc, o, axis=1)
        rows = np.arange(n)
        j: IntArray | int
        if self.equal:
            (var, es), j, tw = self._sorted_tail(ls), self.j, self.tw
        else:
            var, es, j, tw = _tail(ls, weight[order], tau)
        mass = np.broadcast_to(tw / tau, ls.shape)
        tail_weight = None
        if keep_weights:
            tail_weight = np.zeros((n, S))
            np.put_along_axis(tail_weight, order, mass, axis=1)
        return TailStats(
            var=np.asarray(var, dtype=np.float64),
            es=np.asarray(es, dtype=np.float64),
            var_index=order[rows, j].astype(np.int64),
            worst_index=order[:, 0].astype(np.int64),
            tail_weight=tail_weight,
            tail_order=np.asarray(order, np.int64),
            tail_mass=mass,
        )


def tail_measures(
    loss: FloatArray, weight: FloatArray, alpha: float, *, scratch: bool = False
) -> tuple[FloatArray, FloatArray]:
    """``(VaR, ES)`` of each row of ``loss`` — the values of :func:`tail_stats`, nothing else.

    With equal scenario weights the tail depends on the values only, not on which scenarios
    carry them: a partition of the values (no index array) and a sort of the ``k`` worst give
    the same numbers as :func:`tail_stats` at about half the cost. Unequal weights (a stress
    segment) need the scenarios and use :func:`tail_stats`. With ``scratch`` the rows of
    ``loss`` (a temporary of the caller) are partitioned in place instead of copied.
    """
    return Tail.of(weight, alpha).measures(loss, scratch=scratch)


def tail_stats(
    loss: FloatArray, weight: FloatArray, alpha: float, *, keep_weights: bool = False
) -> TailStats:
    """VaR and ES at confidence ``alpha`` of each row of ``loss`` ``(n, S)`` (module docstring).

    Parameters
    ----------
    loss
        Scenario losses, one row per portfolio.
    weight
        ``(S,)`` scenario probabilities (summing to 1).
    alpha
        Confidence level, e.g. 0.99.
    keep_weights
        Also return the ``(n, S)`` ES tail weights.
    """
    return Tail.of(weight, alpha).stats(loss, keep_weights=keep_weights)
