"""Cached var/es replica runs (:mod:`fastvar`) with their parts, and their summaries.

``parts(book, overlay)`` returns ``{"var": VarParts, "es": VarParts}`` for one configuration
overlay (both models from one pass), cached as ``.npz`` under ``.cache/calibration/parts``.
``variant_run`` turns them into a library :class:`ModelRun` without the netting-never-costs
rule (``plain``: the library's formula before the rule moved into ``var``/``es``) or with it
(``capped``, :func:`fastvar.netting_never_costs`: what the library computes today).
"""
# ruff: noqa: N812  (study modules imported under one-letter names)

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import common as C
import evaluate as E
import fastvar as F
import numpy as np

from crossmargin.backtest.replay import ModelRun

_FIELDS = (
    "im",
    "core",
    "corr",
    "basis",
    "liquidity",
    "concentration",
    "apc",
    "alone",
    "alone_core",
    "alone_size",
    "ok",
    "alone_legs",
    "stand",
)


def _path(book: str, kind: str, mpor: int, ov: Mapping[str, Any]) -> Any:
    return C.CACHE / "parts" / f"{book}__{kind}__h{mpor}__{C.overlay_key(ov)}.npz"


def parts(
    book: str, overlay: Mapping[str, Any] | None = None, mpor: int = 2
) -> dict[str, F.VarParts]:
    """var and es parts of ``book`` under ``overlay`` (cached)."""
    ov = E.mpor_overlay(overlay, mpor)
    out: dict[str, F.VarParts] = {}
    for kind in ("var", "es"):
        p = _path(book, kind, mpor, ov)
        if p.exists():
            with np.load(p) as z:
                if any(f not in z.files for f in _FIELDS):
                    continue  # cached before a field was added: recompute
                info = json.loads(str(z["info"]))
                out[kind] = F.VarParts(kind, info=info, **{f: z[f] for f in _FIELDS})
    if len(out) == 2:
        return out
    cfg = C.overlay_config(ov)
    rep = C.replay(book, mpor, cfg)
    res = F.Replica(rep, cfg).run_many(("var", "es"))
    for kind, vp in res.items():
        p = _path(book, kind, mpor, ov)
        p.parent.mkdir(parents=True, exist_ok=True)
        np.savez(p, info=np.asarray(json.dumps(vp.info)), **{f: getattr(vp, f) for f in _FIELDS})
    return res


def variant_run(vp: F.VarParts, variant: str, mm_factor: float = 0.8) -> ModelRun:
    """The run of one variant: ``plain`` (no netting rule) or ``capped`` (the library today)."""
    if variant == "plain":
        return vp.run(mm_factor)
    if variant == "capped":
        nn = F.netting_never_costs(vp)
        return vp.run(mm_factor, im=nn["im"])
    raise ValueError(variant)


def summaries(
    book: str,
    overlay: Mapping[str, Any] | None = None,
    mpor: int = 2,
    *,
    variants: tuple[str, ...] = ("plain", "capped"),
    keep: tuple[str, ...] | None = None,
) -> dict[str, dict[str, Any]]:
    """``{"var": s, "es": s, "var+capped": s, ...}`` summaries of one book and overlay."""
    ov = E.mpor_overlay(overlay, mpor)
    cfg = C.overlay_config(ov)
    rep = C.replay(book, mpor, cfg)
    iso = E.model_run(book, "isolated", mpor=mpor)
    out = {}
    for kind, vp in parts(book, overlay, mpor).items():
        for v in variants:
            run = variant_run(vp, v, cfg.mm_factor)
            s = C.model_summary(rep, run, isolated=iso, config=cfg)
            if keep is not None:
                s = {k: s[k] for k in keep if k in s} | {"targets": s["targets"]}
            name = kind if v == "plain" else f"{kind}+{v}"
            s["model"] = name
            out[name] = s
    return out
