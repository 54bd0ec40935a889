"""What every pupil identity number shares, whichever country issued it: it is never shown,
logged or stored whole. Pure."""

from __future__ import annotations

import hashlib
import hmac
from datetime import date


class IdentityNumber:
    """A valid identity number, kept as its digits (``digits``, a field of each kind).
    Each kind says how it is masked and which birth date it means."""

    __slots__ = ()
    digits: str

    @property
    def masked(self) -> str:
        """Safe to log or print: the birth date part, the rest as stars."""
        raise NotImplementedError

    @property
    def birth_date(self) -> date:
        raise NotImplementedError

    def keyed_hash(self, key: bytes) -> str:
        """Lookup key for the store: the number itself is never stored."""
        return hmac.new(key, self.digits.encode("ascii"), hashlib.sha256).hexdigest()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.masked})"

    def __str__(self) -> str:
        return repr(self)
