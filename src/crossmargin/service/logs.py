"""Logging of the service: uvicorn's loggers with a filter that keeps keys out of every line.

Keys travel only in the ``Authorization`` header and in the login form's body, and neither is
logged (uvicorn's access log has the method, path, query and status). As a second line of
defence every log record passes :class:`RedactKeys`, which replaces anything shaped like an
issued key (``cmk_<id>_<secret>``), a ``Bearer`` credential, or the configured admin key
(recognised by its SHA-256: the filter never holds the key) with ``[redacted]``.
"""

from __future__ import annotations

import hashlib
import logging
import re
from typing import Any

__all__ = ["RedactKeys", "forbid_secret_digest", "logging_config", "redact"]

_TOKEN = re.compile(r"cmk_[0-9a-f]{16}_[A-Za-z0-9_-]{20,}")
_BEARER = re.compile(r"(?i)(bearer\s+)\S+")
_LONG = re.compile(r"[A-Za-z0-9_\-.~+!$*'()@:]{32,512}")

#: SHA-256 digests of secrets that must never appear (the configured admin key).
_SECRET_DIGESTS: set[bytes] = set()


def forbid_secret_digest(digest: bytes) -> None:
    """Redact any token whose SHA-256 is ``digest`` (the admin key) from every log line."""
    _SECRET_DIGESTS.add(digest)


def _long(m: re.Match[str]) -> str:
    text = m.group(0)
    if hashlib.sha256(text.encode()).digest() in _SECRET_DIGESTS:
        return "[redacted]"
    return text


def redact(text: str) -> str:
    """``text`` with keys replaced by ``[redacted]``."""
    text = _TOKEN.sub("[redacted]", text)
    text = _BEARER.sub(r"\1[redacted]", text)
    if _SECRET_DIGESTS:
        text = _LONG.sub(_long, text)
    return text


class RedactKeys(logging.Filter):
    """Replace keys in a record's message and arguments (module docstring)."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Redact the message template and each argument, and keep the record."""
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        args = record.args
        if isinstance(args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in args)
        elif isinstance(args, dict):
            record.args = {k: redact(v) if isinstance(v, str) else v for k, v in args.items()}
        return True


def logging_config(level: str = "info") -> dict[str, Any]:
    """Uvicorn's logging configuration with :class:`RedactKeys` on every handler."""
    from uvicorn.config import LOGGING_CONFIG

    cfg: dict[str, Any] = {
        **LOGGING_CONFIG,
        "filters": {"redact": {"()": "crossmargin.service.logs.RedactKeys"}},
        "handlers": {
            name: {**h, "filters": ["redact"]} for name, h in LOGGING_CONFIG["handlers"].items()
        },
        "loggers": {
            **LOGGING_CONFIG["loggers"],
            "crossmargin": {"handlers": ["default"], "level": level.upper(), "propagate": False},
        },
    }
    cfg["loggers"]["uvicorn"] = {**cfg["loggers"]["uvicorn"], "level": level.upper()}
    return cfg
