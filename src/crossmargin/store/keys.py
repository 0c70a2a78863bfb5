"""API keys of the risk service: issued once, stored as a hash, checked in constant time.

A token is ``cmk_<key id>_<secret>``: the key id (64 random bits, hex) is public and indexes
the row; the secret is 256 random bits from :mod:`secrets` (base64url). The store keeps only
``SHA-256(key id ":" secret)``.

Why SHA-256 and not scrypt/PBKDF2: slow, salted KDFs exist to make guessing *low-entropy* human
passwords expensive after a database leak. Our secrets are machine-generated with 256 bits of
entropy, so an offline search is infeasible at any hash speed (2^255 trials on average) and no
precomputed table can cover the space — a salt or a work factor adds nothing but latency. A KDF
tuned to ~50 ms would instead cost 50 ms of CPU on *every* request (the service targets
p99 ≤ 10 ms) and hand attackers a cheap denial of service. Comparison uses
:func:`hmac.compare_digest`; an unknown key id is compared against a dummy digest so that
timing does not reveal which key ids exist. Tokens never appear in reprs, logs or errors.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from typing import Any, cast

import sqlalchemy as sa

from crossmargin.errors import InputError
from crossmargin.store._db import Database, db_errors
from crossmargin.store.records import ApiKey, IssuedKey, Role, check_name, now_ns
from crossmargin.store.schema import api_keys

__all__ = ["ROLES", "TOKEN_PREFIX", "KeyRing"]

ROLES: tuple[Role, ...] = ("admin", "feed", "account")
TOKEN_PREFIX = "cmk_"
_TOKEN = re.compile(r"cmk_([0-9a-f]{16})_([A-Za-z0-9_-]{43})")
_DUMMY = hashlib.sha256(b"crossmargin: no such key").digest()


def _digest(key_id: str, secret: str) -> bytes:
    return hashlib.sha256(f"{key_id}:{secret}".encode("ascii")).digest()


def _row_key(row: Any) -> ApiKey:
    return ApiKey(
        key_id=row.key_id,
        role=cast(Role, row.role),
        account=row.account,
        feed=row.feed,
        label=row.label,
        created_ns=int(row.created_ns),
        revoked_ns=None if row.revoked_ns is None else int(row.revoked_ns),
    )


class KeyRing:
    """Issue, verify, list and revoke API keys (used by :class:`Store`)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def issue(
        self, role: Role, *, account: str | None = None, feed: str | None = None, label: str = ""
    ) -> IssuedKey:
        """Create a key; the returned token is the only copy of the secret."""
        if role not in ROLES:
            raise InputError(f"must be one of {', '.join(ROLES)}", path="key.role")
        if role == "account":
            check_name(account, path="key.account")
        elif account is not None:
            raise InputError("only an account key names an account", path="key.account")
        if feed is not None:
            if role != "feed":
                raise InputError("only a feed key names a feed", path="key.feed")
            check_name(feed, path="key.feed")
        if not isinstance(label, str) or len(label) > 200 or not label.isprintable():
            raise InputError("must be printable text of at most 200 characters", path="key.label")
        key_id = secrets.token_hex(8)
        secret = secrets.token_urlsafe(32)
        key = ApiKey(key_id, role, account, feed, label, now_ns(), None)
        with db_errors("issuing an API key"), self._db.begin_write() as conn:
            conn.execute(
                api_keys.insert().values(
                    key_id=key_id,
                    role=role,
                    account=account,
                    feed=feed,
                    secret_sha256=_digest(key_id, secret),
                    label=label,
                    created_ns=key.created_ns,
                    revoked_ns=None,
                )
            )
        return IssuedKey(key, f"{TOKEN_PREFIX}{key_id}_{secret}")

    def verify(self, token: str) -> ApiKey | None:
        """The key a token belongs to, or ``None`` (malformed, unknown or revoked)."""
        match = _TOKEN.fullmatch(token) if isinstance(token, str) else None
        key_id, secret = match.groups() if match else ("0" * 16, "")
        presented = _digest(key_id, secret)
        row = None
        if match:
            with db_errors("checking an API key"), self._db.read_engine.connect() as conn:
                row = conn.execute(sa.select(api_keys).where(api_keys.c.key_id == key_id)).first()
        stored = bytes(row.secret_sha256) if row is not None else _DUMMY
        ok = hmac.compare_digest(presented, stored)
        if not ok or row is None or row.revoked_ns is not None:
            return None
        return _row_key(row)

    def revoke(self, key_id: str) -> bool:
        """Revoke a key; ``False`` if no such active key."""
        if not isinstance(key_id, str):
            raise InputError("must be a string", path="key.key_id")
        with db_errors("revoking an API key"), self._db.begin_write() as conn:
            done = conn.execute(
                api_keys.update()
                .where(api_keys.c.key_id == key_id, api_keys.c.revoked_ns.is_(None))
                .values(revoked_ns=now_ns())
            )
        return bool(done.rowcount)

    def list(self, *, account: str | None = None, include_revoked: bool = False) -> list[ApiKey]:
        """Keys (never secrets), oldest first; optionally of one account only."""
        query = sa.select(api_keys).order_by(api_keys.c.created_ns, api_keys.c.key_id)
        if account is not None:
            query = query.where(api_keys.c.account == account)
        if not include_revoked:
            query = query.where(api_keys.c.revoked_ns.is_(None))
        with db_errors("listing API keys"), self._db.read_engine.connect() as conn:
            return [_row_key(r) for r in conn.execute(query).all()]
