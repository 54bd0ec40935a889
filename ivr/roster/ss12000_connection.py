"""Where a school's SS 12000 API is and how the line signs in to it, and the one error a
read of it raises."""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ivr.roster.ss12000 import DEFAULT_RELATIONS

if TYPE_CHECKING:
    from ivr.settings import Settings


class SchoolSystemError(RuntimeError):
    """A read of the school's system failed as a whole; the message names the cause and
    what to do about it (never a personal number or a name)."""


@dataclass(frozen=True, slots=True)
class SchoolSystemConnection:
    """``url``: the API's base address (where ``/persons`` is). Sign-in: OAuth 2.0 client
    credentials at ``token_url`` when ``client_id`` is set, else ``bearer_token`` as it
    is. ``client_cert`` (with ``client_key``, unless the certificate file holds the key)
    is a TLS client certificate; ``ca_file`` the CA that signs the API's certificate."""

    url: str
    token_url: str = ""
    client_id: str = ""
    client_secret: str = field(default="", repr=False)
    scope: str = ""
    bearer_token: str = field(default="", repr=False)
    client_cert: Path | None = None
    client_key: Path | None = None
    ca_file: Path | None = None
    timeout_seconds: float = 30.0
    page_size: int = 1000
    guardian_relations: tuple[str, ...] = DEFAULT_RELATIONS

    @classmethod
    def from_settings(cls, settings: Settings, url: str | None = None) -> SchoolSystemConnection:
        """The connection the settings (``IVR_SS12000_*``) describe; ``url`` instead of
        ``IVR_SS12000_URL`` for an organisation whose system is elsewhere."""
        return cls(
            url=url or settings.ss12000_url,
            token_url=settings.ss12000_token_url,
            client_id=settings.ss12000_client_id,
            client_secret=settings.ss12000_client_secret.get_secret_value(),
            scope=settings.ss12000_scope,
            bearer_token=settings.ss12000_bearer_token.get_secret_value(),
            client_cert=settings.ss12000_client_cert,
            client_key=settings.ss12000_client_key,
            ca_file=settings.ss12000_ca_file,
            timeout_seconds=settings.ss12000_timeout_seconds,
            page_size=settings.ss12000_page_size,
            guardian_relations=tuple(settings.ss12000_guardian_relations),
        )

    @property
    def uses_client_credentials(self) -> bool:
        return bool(self.client_id)

    def check(self) -> None:
        """Raises ``SchoolSystemError`` naming what is missing before anything is sent."""
        if not self.url.startswith(("https://", "http://")):
            raise SchoolSystemError(
                "no SS 12000 API to read: set IVR_SS12000_URL to the API's base address "
                "(https://..., where /persons is)"
            )
        if self.uses_client_credentials and not (self.token_url and self.client_secret):
            raise SchoolSystemError(
                "OAuth 2.0 client credentials need IVR_SS12000_TOKEN_URL and "
                "IVR_SS12000_CLIENT_SECRET besides IVR_SS12000_CLIENT_ID"
            )
        if not self.uses_client_credentials and not self.bearer_token:
            raise SchoolSystemError(
                "no way to sign in to the SS 12000 API: set IVR_SS12000_CLIENT_ID, "
                "IVR_SS12000_CLIENT_SECRET and IVR_SS12000_TOKEN_URL, or IVR_SS12000_BEARER_TOKEN"
            )
        if self.client_key is not None and self.client_cert is None:
            raise SchoolSystemError("IVR_SS12000_CLIENT_KEY needs IVR_SS12000_CLIENT_CERT")
        if self.page_size < 1 or self.timeout_seconds <= 0:
            raise SchoolSystemError(
                "IVR_SS12000_PAGE_SIZE and IVR_SS12000_TIMEOUT_SECONDS must be positive"
            )

    def tls(self) -> ssl.SSLContext | bool:
        """What httpx verifies the API's certificate with and presents as the line's:
        the system's CAs unless ``ca_file``, and the client certificate if any."""
        if self.ca_file is None and self.client_cert is None:
            return True
        try:
            context = ssl.create_default_context(
                cafile=None if self.ca_file is None else str(self.ca_file)
            )
        except (OSError, ssl.SSLError) as error:
            raise SchoolSystemError(
                f"cannot read the CA file ({error.__class__.__name__}): check IVR_SS12000_CA_FILE"
            ) from error
        if self.client_cert is not None:
            try:
                context.load_cert_chain(
                    self.client_cert, None if self.client_key is None else self.client_key
                )
            except (OSError, ssl.SSLError) as error:
                raise SchoolSystemError(
                    f"cannot read the TLS client certificate ({error.__class__.__name__}): "
                    "check IVR_SS12000_CLIENT_CERT and IVR_SS12000_CLIENT_KEY"
                ) from error
        return context
