"""Settings of the risk service (:class:`ServiceConfig`) and the admin key.

The admin key comes from the environment (``CROSSMARGIN_ADMIN_KEY``) or a file
(``--admin-key-file``, e.g. a mounted secret); only its SHA-256 is kept in memory. Keys shorter
than :data:`MIN_ADMIN_KEY` characters are refused: a guessable admin key is worse than none.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Literal

from crossmargin.errors import InputError
from crossmargin.live.settings import AutoLiquidate

__all__ = [
    "ADMIN_KEY_ENV",
    "MIN_ADMIN_KEY",
    "AdminKey",
    "ClockMode",
    "ServiceConfig",
    "load_admin_key",
]

#: Environment variable holding the admin key.
ADMIN_KEY_ENV = "CROSSMARGIN_ADMIN_KEY"
#: Shortest accepted admin key (characters).
MIN_ADMIN_KEY = 32
#: Longest accepted admin key (characters).
MAX_ADMIN_KEY = 512

ClockMode = Literal["wall", "inputs"]


@dataclass(frozen=True, slots=True)
class AdminKey:
    """The configured admin key, kept as a digest (the secret itself is not stored)."""

    digest: bytes = field(repr=False)
    source: str

    @classmethod
    def from_secret(cls, secret: str, source: str) -> AdminKey:
        """Validate ``secret`` (length, printable ASCII, no spaces) and keep its digest."""
        if not MIN_ADMIN_KEY <= len(secret) <= MAX_ADMIN_KEY:
            raise InputError(
                f"the admin key must be {MIN_ADMIN_KEY} to {MAX_ADMIN_KEY} characters long "
                f"(got {len(secret)}); e.g. python -c 'import secrets; "
                "print(secrets.token_urlsafe(32))'",
                path=source,
            )
        if not (secret.isascii() and secret.isprintable()) or " " in secret:
            raise InputError("the admin key must be printable ASCII without spaces", path=source)
        return cls(_digest(secret), source)

    def matches(self, token: str) -> bool:
        """Constant-time comparison of a presented token with the admin key."""
        return hmac.compare_digest(_digest(token), self.digest)


def _digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).digest()


def load_admin_key(
    *, key_file: Path | None = None, environ: dict[str, str] | None = None
) -> AdminKey | None:
    """The admin key from ``key_file`` or ``CROSSMARGIN_ADMIN_KEY`` (``None``: neither is set).

    Raises
    ------
    InputError
        Both are given, the file cannot be read, or the key is too short or malformed.
    """
    env = os.environ if environ is None else environ
    from_env = env.get(ADMIN_KEY_ENV)
    if key_file is not None:
        if from_env:
            raise InputError(
                f"give the admin key either in {ADMIN_KEY_ENV} or in a file, not both",
                path="admin-key-file",
            )
        try:
            text = key_file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(
                f"cannot read the admin key file ({exc})", path=str(key_file)
            ) from None
        return AdminKey.from_secret(text.strip(), str(key_file))
    if from_env:
        return AdminKey.from_secret(from_env.strip(), ADMIN_KEY_ENV)
    return None


def demo_admin_key() -> str:
    """A fresh random admin key for ``serve --demo`` (printed once, never stored)."""
    return "demo-" + secrets.token_urlsafe(32)


@dataclass(frozen=True, slots=True, kw_only=True)
class ServiceConfig:
    """How the service runs (the options of ``crossmargin serve``).

    Parameters
    ----------
    db
        Store: an SQLite file path or a ``postgresql://`` URL.
    market
        Opening market snapshot (JSON); ignored when the database already holds an engine.
    accounts
        Opening accounts (portfolio JSON); ignored when the database holds an engine.
    risk_config
        Risk configuration YAML (default: the shipped one).
    model
        Margin model of a new engine (``None``: the stored engine's, else ``portfolio``).
    auto_liquidate
        Auto-liquidation policy of the engine.
    heartbeat
        Seconds a feed may stay silent before its assets are stale (``None``: the risk
        configuration's ``market.max_age_seconds``).
    sweep_every
        Engine seconds between full sweeps (0: only on ``POST /v1/sweep``).
    clock
        ``wall``: the engine clock follows the wall clock (a journaled clock input every
        ``clock_interval`` seconds, so silent feeds go stale); ``inputs``: it moves only with
        market data (replays, demos on historical data).
    clock_interval
        Seconds between clock inputs in ``wall`` mode.
    admin_key
        The admin key (``None``: only keys issued in the store are accepted).
    read_only
        A read replica: events and key checks from the store, no engine.
    max_body_bytes
        Largest request body accepted (413 beyond, before parsing).
    max_batch
        Most market updates in one ``POST /v1/market`` and trades in one what-if.
    session_hours
        Lifetime of a dashboard session.
    secure_cookies
        Mark the session cookie ``Secure`` (serve behind HTTPS).
    demo
        Started by ``--demo`` (shown on the dashboard).
    """

    db: str
    market: Path | None = None
    accounts: Path | None = None
    risk_config: Path | None = None
    model: str | None = None
    auto_liquidate: AutoLiquidate = "off"
    heartbeat: float | None = None
    sweep_every: float = 0.0
    clock: ClockMode = "wall"
    clock_interval: float = 1.0
    admin_key: AdminKey | None = field(default=None, repr=False)
    read_only: bool = False
    max_body_bytes: int = 1 << 20
    max_batch: int = 1000
    session_hours: float = 8.0
    secure_cookies: bool = False
    demo: bool = False

    def __post_init__(self) -> None:
        if self.clock not in ("wall", "inputs"):
            raise InputError("must be wall or inputs", path="clock")
        for name in ("clock_interval", "session_hours"):
            v = getattr(self, name)
            if not isinstance(v, int | float) or not 0 < v < 1e6:
                raise InputError("must be a positive number of reasonable size", path=name)
        if not 1024 <= self.max_body_bytes <= 1 << 30:
            raise InputError("must be between 1 KiB and 1 GiB", path="max_body_bytes")
        if not 1 <= self.max_batch <= 100_000:
            raise InputError("must be between 1 and 100000", path="max_batch")

    @property
    def session_ttl(self) -> timedelta:
        """Lifetime of a dashboard session."""
        return timedelta(hours=self.session_hours)
