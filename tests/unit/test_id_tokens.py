"""The staff sign-in's ID token checks, on tokens made here: only a token signed by one of
the provider's published keys, by an asymmetric algorithm, from the configured issuer, for
this client, with this sign-in's nonce and not expired is taken. Its times are the
provider's, checked against the real clock with the configured leeway."""

from __future__ import annotations

import time
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import OctKey, RSAKey

from ivr.feed.oidc import Client, SignInRefused, verify_id_token

ISSUER = "https://login.example.org/tenant/v2.0"
CLIENT = Client(ISSUER, "ivr-line", "secret", "https://line.example.org/staff/callback")
NONCE = "n-0S6_WzA2Mj"
PROVIDER_KEY = RSAKey.generate_key(2048, parameters={"kid": "provider"})
KEYS = {"keys": [PROVIDER_KEY.as_dict(private=False)]}


def _token(key: Any = PROVIDER_KEY, alg: str = "RS256", **claims: Any) -> str:
    now = int(time.time())
    values = {
        "iss": ISSUER,
        "aud": CLIENT.client_id,
        "sub": "248289761001",
        "email": "karin.kansli@example.org",
        "iat": now,
        "exp": now + 300,
        "nonce": NONCE,
    }
    values.update(claims)
    values = {name: value for name, value in values.items() if value is not None}
    return jwt.encode({"alg": alg, "kid": "provider"}, values, key, algorithms=[alg])


def test_a_good_token_gives_its_claims() -> None:
    claims = verify_id_token(_token(), KEYS, CLIENT, NONCE, leeway=120)
    assert claims["email"] == "karin.kansli@example.org"


def test_a_token_a_little_past_its_expiry_is_taken_within_the_leeway() -> None:
    token = _token(exp=int(time.time()) - 60)
    assert verify_id_token(token, KEYS, CLIENT, NONCE, leeway=120)["sub"] == "248289761001"


@pytest.mark.parametrize(
    ("why", "token"),
    [
        ("signed by another key", _token(key=RSAKey.generate_key(2048))),
        ("a shared-secret algorithm", _token(key=OctKey.generate_key(256), alg="HS256")),
        ("another issuer", _token(iss="https://elsewhere.example.org")),
        ("another audience", _token(aud="another-client")),
        ("several audiences, not authorised for this one", _token(aud=["ivr-line", "other"])),
        ("another sign-in's nonce", _token(nonce="replayed")),
        ("no nonce", _token(nonce=None)),
        ("expired", _token(exp=int(time.time()) - 600)),
        ("no expiry", _token(exp=None)),
        ("no subject", _token(sub=None)),
    ],
)
def test_a_token_that_cannot_be_trusted_is_refused(why: str, token: str) -> None:
    with pytest.raises(SignInRefused):
        verify_id_token(token, KEYS, CLIENT, NONCE, leeway=120)


def test_a_token_that_is_not_a_token_is_refused() -> None:
    with pytest.raises(SignInRefused):
        verify_id_token("not.a.token", KEYS, CLIENT, NONCE, leeway=120)
