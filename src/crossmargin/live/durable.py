"""Durability of the live engine: journal records, state snapshots, recovery.

* **Journal.** Every input that passes validation is journaled in the store
  (:mod:`crossmargin.store`) *before* it is acknowledged — accepted or refused by a rule (a
  refusal is part of the history: replaying it refuses it again). Kinds: ``market``,
  ``trade``, ``deposit``, ``withdrawal``, ``account`` (the payload is
  :func:`~crossmargin.live.codec.update_to_obj`), ``clock`` (``{"time": …}``) and ``sweep``.
  A batch (:meth:`~crossmargin.live.engine.LiveEngine.apply_many`) is one group commit; the
  engine applies it while the commit is in flight and acknowledges after it.
* **Events** go to the store's events table with the journal seq of the input that caused
  them (``cause_seq``): after a crash, replaying the journal re-emits the same events with the
  same numbers and only those the store does not have yet are written.
* **Snapshots.** The whole state — positions, balances, per-account results and hysteresis,
  feeds, clocks, the fund, the market snapshot — every ``snapshot_every`` records and on close
  (:func:`encode_state` / :func:`decode_state`): numeric tables as one ``.npz`` part (no
  pickles), the market snapshot and the contracts as a pickle read back by an unpickler that
  admits only crossmargin's market and instrument classes, NumPy arrays and datetimes, and the
  rest as JSON. A snapshot at seq 0 is written when a database is first opened.
* **Recovery** = newest snapshot + replay of the journal after it. Marks, every account's last
  margin and reported status come from the snapshot; the kernel's caches (risk arrays, group
  results) are recomputed from them — the same numbers, since the incremental state equals a
  from-scratch computation (the invariant the sweep checks).
"""

from __future__ import annotations

import io
import json
import pickle
from collections.abc import Mapping
from dataclasses import fields
from datetime import datetime
from json.encoder import encode_basestring as _quote
from types import MappingProxyType
from typing import Any

import numpy as np

from crossmargin._time import format_instant, parse_instant
from crossmargin.config import RiskConfig
from crossmargin.errors import InputError
from crossmargin.instruments.contracts import Contract
from crossmargin.live.codec import update_to_obj
from crossmargin.live.core import LiveCore
from crossmargin.live.records import MarketUpdate, NewAccount, Trade, Update, iso
from crossmargin.live.sequence import FeedSequencer
from crossmargin.live.settings import LiveSettings
from crossmargin.market.snapshot import MarketSnapshot
from crossmargin.resolve.instruments import InstrumentTable
from crossmargin.resolve.marks import Marks
from crossmargin.resolve.terms import contract_terms
from crossmargin.store import NewRecord

__all__ = ["FORMAT", "decode_state", "encode_state", "journal_record"]

#: Snapshot format label (bumped when the layout changes).
FORMAT = "crossmargin-live-1"


def journal_record(u: Update, kind: str, key: str | None, received_ns: int) -> NewRecord:
    """The journal record of an input: payload ``update_to_obj(u)`` as compact JSON text.

    A trade — the hot input of an ingest — is written straight to its JSON text (the same
    characters as encoding :func:`~crossmargin.live.codec.update_to_obj`, which
    ``tests/live/test_engine_journal_codec.py`` checks on random trades) without building the
    object and encoding it generically: a third of the per-trade cost of journaling. Other
    inputs take the generic path.
    """
    if type(u) is Trade:
        text = (
            '{"type":"trade","account":'
            + _quote(u.account)
            + ',"instrument":'
            + _quote(u.instrument)
            + ',"quantity":'
            + repr(u.quantity)
            + ',"price":'
            + repr(u.price)
            + ',"time":"'
            + iso(u.time)
            + ('"}' if u.id is None else '","id":' + _quote(u.id) + "}")
        )
        return NewRecord.encoded(
            "trade",
            text,
            source="engine",
            account=u.account,
            idempotency_key=key,
            received_ns=received_ns,
        )
    if isinstance(u, MarketUpdate):
        account, source = None, u.feed
    else:
        account, source = (
            (u.portfolio.account if isinstance(u, NewAccount) else u.account),
            "engine",
        )
    return NewRecord(
        kind,
        update_to_obj(u),
        source=source,
        account=account,
        idempotency_key=key,
        received_ns=received_ns,
    )


def _proxy(d: dict[Any, Any]) -> MappingProxyType[Any, Any]:
    return MappingProxyType(d)


class _Pickler(pickle.Pickler):
    def reducer_override(self, obj: object) -> Any:
        if type(obj) is MappingProxyType:
            return _proxy, (dict(obj),)
        return NotImplemented


_ALLOWED_MODULES = ("crossmargin.market.", "crossmargin.instruments.")
_ALLOWED = {
    ("crossmargin.live.durable", "_proxy"),
    ("datetime", "datetime"),
    ("datetime", "date"),
    ("datetime", "timedelta"),
    ("datetime", "timezone"),
    ("numpy", "dtype"),
    ("numpy", "ndarray"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.numeric", "_frombuffer"),
    ("numpy.core.numeric", "_frombuffer"),
}


class _Unpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _ALLOWED or module.startswith(_ALLOWED_MODULES):
            return super().find_class(module, name)
        if module == "numpy.dtypes":
            return super().find_class(module, name)
        raise InputError(f"snapshot refers to {module}.{name}, not allowed", path="snapshot")


def _dumps(obj: object) -> bytes:
    buf = io.BytesIO()
    _Pickler(buf, protocol=5).dump(obj)
    return buf.getvalue()


def _loads(data: bytes) -> Any:
    return _Unpickler(io.BytesIO(data)).load()


def _npz(arrays: Mapping[str, np.ndarray]) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, allow_pickle=False, **arrays)
    return buf.getvalue()


def encode_state(core: LiveCore) -> dict[str, bytes]:
    """The parts of a snapshot of ``core`` (module docstring)."""
    book = core.book
    arrays: dict[str, np.ndarray] = {f"pos.{k}": v for k, v in book.pos.arrays().items()}
    arrays["balances"] = book.balance_view().copy()
    arrays.update({f"res.{k}": v for k, v in core.R.arrays().items()})
    marks = core.inst.marks()
    arrays.update(
        {f"marks.{f.name}": getattr(marks, f.name) for f in fields(Marks) if f.name != "warnings"}
    )
    state = {
        "format": FORMAT,
        "model": core.model,
        "settings": core.settings.to_obj(),
        "config": core.config.model_dump(mode="json"),
        "seq": core.seq,
        "event_seq": core.event_seq,
        "now": format_instant(core.now),
        "last_sweep": format_instant(core.last_sweep),
        "accounts": book.accounts,
        "base_currency": book.base_currency,
        "assets": book.assets,
        "sequencer": core.sequencer.state(),
        "feed_time": {k: format_instant(v) for k, v in sorted(core.feed_time.items())},
        "asset_feed": dict(sorted(core.asset_feed.items())),
        "stale": dict(sorted(core.stale.items())),
        "broken": {str(k): v for k, v in sorted(core.broken.items())},
        "fund": core.fund.balance,
        "pots": core.pots,
        "ids": {k: list(v) for k, v in core.ids.items()},
        "group_names": core.R.names,
    }
    objects = {
        "snapshot": core.snapshot,
        "contracts": book.terms.contracts,
        "mark_warnings": marks.warnings,
    }
    return {
        "state.json": json.dumps(state, separators=(",", ":")).encode(),
        "arrays.npz": _npz(arrays),
        "market.pickle": _dumps(objects),
    }


def decode_state(parts: Mapping[str, bytes]) -> LiveCore:
    """Rebuild a core from snapshot parts (marks and kernel caches recomputed).

    Raises
    ------
    InputError
        The snapshot is not one this version wrote.
    """
    try:
        state = json.loads(parts["state.json"])
        objects = _loads(parts["market.pickle"])
        arrays = dict(np.load(io.BytesIO(parts["arrays.npz"]), allow_pickle=False))
    except (KeyError, ValueError, pickle.UnpicklingError, EOFError) as exc:
        raise InputError(f"unreadable engine snapshot ({exc})", path="snapshot") from None
    if state.get("format") != FORMAT:
        raise InputError(
            f"snapshot format {state.get('format')!r} is not {FORMAT!r}", path="snapshot"
        )
    config = RiskConfig.model_validate(state["config"])
    settings = LiveSettings.from_obj(state["settings"])
    snapshot: MarketSnapshot = objects["snapshot"]
    contracts: tuple[Contract, ...] = tuple(objects["contracts"])
    core = LiveCore(snapshot, config, state["model"], settings)
    book = core.book
    for name, ccy in zip(state["accounts"], state["base_currency"], strict=True):
        book.add_account(name, ccy)
    for a in state["assets"]:
        book.asset_col(a)
    terms = contract_terms(contracts, config)
    book.set_terms(terms)
    book.load_positions({k[4:]: v for k, v in arrays.items() if k.startswith("pos.")})
    book.balance_view()[:] = arrays["balances"]
    core.R.load({k[4:]: v for k, v in arrays.items() if k.startswith("res.")})
    core.R.name_ids(tuple(state["group_names"]))
    core.seq = int(state["seq"])
    core.event_seq = int(state["event_seq"])
    core.now = parse_instant(state["now"])
    core.last_sweep = parse_instant(state["last_sweep"])
    core.sequencer = FeedSequencer.restore(state["sequencer"])
    core.feed_time = {k: parse_instant(v) for k, v in state["feed_time"].items()}
    core.asset_feed = dict(state["asset_feed"])
    core.stale = dict(state["stale"])
    core.broken = {int(k): v for k, v in state["broken"].items()}
    core.fund.balance = float(state["fund"])
    core.pots = {k: float(v) for k, v in state["pots"].items()}
    core.ids = {k: (int(v[0]), bool(v[1])) for k, v in state["ids"].items()}
    marks = Marks(
        **{f.name: arrays[f"marks.{f.name}"] for f in fields(Marks) if f.name != "warnings"},
        warnings=tuple(objects.get("mark_warnings", ())),
    )
    core.rebuild(InstrumentTable.join(terms, marks))
    return core


def instant(t: datetime) -> str:
    """An instant as the journal writes it."""
    return format_instant(t)
