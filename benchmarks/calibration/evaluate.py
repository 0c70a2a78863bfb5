"""Margin one book under a configuration overlay with every model, and summarise (cached).

``isolated``, ``cross``, ``portfolio`` and the venue presets run through the library's replay
engine (``margin_model(..., "auto")``: all days at once where the probe days agree with per-day
resolution, else per day). ``var`` and ``es`` run through the vectorised replica
(:mod:`fastvar`), which is checked against the library's per-day resolution on probe days of
every book (``check``). Runs are cached under ``.cache/calibration`` (outside git) by book,
model, MPOR and overlay hash, so re-running a script only computes what changed.
"""
# ruff: noqa: N812  (study modules imported under one-letter names)

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import common as C
import fastvar as F
import numpy as np

from crossmargin.backtest.replay import BookReplay, ModelRun, margin_model
from crossmargin.config import RiskConfig
from crossmargin.errors import CrossMarginError

CORE_MODELS = ("isolated", "cross", "portfolio", "var", "es")
PRESETS = ("span", "okx-pm", "deribit-pm", "paradex-pm", "derive-pmrm2", "drift-v2", "dydx-v4")


def mpor_overlay(overlay: Mapping[str, Any] | None, mpor: int) -> dict[str, Any]:
    """The overlay with ``var.mpor_days`` set to the backtest MPOR (var/es use the same horizon)."""
    out = dict(overlay or {})
    if mpor != 2:
        out = C.merge(out, {"var": {"mpor_days": mpor}})
    return out


def run_key(book: str, model: str, mpor: int, overlay: Mapping[str, Any] | None) -> str:
    return f"{book}__{model}__h{mpor}__{C.overlay_key(overlay)}"


def var_parts(
    book: str, kind: str, mpor: int, overlay: Mapping[str, Any] | None
) -> tuple[F.VarParts, BookReplay, RiskConfig]:
    """The replica's run (not cached: the parts are cheap enough to recompute when needed)."""
    ov = mpor_overlay(overlay, mpor)
    cfg = C.overlay_config(ov)
    rep = C.replay(book, mpor, cfg)
    return F.Replica(rep, cfg).run(kind), rep, cfg


def model_run(
    book: str,
    model: str,
    *,
    mpor: int = 2,
    overlay: Mapping[str, Any] | None = None,
    engine: str = "auto",
) -> ModelRun:
    """One model's margins on every day of the book (cached)."""
    ov = mpor_overlay(overlay, mpor)
    cfg = C.overlay_config(ov)
    rep = C.replay(book, mpor, cfg)
    key = run_key(book, model, mpor, ov)

    def compute() -> ModelRun:
        if model in ("var", "es"):
            return F.Replica(rep, cfg).run(model).run(cfg.mm_factor)
        return margin_model(rep, model, cfg, engine)  # type: ignore[arg-type]

    return C.cached_run(key, compute)


def evaluate(
    book: str,
    *,
    models: Sequence[str] = CORE_MODELS,
    mpor: int = 2,
    overlay: Mapping[str, Any] | None = None,
    check: bool = False,
) -> dict[str, Any]:
    """Summaries of ``models`` on ``book`` (``error`` for a model that cannot margin it)."""
    ov = mpor_overlay(overlay, mpor)
    cfg = C.overlay_config(ov)
    rep = C.replay(book, mpor, cfg)
    iso = model_run(book, "isolated", mpor=mpor, overlay=overlay)
    out: dict[str, Any] = {"book": book_info(rep), "models": {}, "checks": {}}
    for m in models:
        try:
            run = model_run(book, m, mpor=mpor, overlay=overlay)
        except CrossMarginError as exc:
            out["models"][m] = {"model": m, "error": str(exc)}
            continue
        out["models"][m] = C.model_summary(rep, run, isolated=iso, config=cfg)
        if check and m in ("var", "es"):
            parts = F.Replica(rep, cfg).run(m)
            out["checks"][m] = F.check_against_library(rep, cfg, m, parts, n_probe=6)
    return out


def book_info(rep: BookReplay) -> dict[str, Any]:
    """The book, its calendar and the realised-loss facts the models are judged against."""
    used = ~rep.gap
    b = rep.book
    idx = np.flatnonzero(used)
    return {
        "name": b.name,
        "tuning_set": C.BOOKS.get(b.name),
        "targets_apply": b.name not in C.NO_TARGET_BOOKS,
        "description": b.description,
        "legs": [leg.describe() for leg in b.legs],
        "mpor": rep.mpor,
        "first": str(rep.dates[0]),
        "last": str(rep.dates[-1]),
        "windows": rep.n_days,
        "gap_windows": int(rep.gap.sum()),
        "dropped_points": len(rep.calendar.dropped),
        "avg_gross": float(np.mean(rep.gross[idx])),
        "hindsight_constant": C.hindsight_constant(rep, used),
        "loss_q99": float(np.quantile(rep.loss[idx], 0.99)),
        "max_loss": float(np.max(rep.loss[idx])),
        "max_loss_date": str(rep.dates[idx[int(np.argmax(rep.loss[idx]))]]),
    }
