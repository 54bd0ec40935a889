"""Who is asking: the staff token a request carries (``ivr.services.staff_tokens`` makes
them), checked against the store.

Where a request may carry its token:

- ``Authorization: Bearer <token>``: everything. The API's acknowledge and cancel take the
  token only this way, so no web page can make a browser do them (a browser never adds
  that header by itself, and a cross-site request that sets it needs CORS, which is off).
- ``?token=<token>``: reading (feed readers cannot send headers; a link opens the page).
- the page's cookie (HttpOnly, SameSite=Strict): reading, and the page's own forms, which
  also carry a CSRF token (``ivr.feed.page``).

Whatever is wrong (no token, an unknown one, a revoked one, a school the token does not
have), the answer is the same 401, so it tells nothing about who or what exists.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request
from fastapi.security import APIKeyCookie, APIKeyQuery, HTTPAuthorizationCredentials, HTTPBearer

from ivr.services.staff_tokens import token_hash
from ivr.settings import Settings
from ivr.store.db import Database
from ivr.store.staff import StaffAccess, find_access

COOKIE = "ivr_staff"
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
