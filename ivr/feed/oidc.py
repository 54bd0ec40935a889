"""OpenID Connect for the staff page, through Authlib: the provider's discovery document,
the authorisation address (code flow with PKCE, ``state`` and ``nonce``), the code
redeemed for tokens, and the ID token checked (signature against the provider's published
keys, issuer, audience, nonce, expiry with some tolerance for the provider's clock).

Whatever fails raises ``SignInRefused`` with a reason for the log; the person is shown
one clear page and nothing is stored."""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass
from typing import Any

import httpx
from authlib.deprecate import AuthlibDeprecationWarning  # type: ignore[import-untyped]
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

with warnings.catch_warnings():
    # Authlib warns, at import, that it will want the httpx2 package instead of httpx one day.
    warnings.simplefilter("ignore", AuthlibDeprecationWarning)
    from authlib.integrations.base_client import OAuthError  # type: ignore[import-untyped]
    from authlib.integrations.httpx_client import (  # type: ignore[import-untyped]
        AsyncOAuth2Client,
    )

SCOPE = "openid email profile"
# What providers sign ID tokens with; never "none" and never a shared-secret algorithm.
ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"]


class SignInRefused(Exception):
    """The sign-in cannot be trusted or did not complete; the message is for the log."""


@dataclass(frozen=True, slots=True)
class Client:
    """The line as a client of one organisation's provider."""

    issuer: str
    client_id: str
    client_secret: str
    redirect_uri: str


@dataclass(frozen=True, slots=True)
class ProviderMetadata:
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str


async def discover(issuer: str, seconds: float) -> ProviderMetadata:
    """The provider's endpoints, from its discovery document; its issuer must be the one
    configured."""
    url = issuer.rstrip("/") + "/.well-known/openid-configuration"
    document = await _get_json(url, seconds)
    if str(document.get("issuer", "")).rstrip("/") != issuer.rstrip("/"):
        raise SignInRefused(f"the discovery document names another issuer than {issuer}")
    try:
        return ProviderMetadata(
            authorization_endpoint=str(document["authorization_endpoint"]),
            token_endpoint=str(document["token_endpoint"]),
            jwks_uri=str(document["jwks_uri"]),
        )
    except KeyError as missing:
        raise SignInRefused(f"the discovery document has no {missing}") from None


def authorization_url(
    client: Client, metadata: ProviderMetadata, state: str, nonce: str, verifier: str
) -> str:
    oauth = _oauth(client, 10.0)
    url, _state = oauth.create_authorization_url(
        metadata.authorization_endpoint, state=state, nonce=nonce, code_verifier=verifier
    )
    return str(url)


async def redeem(
    client: Client,
    metadata: ProviderMetadata,
    code: str,
    verifier: str,
    nonce: str,
    *,
    seconds: float,
    leeway: int,
) -> dict[str, Any]:
    """The ID token's claims, checked, for the code the provider sent back."""
    async with _oauth(client, seconds) as oauth:
        try:
            token = await oauth.fetch_token(
                metadata.token_endpoint,
                grant_type="authorization_code",
                code=code,
                code_verifier=verifier,
            )
        except (OAuthError, httpx.HTTPError, ValueError) as error:
            raise SignInRefused(f"the provider did not redeem the code: {error}") from None
    id_token = token.get("id_token")
    if not isinstance(id_token, str):
        raise SignInRefused("the provider's answer has no ID token")
    keys = await _get_json(metadata.jwks_uri, seconds)
    return verify_id_token(id_token, keys, client, nonce, leeway)


def verify_id_token(
    id_token: str, keys: dict[str, Any], client: Client, nonce: str, leeway: int
) -> dict[str, Any]:
    """The claims of an ID token signed by one of ``keys``, for this client and this
    sign-in. Its times are the provider's, so they are checked against the real clock of
    this machine (not the line's clock, which tests may set to another day), with
    ``leeway`` seconds of tolerance either way."""
    try:
        decoded = jwt.decode(id_token, KeySet.import_key_set(keys), algorithms=ALGORITHMS)  # type: ignore[arg-type]
        registry = jwt.JWTClaimsRegistry(
            now=lambda: int(time.time()),
            leeway=leeway,
            iss={"essential": True, "value": client.issuer.rstrip("/")},
            aud={"essential": True, "value": client.client_id},
            sub={"essential": True},
            exp={"essential": True},
            iat={"essential": True},
            nonce={"essential": True, "value": nonce},
        )
        registry.validate(decoded.claims)
    except (JoseError, ValueError, TypeError) as error:
        raise SignInRefused(f"the ID token is not valid: {error}") from None
    claims: dict[str, Any] = decoded.claims
    audience = claims["aud"]
    if isinstance(audience, list) and len(audience) > 1 and claims.get("azp") != client.client_id:
        raise SignInRefused("the ID token is for several audiences and not authorised for this one")
    return claims


def _oauth(client: Client, seconds: float) -> Any:
    return AsyncOAuth2Client(
        client_id=client.client_id,
        client_secret=client.client_secret,
        scope=SCOPE,
        redirect_uri=client.redirect_uri,
        code_challenge_method="S256",
        token_endpoint_auth_method="client_secret_post",  # noqa: S106 - a method's name
        timeout=seconds,
    )


async def _get_json(url: str, seconds: float) -> dict[str, Any]:
    try:
        async with httpx.AsyncClient(timeout=seconds, follow_redirects=False) as http:
            response = await http.get(url, headers={"Accept": "application/json"})
            response.raise_for_status()
            document = response.json()
    except (httpx.HTTPError, ValueError) as error:
        raise SignInRefused(f"{url} did not answer usefully: {error}") from None
    if not isinstance(document, dict):
        raise SignInRefused(f"{url} is not a JSON object")
    return document
