"""The front door of the backtest: one book, a history, several models → a :class:`BacktestResult`.

``run_backtest(book, history, models=...)`` prepares the replay once (cleaning, calendar,
point-in-time snapshots, rolls, realised P&L) and margins it under every requested model. Models
are any registered names (:func:`crossmargin.margin.available_models`): the built-ins, the venue
presets and the VaR/ES models are picked up as they register. ``isolated`` is always computed as
the capital-efficiency baseline.

With ``strict=False`` (what ``--models all`` uses) a model that cannot margin the book (e.g. a
venue preset that does not list an underlying) is reported as failed with its reason and the
other models carry on; with ``strict=True`` its error propagates.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypedDict

from crossmargin.backtest.analysis import GapPolicy, ModelResult, analyse, failed
from crossmargin.backtest.replay import BookReplay, Engine, ReplayOptions, margin_model, prepare
from crossmargin.backtest.spec import BacktestBook
from crossmargin.config import RiskConfig, default_config
from crossmargin.errors import CrossMarginError, InputError
from crossmargin.margin.base import available_models, model_info
from crossmargin.market.history import PriceHistory, bundled_history, load_price_history

__all__ = [
    "BacktestResult",
    "BacktestSettings",
    "load_history",
    "resolve_models",
    "run_backtest",
]


@dataclass(frozen=True, slots=True, eq=False)
class BacktestResult:
    """A book's backtest under several models.

    Attributes
    ----------
    replay
        The model-independent replay (calendar, snapshots, realised P&L).
    models
        One result per requested model, in request order.
    confidence, gaps, corr_window
        Settings of the statistics.
    seconds
        Wall time of the whole run.
    """

    replay: BookReplay
    models: tuple[ModelResult, ...]
    confidence: float
    gaps: GapPolicy
    corr_window: int
    seconds: float

    def model(self, name: str) -> ModelResult:
        """The result of one model."""
        for m in self.models:
            if m.model == name:
                return m
        raise KeyError(name)


def load_history(path: str | Path | None = None) -> PriceHistory:
    """Daily closes from a CSV/Parquet file, or the bundled ones when ``path`` is ``None``.

    Raises
    ------
    InputError
        Missing/unreadable file, unknown extension, or invalid content.
    """
    if path is not None:
        return load_price_history(path, daily=True)
    h = bundled_history()
    return h.with_prices(h.prices, source="bundled")


def resolve_models(spec: str | Sequence[str]) -> tuple[list[str], bool]:
    """Model names from ``all`` or a comma-separated list, and whether errors are fatal.

    Raises
    ------
    ModelError
        An explicitly named model is not registered.
    """
    if isinstance(spec, str):
        names = [m.strip() for m in spec.split(",") if m.strip()]
    else:
        names = [m.strip() for m in spec if m.strip()]
    if not names:
        raise InputError("name at least one model, or 'all'", path="--models")
    if names == ["all"]:
        return list(available_models()), False
    for m in names:
        model_info(m)
    return list(dict.fromkeys(names)), True


class BacktestSettings(TypedDict, total=False):
    """The settings of :func:`run_backtest` a batch of backtests shares (its keyword arguments)."""

    config: RiskConfig | None
    options: ReplayOptions | None
    confidence: float
    gaps: GapPolicy
    corr_window: int


def run_backtest(
    book: BacktestBook,
    history: PriceHistory | None = None,
    *,
    models: str | Sequence[str] = "all",
    config: RiskConfig | None = None,
    options: ReplayOptions | None = None,
    confidence: float = 0.99,
    gaps: GapPolicy = "exclude",
    corr_window: int = 30,
    engine: Engine | None = None,
    strict: bool | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> BacktestResult:
    """Backtest ``book`` on ``history`` (the bundled closes by default) under ``models``.

    Parameters
    ----------
    book
        The backtest book (:mod:`crossmargin.backtest.spec`).
    history
        Price history; the bundled daily closes if ``None``.
    models
        ``"all"`` (every registered model) or names.
    config
        Risk configuration (shipped defaults if ``None``).
    options
        Replay settings (MPOR, dates, cleaning, engine).
    confidence
        Coverage the margin is tested against (e.g. 0.99).
    gaps
        ``exclude`` or ``include`` windows spanning data gaps in the statistics.
    corr_window
        Window (calendar steps) of the realised correlations of the netting checks.
    engine
        Overrides ``options.engine``.
    strict
        Re-raise model errors; default: ``True`` unless ``models == "all"``.
    progress
        Called as ``progress(step, done, total)`` before each model is margined over the
        history (``step`` names it) and once at the end (``done == total``).

    Raises
    ------
    InputError
        Bad settings or data (see :func:`~crossmargin.backtest.replay.prepare`).
    """
    t0 = time.perf_counter()
    if not 0.5 < confidence < 1.0:
        raise InputError(f"must be in (0.5, 1), got {confidence!r}", path="--confidence")
    if corr_window < 3:
        raise InputError(f"must be at least 3, got {corr_window}", path="--corr-window")
    cfg = config or default_config()
    opts = options or ReplayOptions()
    eng = engine or opts.engine
    names, fatal = resolve_models(models)
    if strict is not None:
        fatal = strict
    hist = history if history is not None else load_history()
    rep = prepare(book, hist, cfg, opts)
    runs = {}
    errors: dict[str, str] = {}
    steps = list(dict.fromkeys(["isolated", *names]))
    for k, name in enumerate(steps):
        if progress is not None:
            progress(name, k, len(steps) + 1)
        try:
            runs[name] = margin_model(rep, name, cfg, eng)
        except CrossMarginError as exc:
            if fatal and name in names:
                raise
            errors[name] = str(exc)
        except Exception as exc:  # a model's own bug: reported, not fatal, under "all"
            if fatal and name in names:
                raise
            errors[name] = f"internal error in the model ({type(exc).__name__}: {exc})"
    if progress is not None:
        progress("coverage and netting statistics", len(steps), len(steps) + 1)
    iso = runs.get("isolated")
    results = tuple(
        analyse(
            rep, runs[n], isolated=iso, confidence=confidence, gaps=gaps, config=cfg,
            corr_window=corr_window,
        )
        if n in runs
        else failed(n, errors[n], rep, confidence, gaps)
        for n in names
    )  # fmt: skip
    if progress is not None:
        progress("done", len(steps) + 1, len(steps) + 1)
    return BacktestResult(rep, results, confidence, gaps, corr_window, time.perf_counter() - t0)
