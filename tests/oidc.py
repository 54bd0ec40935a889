"""A real OpenID Connect provider on 127.0.0.1 (the ``oidc-provider-mock`` package, a Flask
application built on Authlib's server side) in a thread, and a person signing in to the
staff page through it over plain HTTP.

The provider stamps ID tokens with its own real clock (``iat``, ``exp``); the line checks
them against the machine's real time too, whatever day the test's clock says. A person's
claims may override the token's own (``aud``, ``exp``), which is how a token for another
audience or an expired one is made: still signed by the provider's key."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import httpx
import werkzeug.serving

CLIENT_ID = "ivr-line"
CLIENT_SECRET = "client-secret-for-tests"
OFFICE = "office@testkommun.example"
TEACHER = "asa.lind@testkommun.example"
STRANGER = "nobody@testkommun.example"
OTHER_AUDIENCE = "elsewhere@testkommun.example"
EXPIRED = "expired@testkommun.example"


@contextmanager
def oidc_provider() -> Iterator[str]:
    """The provider's issuer URL, for as long as the context lasts."""
    from oidc_provider_mock import User, app  # type: ignore[import-untyped]

    people: Sequence[User] = (
        User(sub=OFFICE, claims={"email": OFFICE, "name": "Karin Kansli"}),
        User(sub=TEACHER, claims={"email": TEACHER, "name": "Åsa Lind"}),
        User(sub=STRANGER, claims={"email": STRANGER, "name": "Ulla Utan"}),
        User(sub=OTHER_AUDIENCE, claims={"email": OFFICE, "aud": "another-client"}),
        User(sub=EXPIRED, claims={"email": OFFICE, "exp": int(time.time()) - 3600}),
    )
    server = werkzeug.serving.make_server(
        "127.0.0.1", 0, app(require_nonce=True, user_claims=people), threaded=True
    )
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


@dataclass
class SignIn:
    """One browser's cookies, and where the provider sent it back."""

    client: httpx.Client
    callback: str
    answer: httpx.Response


def start(server_url: str, person: str) -> tuple[httpx.Client, str]:
    """Begin signing in and let ``person`` consent at the provider: the browser-like
    client (holding the pending sign-in's cookie) and the callback address."""
    client = httpx.Client(base_url=server_url, timeout=10)
    to_provider = client.get("/staff/login")
    assert to_provider.status_code == 303, to_provider.text
    consent = httpx.post(to_provider.headers["location"], data={"sub": person}, timeout=10)
    assert consent.status_code in (302, 303), consent.text
    return client, consent.headers["location"]


def sign_in(server_url: str, person: str) -> SignIn:
    client, callback = start(server_url, person)
    return SignIn(client, callback, client.get(callback))


def csrf_of(page: str) -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', page)
    assert found is not None, "the page has a form"
    return found.group(1)
