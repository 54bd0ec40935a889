"""Who is asking: the staff token a request carries (``ivr.services.staff_tokens`` makes
them), checked against the store.

Where a request may carry its token:

- ``Authorization: Bearer <token>``: everything. The API's acknowledge and cancel take the
  token only this way, so no web page can make a browser do them (a browser never adds
  that header by itself, and a cross-site request that sets it needs CORS, which is off).
- ``?token=<token>``: reading (feed readers cannot send headers; a link opens the page).
- the page's cookie (HttpOnly, SameSite=Strict): reading, and the page's own forms, which
  also carry a CSRF token (``ivr.feed.page``); only for an organisation whose staff do not
  sign in with their own account.

A person signed in with their organisation's account (``ivr.feed.sign_in``) has a session
cookie instead: the page and its forms, and reading the API of whole schools (the page's
CSV link); a teacher, who sees some groups only, reads the API with a token.

Whatever is wrong (no token, an unknown one, a revoked one, a school the token does not
have), the answer is the same 401, so it tells nothing about who or what exists.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import timedelta
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request
from fastapi.security import APIKeyCookie, APIKeyQuery, HTTPAuthorizationCredentials, HTTPBearer

from ivr.services.sign_in import session_hash
from ivr.services.staff_tokens import token_hash
from ivr.settings import Settings
from ivr.store.db import Database
from ivr.store.sign_in import has_provider, session_access
from ivr.store.staff import StaffAccess, find_access

COOKIE = "ivr_staff"
SESSION_COOKIE = "ivr_staff_session"
UNAUTHORISED = "a valid staff token is needed"

# Documented on every staff route.
ACCESS_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "A NUL character in the path or query."},
    401: {"description": "No valid staff token for what was asked (the same for any reason)."},
    413: {"description": "The request is larger than the line accepts."},
}


def csrf_token(access: StaffAccess, settings: Settings) -> str:
    """The page's forms carry this; it is bound to the token and unknown to other sites."""
    return hmac.new(
        settings.personal_number_key, b"csrf:" + access.token_hash.encode(), hashlib.sha256
    ).hexdigest()


def csrf_matches(access: StaffAccess, settings: Settings, presented: str) -> bool:
    return hmac.compare_digest(csrf_token(access, settings), presented)


def unauthorised() -> HTTPException:
    return HTTPException(
        status_code=401, detail=UNAUTHORISED, headers={"WWW-Authenticate": 'Bearer realm="staff"'}
    )


async def resolve(request: Request, token: str | None) -> StaffAccess | None:
    """The access ``token`` gives, or None."""
    token = (token or "").strip()
    if not token or len(token) > 200:
        return None
    settings: Settings = request.app.state.settings
    database: Database = request.app.state.database
    hashed = token_hash(token, settings)
    return await database.run(lambda session: find_access(session, hashed))


async def signed_in(request: Request) -> StaffAccess | None:
    """The access of the person whose session cookie the request carries, or None."""
    value = request.cookies.get(SESSION_COOKIE, "")
    if not value or len(value) > 200:
        return None
    settings: Settings = request.app.state.settings
    database: Database = request.app.state.database
    hashed = session_hash(value, settings)
    now = request.app.state.clock()
    idle = timedelta(minutes=settings.staff_session_minutes)
    return await database.run(lambda session: session_access(session, hashed, now, idle))


async def token_for_page(request: Request, token: str | None) -> StaffAccess | None:
    """A token's access on the page: none once the organisation's staff sign in with
    their own account (tokens are then for machines only)."""
    access = await resolve(request, token)
    if access is None:
        return None
    database: Database = request.app.state.database
    organisation_id = access.organisation_id
    if await database.run(lambda session: has_provider(session, organisation_id)):
        return None
    return access


async def page_access(request: Request) -> StaffAccess | None:
    """Who reads the page: a signed-in person, or the token in the page's cookie."""
    return await signed_in(request) or await token_for_page(request, request.cookies.get(COOKIE))


_bearer = HTTPBearer(auto_error=False, description="A staff token (`ivr staff token create`).")
_query = APIKeyQuery(
    name="token", auto_error=False, description="The staff token, for readers without headers."
)
_cookie = APIKeyCookie(name=COOKIE, auto_error=False, description="Set by the page /staff.")
Bearer = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


async def reader(
    request: Request,
    bearer: Bearer,
    query: Annotated[str | None, Depends(_query)],
    cookie: Annotated[str | None, Depends(_cookie)],
) -> StaffAccess:
    """Who may read: a token in the header, the query or the page's cookie."""
    presented = bearer.credentials if bearer is not None else (query or cookie)
    access = await resolve(request, presented)
    if access is None and presented is None:
        person = await signed_in(request)
        access = person if person is not None and person.whole_schools else None
    if access is None:
        raise unauthorised()
    return access


async def writer(request: Request, bearer: Bearer) -> StaffAccess:
    """Who may change something through the API: a token in the header, nowhere else."""
    access = await resolve(request, bearer.credentials if bearer is not None else None)
    if access is None:
        raise unauthorised()
    return access


StaffReader = Annotated[StaffAccess, Depends(reader)]
StaffWriter = Annotated[StaffAccess, Depends(writer)]


def schools_asked(access: StaffAccess, school: str | None) -> list[int]:
    """The token's schools, or the one asked for; 401 if the token does not have it."""
    if school is None:
        return list(access.schools)
    school_id = access.school_id(school)
    if school_id is None:
        raise unauthorised()
    return [school_id]
