"""The API against a running service, on SQLite and on PostgreSQL.

What the issue asks of each route: the margin JSON is the CLI's contract, a 2xx means
journaled, the pre-trade check refuses with 409 and its reason, a repeated id is not applied
twice, withdrawals below IM are refused, events are paged and scoped to the account's key,
errors have one shape, and a restart resumes the same state.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import pytest
from typer.testing import CliRunner

from crossmargin.cli.app import app as cli_app
from crossmargin.store import Store

from .helpers import (
    T0,
    VENUE_ACCOUNTS,
    VENUE_MARKET,
    Running,
    start_service,
    stop_service,
)

NEW_ACCOUNT = {
    "account": "api-new-1",
    "base_currency": "USD",
    "collateral": {"USDC": 500000},
    "positions": [
        {"instrument": "BTC-PERP", "quantity": 2, "entry_price": 64000},
        {"instrument": "BTC-26DEC26-70000-C", "quantity": -3},
    ],
}


def _error(r: object) -> dict[str, object]:
    body = r.json()  # type: ignore[attr-defined]
    assert set(body) == {"error"}, body
    assert {"path", "reason"} <= set(body["error"]), body
    return body["error"]  # type: ignore[no-any-return]


def _position(margin: dict[str, object], instrument: str) -> float:
    for p in margin["positions"]:  # type: ignore[attr-defined]
        if p["instrument"] == instrument:
            return float(p["quantity"])
    return 0.0


def _same(got: object, expected: object, where: str) -> None:
    """``got`` equals ``expected`` (JSON), numbers within 1e-9 relative (or 1e-6 absolute)."""
    if isinstance(expected, dict):
        assert isinstance(got, dict) and set(got) == set(expected), (where, got, expected)
        for k, v in expected.items():
            _same(got[k], v, f"{where}.{k}")
    elif isinstance(expected, list):
        assert isinstance(got, list) and len(got) == len(expected), (where, got, expected)
        for i, (a, b) in enumerate(zip(got, expected, strict=True)):
            _same(a, b, f"{where}[{i}]")
    elif isinstance(expected, float) and not isinstance(got, bool):
        assert got == pytest.approx(expected, rel=1e-9, abs=1e-6), where
    else:
        assert got == expected, where


def _cli_json(command: str) -> dict[str, dict[str, object]]:
    res = CliRunner().invoke(
        cli_app, [command, str(VENUE_ACCOUNTS), "-m", str(VENUE_MARKET), "-f", "json"]
    )
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    items = out["accounts"] if isinstance(out, dict) and "accounts" in out else out
    return {a["account"]: a for a in items}


def test_account_margin_is_the_cli_margin_json(service: Running) -> None:
    """``GET /v1/accounts/{id}`` is ``crossmargin margin --format json`` of the account.

    Every field of the CLI's object, nested ones included (breakdown, add-ons, collateral,
    the account Greeks per underlying and in total), plus ``live``.
    """
    cli = _cli_json("margin")
    with service.client() as c:
        for name, expected in cli.items():
            got = c.get(f"/v1/accounts/{name}").json()
            assert set(expected) <= set(got), set(expected) - set(got)
            assert got["live"]["frozen"] is False
            for key, value in expected.items():
                if key != "positions":  # the CLI lists them only with --positions
                    _same(got[key], value, f"{name}.{key}")
            assert got["greeks"]["per_underlying"], name
            assert {g["underlying"] for g in got["greeks"]["per_underlying"]} == {
                b["underlying"] for b in got["breakdown"]
            }


def test_account_explain_is_the_cli_explain_json(service: Running) -> None:
    """``GET /v1/accounts/{id}/explain`` is ``crossmargin explain --format json``, Greeks too."""
    cli = _cli_json("explain")
    with service.client() as c:
        for name in ("mm-01", "pair-05"):
            got = c.get(f"/v1/accounts/{name}/explain").json()
            expected = cli[name]
            for key in ("initial_margin", "maintenance_margin", "equity", "breakdown", "greeks"):
                _same(got[key], expected[key], f"{name}.{key}")
            assert set(expected) <= set(got), set(expected) - set(got)


def test_open_an_account_and_use_its_key(service: Running) -> None:
    with service.client() as admin:
        r = admin.post("/v1/accounts", json=NEW_ACCOUNT)
        assert r.status_code == 201, r.text
        body = r.json()
        assert body["account"] == "api-new-1" and body["seq"] >= 1
        token = body["key"]["token"]
        assert token.startswith("cmk_") and body["key"]["role"] == "account"
        assert body["margin"]["status"] == "healthy"
        again = admin.post("/v1/accounts", json=NEW_ACCOUNT)
        assert again.status_code == 409
        assert "exists" in str(_error(again)["reason"])
        listed = admin.get("/v1/keys", params={"account": "api-new-1"}).json()["keys"]
        assert [k["key_id"] for k in listed] == [body["key"]["key_id"]]
        assert "token" not in listed[0]
    with service.client(token) as own:
        mine = own.get("/v1/accounts/api-new-1")
        assert mine.status_code == 200 and mine.json()["account"] == "api-new-1"
        assert _position(mine.json(), "BTC-PERP") == 2.0
        other = own.get("/v1/accounts/mm-01")
        assert other.status_code == 403
        assert own.get("/v1/accounts/no-such-account").status_code == 403  # no existence oracle
        assert own.get("/v1/accounts").status_code == 403
        assert own.post("/v1/accounts", json=NEW_ACCOUNT).status_code == 403


def test_a_trade_is_journaled_before_its_201(service: Running) -> None:
    with service.client() as c:
        before = _position(c.get("/v1/accounts/mm-01").json(), "BTC-PERP")
        r = c.post(
            "/v1/accounts/mm-01/trades",
            json={"instrument": "BTC-PERP", "quantity": 1.5, "price": 65010, "id": "t-journal-1"},
        )
        assert r.status_code == 201, r.text
        ack = r.json()
        assert ack["accepted"] is True and ack["duplicate"] is False
        assert ack["account"]["account"] == "mm-01"
        after = _position(c.get("/v1/accounts/mm-01").json(), "BTC-PERP")
        assert after == pytest.approx(before + 1.5)
    # the record is in the journal (a separate handle on the same database)
    with Store.open(service.db) as store:
        recs = [r for r in store.journal_after(0) if r.kind == "trade"]
    assert [r.seq for r in recs] == [ack["seq"]]
    assert recs[0].data()["id"] == "t-journal-1"
    assert recs[0].account == "mm-01"


def test_the_pre_trade_check_refuses_with_409_and_its_reason(service: Running) -> None:
    with service.client() as c:
        before = c.get("/v1/accounts/degen-03").json()
        r = c.post(
            "/v1/accounts/degen-03/trades",
            json={"instrument": "BTC-PERP", "quantity": 500, "price": 65000, "id": "t-big"},
        )
        assert r.status_code == 409, r.text
        err = _error(r)
        assert "pre-trade check" in str(err["reason"])
        assert err["path"] == "quantity" and isinstance(err["seq"], int)
        after = c.get("/v1/accounts/degen-03").json()
        assert _position(after, "BTC-PERP") == _position(before, "BTC-PERP")
        assert after["initial_margin"] == before["initial_margin"]
        # the refusal is part of the history: an input_refused event of the account
        events = c.get("/v1/events", params={"account": "degen-03"}).json()["events"]
        assert any(e["type"] == "input_refused" for e in events)
        # a de-risking trade passes even on an account below its IM
        ok = c.post(
            "/v1/accounts/degen-03/trades",
            json={"instrument": "BTC-PERP", "quantity": -1, "price": 65000},
        )
        assert ok.status_code == 201, ok.text


def test_a_repeated_id_is_answered_again_and_applied_once(service: Running) -> None:
    trade = {"instrument": "ETH-PERP", "quantity": 3, "price": 3200, "id": "t-dup"}
    with service.client() as c:
        start = _position(c.get("/v1/accounts/basis-02").json(), "ETH-PERP")
        first = c.post("/v1/accounts/basis-02/trades", json=trade)
        second = c.post("/v1/accounts/basis-02/trades", json=trade)
        assert first.status_code == 201 and second.status_code == 200
        assert second.json()["duplicate"] is True
        assert second.json()["seq"] == first.json()["seq"]
        end = _position(c.get("/v1/accounts/basis-02").json(), "ETH-PERP")
        assert end == pytest.approx(start + 3)


def test_whatif_changes_nothing(service: Running) -> None:
    with service.client() as c:
        seq = c.get("/v1/status").json()["seq"]
        r = c.post(
            "/v1/accounts/mm-01/whatif",
            json={
                "trades": [{"instrument": "BTC-26DEC26-70000-C", "quantity": -20, "price": 3000}]
            },
        )
        assert r.status_code == 200, r.text
        w = r.json()
        assert w["account"] == "mm-01" and isinstance(w["accepted"], bool)
        assert w["after"]["initial_margin"] > w["before"]["initial_margin"]
        assert c.get("/v1/status").json()["seq"] == seq
        bad = c.post(
            "/v1/accounts/mm-01/whatif",
            json={"trades": [{"instrument": "X", "quantity": 1, "price": 1}]},
        )
        assert bad.status_code == 422 and _error(bad)["path"] == "trades[0].instrument"


def test_collateral_deposit_and_withdrawals(service: Running) -> None:
    with service.client() as c:
        eq0 = c.get("/v1/accounts/mm-01").json()["equity"]
        dep = c.post(
            "/v1/accounts/mm-01/collateral",
            json={"type": "deposit", "asset": "USDC", "amount": 1000, "id": "d-1"},
        )
        assert dep.status_code == 201, dep.text
        assert dep.json()["account"]["equity"] > eq0
        huge = c.post(
            "/v1/accounts/mm-01/collateral",
            json={"type": "withdrawal", "asset": "USDC", "amount": 1e12},
        )
        assert huge.status_code == 409 and _error(huge)["path"] == "amount"
        below_im = c.post(
            "/v1/accounts/mm-01/collateral",
            json={"type": "withdrawal", "asset": "USDC", "amount": 1_990_000},
        )
        assert below_im.status_code == 409, below_im.text
        assert "below the initial margin" in str(_error(below_im)["reason"])
        small = c.post(
            "/v1/accounts/mm-01/collateral",
            json={"type": "withdrawal", "asset": "USDC", "amount": 500},
        )
        assert small.status_code == 201, small.text
        bad = c.post(
            "/v1/accounts/mm-01/collateral", json={"type": "transfer", "asset": "USDC", "amount": 1}
        )
        assert bad.status_code == 422 and _error(bad)["path"] == "type"


def test_a_crash_moves_accounts_and_emits_events(
    service: Running, issue_key: Callable[..., str]
) -> None:
    with service.client() as c:
        last = c.get("/v1/events").json()["last_seq"]
        r = c.post(
            "/v1/market",
            json={
                "type": "market",
                "feed": "test",
                "seq": 1,
                "time": T0,
                "asset": "BTC",
                "price": 40000,
            },
        )
        assert r.status_code == 200, r.text
        events = r.json()["results"][0]["events"]
        assert events and all(e["cause"]["underlying"] == "BTC" for e in events)
        page = c.get("/v1/events", params={"after": last}).json()
        assert [e["seq"] for e in page["events"]] == [e["seq"] for e in events]
        assert page["next_after"] == events[-1]["seq"] == page["last_seq"]
        moved = {e["account"] for e in events}
        # a duplicate feed sequence number is refused (409), journaled, not applied
        dup = c.post(
            "/v1/market",
            json={
                "type": "market",
                "feed": "test",
                "seq": 1,
                "time": T0,
                "asset": "BTC",
                "price": 41000,
            },
        )
        assert dup.status_code == 409, dup.text
        listing = c.get("/v1/accounts", params={"limit": 3}).json()
        assert listing["items"][0]["status"] in ("liquidation", "bankrupt")
    account = sorted(moved)[0]
    token = issue_key("account", account=account)
    with service.client(token) as own:
        mine = own.get("/v1/events", params={"after": last}).json()["events"]
        assert mine and {e["account"] for e in mine} == {account}
        assert (
            own.get(
                "/v1/events", params={"account": "mm-01" if account != "mm-01" else "degen-03"}
            ).status_code
            == 403
        )


def test_feed_keys_post_their_own_feed_only(
    service: Running, issue_key: Callable[..., str]
) -> None:
    feed = issue_key("feed", feed="pyth-like")
    anyfeed = issue_key("feed")
    tick = {"type": "market", "feed": "pyth-like", "time": T0, "asset": "ETH", "price": 3150}
    with service.client(feed) as c:
        assert c.post("/v1/market", json=tick).status_code == 200
        other = c.post("/v1/market", json={**tick, "feed": "other"})
        assert other.status_code == 403 and _error(other)["path"] == "feed"
        assert c.get("/v1/accounts/mm-01").status_code == 403
        assert c.get("/v1/events").status_code == 403
        assert (
            c.post(
                "/v1/accounts/mm-01/trades",
                json={"instrument": "BTC-PERP", "quantity": 1, "price": 1},
            ).status_code
            == 403
        )
    with service.client(anyfeed) as c:
        r = c.post("/v1/market", json=[{**tick, "feed": "x"}, {**tick, "feed": "y", "price": 3140}])
        assert r.status_code == 200 and len(r.json()["results"]) == 2
        bad = c.post("/v1/market", json={**tick, "type": "trade"})
        assert bad.status_code == 422 and _error(bad)["path"] == "type"


def test_listing_sorts_filters_and_pages(service: Running) -> None:
    with service.client() as c:
        full = c.get("/v1/accounts", params={"limit": 1000}).json()
        items = full["items"]
        assert full["total"] == len(items) == 7
        ratios = [a["margin_ratio"] for a in items if a["margin_ratio"] is not None]
        assert ratios == sorted(ratios)
        assert sum(v for k, v in full["counts"].items() if k != "frozen") == 7
        desc = c.get("/v1/accounts", params={"sort": "-margin_ratio", "limit": 1000}).json()[
            "items"
        ]
        assert [a["account"] for a in desc if a["margin_ratio"] is not None] == [
            a["account"] for a in reversed(items) if a["margin_ratio"] is not None
        ]
        by_name = c.get("/v1/accounts", params={"sort": "account"}).json()["items"]
        assert [a["account"] for a in by_name] == sorted(a["account"] for a in items)
        page = c.get("/v1/accounts", params={"offset": 2, "limit": 2}).json()
        assert [a["account"] for a in page["items"]] == [a["account"] for a in items[2:4]]
        worst = items[0]["status"]
        only = c.get("/v1/accounts", params={"status": worst}).json()
        assert only["total"] == full["counts"][worst] and all(
            a["status"] == worst for a in only["items"]
        )
        assert c.get("/v1/accounts", params={"sort": "nonsense"}).status_code == 422
        assert c.get("/v1/accounts", params={"limit": 0}).status_code == 422


def test_explain_has_the_scenario_grid(service: Running) -> None:
    with service.client() as c:
        e = c.get("/v1/accounts/mm-01/explain").json()
        assert e["account"] == "mm-01" and e["derivation"]
        cells = e["scenarios"][0]["cells"]
        assert sum(1 for x in cells if x["worst"]) == 1
        assert c.get("/v1/accounts/nobody/explain").status_code == 404


def test_errors_have_one_shape(service: Running) -> None:
    with service.client() as c:

        def raw(url: str, content: bytes, ctype: str = "application/json") -> httpx.Response:
            return c.post(url, content=content, headers={"Content-Type": ctype})

        cases = [
            (raw("/v1/accounts/mm-01/trades", b"{nope"), 400),
            (raw("/v1/accounts/mm-01/trades", b"\xff\xfe"), 400),
            (raw("/v1/accounts/mm-01/trades", b'{"a":1,"a":2}'), 400),
            (
                raw(
                    "/v1/accounts/mm-01/trades",
                    b"instrument=x",
                    "application/x-www-form-urlencoded",
                ),
                415,
            ),
            (
                c.post(
                    "/v1/accounts/mm-01/trades",
                    json={"instrument": "BTC-PERP", "quantity": 1, "price": 1, "size": 2},
                ),
                422,
            ),
            (
                c.post(
                    "/v1/accounts/mm-01/trades",
                    json={"instrument": "BTC-PERP", "quantity": 0, "price": 1},
                ),
                422,
            ),
            (c.post("/v1/accounts/mm-01/trades", json=[1, 2]), 422),
            (
                c.post(
                    "/v1/accounts/nobody/trades",
                    json={"instrument": "BTC-PERP", "quantity": 1, "price": 1},
                ),
                404,
            ),
            (c.get("/v1/accounts/nobody"), 404),
            (c.get("/v1/nothing-here"), 404),
            (c.delete("/v1/accounts/mm-01"), 405),
            (raw("/v1/accounts/mm-01/trades", b"[" * 300 + b"]" * 300), 400),
            (raw("/v1/market", b"x" * (2 << 20)), 413),
        ]
        for r, status in cases:
            assert r.status_code == status, (status, r.status_code, r.text[:200])
            _error(r)
        field = c.post(
            "/v1/accounts/mm-01/trades",
            json={"instrument": "BTC-PERP", "quantity": "1", "price": 1},
        )
        assert _error(field)["path"] == "quantity"


def test_a_restart_resumes_the_same_state(db_url: str) -> None:
    first = start_service(db_url)
    try:
        with first.client() as c:
            assert (
                c.post(
                    "/v1/accounts/mm-01/trades",
                    json={"instrument": "BTC-PERP", "quantity": 1, "price": 65000, "id": "r-1"},
                ).status_code
                == 201
            )
            c.post(
                "/v1/market",
                json={
                    "type": "market",
                    "feed": "f",
                    "seq": 1,
                    "time": T0,
                    "asset": "ETH",
                    "price": 2500,
                },
            )
            before = c.get("/v1/accounts", params={"limit": 1000}).json()
            status = c.get("/v1/status").json()
    finally:
        stop_service(first)
    # without the opening files: the database holds the engine
    second = start_service(db_url, market=None, accounts=None)
    try:
        with second.client() as c:
            after = c.get("/v1/accounts", params={"limit": 1000}).json()
            assert after["items"] == before["items"]
            again = c.post(
                "/v1/accounts/mm-01/trades",
                json={"instrument": "BTC-PERP", "quantity": 1, "price": 65000, "id": "r-1"},
            )
            assert again.status_code == 200 and again.json()["duplicate"] is True
            s2 = c.get("/v1/status").json()
            assert s2["seq"] == status["seq"] and s2["event_seq"] == status["event_seq"]
    finally:
        stop_service(second)


def test_revoked_keys_stop_at_once(service: Running, issue_key: Callable[..., str]) -> None:
    token = issue_key("account", account="mm-01")
    with service.client() as admin, service.client(token) as own:
        assert own.get("/v1/accounts/mm-01").status_code == 200
        key_id = token.split("_")[1]
        assert admin.delete(f"/v1/keys/{key_id}").status_code == 204
        assert own.get("/v1/accounts/mm-01").status_code == 401
        assert admin.delete(f"/v1/keys/{key_id}").status_code == 404


def test_status_reports_the_engine(service: Running) -> None:
    with service.client() as c:
        s = c.get("/v1/status").json()
        assert s["role"] == "writer" and s["model"] == "portfolio"
        assert s["accounts"] == 7 and s["backend"] in ("sqlite", "postgresql")
        assert c.post("/v1/sweep").json()["ok"] is True
