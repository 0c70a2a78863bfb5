"""Cross-venue netting: one account spread over venues, margined as one and venue by venue.

A desk trading on Deribit, OKX and Bybit is margined three times, each venue seeing only its
part. Labelling each position with its venue (:attr:`Position.venue`, the collateral with
:attr:`Portfolio.venue_collateral`) lets the same model margin

* the **whole** account — what one cross-venue margin account would require, and
* **each venue's part alone** (:meth:`Portfolio.venue_parts`) — what the venues require today,

as accounts of one book (one resolution, one pass of the model). Netting frees
``Σ_v IM(part_v) − IM(whole)`` (and the same for MM and collateral required). :func:`offsets_dict`
says where it comes from: per underlying, each venue's net delta and standalone IM beside the
whole account's, so a long at one venue is seen offsetting a short at another. :func:`check_dict`
puts a venue's own reported IM/MM beside our number for its part.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from crossmargin.account.health import STATUSES, AccountResults
from crossmargin.account.report import account_dict
from crossmargin.instruments.position import Portfolio

if TYPE_CHECKING:
    from crossmargin.io.venues._common import Reported
    from crossmargin.market.snapshot import MarketSnapshot

__all__ = [
    "VenueBook",
    "check_dict",
    "merge_accounts",
    "netting_dict",
    "offsets_dict",
    "venue_book",
]

_FIELDS = ("initial_margin", "maintenance_margin", "collateral_required")


class VenueBook:
    """The accounts to margin: the whole account first, then each venue's part.

    Attributes
    ----------
    portfolios
        ``[whole, part_1, ...]`` (only ``[whole]`` when the account has no venue labels).
    labels
        ``["all", venue_1, ...]``.
    """

    __slots__ = ("labels", "portfolios")

    def __init__(self, portfolios: list[Portfolio], labels: list[str]) -> None:
        self.portfolios = portfolios
        self.labels = labels

    @property
    def venues(self) -> list[str]:
        """The venue labels (parts)."""
        return self.labels[1:]

    def index(self, venue: str) -> int | None:
        """Account index of ``venue``'s part (the whole account if it is the only venue)."""
        if venue in self.labels[1:]:
            return self.labels.index(venue)
        return None


def venue_book(pf: Portfolio) -> VenueBook:
    """The whole account and its venue parts (parts omitted when there is at most one)."""
    parts = pf.venue_parts()
    if len(parts) <= 1:  # one venue (or none): its part is the whole account
        return VenueBook([pf], ["all"])
    return VenueBook([pf, *(p for _, p in parts)], ["all", *(v for v, _ in parts)])


def merge_accounts(account: str, portfolios: Sequence[Portfolio]) -> Portfolio:
    """One account from several (e.g. venue imports and a file of on-chain positions).

    Positions keep their venue labels; collateral adds up, per venue and in total.

    Raises
    ------
    InputError
        The accounts report in different base currencies.
    """
    from crossmargin.errors import InputError

    bases = {p.base_currency for p in portfolios}
    if len(bases) > 1:
        raise InputError(
            f"cannot merge accounts in different base currencies ({', '.join(sorted(bases))})",
            path="portfolio",
        )
    total: dict[str, float] = {}
    venues: dict[str, dict[str, float]] = {}
    for p in portfolios:
        for a, x in p.collateral.items():
            total[a] = total.get(a, 0.0) + x
        for v, col in p.venue_collateral.items():
            tgt = venues.setdefault(v, {})
            for a, x in col.items():
                tgt[a] = tgt.get(a, 0.0) + x
    return Portfolio(
        account,
        portfolios[0].base_currency if portfolios else "USD",
        total,
        tuple(x for p in portfolios for x in p.positions),
        venues,
    )


def _row(r: AccountResults, i: int) -> dict[str, Any]:
    return {
        "initial_margin": float(r.initial_margin[i]),
        "maintenance_margin": float(r.maintenance_margin[i]),
        "collateral_required": float(r.collateral_required[i]),
        "equity": float(r.equity[i]),
        "status": STATUSES[int(r.status_code[i])],
    }


def netting_dict(results: Mapping[str, AccountResults], vb: VenueBook) -> dict[str, Any]:
    """Per model: the whole account, each venue alone, their sum and what netting frees."""
    models: dict[str, Any] = {}
    for name, r in results.items():
        whole = _row(r, 0)
        parts = {v: _row(r, k) for k, v in enumerate(vb.labels) if k > 0}
        total = {f: sum(p[f] for p in parts.values()) for f in _FIELDS}
        models[name] = {
            "whole": whole,
            "venues": parts,
            "sum_of_venues": total,
            "freed_by_netting": {f: total[f] - whole[f] for f in _FIELDS},
        }
    return {"venues": vb.venues, "models": models}


def offsets_dict(res: AccountResults, vb: VenueBook) -> list[dict[str, Any]]:
    """Where the netting comes from, per underlying (one model, accounts as in ``vb``)."""
    per: dict[str, dict[str, Any]] = {}
    whole = account_dict(res, 0)
    for row in whole["breakdown"]:
        per[row["underlying"]] = {
            "underlying": row["underlying"],
            "whole": {
                "initial_margin": row["initial_margin"],
                "net_delta": row["net_delta"],
                "delta_notional": row["delta_notional"],
            },
            "venues": [],
        }
    for k, venue in enumerate(vb.labels):
        if k == 0:
            continue
        for row in account_dict(res, k)["breakdown"]:
            item = per.setdefault(
                row["underlying"],
                {"underlying": row["underlying"], "whole": None, "venues": []},
            )
            item["venues"].append(
                {
                    "venue": venue,
                    "initial_margin": row["initial_margin"],
                    "net_delta": row["net_delta"],
                    "delta_notional": row["delta_notional"],
                }
            )
    out = []
    for item in per.values():
        alone = sum(v["initial_margin"] for v in item["venues"])
        together = item["whole"]["initial_margin"] if item["whole"] else 0.0
        item["sum_of_venues_initial_margin"] = alone
        item["freed_by_netting"] = alone - together
        item["offsets"] = _offset_words(item["underlying"], item["venues"])
        out.append(item)
    return out


def _offset_words(und: str, venues: list[dict[str, Any]]) -> str:
    longs = [v for v in venues if v["net_delta"] > 0]
    shorts = [v for v in venues if v["net_delta"] < 0]
    if not longs or not shorts:
        side = "long" if longs else "short" if shorts else "flat"
        return f"{und}: every venue is {side}; no delta offset across venues"

    def words(vs: list[dict[str, Any]]) -> str:
        return " and ".join(f"{v['venue']} ({v['net_delta']:+.6g} {und})" for v in vs)

    return f"{und}: long at {words(longs)} offsets short at {words(shorts)}"


def _total(
    rows: Sequence[Reported], fx: Sequence[float], get: Callable[[Reported], float | None]
) -> float | None:
    """Σ figure × price over a venue's pools (``None`` if any pool lacks it)."""
    vals = [get(r) for r in rows]
    if any(v is None for v in vals):
        return None
    return sum(float(v) * x for v, x in zip(vals, fx, strict=True) if v is not None)


def check_dict(
    reported: Sequence[Reported],
    res: AccountResults,
    vb: VenueBook,
    market: MarketSnapshot,
) -> list[dict[str, Any]]:
    """Each venue's own IM/MM/equity beside ours for its part (USD), with the differences.

    ``equity`` is the account value at market (ours: collateral at market + mark-to-market);
    ``equity_after_haircuts`` the venue's haircut equity where it reports one (ours: the
    model's equity). A venue that margins each currency separately (Deribit segregated)
    reports several pools; they are converted at the snapshot's prices and summed.
    """
    by_venue: dict[str, list[Reported]] = {}
    for r in reported:
        by_venue.setdefault(r.venue, []).append(r)
    out = []
    for venue, rows in by_venue.items():
        i = vb.index(venue)
        if i is None:
            i = 0
        fx = [
            1.0 if r.currency in ("USD", market.base_currency) else market.price(r.currency)
            for r in rows
        ]

        theirs = {
            "initial_margin": _total(rows, fx, lambda r: r.initial_margin),
            "maintenance_margin": _total(rows, fx, lambda r: r.maintenance_margin),
            "equity": _total(rows, fx, lambda r: r.equity),
            "equity_after_haircuts": _total(rows, fx, lambda r: r.adjusted_equity),
        }
        ours = {
            "initial_margin": float(res.initial_margin[i]),
            "maintenance_margin": float(res.maintenance_margin[i]),
            "equity": float(res.account_value[i]),
            "equity_after_haircuts": float(res.equity[i]),
        }
        item: dict[str, Any] = {
            "venue": venue,
            "venue_model": ", ".join(dict.fromkeys(r.margin_model for r in rows)),
            "pools": [r.pool for r in rows],
            "model": res.model,
            "source": rows[0].path,
        }
        for f, t in theirs.items():
            o = ours[f]
            item[f] = {
                "venue": t,
                "ours": o,
                "difference": None if t is None else o - t,
                "relative": None if not t or not math.isfinite(t) else (o - t) / abs(t),
            }
        out.append(item)
    return out
