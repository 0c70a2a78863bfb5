"""Malformed exports: one error naming the file and the field, never a number.

Each case mutates a valid payload the way a broken or mis-converted export would be wrong
(numbers as garbage strings, missing fields, unknown kinds, wrong units, NaN, ms timestamps out
of range, duplicate positions) and checks the :class:`InputError` path and reason; the CLI case
checks exit code 2, one line on stderr and nothing written.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from crossmargin.errors import InputError

from .helpers import AS_OF, invoke, load, run_import, write

Mutate = Callable[[Any], None]


def _set(path: tuple[Any, ...], value: Any) -> Mutate:
    def f(doc: Any) -> None:
        node = doc
        for k in path[:-1]:
            node = node[k]
        node[path[-1]] = value

    return f


def _del(path: tuple[Any, ...]) -> Mutate:
    def f(doc: Any) -> None:
        node = doc
        for k in path[:-1]:
            node = node[k]
        del node[path[-1]]

    return f


def _dup(path: tuple[Any, ...], i: int) -> Mutate:
    def f(doc: Any) -> None:
        node = doc
        for k in path:
            node = node[k]
        node.append(copy.deepcopy(node[i]))

    return f


# (venue, payload mutated, other payloads, mutation, error path, words in the reason)
CASES: list[tuple[str, str, tuple[str, ...], Mutate, str, str]] = [
    # --- Deribit
    ("deribit", "deribit_positions.json", (), _set(("result", 0, "size"), "abc"),
     "result[0].size", "must be a number, got 'abc'"),
    ("deribit", "deribit_positions.json", (), _set(("result", 0, "size"), math.nan),
     "result[0].size", "finite"),
    ("deribit", "deribit_positions.json", (), _set(("result", 1, "mark_price"), "NaN"),
     "result[1].mark_price", "finite"),
    ("deribit", "deribit_positions.json", (), _del(("result", 2, "mark_price")),
     "result[2].mark_price", "required field is missing"),
    ("deribit", "deribit_positions.json", (), _set(("result", 0, "kind"), "swap"),
     "result[0].kind", "unknown value 'swap'"),
    ("deribit", "deribit_positions.json", (), _set(("result", 0, "kind"), "future_combo"),
     "result[0].kind", "combo"),
    ("deribit", "deribit_positions.json", (), _set(("result", 2, "kind"), "future"),
     "result[2].kind", "does not match"),
    ("deribit", "deribit_positions.json", (), _set(("result", 0, "direction"), "buy"),
     "result[0].direction", "contradicts size"),
    # a perpetual sized in BTC instead of USD: size_currency no longer equals size / mark
    ("deribit", "deribit_positions.json", (), _set(("result", 0, "size"), -0.515408126),
     "result[0].size_currency", "wrong units"),
    ("deribit", "deribit_positions.json", (), _set(("result", 0, "instrument_name"), "BTC-PERP"),
     "result[0].instrument_name", "not a Deribit instrument name"),
    ("deribit", "deribit_positions.json", (), _dup(("result",), 1),
     "result[3]", "duplicate position"),
    ("deribit", "deribit_positions_linear.json", (), _set(("usOut",), 1768550400),
     "usOut", "out of range"),
    ("deribit", "deribit_ticker_option.json", ("deribit_positions.json",),
     _set(("params", "data", "mark_iv"), 0.524), "params.data.mark_iv", "percent"),
    ("deribit", "deribit_ticker_option.json", ("deribit_positions.json",),
     _set(("params", "data", "timestamp"), 1737000000), "params.data.timestamp",
     "looks like seconds"),
    ("deribit", "deribit_ticker_option.json", ("deribit_positions.json",),
     _set(("params", "data", "state"), "settlement"), "params.data.state", "'open'"),
    ("deribit", "deribit_summaries_cross.json", ("deribit_positions.json",),
     _set(("result", "summaries", 1, "currency"), "BTC"), "summaries[1].currency", "duplicate"),
    ("deribit", "deribit_summaries_cross.json", ("deribit_positions.json",),
     _del(("result", "summaries", 0, "equity")), "summaries[0].equity", "missing"),
    # --- OKX
    ("okx", "okx_positions.json", (), _set(("data", 0, "pos"), "12abc"),
     "data[0].pos", "must be a number"),
    ("okx", "okx_positions.json", (), _set(("data", 0, "pos"), ""),
     "data[0].pos", "required field is empty"),
    ("okx", "okx_positions.json", (), _set(("data", 1, "markPx"), "inf"),
     "data[1].markPx", "finite"),
    ("okx", "okx_positions.json", (), _set(("data", 0, "instType"), "EVENTS"),
     "data[0].instType", "unknown value 'EVENTS'"),
    ("okx", "okx_positions.json", (), _set(("data", 0, "instId"), "BTC-USD-260327"),
     "data[0].instId", "not an OKX SWAP"),
    # pos read as coins instead of contracts: notionalUsd disagrees
    ("okx", "okx_positions.json", (), _set(("data", 1, "notionalUsd"), "116.41476"),
     "data[1].notionalUsd", "wrong units"),
    ("okx", "okx_positions.json", (), _set(("data", 0, "uTime"), "1737000000"),
     "data[0].uTime", "looks like seconds"),
    ("okx", "okx_positions.json", (), _set(("data", 0, "uTime"), "99999999999999"),
     "data[0].uTime", "out of range"),
    ("okx", "okx_positions.json", (), _set(("data", 0, "posSide"), "short"),
     "data[0].pos", "long/short mode"),
    ("okx", "okx_positions.json", (), _dup(("data",), 2), "data[4]", "duplicate position"),
    ("okx", "okx_positions.json", (), _set(("code",), "51000"), "code", "OKX error"),
    ("okx", "okx_positions_eth.json", ("okx_balance_pm.json",), lambda d: None,
     "data[0]", "contract value of ETH-USDT-SWAP"),
    ("okx", "okx_instruments_eth.json", ("okx_positions_eth.json", "okx_balance_pm.json"),
     _set(("data", 0, "ctType"), "inverse"), "data[0].ctType", "ctType 'inverse'"),
    ("okx", "okx_balance_pm.json", ("okx_positions.json",),
     _set(("data", 0, "details", 0, "eq"), True), "details[0].eq", "must be a number"),
    # --- Bybit
    ("bybit", "bybit_positions_linear.json", (), _set(("result", "list", 0, "size"), "-0.5"),
     "list[0].size", "unsigned"),
    ("bybit", "bybit_positions_linear.json", (), _set(("result", "list", 0, "side"), ""),
     "list[0].side", "needs side"),
    ("bybit", "bybit_positions_linear.json", (), _set(("result", "list", 0, "side"), "Long"),
     "list[0].side", "unknown value 'Long'"),
    ("bybit", "bybit_positions_linear.json", (),
     _set(("result", "list", 0, "positionValue"), "0.000017"), "list[0].positionValue",
     "wrong units"),
    ("bybit", "bybit_positions_linear.json", (), _set(("result", "category"), "inverse"),
     "list[0].symbol", "not a Bybit inverse symbol"),
    ("bybit", "bybit_positions_linear.json", (), _set(("result", "category"), "spot"),
     "result.category", "unknown value 'spot'"),
    ("bybit", "bybit_positions_linear.json", (), _set(("result", "list", 0, "positionIdx"), 2),
     "list[0].side", "contradicts"),
    ("bybit", "bybit_positions_linear.json", (), _set(("retCode",), 10001), "retCode",
     "Bybit error"),
    ("bybit", "bybit_positions_linear.json", (), _set(("time",), 1697684980.5),
     "time", "whole milliseconds"),
    ("bybit", "bybit_positions_inverse_future.json", (), lambda d: None,
     "list[0].symbol", "deliveryTime"),
    ("bybit", "bybit_positions_linear.json", (), _dup(("result", "list"), 0),
     "list[3]", "duplicate position"),
    # --- Binance
    ("binance", "binance_um_positions_docs.json", (), _set((1, "positionAmt"), "0.002"),
     "[1].positionAmt", "refusing to guess"),
    ("binance", "binance_um_positions_docs.json", (), _set((0, "notional"), "2112.305052"),
     "[0].notional", "wrong units"),
    ("binance", "binance_um_positions_docs.json", (), _set((0, "symbol"), "BTCEUR"),
     "[0].symbol", "not a USDⓈ-M symbol"),
    ("binance", "binance_cm_positions.json", (), lambda d: None,
     "[1].symbol", "contract size of ETHUSD_220930"),
    ("binance", "binance_um_positions_docs.json", (), _set((0, "updateTime"), 1655217461),
     "[0].updateTime", "looks like seconds"),
    ("binance", "binance_um_positions_docs.json", (), _set((0, "positionAmt"), "1e400"),
     "[0].positionAmt", "out of range"),
    ("binance", "binance_um_positions_docs.json", (), _dup((), 0), "[2]", "duplicate position"),
    ("binance", "binance_account_docs.json", (), _del(("accountMaintMargin",)),
     "accountMaintMargin", "missing"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("venue", "payload", "others", "mutate", "path", "why"),
    CASES,
    ids=[f"{c[0]}-{c[4]}-{c[5][:18]}" for c in CASES],
)
def test_malformed_export_names_the_field(
    tmp_path: Path,
    venue: str,
    payload: str,
    others: tuple[str, ...],
    mutate: Mutate,
    path: str,
    why: str,
) -> None:
    doc = load(payload)
    mutate(doc)
    bad = write(tmp_path, payload, doc)
    with pytest.raises(InputError) as e:
        run_import(venue, bad, *others, as_of=AS_OF)
    assert e.value.path.startswith(f"{payload}:")
    assert e.value.path.endswith(path), e.value.path
    assert why in e.value.reason, e.value.reason


def test_error_responses_are_named() -> None:
    from crossmargin.io.venues.binance import read_binance
    from crossmargin.io.venues.deribit import read_deribit

    with pytest.raises(InputError, match="JSON-RPC error: 'Invalid params'"):
        read_deribit(
            [({"jsonrpc": "2.0", "error": {"code": -32602, "message": "Invalid params"}}, "x")]
        )
    with pytest.raises(InputError, match="Binance error"):
        read_binance([({"code": -2015, "msg": "Invalid API-key"}, "x")])
    with pytest.raises(InputError, match="not a Deribit"):
        read_deribit([({"result": {"foo": 1}}, "x")])


def test_cli_exits_2_with_one_line_and_writes_nothing(tmp_path: Path) -> None:
    doc = load("okx_positions.json")
    doc["data"][0]["pos"] = "abc"
    bad = write(tmp_path, "okx_positions.json", doc)
    out_p, out_m = tmp_path / "p.json", tmp_path / "m.json"
    r = invoke("import", "okx", bad, "--out-portfolio", out_p, "--out-market", out_m)
    assert r.exit_code == 2
    lines = r.stderr.strip().splitlines()
    assert lines == ["error: okx_positions.json:data[0].pos: must be a number, got 'abc'"]
    assert not out_p.exists() and not out_m.exists()
    r = invoke("margin", "--from", f"okx={bad}")
    assert r.exit_code == 2 and r.stderr.startswith("error: okx_positions.json:data[0].pos")
