"""Shared pieces of the calibration study (docs/calibration.md): data, books, configs, statistics.

Nothing here changes the library: the study reads the library's backtest machinery
(:mod:`crossmargin.backtest`) and adds what the study needs on top of it.

* **History** (:func:`load_study_history`): ``src/crossmargin/data/daily_closes_1990_2026.csv``
  read by the library's own loader, then cleaned by the library's own rules with three explicit
  choices (:data:`CLEANING`), each documented in docs/calibration.md ("Data"):

  - ETH 2015-08-06 .. 08-16 dropped by name (listing price discovery, daily log moves of −0.76,
    −0.66, +0.44, +0.37; ETH starts 2015-08-17);
  - stale repeats (≥ 3 identical closes) dropped as in the library: this removes USDT's flat
    1.0 stretches before 2018 and two VIX triples, nothing in BTC/ETH/USDC/SPX/NDX;
  - the spike-and-revert rule is **off**: the only point it flags in this file (ETH
    2017-03-17, 44.07 → 32.27 → 44.09) is a real two-day V also in Bitfinex's file.

  Blank cells stay blank (holidays, weekends for equities): calendars are aligned by the
  library (:mod:`crossmargin.backtest.calendar`), never forward-filled. The SPX/NDX column names
  need no mapping (``NDX`` is now the NASDAQ-100); the crypto day convention (CoinGecko's 00:00
  UTC snapshot of D + 1 dated D) needs none either. This function is what would move into the
  library's single ``PriceHistory`` (issue 10) as the bundled default.
* **Books**: the five bundled backtest books and the study's own books
  (``benchmarks/calibration/books/*.json``), each tagged in-sample (tuning) or held out.
* **Configurations** as *overlays* on the study's baseline (mappings merged key by key, lists
  replaced): :func:`overlay_config`. The baseline (:func:`default_yaml`) is the shipped
  ``default_risk.yaml`` with the ``portfolio`` part it had *before* the study
  (:data:`PRE_CALIBRATION`): the shipped defaults are now the study's chosen point
  (``docs/calibration_overlay.yaml``'s portfolio part), and every stored result compares the
  overlay with the defaults the study started from.
* **Statistics** beyond the library's: the hindsight constant, named crisis windows, target
  checks (:func:`model_summary`).
"""

from __future__ import annotations

import copy
import hashlib
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from crossmargin.backtest import load_book, load_history
from crossmargin.backtest.analysis import ModelResult, analyse
from crossmargin.backtest.cleaning import CleaningRules, parse_drop
from crossmargin.backtest.replay import BookReplay, ModelRun, ReplayOptions, prepare
from crossmargin.backtest.report import model_dict
from crossmargin.backtest.spec import BacktestBook
from crossmargin.backtest.stats import traffic_light
from crossmargin.config import RiskConfig
from crossmargin.config.model import config_from_dict
from crossmargin.market.history import PriceHistory

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
RESULTS = HERE / "results"
FIGURES = RESULTS / "figures"
CACHE = ROOT / ".cache" / "calibration"
BOOK_DIR = HERE / "books"
DATA_FILE = "daily_closes_1990_2026.csv"

#: ETH listing days dropped by name (2015-08-08 has no print).
ETH_LISTING_DROPS = tuple(f"ETH:2015-08-{d:02d}" for d in (6, 7, 9, 10, 11, 12, 13, 14, 15, 16))

#: The study's cleaning rules (module docstring).
CLEANING = CleaningRules(
    bad_prints=False,
    stale_run=3,
    user_drops=tuple(parse_drop(x) for x in ETH_LISTING_DROPS),
)

CONFIDENCE = 0.99

#: Bundled books (tuned on in earlier work) and the study's books; True = in the tuning set.
BOOKS: dict[str, bool] = {
    # bundled (examples/backtest)
    "crypto_options_perps": True,
    "btc_static": True,
    "mixed_crypto_equity": True,
    "spx_ndx_book": True,
    "spx_ndx_20y": True,
    # study books, tuning set: one outright book per underlying (each underlying's own range,
    # as SPAN sets a product's scanning range from its own moves), then pairs and options
    "btc_perp_long": True,
    "eth_perp_short": True,
    "spx_future_long": True,
    "ndx_future_short": True,
    "btc_eth_perp_pair": True,
    "btc_short_straddle_dh": True,
    "spx_ndx_pair": True,
    "eth_ndx_hedge": True,
    # study books, held out (never looked at while choosing parameters)
    "btc_eth_long_basket": False,
    "btc_covered_call": False,
    "btc_option_calendar": False,
    "usdc_collateral_short_btc": False,
    "eth_short_strangle": False,
    "btc_long_gamma": False,
    "eth_only_perp": False,
    "spx_put_writer": False,
}

#: Books whose realised loss is not a market risk the history can show (targets do not apply).
NO_TARGET_BOOKS = {"btc_basis_trade": "no futures-basis history: the realised loss is carry only"}

#: Left out of pooled var/es figures over held-out books: its 1 117 exceedances (a model
#: defect, docs/calibration.md §3.3: the scenarios do not age options) swamp every other book.
NOT_POOLED = ("btc_long_gamma",)

#: Named crisis windows: label -> (first start date, last start date) searched for the worst
#: window (largest loss / IM) of each model.
CRISES: dict[str, tuple[str, str]] = {
    "1998 LTCM / Russia": ("1998-08-03", "1998-10-09"),
    "2000-02 dot-com bust": ("2000-03-10", "2002-10-09"),
    "2008-09 GFC": ("2008-09-01", "2009-03-31"),
    "2010-05-06 flash crash": ("2010-05-03", "2010-05-10"),
    "2015-08 China devaluation": ("2015-08-17", "2015-08-28"),
    "2018-02 Volmageddon": ("2018-02-01", "2018-02-09"),
    "2020-03 COVID (equity)": ("2020-02-20", "2020-03-31"),
    "2020-03-12 COVID (crypto)": ("2020-03-09", "2020-03-16"),
    "2021-05-19 crypto crash": ("2021-05-12", "2021-05-23"),
    "2022-05 LUNA/UST": ("2022-05-05", "2022-05-16"),
    "2022-11 FTX": ("2022-11-04", "2022-11-14"),
    "2023-03-11 USDC depeg": ("2023-03-08", "2023-03-14"),
    "2024-08-05 carry unwind": ("2024-08-01", "2024-08-07"),
}


@cache
def load_study_history() -> PriceHistory:
    """The new bundled history, raw (cleaning is applied by the replay with :data:`CLEANING`)."""
    path = Path(str(resources.files("crossmargin").joinpath("data"))) / DATA_FILE
    return load_history(path)


@cache
def book(name: str) -> BacktestBook:
    """A bundled book by name or a study book from ``books/``."""
    p = BOOK_DIR / f"{name}.json"
    return load_book(p if p.exists() else name)


def all_books(*, with_no_target: bool = True) -> list[str]:
    """Every book of the study (tuning set first)."""
    names = list(BOOKS)
    if with_no_target:
        names += list(NO_TARGET_BOOKS)
    return names


# ----------------------------------------------------------------------------- configuration


# The ``portfolio`` defaults before the issue-13 calibration (crypto range 16 %, ETH in the crypto
# class, BTC/ETH credit 50 %, SPX/NDX credit 75 %, equity up range 6 %): the study's baseline.
# Since the calibration the shipped defaults are the chosen point (docs/calibration.md §6).
PRE_CALIBRATION: dict[str, Any] = {
    "underlyings": {"ETH": "crypto"},
    "risk_classes": {
        "crypto": {"grid": {"price_range_down": 0.16, "price_range_up": 0.16}},
        "equity_index": {"grid": {"price_range_up": 0.06}},
    },
    "inter_commodity": [
        {"legs": ["BTC", "ETH"], "ratio": [1.0, 1.0], "credit": 0.5},
        {"legs": ["SPX", "NDX"], "ratio": [1.0, 1.0], "credit": 0.75},
    ],
}


def shipped_yaml() -> dict[str, Any]:
    """The shipped default configuration (``default_risk.yaml``) as a plain mapping."""
    text = resources.files("crossmargin.config").joinpath("default_risk.yaml").read_text("utf-8")
    data = yaml.safe_load(text)
    assert isinstance(data, dict)
    return data


@cache
def default_yaml() -> dict[str, Any]:
    """The study's baseline: the shipped defaults with the pre-calibration ``portfolio`` part."""
    return merge(shipped_yaml(), PRE_CALIBRATION)


def merge(base: Mapping[str, Any], overlay: Mapping[str, Any]) -> dict[str, Any]:
    """``overlay`` merged onto ``base``: mappings key by key, everything else replaced."""
    out = copy.deepcopy(dict(base))
    for k, v in overlay.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), Mapping):
            out[k] = merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def overlay_config(overlay: Mapping[str, Any] | None = None) -> RiskConfig:
    """The default configuration with ``overlay`` applied (validated by the library)."""
    if not overlay:
        return _default_config()
    return config_from_dict(merge(default_yaml(), overlay), source="overlay")


@cache
def _default_config() -> RiskConfig:
    return config_from_dict(merge(default_yaml(), {}), source="overlay")


def overlay_key(overlay: Mapping[str, Any] | None) -> str:
    """Short stable hash of an overlay (cache keys)."""
    blob = json.dumps(overlay or {}, sort_keys=True, default=str).encode()
    return hashlib.blake2b(blob, digest_size=6).hexdigest()


def load_overlay(path: Path) -> dict[str, Any]:
    """Read a YAML overlay file."""
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    assert isinstance(data, dict)
    return data


# ----------------------------------------------------------------------------- replays


_REPLAYS: dict[tuple[str, int, tuple[tuple[str, str | None], ...]], BookReplay] = {}


def _replay(
    name: str, mpor: int, classes: tuple[tuple[str, str | None], ...], cfg: RiskConfig
) -> BookReplay:
    key = (name, mpor, classes)
    if key not in _REPLAYS:
        opts = ReplayOptions(mpor=mpor, cleaning=CLEANING)
        _REPLAYS[key] = prepare(book(name), load_study_history(), cfg, opts)
    return _REPLAYS[key]


def replay(name: str, mpor: int = 2, config: RiskConfig | None = None) -> BookReplay:
    """The book's replay on the study history (cached per book, MPOR and risk-class mapping).

    With ``config`` the stacked resolved book carries that configuration (models that read
    ``book.config``, e.g. the basis add-on, then see it). The replay depends on the
    configuration only through the risk class of each underlying (instrument rows carry it),
    so it is prepared again only when an overlay moves an underlying to another class.
    """
    b = book(name)
    classes: tuple[tuple[str, str | None], ...] = ()
    if config is not None:
        base = overlay_config()
        moved = tuple(
            (u, config.risk_class_of(u))
            for u in b.underlyings
            if config.risk_class_of(u) != base.risk_class_of(u)
        )
        classes = moved
    rep = _replay(name, mpor, classes, config if classes and config else overlay_config())
    if config is None:
        return rep
    return replace(rep, resolved=replace(rep.resolved, config=config))


# ----------------------------------------------------------------------------- cache of runs


def _run_path(key: str) -> Path:
    return CACHE / "runs" / f"{key}.npz"


def save_run(key: str, run: ModelRun) -> None:
    """Store a model run on disk (outside git)."""
    p = _run_path(key)
    p.parent.mkdir(parents=True, exist_ok=True)
    credits = {f"credit::{k}": v for k, v in run.credits.items()}
    meta = json.dumps({"model": run.model, "engine": run.engine, "note": run.engine_note})
    np.savez(
        p,
        im=run.im,
        mm=run.mm,
        by=run.im_by_und,
        seconds=np.asarray(run.seconds),
        meta=np.asarray(meta),
        **credits,  # type: ignore[arg-type]
    )


def load_run(key: str) -> ModelRun | None:
    """A stored model run, or ``None``."""
    p = _run_path(key)
    if not p.exists():
        return None
    with np.load(p) as z:
        meta = json.loads(str(z["meta"]))
        credits = {k.split("::", 1)[1]: z[k] for k in z.files if k.startswith("credit::")}
        return ModelRun(
            meta["model"],
            meta["engine"],
            meta["note"],
            z["im"],
            z["mm"],
            z["by"],
            credits,
            float(z["seconds"]),
        )


def cached_run(key: str, compute: Any) -> ModelRun:
    """Load ``key`` or compute (``compute()`` -> ModelRun) and store it."""
    hit = load_run(key)
    if hit is not None:
        return hit
    run = compute()
    save_run(key, run)
    return run


# ----------------------------------------------------------------------------- statistics


def hindsight_constant(rep: BookReplay, used: np.ndarray, confidence: float = CONFIDENCE) -> float:
    """Smallest constant fraction ``c`` of gross notional with ``loss ≤ c × gross`` on a
    ``confidence`` share of the counted windows (the 99 % quantile of loss / gross)."""
    idx = np.flatnonzero(used & (rep.gross > 0))
    if idx.size == 0:
        return float("nan")
    ratio = np.sort(rep.loss[idx] / rep.gross[idx])
    # smallest c with #{ratio <= c} >= confidence * n
    k = int(np.ceil(confidence * idx.size)) - 1
    return float(max(ratio[max(k, 0)], 0.0))


def crisis_rows(rep: BookReplay, run: ModelRun, used: np.ndarray) -> list[dict[str, Any]]:
    """Per named crisis inside the book's history: the window with the largest loss / IM."""
    out = []
    for label, (a, b) in CRISES.items():
        sel = np.flatnonzero(
            (rep.dates >= np.datetime64(a)) & (rep.dates <= np.datetime64(b)) & used
        )
        if sel.size == 0:
            continue
        im = run.im[sel]
        loss = rep.loss[sel]
        with np.errstate(divide="ignore", invalid="ignore"):
            cover = np.where(im > 0, loss / im, np.inf)
        i = int(np.argmax(np.where(np.isfinite(cover), cover, 1e300)))
        j = int(np.argmax(loss))
        exceed = loss > im
        out.append(
            {
                "crisis": label,
                "windows": int(sel.size),
                "exceedances": int(exceed.sum()),
                "worst_window": str(rep.dates[sel[i]]),
                "worst_loss_over_im": float(cover[i]) if np.isfinite(cover[i]) else None,
                "largest_loss_window": str(rep.dates[sel[j]]),
                "largest_loss": float(loss[j]),
                "im_then": float(im[j]),
                "largest_loss_over_gross": float(loss[j] / rep.gross[sel[j]]),
                "im_over_gross_then": float(im[j] / rep.gross[sel[j]]),
            }
        )
    return out


@dataclass(frozen=True)
class Targets:
    """The issue's targets, as numbers."""

    kupiec_p: float = 0.05
    efficiency: float = 1.3  # average IM / (hindsight constant x gross)
    worst_zone_not: str = "red"


TARGETS = Targets()


def _rise5(im: np.ndarray) -> float | None:
    m = im[np.isfinite(im)]
    if m.size <= 5:
        return None
    a, b = m[:-5], m[5:]
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.where(a > 0, (b - a) / a, np.nan)
    return float(np.nanmax(r)) if np.isfinite(r).any() else None


def model_summary(
    rep: BookReplay,
    run: ModelRun,
    *,
    isolated: ModelRun | None,
    config: RiskConfig,
    full: bool = False,
) -> dict[str, Any]:
    """Library statistics of one run plus the study's measures and target checks."""
    res: ModelResult = analyse(
        rep,
        run,
        isolated=isolated,
        confidence=CONFIDENCE,
        gaps="exclude",
        config=config,
        corr_window=30,
    )
    used = res.used
    idx = np.flatnonzero(used)
    c = hindsight_constant(rep, used)
    avg_im = float(np.mean(run.im[idx])) if idx.size else float("nan")
    avg_gross = float(np.mean(rep.gross[idx])) if idx.size else float("nan")
    eff = avg_im / (c * avg_gross) if c > 0 and idx.size else None
    kup = res.kupiec_independent
    w250 = res.worst_250
    pro = res.procyclicality
    rate = run.im[idx] / rep.gross[idx] if idx.size else np.zeros(0)
    sub = np.arange(0, rep.n_days, rep.mpor)
    sub = sub[used[sub]]
    n_sub = int(sub.size)
    tl_sub = traffic_light(n_sub, 1 - CONFIDENCE, overlap=1) if n_sub else None
    out: dict[str, Any] = {
        "model": run.model,
        "engine": run.engine,
        "windows": res.windows,
        "first": str(rep.dates[idx[0]]) if idx.size else None,
        "last": str(rep.dates[idx[-1]]) if idx.size else None,
        "exceedances": res.exceedances,
        "expected": res.windows * (1 - CONFIDENCE),
        "kupiec_p": res.kupiec.p_value if res.kupiec else None,
        "kupiec_p_nonoverlap": kup.p_value if kup else None,
        "nonoverlap_windows": n_sub,
        "nonoverlap_exceedances": int(np.sum(res.exceeded[sub])),
        "nonoverlap_green_max": tl_sub.green_max if tl_sub else None,
        "christoffersen_cc_p": res.christoffersen.conditional_coverage.p_value
        if res.christoffersen
        else None,
        "zone": res.zone,
        "worst_250": w250.exceedances if w250 else None,
        "worst_250_zone": w250.zone if w250 else None,
        "worst_250_from": w250.first if w250 else None,
        "es_z2": res.es.z2 if res.es else None,
        "hindsight_constant": c,
        "avg_im": avg_im,
        "avg_gross": avg_gross,
        "avg_im_over_gross": avg_im / avg_gross if idx.size else None,
        "im_over_hindsight": eff,
        "im_over_isolated": res.efficiency.margin_over_isolated if res.efficiency else None,
        "peak_to_trough_rate": pro.peak_to_trough_rate if pro else None,
        "max_5day_rise": _rise5(run.im),
        "rate_p05": float(np.quantile(rate, 0.05)) if rate.size else None,
        "rate_p95": float(np.quantile(rate, 0.95)) if rate.size else None,
        "margin_vol_correlation": pro.vol_correlation if pro else None,
        "broken_offsets": res.netting.broken_offsets if res.netting else None,
        "netting_benefit_share": res.netting.avg_benefit_share if res.netting else None,
        "crises": crisis_rows(rep, run, used),
    }
    out["targets"] = target_checks(out)
    if full:
        out["library"] = model_dict(res, rep)
    return out


#: Worst-250 counts within this many exceedances of red count as unsafe in the choice rule.
HEADROOM = 2


def too_many(s: Mapping[str, Any]) -> bool:
    """Kupiec (non-overlapping) rejects because there were *more* exceedances than expected."""
    p = s.get("kupiec_p_nonoverlap")
    # (summaries cached before the field existed: every 2nd window at MPOR 2)
    n = s.get("nonoverlap_windows") or (s.get("windows") or 0) / 2
    x = s.get("nonoverlap_exceedances") or 0
    return p is not None and p < TARGETS.kupiec_p and x > (1 - CONFIDENCE) * n


def choice_key(rows: Sequence[Mapping[str, Any]]) -> tuple[int, int, float]:
    """Sort key of the study's choice rule over summaries of (book, model) pairs (smaller wins).

    1. safety: the number of worst-250 windows that are red *or within* :data:`HEADROOM`
       exceedances of red (a default must not sit on the edge: the worst-year count is a
       noisy statistic), and of Kupiec rejections for too *many* exceedances;
    2. the number of target checks met (Kupiec, efficiency), negated;
    3. the mean average-IM / hindsight-constant ratio (capital).
    """
    unsafe = met = 0
    effs = []
    for s in rows:
        w = s.get("worst_250")
        red_at = traffic_light(250, 1 - CONFIDENCE, overlap=2).yellow_max + 1
        edge = w is not None and w > red_at - 1 - HEADROOM
        unsafe += int(s.get("worst_250_zone") == "red" or edge) + int(too_many(s))
        t = s.get("targets") or {}
        met += int(bool(t.get("kupiec_nonoverlap"))) + int(bool(t.get("efficiency")))
        if s.get("im_over_hindsight"):
            effs.append(float(s["im_over_hindsight"]))
    return (unsafe, -met, float(np.mean(effs)) if effs else 9.9)


def target_checks(s: Mapping[str, Any]) -> dict[str, bool | None]:
    """Pass/fail of each target on one summary (``None`` = not measurable)."""
    p = s.get("kupiec_p_nonoverlap")
    eff = s.get("im_over_hindsight")
    z = s.get("worst_250_zone")
    return {
        "no_red_250": None if z is None else z != "red",
        "kupiec_nonoverlap": None if p is None else p >= TARGETS.kupiec_p,
        "efficiency": None if eff is None else eff <= TARGETS.efficiency,
    }


# ----------------------------------------------------------------------------- output

#: Fields of a compact summary row (search results).
COMPACT = (
    "windows",
    "exceedances",
    "nonoverlap_windows",
    "nonoverlap_exceedances",
    "kupiec_p_nonoverlap",
    "worst_250",
    "worst_250_zone",
    "im_over_hindsight",
    "avg_im_over_gross",
    "peak_to_trough_rate",
    "max_5day_rise",
)


def _r(x: Any) -> Any:
    if isinstance(x, float):
        return float(f"{x:.4g}")
    return x


def compact(s: Mapping[str, Any]) -> list[Any]:
    """A summary as a short list of :data:`COMPACT` values (4 significant digits)."""
    return [_r(s.get(k)) for k in COMPACT]


def expand(row: Sequence[Any]) -> dict[str, Any]:
    """The inverse of :func:`compact`, with the target checks recomputed."""
    s = dict(zip(COMPACT, row, strict=True))
    s["targets"] = target_checks(s)
    return s


def _clean(x: Any) -> Any:
    if isinstance(x, dict):
        return {str(k): _clean(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_clean(v) for v in x]
    if isinstance(x, np.generic):
        x = x.item()
    if isinstance(x, float) and not np.isfinite(x):
        return None
    return x


def write_json(name: str, data: Mapping[str, Any]) -> Path:
    """Write ``results/<name>.json`` (NaN/inf as null, stable key order as given)."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    p = RESULTS / f"{name}.json"
    body = dict(data)
    body.setdefault("generated_by", "benchmarks/calibration (docs/calibration.md)")
    p.write_text(json.dumps(_clean(body), indent=1) + "\n", encoding="utf-8")
    return p


class Timer:
    """Wall-time of a block, for the scripts' headers."""

    def __enter__(self) -> Timer:
        self.t0 = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self.t0
