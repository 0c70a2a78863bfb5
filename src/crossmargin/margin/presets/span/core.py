"""CME SPAN arithmetic over risk arrays (``span.md`` §3), vectorised over accounts.

Inputs are per contract: its combined commodity (CC), its tier, its 16-value risk array (loss
of one long contract per scenario, **losses positive**, weights — e.g. the extreme scenarios'
cover fraction — already applied), its composite delta, and (options) call flag, short-option
minimum charge per contract and premium value for the net option value. Per (account, CC):

1. scanning risk ``max_s Σ_k q_k·RA_k[s]`` and the active scenario;
2. tier net deltas; **intra-commodity spreads** formed in priority order between tiers with the
   legs' ratios and sides (A legs on one side, B legs on the other), each charged its rate;
3. **spot-month charge** on delta in spot tiers (consumed by spreads / outright);
4. **inter-commodity credits** between CCs in priority order from the remaining CC deltas:
   ``credit_leg = spreads × ratio × WFPR × rate`` with the weighted futures price risk
   ``WFPR = PriceRisk / |net delta|`` (``normal``), the scan range per delta (``scan_range``) or
   the smaller of the two (``scan_range_cap``), ``PriceRisk = scan − TimeRisk − VolatilityRisk``,
   ``TimeRisk = ½(L₁ + L₂)``, ``VolatilityRisk = ½(L_active − L_paired)``;
5. **short option minimum** ``max(Σ short calls × SOM, Σ short puts × SOM)``;
6. ``risk = max(scan + intra + spot − credit, SOM, 0)``; net option value ``Σ q·value`` of
   premium-style options; maintenance = ``Σ risk``; initial = maintenance × the CC's ratio.

Spread definitions are looped over (a file has a handful), accounts never are.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy import sparse

from crossmargin._arrays import sum_by
from crossmargin._typing import BoolArray, FloatArray, IntArray
from crossmargin.errors import ModelError

__all__ = [
    "N_SCENARIOS",
    "SpanBook",
    "SpanCC",
    "SpanLeg",
    "SpanResult",
    "SpanSpread",
    "span_margin",
]

N_SCENARIOS = 16
#: Paired scenario of each scenario (same price move, opposite vol move; extremes pair themselves).
PAIRED = np.asarray([1, 0, 3, 2, 5, 4, 7, 6, 9, 8, 11, 10, 13, 12, 14, 15], dtype=np.int64)

WfprMethod = Literal["normal", "scan_range", "scan_range_cap"]


@dataclass(frozen=True, slots=True)
class SpanLeg:
    """One leg of a spread: a tier (intra) or a CC (inter) index, delta ratio and side A/B."""

    target: int
    ratio: float
    side: Literal["A", "B"]


@dataclass(frozen=True, slots=True)
class SpanSpread:
    """A spread definition: legs and rate (intra: money per spread; inter: credit fraction)."""

    legs: tuple[SpanLeg, ...]
    rate: float
    name: str = ""


@dataclass(frozen=True, slots=True)
class SpanCC:
    """Parameters of one combined commodity."""

    name: str
    n_tiers: int
    intra_spreads: tuple[SpanSpread, ...] = ()
    spot_tiers: tuple[int, ...] = ()
    spot_rate_spread: float = 0.0
    spot_rate_outright: float = 0.0
    wfpr_method: WfprMethod = "normal"
    scan_range_per_delta: float = 0.0
    initial_ratio: float = 1.0
    tier_names: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, eq=False)
class SpanBook:
    """Contracts with their risk arrays, and positions of many accounts."""

    n_accounts: int
    ccs: tuple[SpanCC, ...]
    inter_spreads: tuple[SpanSpread, ...]
    k_cc: IntArray
    k_tier: IntArray
    k_array: FloatArray
    k_delta: FloatArray
    k_option: BoolArray
    k_call: BoolArray
    k_som: FloatArray
    k_value: FloatArray
    k_premium: BoolArray
    p_account: IntArray
    p_contract: IntArray
    p_quantity: FloatArray


@dataclass(frozen=True, slots=True, eq=False)
class SpanResult:
    """Per (account, CC) breakdown and per-account totals (maintenance basis unless noted)."""

    g_account: IntArray
    g_cc: IntArray
    losses: FloatArray
    scan: FloatArray
    active: IntArray
    time_risk: FloatArray
    vol_risk: FloatArray
    price_risk: FloatArray
    net_delta: FloatArray
    tier_delta: FloatArray
    intra: FloatArray
    spot: FloatArray
    credit: FloatArray
    som: FloatArray
    risk: FloatArray
    initial: FloatArray
    nov: FloatArray
    maintenance_total: FloatArray
    initial_total: FloatArray
    nov_total: FloatArray


def _form(
    remaining: FloatArray, rows: IntArray, legs: Sequence[SpanLeg]
) -> tuple[FloatArray, FloatArray]:
    """Spreads formable on ``rows`` (``remaining`` columns = leg targets) and the sign of A."""
    d = np.stack([remaining[rows, leg.target] for leg in legs], axis=1)
    side_a = np.asarray([leg.side == "A" for leg in legs])
    ratio = np.asarray([leg.ratio for leg in legs])
    s = np.sign(d[:, int(np.argmax(side_a))]) if side_a.any() else np.sign(d[:, 0])
    want = np.where(side_a[None, :], s[:, None], -s[:, None])
    ok = np.all(np.sign(d) == want, axis=1) & (s != 0)
    n = np.where(ok, np.min(np.abs(d) / ratio[None, :], axis=1), 0.0)
    return n, s


def span_margin(b: SpanBook) -> SpanResult:
    """SPAN requirement of every account of ``b`` (see module docstring)."""
    A = b.n_accounts
    n_cc = max(len(b.ccs), 1)
    cc_of_pos = b.k_cc[b.p_contract] if b.p_contract.size else np.zeros(0, np.int64)
    key = b.p_account * n_cc + cc_of_pos
    g_key, g_of_pos = np.unique(key, return_inverse=True)
    G = int(g_key.size)
    g_account = (g_key // n_cc).astype(np.int64)
    g_cc = (g_key % n_cc).astype(np.int64)
    nk = b.k_array.shape[0]
    Q = sparse.csr_matrix((b.p_quantity, (g_of_pos, b.p_contract)), shape=(G, nk))
    L = np.asarray(Q @ b.k_array, dtype=np.float64) if G else np.zeros((0, N_SCENARIOS))
    rg = np.arange(G)
    active = np.argmax(L, axis=1).astype(np.int64) if G else np.zeros(0, np.int64)
    scan = L[rg, active] if G else np.zeros(0)
    time_risk = 0.5 * (L[:, 0] + L[:, 1]) if G else np.zeros(0)
    vol_risk = 0.5 * (L[rg, active] - L[rg, PAIRED[active]]) if G else np.zeros(0)
    price_risk = np.maximum(scan - time_risk - vol_risk, 0.0)

    # tier deltas per group
    max_t = max((c.n_tiers for c in b.ccs), default=1)
    tier = np.zeros((G, max(max_t, 1)))
    pd = b.p_quantity * b.k_delta[b.p_contract] if b.p_contract.size else np.zeros(0)
    if b.p_contract.size:
        np.add.at(tier, (g_of_pos, b.k_tier[b.p_contract]), pd)
    net = tier.sum(axis=1)
    remaining = tier.copy()
    intra = np.zeros(G)
    consumed_spot = np.zeros(G)
    for c, cc in enumerate(b.ccs):
        rows = np.flatnonzero(g_cc == c)
        if rows.size == 0:
            continue
        for sp in cc.intra_spreads:
            n, s = _form(remaining, rows, sp.legs)
            intra[rows] += n * sp.rate
            for leg in sp.legs:
                sign = s if leg.side == "A" else -s
                remaining[rows, leg.target] -= sign * n * leg.ratio
                if leg.target in cc.spot_tiers:
                    consumed_spot[rows] += n * leg.ratio
    spot = np.zeros(G)
    for c, cc in enumerate(b.ccs):
        rows = np.flatnonzero(g_cc == c)
        if rows.size and cc.spot_tiers:
            outright = np.abs(
                remaining[np.ix_(rows, np.asarray(cc.spot_tiers, dtype=np.int64))]
            ).sum(axis=1)
            spot[rows] = (
                cc.spot_rate_spread * consumed_spot[rows] + cc.spot_rate_outright * outright
            )

    # inter-commodity credits on the remaining CC deltas
    cc_delta = remaining.sum(axis=1)
    absd = np.abs(net)
    method = np.asarray([cc.wfpr_method for cc in b.ccs] or ["normal"])[g_cc] if G else np.zeros(0)
    srange = (
        np.asarray([cc.scan_range_per_delta for cc in b.ccs] or [0.0])[g_cc] if G else np.zeros(0)
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        normal = np.where(absd > 0, price_risk / np.where(absd > 0, absd, 1.0), 0.0)
    wfpr = np.where(
        method == "scan_range",
        srange,
        np.where(method == "scan_range_cap", np.minimum(normal, srange), normal),
    )
    credit = np.zeros(G)
    lookup = np.full((A, n_cc), -1, np.int64)
    if G:
        lookup[g_account, g_cc] = rg
    rem_cc = np.zeros((A, n_cc))
    if G:
        rem_cc[g_account, g_cc] = cc_delta
    for sp in b.inter_spreads:
        present = np.all(np.stack([lookup[:, leg.target] >= 0 for leg in sp.legs], axis=1), axis=1)
        accs = np.flatnonzero(present)
        if accs.size == 0:
            continue
        n, s = _form(rem_cc, accs, sp.legs)
        for leg in sp.legs:
            gi = lookup[accs, leg.target]
            credit[gi] += n * leg.ratio * wfpr[gi] * sp.rate
            sign = s if leg.side == "A" else -s
            rem_cc[accs, leg.target] -= sign * n * leg.ratio

    # short option minimum, risk, net option value
    is_opt = b.k_option[b.p_contract] if b.p_contract.size else np.zeros(0, np.bool_)
    short = is_opt & (b.p_quantity < 0)
    som_pos = np.where(short, -b.p_quantity * b.k_som[b.p_contract], 0.0) if short.size else short
    call = b.k_call[b.p_contract] if b.p_contract.size else np.zeros(0, np.bool_)
    g_inv = g_of_pos.astype(np.int64)
    som = np.maximum(
        sum_by(g_inv, np.where(call, som_pos, 0.0), G),
        sum_by(g_inv, np.where(call, 0.0, som_pos), G),
    )
    risk = np.maximum(np.maximum(scan + intra + spot - credit, som), 0.0)
    ratio = np.asarray([cc.initial_ratio for cc in b.ccs] or [1.0])[g_cc] if G else np.zeros(0)
    prem = (b.k_option & b.k_premium)[b.p_contract] if b.p_contract.size else np.zeros(0, np.bool_)
    nov = sum_by(g_inv, np.where(prem, b.p_quantity * b.k_value[b.p_contract], 0.0), G)
    totals = {
        "maintenance_margin": sum_by(g_account, risk, A),
        "initial_margin": sum_by(g_account, risk * ratio, A),
        "net_option_value": sum_by(g_account, nov, A),
    }
    _require_finite(totals)
    return SpanResult(
        g_account=g_account,
        g_cc=g_cc,
        losses=L,
        scan=scan,
        active=active,
        time_risk=time_risk,
        vol_risk=vol_risk,
        price_risk=price_risk,
        net_delta=net,
        tier_delta=tier,
        intra=intra,
        spot=spot,
        credit=credit,
        som=som,
        risk=risk,
        initial=risk * ratio,
        nov=nov,
        maintenance_total=totals["maintenance_margin"],
        initial_total=totals["initial_margin"],
        nov_total=totals["net_option_value"],
    )


def _require_finite(totals: dict[str, FloatArray]) -> None:
    """Fail closed: a total that overflowed to inf/NaN is an error, never a null margin."""
    for name, v in totals.items():
        bad = ~np.isfinite(v)
        if bad.any():
            i = int(np.argmax(bad))
            raise ModelError(
                f"SPAN {name} is not a finite number (a risk array value, quantity or option "
                "value too large for float arithmetic)",
                path=f"accounts[{i}].{name}",
            )
