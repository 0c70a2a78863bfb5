"""Who is calling: bearer keys for the API, a session cookie for the dashboard.

**API (``/v1``).** ``Authorization: Bearer KEY`` on every route; the API never reads cookies,
so no cross-site request can act through a browser session (no CSRF surface). A key is

* the **admin key** of the configuration (``CROSSMARGIN_ADMIN_KEY`` or a key file), compared
  in constant time with its SHA-256; or
* a key issued by the service and kept in the store as a hash
  (:mod:`crossmargin.store.keys`): role ``admin``, ``feed`` (may post market data, for one
  named feed or any) or ``account`` (sees and changes only its own account and its events).

Keys are random high-entropy tokens, so one SHA-256 per request (no slow password hash) is
what a request costs: the digest is compared in constant time with the admin key's, then
looked up among the verified store keys, cached for :data:`CACHE_SECONDS` by that digest
(never the token); revoking a key through the service drops it from the cache at once. Failed
attempts are not cached.

**Dashboard.** Logging in with an admin key creates a random server-side session (256 bits;
the cookie holds only its id): ``HttpOnly``, ``SameSite=Strict``, ``Path=/``, ``Secure`` when
configured, expiring after ``session_hours``. Every state-changing dashboard request (the
what-if form, logout) carries the session's CSRF token in ``X-CSRF-Token`` (compared in
constant time) and, when the browser sends one, an ``Origin`` equal to the service's.

Keys are never logged, echoed or stored in clear (see :mod:`crossmargin.service.logs`).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Literal

from fastapi import Request

from crossmargin.service.config import AdminKey
from crossmargin.service.errors import ApiError
from crossmargin.store import ApiKey, Store

__all__ = [
    "CACHE_SECONDS",
    "SESSION_COOKIE",
    "KeyChecker",
    "Principal",
    "Session",
    "Sessions",
    "bearer_token",
]

Role = Literal["admin", "feed", "account"]

#: How long a verified store key is trusted without asking the store again.
CACHE_SECONDS = 30.0
_CACHE_SIZE = 10_000
#: Name of the dashboard's session cookie.
SESSION_COOKIE = "cm_session"
_UNAUTHORIZED = {"WWW-Authenticate": 'Bearer realm="crossmargin"'}


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller.

    Attributes
    ----------
    role
        ``admin``, ``feed`` or ``account``.
    account
        The account of an account key.
    feed
        The feed a feed key is bound to (``None``: any feed).
    key_id
        Public id of a store key (``None``: the configured admin key).
    """

    role: Role
    account: str | None = None
    feed: str | None = None
    key_id: str | None = None

    @property
    def label(self) -> str:
        """How logs name the caller (never the secret)."""
        if self.key_id is None:
            return "admin(config)"
        return f"{self.role}:{self.key_id}"


def _principal(key: ApiKey) -> Principal:
    return Principal(key.role, key.account, key.feed, key.key_id)


def bearer_token(request: Request) -> str:
    """The bearer token of the request (401 without one)."""
    header = request.headers.get("authorization")
    if not header:
        raise ApiError(401, "missing API key (Authorization: Bearer KEY)", headers=_UNAUTHORIZED)
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise ApiError(401, "the Authorization header must be 'Bearer KEY'", headers=_UNAUTHORIZED)
    return token


class KeyChecker:
    """Turn bearer tokens into principals (module docstring).

    Parameters
    ----------
    admin
        The configured admin key, if any.
    store
        The store holding issued keys.
    """

    def __init__(self, admin: AdminKey | None, store: Store) -> None:
        self.admin = admin
        self.store = store
        self._cache: OrderedDict[bytes, tuple[Principal, float]] = OrderedDict()

    def _cached(self, digest: bytes) -> Principal | None:
        hit = self._cache.get(digest)
        if hit is None:
            return None
        principal, expires = hit
        if time.monotonic() > expires:
            self._cache.pop(digest, None)
            return None
        self._cache.move_to_end(digest)
        return principal

    async def check(self, token: str) -> Principal | None:
        """The principal of ``token``, or ``None`` (unknown, malformed or revoked)."""
        if len(token) > 1024:
            return None
        digest = hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()
        if self.admin is not None and hmac.compare_digest(digest, self.admin.digest):
            return Principal("admin")
        principal = self._cached(digest)
        if principal is not None:
            return principal
        key = await asyncio.to_thread(self.store.verify_api_key, token)
        if key is None:
            return None
        principal = _principal(key)
        self._cache[digest] = (principal, time.monotonic() + CACHE_SECONDS)
        while len(self._cache) > _CACHE_SIZE:
            self._cache.popitem(last=False)
        return principal

    def forget(self, key_id: str) -> None:
        """Drop a (revoked) key from the cache."""
        for digest, (p, _) in list(self._cache.items()):
            if p.key_id == key_id:
                self._cache.pop(digest, None)

    async def require(self, request: Request) -> Principal:
        """The caller of an API request (401 when absent or invalid)."""
        principal = await self.check(bearer_token(request))
        if principal is None:
            raise ApiError(401, "invalid or revoked API key", headers=_UNAUTHORIZED)
        return principal


@dataclass(slots=True)
class Session:
    """A dashboard session (server side)."""

    sid: str
    csrf: str
    principal: Principal
    expires: float


class Sessions:
    """Server-side dashboard sessions, in memory (module docstring).

    Parameters
    ----------
    ttl_s
        Lifetime of a session, seconds.
    """

    def __init__(self, ttl_s: float) -> None:
        self.ttl_s = ttl_s
        self._by_id: dict[str, Session] = {}

    def create(self, principal: Principal) -> Session:
        """A new session for ``principal``."""
        self._expire()
        s = Session(
            secrets.token_urlsafe(32),
            secrets.token_urlsafe(32),
            principal,
            time.monotonic() + self.ttl_s,
        )
        self._by_id[s.sid] = s
        return s

    def get(self, sid: str | None) -> Session | None:
        """The live session with id ``sid``."""
        if not sid or len(sid) > 100:
            return None
        s = self._by_id.get(sid)
        if s is None:
            return None
        if time.monotonic() > s.expires:
            self._by_id.pop(sid, None)
            return None
        return s

    def drop(self, sid: str) -> None:
        """End a session."""
        self._by_id.pop(sid, None)

    def drop_key(self, key_id: str) -> None:
        """End the sessions opened with a (revoked) key."""
        for sid, s in list(self._by_id.items()):
            if s.principal.key_id == key_id:
                self._by_id.pop(sid, None)

    def _expire(self) -> None:
        now = time.monotonic()
        for sid, s in list(self._by_id.items()):
            if now > s.expires:
                self._by_id.pop(sid, None)

    @staticmethod
    def csrf_ok(session: Session, presented: str | None) -> bool:
        """Whether ``presented`` is the session's CSRF token (constant time)."""
        if not presented:
            return False
        return hmac.compare_digest(session.csrf.encode(), presented.encode("utf-8", "replace"))
