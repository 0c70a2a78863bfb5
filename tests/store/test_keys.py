"""API keys: issued once, stored only as a hash, verified in constant time, revocable."""

from __future__ import annotations

import hmac
from pathlib import Path

import pytest
import sqlalchemy as sa

from crossmargin.errors import InputError
from crossmargin.store import Store
from crossmargin.store.schema import api_keys


def test_issue_verify_revoke(store: Store) -> None:
    admin = store.issue_api_key("admin", label="ops")
    acct = store.issue_api_key("account", account="acc-7")
    feed = store.issue_api_key("feed", feed="pyth")
    for issued in (admin, acct, feed):
        assert issued.token.startswith("cmk_")
        assert store.verify_api_key(issued.token) == issued.key
    assert acct.key.role == "account" and acct.key.account == "acc-7"
    assert feed.key.feed == "pyth" and admin.key.label == "ops"
    assert [k.key_id for k in store.api_keys()] == [
        admin.key.key_id,
        acct.key.key_id,
        feed.key.key_id,
    ]
    assert [k.key_id for k in store.api_keys(account="acc-7")] == [acct.key.key_id]
    assert store.revoke_api_key(acct.key.key_id)
    assert not store.revoke_api_key(acct.key.key_id)
    assert not store.revoke_api_key("nope")
    assert store.verify_api_key(acct.token) is None
    assert [k.key_id for k in store.api_keys(account="acc-7")] == []
    (revoked,) = store.api_keys(account="acc-7", include_revoked=True)
    assert revoked.revoked


def test_wrong_and_malformed_tokens_are_refused(store: Store) -> None:
    issued = store.issue_api_key("admin")
    token = issued.token
    key_id = issued.key.key_id
    flipped = token[:-1] + ("A" if token[-1] != "A" else "B")
    other_id = token.replace(key_id, "0" * 16)
    for bad in (
        "",
        "Bearer " + token,
        token + "x",
        flipped,
        other_id,
        token.upper(),
        "cmk_",
        None,
        5,
    ):
        assert store.verify_api_key(bad) is None  # type: ignore[arg-type]


def test_secrets_are_never_stored_or_shown(store: Store) -> None:
    issued = store.issue_api_key("account", account="a")
    secret = issued.token.rsplit("_", 1)[1]
    assert secret not in repr(issued) and issued.token not in repr(issued)
    assert secret not in str(issued.key)
    with store._db.read_engine.connect() as conn:
        row = conn.execute(sa.select(api_keys)).one()
    assert secret.encode() not in b"".join(
        v if isinstance(v, bytes) else str(v).encode() for v in row
    )
    assert len(row.secret_sha256) == 32
    if store.backend == "sqlite":
        path = store._db.url.database
        store.close()
        files = [Path(path), Path(path + "-wal")]
        raw = b"".join(f.read_bytes() for f in files if f.exists())
        assert secret.encode() not in raw


def test_verification_compares_in_constant_time(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr("crossmargin.store.keys.hmac.compare_digest", spy)
    issued = store.issue_api_key("admin")
    assert store.verify_api_key(issued.token) is not None
    assert store.verify_api_key("cmk_" + "0" * 16 + "_" + "A" * 43) is None  # unknown id
    assert store.verify_api_key("garbage") is None  # malformed
    assert len(calls) == 3  # a digest comparison happens on every path


BAD_KEYS = [
    ("root", {}, "key.role"),
    ("account", {}, "key.account"),
    ("admin", {"account": "a"}, "key.account"),
    ("account", {"account": "a", "feed": "f"}, "key.feed"),
    ("feed", {"feed": ""}, "key.feed"),
    ("admin", {"label": "x" * 201}, "key.label"),
]


def test_bad_key_requests_name_the_field(store: Store) -> None:
    for role, kwargs, path in BAD_KEYS:
        with pytest.raises(InputError) as err:
            store.issue_api_key(role, **kwargs)  # type: ignore[arg-type]
        assert err.value.path == path, (role, kwargs)
    assert store.api_keys(include_revoked=True) == []


def test_database_constraints_back_the_roles(store: Store) -> None:
    row = {
        "key_id": "k1",
        "role": "account",
        "account": None,
        "feed": None,
        "secret_sha256": b"\0" * 32,
        "label": "",
        "created_ns": 1,
        "revoked_ns": None,
    }
    for bad in (
        {"role": "account", "account": None},
        {"role": "root"},
        {"role": "admin", "feed": "f"},
    ):
        with pytest.raises(sa.exc.IntegrityError), store._db.write_engine.begin() as conn:
            conn.execute(api_keys.insert().values(**{**row, **bad}))
