"""The live engine's inputs, in one import: records, their JSON form, sequencing, readers.

This module is the contract between the engine and its edge (docs/formats.md, "Tick formats"):

* records (:mod:`crossmargin.live.records`): :class:`MarketUpdate`, :class:`Trade`,
  :class:`Deposit`, :class:`Withdrawal`, :class:`NewAccount`; the unions :data:`AccountUpdate`
  and :data:`Update`; every record validated at construction;
* JSON object form (:mod:`crossmargin.live.codec`): :func:`update_from_obj` /
  :func:`update_to_obj`, exact inverses (the journal's format);
* per-feed sequence checks (:mod:`crossmargin.live.sequence`): :class:`FeedSequencer`,
  :class:`SeqCheck`;
* streaming readers of tick files (:mod:`crossmargin.live.sources`): :func:`read_updates`
  (JSON Lines, Pyth records, a CSV of closes).
"""

from __future__ import annotations

from crossmargin.live.codec import UPDATE_TYPES, portfolio_to_obj, update_from_obj, update_to_obj
from crossmargin.live.records import (
    MAX_INSTANT,
    MAX_MAGNITUDE,
    MAX_SEQ,
    MAX_TEXT,
    MAX_VOL,
    MIN_INSTANT,
    AccountUpdate,
    Deposit,
    MarketUpdate,
    NewAccount,
    Trade,
    Transfer,
    Update,
    VolSurfaceIn,
    Withdrawal,
    check_surface,
)
from crossmargin.live.sequence import FeedSequencer, SeqCheck, SeqStatus
from crossmargin.live.sources import TICK_FORMATS, TickFormat, detect_format, read_updates

__all__ = [
    "MAX_INSTANT",
    "MAX_MAGNITUDE",
    "MAX_SEQ",
    "MAX_TEXT",
    "MAX_VOL",
    "MIN_INSTANT",
    "TICK_FORMATS",
    "UPDATE_TYPES",
    "AccountUpdate",
    "Deposit",
    "FeedSequencer",
    "MarketUpdate",
    "NewAccount",
    "SeqCheck",
    "SeqStatus",
    "TickFormat",
    "Trade",
    "Transfer",
    "Update",
    "VolSurfaceIn",
    "Withdrawal",
    "check_surface",
    "detect_format",
    "portfolio_to_obj",
    "read_updates",
    "update_from_obj",
    "update_to_obj",
]
