"""Black-76 on the expiry forward: vectorised, blocked price and Greeks.

Price of a European option on forward ``F`` with strike ``K``, year fraction ``T``, vol ``σ`` and
discount factor ``D`` (F. Black, "The pricing of commodity contracts", J. Financial Economics 3,
1976)::

    d1 = (ln(F/K) + σ²T/2) / (σ√T),   d2 = d1 − σ√T
    call = D (F N(d1) − K N(d2)),    put = D (K N(−d2) − F N(−d1))

Puts use their own formula (not parity) so deep out-of-the-money values keep full relative
precision. Degenerate inputs are handled explicitly: ``T ≤ 0`` or ``σ√T`` below ``1e-12``
gives the discounted intrinsic value ``D max(±(F − K), 0)``; ``N`` is SciPy's ``ndtr`` which
saturates cleanly for deep in/out-of-the-money ``d`` (:mod:`crossmargin.kernels.ndtr`: the same
values without importing SciPy in a process that prices only a few options).

Greeks follow crossmargin's unit conventions (docs/methodology.md):

* delta ``∂V/∂S`` with the forward moving proportionally with spot (``∂F/∂S = F/S``);
* gamma ``∂²V/∂S²``;
* vega per one vol point (``σ + 0.01``);
* theta per calendar day at constant spot, carry and rate: ``−∂V/∂T / 365``, where the carry
  ``b = ln(F/S)/T`` and rate ``r = −ln(D)/T`` are implied by the snapshot (generalised
  Black–Scholes theta, E. G. Haug, *The Complete Guide to Option Pricing Formulas*, 2nd ed., §1.1).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from crossmargin._typing import BoolArray, FloatArray
from crossmargin.errors import InputError
from crossmargin.kernels.blocks import for_blocks
from crossmargin.kernels.ndtr import ndtr

__all__ = ["Greeks", "black76_greeks", "black76_price", "black76_price_block"]

#: Below this total vol σ√T the option is valued at (discounted) intrinsic value.
MIN_TOTAL_VOL = 1e-12
_SQRT_2PI = float(np.sqrt(2.0 * np.pi))


def black76_price_block(
    F: FloatArray,
    K: FloatArray,
    T: FloatArray,
    sigma: FloatArray,
    D: FloatArray,
    is_call: BoolArray,
    out: FloatArray,
    *,
    saturation: float | None = None,
) -> None:
    """Price one block in place (all arguments broadcast to ``out``'s shape).

    This is the hot kernel: a few temporaries the size of the block, no Python loop. With
    ``saturation`` (a venue's convention, e.g. Derive's ``Black76.sol``) values are capped at
    their no-arbitrage bounds ``F·D`` (call) and ``K·D`` (put), and a total vol ``σ√T`` at or
    above ``saturation`` gives the bound itself.
    """
    v = sigma * np.sqrt(np.maximum(T, 0.0))
    ok = v > MIN_TOTAL_VOL
    vs = np.where(ok, v, 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        d1 = np.log(F / K)
    d1 /= vs
    d1 += 0.5 * vs
    d2 = d1 - vs
    sgn = np.where(is_call, 1.0, -1.0)
    d1 *= sgn
    d2 *= sgn
    price = F * ndtr(d1)
    price -= K * ndtr(d2)
    price *= sgn
    np.maximum(price, 0.0, out=price)
    if not ok.all():
        intrinsic = np.maximum(sgn * (F - K), 0.0)
        price = np.where(ok, price, intrinsic)
    np.multiply(price, D, out=out)
    if saturation is not None:
        cap = np.where(is_call, F * D, K * D)
        np.minimum(out, cap, out=out)
        sat = v >= saturation
        if sat.any():
            out[sat] = cap[sat]


# argument rules of the public functions: True strictly positive, False non-negative, None any
# finite value (a year fraction <= 0 means expired: discounted intrinsic value)
_RULES: dict[str, bool | None] = {
    "S": True,
    "F": True,
    "K": False,
    "T": None,
    "sigma": False,
    "D": True,
}


def _checked(fn: str, **args: object) -> dict[str, np.ndarray]:
    """The arguments as float64 arrays, refusing non-numbers, NaN/inf and out-of-range values.

    Forwards, spots and discount factors must be positive, strikes and vols non-negative, year
    fractions finite (zero vol or ``T <= 0`` gives the intrinsic value); ``is_call`` booleans
    (or 0/1).

    Raises
    ------
    InputError
        Naming ``<fn>.<argument>[<flat index>]``.
    """
    out: dict[str, np.ndarray] = {}
    for name, v in args.items():
        try:
            raw = np.asarray(v)
        except (ValueError, TypeError):
            raise InputError(
                "must be a number or an array of numbers", path=f"{fn}.{name}"
            ) from None
        if name == "is_call":
            if raw.dtype.kind not in "biu" or (
                raw.dtype.kind != "b" and not np.isin(raw, (0, 1)).all()
            ):
                raise InputError("must be booleans (True = call)", path=f"{fn}.is_call")
            out[name] = raw.astype(np.bool_)
            continue
        if raw.dtype.kind not in "iuf":
            raise InputError(
                f"must be numbers, got {(raw.dtype.kind == 'b' and 'booleans') or raw.dtype}",
                path=f"{fn}.{name}",
            )
        a = raw.astype(np.float64)
        positive = _RULES[name]
        bad = ~np.isfinite(a)
        if positive is not None:
            bad |= (a <= 0) if positive else (a < 0)
        if bad.any():
            k = int(np.argmax(bad.ravel()))
            x = float(a.ravel()[k])
            why = "finite" if not np.isfinite(x) else ("positive" if positive else "non-negative")
            raise InputError(f"must be {why}, got {x!r}", path=f"{fn}.{name}[{k}]")
        out[name] = a
    return out


def black76_price(
    F: FloatArray | float,
    K: FloatArray | float,
    T: FloatArray | float,
    sigma: FloatArray | float,
    D: FloatArray | float,
    is_call: BoolArray | bool,
) -> FloatArray:
    """Black-76 price per unit of underlying, vectorised and evaluated in blocks.

    Parameters
    ----------
    F, K, T, sigma, D, is_call
        Forward, strike, year fraction, implied vol, discount factor, call flag; broadcastable.

    Returns
    -------
    numpy.ndarray
        Prices, in the forward's currency, of the broadcast shape.

    Raises
    ------
    InputError
        A NaN/inf or non-number argument, ``F`` or ``D`` not positive, ``K``, ``T`` or ``sigma``
        negative, shapes that do not broadcast.
    """
    a = _checked("black76_price", F=F, K=K, T=T, sigma=sigma, D=D, is_call=is_call)
    try:
        arrs = np.broadcast_arrays(a["F"], a["K"], a["T"], a["sigma"], a["D"], a["is_call"])
    except ValueError as exc:
        raise InputError(f"shapes do not broadcast: {exc}", path="black76_price") from None
    shape = arrs[0].shape
    flat = [np.ravel(a) for a in arrs]
    out = np.empty(flat[0].shape[0], dtype=np.float64)

    def run(a: int, b: int) -> None:
        f, k, t, s, d, c = (x[a:b] for x in flat)
        black76_price_block(f, k, t, s, d, c, out[a:b])

    for_blocks(out.shape[0], run)
    return out.reshape(shape)


@dataclass(frozen=True, slots=True)
class Greeks:
    """Price and Greeks per unit, each an array (see module docstring for units)."""

    price: FloatArray
    delta: FloatArray
    gamma: FloatArray
    vega: FloatArray
    theta: FloatArray


def black76_greeks(
    S: FloatArray | float,
    F: FloatArray | float,
    K: FloatArray | float,
    T: FloatArray | float,
    sigma: FloatArray | float,
    D: FloatArray | float,
    is_call: BoolArray | bool,
) -> Greeks:
    """Black-76 price and Greeks with respect to spot ``S`` (forward ∝ spot).

    Parameters
    ----------
    S
        Spot price (the forward moves proportionally with it).
    F, K, T, sigma, D, is_call
        As in :func:`black76_price`.

    Returns
    -------
    Greeks
        Price, delta (∂V/∂S), gamma (∂²V/∂S²), vega (per vol point), theta (per calendar day).

    Raises
    ------
    InputError
        As :func:`black76_price`; ``S`` must be positive too.
    """
    a = _checked("black76_greeks", S=S, F=F, K=K, T=T, sigma=sigma, D=D, is_call=is_call)
    try:
        S_, F_, K_, T_, s_, D_, c_ = np.broadcast_arrays(
            a["S"], a["F"], a["K"], a["T"], a["sigma"], a["D"], a["is_call"].astype(np.float64)
        )
    except ValueError as exc:
        raise InputError(f"shapes do not broadcast: {exc}", path="black76_greeks") from None
    call = c_ > 0.5
    price = black76_price(F_, K_, T_, s_, D_, call)
    Tp = np.maximum(T_, 0.0)
    sqT = np.sqrt(Tp)
    v = s_ * sqT
    ok = v > MIN_TOTAL_VOL
    vs = np.where(ok, v, 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        d1 = np.log(F_ / K_) / vs + 0.5 * vs
    d2 = d1 - vs
    pdf = np.exp(-0.5 * d1 * d1) / _SQRT_2PI
    sgn = np.where(call, 1.0, -1.0)
    ratio = F_ / S_  # ∂F/∂S
    nd1 = ndtr(sgn * d1)
    nd2 = ndtr(sgn * d2)
    dV_dF = np.where(ok, sgn * D_ * nd1, D_ * np.where(sgn * (F_ - K_) > 0, sgn, 0.0))
    delta = dV_dF * ratio
    gamma = np.where(ok, D_ * pdf / (F_ * vs), 0.0) * ratio * ratio
    vega = np.where(ok, D_ * F_ * pdf * sqT, 0.0) * 0.01
    # theta: carry b and rate r implied by the snapshot, held constant as T shrinks
    with np.errstate(divide="ignore", invalid="ignore"):
        b = np.where(Tp > 0, np.log(F_ / S_) / Tp, 0.0)
        r = np.where(Tp > 0, -np.log(D_) / Tp, 0.0)
        dV_dT = np.where(
            ok,
            D_ * F_ * pdf * s_ / (2.0 * np.where(sqT > 0, sqT, 1.0))
            + sgn * (b - r) * D_ * F_ * nd1
            + sgn * r * D_ * K_ * nd2,
            # at zero vol the value is D·max(±(F−K),0) = max(±(S e^{(b-r)T} − K e^{−rT}), 0)
            np.where(sgn * (F_ - K_) > 0, sgn * ((b - r) * D_ * F_ + r * D_ * K_), 0.0),
        )
    theta = np.where(Tp > 0, -dV_dT / 365.0, 0.0)
    return Greeks(price=price, delta=delta, gamma=gamma, vega=vega, theta=theta)
