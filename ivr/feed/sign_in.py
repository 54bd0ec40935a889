"""Signing in to ``/staff`` with the organisation's own account (OpenID Connect, code flow
with PKCE; ``ivr.feed.oidc`` speaks to the provider).

``/staff/login`` starts: ``state``, ``nonce`` and the PKCE verifier are made here and kept
in a short-lived cookie sealed under a key derived from ``IVR_SECRET_KEY`` (HttpOnly,
SameSite=Lax so that it comes back with the provider's redirect, for ``/staff`` only).
``/staff/callback`` finishes: the cookie's ``state`` must be the one the provider sends
back, the code is redeemed once (the cookie is dropped whatever happens, so the same
answer cannot be used again), and the ID token must be signed by the provider, for this
line, for this sign-in and not expired. Then the person is matched by email (or the
organisation's configured claim) to grants and contact teachers; someone with nothing to
see gets a page that names nobody. A session is stored server-side (a keyed hash of the
cookie's value), so that revoking a grant or signing out ends it at once.
"""

from __future__ import annotations

import hmac
import json
import logging
import secrets
from collections.abc import Sequence
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from ivr.feed import oidc
from ivr.feed.access import SESSION_COOKIE, csrf_matches, signed_in
from ivr.feed.forms import HEADERS, PAGE, Csrf, html, same_origin
from ivr.services.sign_in import ProviderSecrets, new_session, session_hash
from ivr.store.sign_in import (
    end_session,
    find_provider,
    open_session,
    person_access,
    providers,
)
from ivr.twilio.sealed import InvalidToken, Sealer
from ivr.web.state import catalogues_of, database_of, now_of, settings_of

log = logging.getLogger(__name__)
router = APIRouter(tags=["staff sign-in"])

_HTML: dict[str, Any] = {"text/html": {"schema": {"type": "string"}}}
_PAGE = {"description": "A page for the person.", "content": _HTML}
# A NUL character in the path or query is refused before the route, in plain text.
_REFUSED = {
    "description": "The sign-in failed or could not be checked (a page); or a NUL character.",
    "content": {**_HTML, "text/plain": {"schema": {"type": "string"}}},
}
_TOO_LARGE = {"description": "The request is larger than the line accepts."}
RESPONSES: dict[int | str, dict[str, Any]] = {
    200: _PAGE,
    303: {"description": "On to the provider, or to the page once signed in."},
    400: _REFUSED,
    403: {
        "description": "Signed in, with no access here (a page naming nobody).",
        "content": _HTML,
    },
    404: {"description": "No organisation here signs in this way (a page).", "content": _HTML},
    413: _TOO_LARGE,
}

LOGIN = PAGE + "/login"
CALLBACK = PAGE + "/callback"
LOGOUT = PAGE + "/logout"
PENDING_COOKIE = "ivr_staff_login"
PENDING_SECONDS = 600
_PURPOSE = b"ivr staff sign-in"


def _secure(request: Request) -> bool:
    settings = settings_of(request)
    return settings.env != "development" or settings.public_base_url.startswith("https://")


Link = tuple[str, str, dict[str, object]]


def _page(
    request: Request, status: int, title: str, text: str = "", links: Sequence[Link] = ()
) -> Response:
    catalogue = catalogues_of(request)(None)
    return html(
        "sign_in.html",
        status,
        t=catalogue.text,
        lang=catalogue.language,
        title=catalogue.text(title),
        text=catalogue.text(text) if text else "",
        links=[(href, catalogue.text(label, **values)) for href, label, values in links],
    )


def _refused(request: Request, reason: str) -> Response:
    """One clear page, whatever went wrong; the reason goes to the log only."""
    log.warning("staff sign-in refused: %s", reason)
    response = _page(
        request,
        400,
        "staff.sign_in_failed_title",
        "staff.sign_in_failed_text",
        [(LOGIN, "staff.sign_in_again", {})],
    )
    response.delete_cookie(PENDING_COOKIE, path=PAGE)
    return response


def sign_in_links(found: list[tuple[int, str]]) -> list[tuple[str, str]]:
    """Where each organisation's staff start signing in, with its name."""
    return [(f"{LOGIN}?org={organisation_id}", name) for organisation_id, name in found]


@router.get(LOGIN, response_class=HTMLResponse, responses=RESPONSES)
async def login(request: Request, org: str | None = None) -> Response:
    """Start signing in with the organisation's provider (``org``: its id or name; not
    needed when one organisation's staff sign in)."""
    database = database_of(request)
    found = await database.run(providers)
    chosen = [(id_, name) for id_, name in found if org is None or org in (str(id_), name)]
    if len(chosen) != 1:
        links: list[Link] = [
            (href, "staff.sign_in_with", {"name": name}) for href, name in sign_in_links(found)
        ]
        return _page(
            request,
            404 if not found else 200,
            "staff.unauthorised_title",
            "staff.sign_in_choose" if found else "staff.unauthorised_text",
            links,
        )
    organisation_id = chosen[0][0]
    settings = settings_of(request)
    provider = await database.run(lambda session: find_provider(session, organisation_id))
    if provider is None:
        return _refused(request, "no provider")
    try:
        client = _client(
            request, provider.issuer, provider.client_id, provider.client_secret, organisation_id
        )
        metadata = await oidc.discover(provider.issuer, settings.oidc_timeout_seconds)
    except (oidc.SignInRefused, InvalidToken) as error:
        return _refused(request, str(error))
    state, nonce, verifier = (secrets.token_urlsafe(32) for _ in range(3))
    verifier += secrets.token_urlsafe(16)
    target = oidc.authorization_url(client, metadata, state, nonce, verifier)
    pending = json.dumps([organisation_id, state, nonce, verifier]).encode()
    response = RedirectResponse(target, status_code=303, headers=HEADERS)
    response.set_cookie(
        PENDING_COOKIE,
        Sealer(settings.personal_number_key, _PURPOSE).seal(pending, "pending"),
        max_age=PENDING_SECONDS,
        path=PAGE,
        httponly=True,
        samesite="lax",
        secure=_secure(request),
    )
    return response


def _client(
    request: Request, issuer: str, client_id: str, sealed: str, organisation_id: int
) -> oidc.Client:
    settings = settings_of(request)
    secret = ProviderSecrets(settings.personal_number_key).open(sealed, organisation_id, client_id)
    return oidc.Client(issuer, client_id, secret, settings.public_base_url + CALLBACK)


def _pending(request: Request) -> tuple[int, str, str, str] | None:
    value = request.cookies.get(PENDING_COOKIE, "")
    try:
        plain = Sealer(settings_of(request).personal_number_key, _PURPOSE).open(value, "pending")
        organisation_id, state, nonce, verifier = json.loads(plain)
    except (InvalidToken, ValueError, TypeError):
        return None
    return int(organisation_id), str(state), str(nonce), str(verifier)


@router.get(CALLBACK, response_class=HTMLResponse, responses=RESPONSES)
async def callback(
    request: Request,
    state: str = "",
    code: str = "",
    error: str | None = None,
) -> Response:
    """Where the provider sends the person back."""
    pending = _pending(request)
    if pending is None:
        return _refused(request, "no sign-in in progress in this browser (or it took too long)")
    organisation_id, expected_state, nonce, verifier = pending
    if not hmac.compare_digest(expected_state.encode(), state.encode()):
        return _refused(request, "the state sent back is not this browser's")
    if error is not None or not code:
        return _refused(request, f"the provider answered {error or 'without a code'}")
    settings, database = settings_of(request), database_of(request)
    provider = await database.run(lambda session: find_provider(session, organisation_id))
    if provider is None:
        return _refused(request, "the organisation no longer signs in with a provider")
    email_claim = provider.email_claim
    try:
        client = _client(
            request, provider.issuer, provider.client_id, provider.client_secret, organisation_id
        )
        metadata = await oidc.discover(provider.issuer, settings.oidc_timeout_seconds)
        claims = await oidc.redeem(
            client,
            metadata,
            code,
            verifier,
            nonce,
            seconds=settings.oidc_timeout_seconds,
            leeway=settings.oidc_leeway_seconds,
        )
    except (oidc.SignInRefused, InvalidToken) as refused:
        return _refused(request, str(refused))
    email = claims.get(email_claim)
    if not isinstance(email, str) or "@" not in email or len(email) > 254:
        return _refused(request, f"the ID token has no usable {email_claim!r} claim")
    name = claims.get("name")
    value = new_session()
    hashed = session_hash(value, settings)
    now = now_of(request)

    def start(session: Session) -> bool:
        if person_access(session, organisation_id, email) is None:
            return False
        open_session(
            session, organisation_id, email, name if isinstance(name, str) else email, hashed, now
        )
        return True

    if not await database.run(start):
        log.info("staff sign-in without access (organisation %s)", organisation_id)
        response = _page(request, 403, "staff.no_access_title", "staff.no_access_text")
    else:
        response = RedirectResponse(PAGE, status_code=303, headers=HEADERS)
        response.set_cookie(
            SESSION_COOKIE,
            value,
            path="/",
            httponly=True,
            samesite="lax",
            secure=_secure(request),
        )
    response.delete_cookie(PENDING_COOKIE, path=PAGE)
    return response


@router.post(LOGOUT, response_class=HTMLResponse, responses=RESPONSES)
async def logout(request: Request, csrf: Csrf) -> Response:
    """Sign out: the session ends on the server, not only in this browser."""
    access = await signed_in(request)
    if access is not None:
        if not same_origin(request) or not csrf_matches(access, settings_of(request), csrf):
            return _refused(request, "a sign-out form not from this page")
        hashed = access.token_hash
        await database_of(request).run(lambda session: end_session(session, hashed))
    response = _page(
        request,
        200,
        "staff.signed_out_title",
        "staff.signed_out_text",
        [(LOGIN, "staff.sign_in_again", {})],
    )
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
