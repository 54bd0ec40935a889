"""Staff sign-in, what the command line and the page share: the provider's client secret
sealed at rest, and the sessions' cookie values, stored only as a keyed hash.

The client secret is sealed (AES-SIV) under a key derived from ``IVR_SECRET_KEY`` for this
purpose, bound to the organisation and the client id, so a sealed secret copied to another
organisation's row does not open."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from ivr.settings import Settings
from ivr.twilio.sealed import Sealer

SESSION_PREFIX = "ivrp_"


class ProviderSecrets:
    PURPOSE = b"ivr oidc client secret"

    def __init__(self, secret_key: bytes) -> None:
        self._sealer = Sealer(secret_key, self.PURPOSE)

    def seal(self, secret: str, organisation_id: int, client_id: str) -> str:
        return self._sealer.seal(secret.encode(), f"{organisation_id} {client_id}")

    def open(self, sealed: str, organisation_id: int, client_id: str) -> str:
        """The secret; ``InvalidToken`` if it was not sealed here for this client."""
        return self._sealer.open(sealed, f"{organisation_id} {client_id}").decode()


def new_session() -> str:
    return SESSION_PREFIX + secrets.token_urlsafe(32)


def session_hash(value: str, settings: Settings) -> str:
    return hmac.new(
        settings.personal_number_key, b"staff-session:" + value.encode(), hashlib.sha256
    ).hexdigest()
