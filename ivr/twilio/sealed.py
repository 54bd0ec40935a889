"""What the line puts in a URL that Twilio calls back, sealed: AES-SIV from ``cryptography``
under a key derived (HKDF-SHA256) from ``IVR_SECRET_KEY`` for one purpose, bound to what it
belongs to (associated data). Twilio signs the URL it calls, so a sealed value comes back
unaltered; its console and logs show URLs, so nothing in one may be readable. SIV is
deterministic: the same value sealed for the same thing gives the same token, so a repeated
webhook is answered with the same document."""

from __future__ import annotations

import base64
import binascii

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESSIV
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

LONGEST_TOKEN = 2000


class InvalidToken(ValueError):
    """Not a token this line sealed for this purpose and this thing."""


class Sealer:
    def __init__(self, secret_key: bytes, purpose: bytes) -> None:
        key = HKDF(algorithm=hashes.SHA256(), length=64, salt=None, info=purpose)
        self._cipher = AESSIV(key.derive(secret_key))

    def seal(self, plain: bytes, bound_to: str) -> str:
        sealed = self._cipher.encrypt(plain, [bound_to.encode()])
        return base64.urlsafe_b64encode(sealed).rstrip(b"=").decode("ascii")

    def open(self, token: str, bound_to: str) -> bytes:
        if not token or len(token) > LONGEST_TOKEN or not token.isascii():
            raise InvalidToken("no sealed value in the request")
        try:
            sealed = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            return self._cipher.decrypt(sealed, [bound_to.encode()])
        except (InvalidTag, binascii.Error, ValueError) as error:
            raise InvalidToken(f"not sealed here ({type(error).__name__})") from None


class OutreachTokens:
    """An outreach call's contact, in the call's URLs (the contact's internal id only)."""

    PURPOSE = b"ivr outreach call"
    BOUND_TO = "outreach"

    def __init__(self, secret_key: bytes) -> None:
        self._sealer = Sealer(secret_key, self.PURPOSE)

    def seal(self, contact_id: int) -> str:
        return self._sealer.seal(str(contact_id).encode(), self.BOUND_TO)

    def open(self, token: str) -> int:
        plain = self._sealer.open(token, self.BOUND_TO)
        if not plain.isdigit():
            raise InvalidToken("not a contact")
        return int(plain)
