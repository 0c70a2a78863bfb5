"""The standard normal CDF ``N(x)``: SciPy's ``ndtr``, with a NumPy twin for small inputs.

``ndtr`` is SciPy's ``scipy.special.ndtr`` (Cephes' ``ndtr``: S. L. Moshier, *Methods and
Programs for Mathematical Functions*, 1989). Importing ``scipy.special`` costs ≈ 0.3 s of CPU
(SciPy's array-API layer imports most of NumPy's lazy submodules; ≈ 0.1 s when another SciPy
subpackage is already loaded) — more than a command-line run on a small book spends on
everything else. So, until ``scipy.special`` is imported, small calls (at most
:data:`TWIN_CALL` values, :data:`TWIN_BUDGET` values per process in all) run
:func:`ndtr_numpy`, a NumPy transcription of the same Cephes code — same coefficients, same
branches, same order of operations, hence **the same doubles** (tests compare the two bit for
bit on a dense grid, the branch edges, the tails, ±0, ±∞ and NaN). Any larger call imports
SciPy and every later call runs its compiled ufunc: the venue's scenario grid, the live engine
and var/es price blocks of 16 384 values, on which the twin is 2-3× slower (and far slower per
call on a few values, a fixed cost of ~60 array operations). The budget bounds the twin's extra
work well below the import it saves.
"""

from __future__ import annotations

import sys

import numpy as np

from crossmargin._typing import FloatArray

__all__ = ["TWIN_BUDGET", "TWIN_CALL", "ndtr", "ndtr_numpy"]

#: Largest call the NumPy twin evaluates (a larger one imports SciPy).
TWIN_CALL = 4_096
#: Values a process evaluates with the NumPy twin in all before it imports SciPy.
TWIN_BUDGET = 65_536
_twin_used = 0

# Cephes ndtr.c (as vendored by SciPy): erfc on [1, 8) is exp(-x²) P(x)/Q(x), on [8, ∞)
# exp(-x²) R(x)/S(x); erf on [-1, 1] is x T(x²)/U(x²); Q, S and U have an implicit leading 1.
_P = (
    2.46196981473530512524e-10,
    5.64189564831068821977e-1,
    7.46321056442269912687e0,
    4.86371970985681366614e1,
    1.96520832956077098242e2,
    5.26445194995477358631e2,
    9.34528527171957607540e2,
    1.02755188689515710272e3,
    5.57535335369399327526e2,
)
_Q = (
    1.32281951154744992508e1,
    8.67072140885989742329e1,
    3.54937778887819891062e2,
    9.75708501743205489753e2,
    1.82390916687909736289e3,
    2.24633760818710981792e3,
    1.65666309194161350182e3,
    5.57535340817727675546e2,
)
_R = (
    5.64189583547755073984e-1,
    1.27536670759978104416e0,
    5.01905042251180477414e0,
    6.16021097993053585195e0,
    7.40974269950448939160e0,
    2.97886665372100240670e0,
)
_S = (
    2.26052863220117276590e0,
    9.39603524938001434673e0,
    1.20489539808096656605e1,
    1.70814450747565897222e1,
    9.60896809063285878198e0,
    3.36907645100081516050e0,
)
_T = (
    9.60497373987051638749e0,
    9.00260197203842689217e1,
    2.23200534594684319226e3,
    7.00332514112805075473e3,
    5.55923013010394962768e4,
)
_U = (
    3.35617141647503099647e1,
    5.21357949780152679795e2,
    4.59432382970980127987e3,
    2.26290000613890934246e4,
    4.92673942608635921086e4,
)
_SQRT1_2 = 7.07106781186547524401e-1
#: ln of the largest double: erfc underflows to 0 where x² exceeds it.
_MAXLOG = 7.09782712893383996843e2
#: erfc's argument is clipped here before exp (exp(−27²) is already past _MAXLOG): no warnings.
_CLIP = 27.0


def _polevl(x: FloatArray, c: tuple[float, ...]) -> FloatArray:
    """Cephes ``polevl``: Horner's rule, ``c[0]`` the leading coefficient."""
    a = x * c[0]
    a += c[1]
    for k in c[2:]:
        a *= x
        a += k
    return a


def _p1evl(x: FloatArray, c: tuple[float, ...]) -> FloatArray:
    """Cephes ``p1evl``: as :func:`_polevl` with an implicit leading coefficient 1."""
    a = x + c[0]
    for k in c[1:]:
        a *= x
        a += k
    return a


def ndtr_numpy(a: FloatArray) -> FloatArray:
    """Cephes' ``ndtr`` in NumPy: bitwise ``scipy.special.ndtr`` on float64 input.

    Cephes: ``x = a/√2``; ``N = ½ + ½ erf(x)`` for ``|x| < 1/√2``, else ``N = ½ erfc(|x|)``
    (``1 − ½ erfc(|x|)`` for ``x > 0``) with ``erfc(z) = 1 − erf(z)`` below 1. Every branch
    is evaluated on the whole array and the right one selected, so the cost is a fixed number
    of array operations (no masks or gathers).
    """
    a = np.asarray(a, dtype=np.float64)
    x = a * _SQRT1_2
    z = np.abs(x)
    centre = z < _SQRT1_2
    band = z < 1.0
    # erf(w), |w| <= 1: the centre's x, or z on the band [1/√2, 1)
    w = np.where(centre, x, np.minimum(z, 1.0))
    w2 = w * w
    erf = w * _polevl(w2, _T) / _p1evl(w2, _U)
    # erfc(t), t >= 1
    t = np.minimum(np.maximum(z, 1.0), _CLIP)
    lo = t < 8.0
    p = np.where(lo, _polevl(t, _P), _polevl(t, _R))
    q = np.where(lo, _p1evl(t, _Q), _p1evl(t, _S))
    tt = t * t
    erfc = (np.exp(-tt) * p) / q
    erfc = np.where(band, 1.0 - erf, np.where(tt > _MAXLOG, 0.0, erfc))
    y = 0.5 * erfc
    y = np.where(x > 0, 1.0 - y, y)
    out: FloatArray = np.where(centre, 0.5 + 0.5 * erf, y)
    return out


def ndtr(x: FloatArray) -> FloatArray:
    """``scipy.special.ndtr(x)`` for a float64 array (values identical whichever path runs).

    The NumPy twin runs for a call of at most :data:`TWIN_CALL` values while
    ``scipy.special`` is not imported in this process and the twin's budget
    (:data:`TWIN_BUDGET` values per process) lasts; SciPy's ufunc otherwise.
    """
    global _twin_used
    n = int(np.size(x))
    if n <= TWIN_CALL and _twin_used + n <= TWIN_BUDGET and "scipy.special" not in sys.modules:
        _twin_used += n  # a race between kernel threads only moves the switch point
        return ndtr_numpy(x)
    from scipy.special import ndtr as scipy_ndtr

    out: FloatArray = scipy_ndtr(x)
    return out
