"""Staff tokens: made here, stored only as a keyed hash.

A token is 256 random bits (``secrets.token_urlsafe(32)``) behind a short prefix that makes
it recognisable. Only its HMAC-SHA256 under ``IVR_SECRET_KEY`` is stored, as for personal
numbers: a copy of the database lets no one in, and a new key invalidates every token.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from ivr.settings import Settings

TOKEN_PREFIX = "ivrs_"  # noqa: S105 - a prefix, not a secret


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_hash(token: str, settings: Settings) -> str:
    return hmac.new(
        settings.personal_number_key, b"staff-token:" + token.encode(), hashlib.sha256
    ).hexdigest()
