"""The HTTP side of reading an SS 12000 API: signing in (OAuth 2.0 client credentials
through Authlib, or a bearer token), following ``pageToken`` from page to page, and turning
whatever goes wrong into one ``SchoolSystemError`` that names the cause and the fix.

Paging as the standard has it: the first request carries the filters, ``expand`` and
``limit``; each next one only the ``pageToken`` the answer before gave, with ``limit`` (the
standard refuses other parameters beside a ``pageToken``); an answer without one, or with
``null``, is the last.
"""

from __future__ import annotations

import warnings
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from functools import partial
from typing import Any, TypeVar

import httpx
import orjson
from authlib.deprecate import AuthlibDeprecationWarning  # type: ignore[import-untyped]

from ivr.roster.ss12000_connection import SchoolSystemConnection, SchoolSystemError

with warnings.catch_warnings():
    # Authlib warns, at import, that it will want the httpx2 package instead of httpx one day.
    warnings.simplefilter("ignore", AuthlibDeprecationWarning)
    from authlib.integrations.base_client import OAuthError  # type: ignore[import-untyped]
    from authlib.integrations.httpx_client import (  # type: ignore[import-untyped]
        AsyncOAuth2Client,
    )

Params = Mapping[str, str | Sequence[str]]
T = TypeVar("T")
_CREDENTIALS = (
    "check IVR_SS12000_CLIENT_ID/SECRET (and IVR_SS12000_TOKEN_URL, IVR_SS12000_SCOPE) "
    "or IVR_SS12000_BEARER_TOKEN"
)
_REDIRECT = 300
_REFUSED = (401, 403)
_NOT_FOUND = 404
_TOO_MANY = 429
_SERVER_ERROR = 500
_LOOKUP_LIMIT = 1000


class SchoolSystemApi:
    """One signed-in session with the API; ``open()`` makes one."""

    def __init__(self, connection: SchoolSystemConnection, client: httpx.AsyncClient) -> None:
        self.connection = connection
        self.client = client
        self.base = connection.url.rstrip("/")
        self.requests = 0

    @classmethod
    @asynccontextmanager
    async def open(cls, connection: SchoolSystemConnection) -> AsyncIterator[SchoolSystemApi]:
        connection.check()
        options: dict[str, Any] = {
            "timeout": httpx.Timeout(connection.timeout_seconds),
            "verify": connection.tls(),
            "headers": {"Accept": "application/json"},
            "follow_redirects": False,
        }
        client: httpx.AsyncClient
        oauth: Any = None
        if connection.uses_client_credentials:
            client = oauth = AsyncOAuth2Client(
                client_id=connection.client_id,
                client_secret=connection.client_secret,
                scope=connection.scope or None,
                token_endpoint=connection.token_url,
                token_endpoint_auth_method="client_secret_basic",  # noqa: S106 - a method's name
                grant_type="client_credentials",
                **options,
            )
        else:
            options["headers"]["Authorization"] = f"Bearer {connection.bearer_token}"
            client = httpx.AsyncClient(**options)
        async with client:
            api = cls(connection, client)
            if oauth is not None:
                await api._call("the token endpoint", oauth.fetch_token)
            yield api

    async def pages(self, path: str, params: Params) -> AsyncIterator[object]:
        """The ``data`` of each page of ``GET path``, from the first to the last."""
        limit = str(self.connection.page_size)
        query: Params = {**params, "limit": limit}
        tokens: set[str] = set()
        page = 0
        while True:
            page += 1
            where = f"GET {path} page {page}"
            url = self.base + path
            body = await self._json(where, partial(self.client.get, url, params=query))
            if not isinstance(body, dict) or "data" not in body:
                raise _not_standard(where, "no data")
            yield body["data"]
            token = body.get("pageToken")
            if token is None or token == "":
                return
            if not isinstance(token, str):
                raise _not_standard(where, "pageToken is not a string")
            if token in tokens:
                raise _not_standard(where, "the same pageToken twice")
            tokens.add(token)
            query = {"pageToken": token, "limit": limit}

    async def lookup(self, ids: Sequence[str], expand: Sequence[str] = ()) -> list[object]:
        """``POST /persons/lookup`` of ``ids``, some at a time; the persons returned."""
        found: list[object] = []
        size = min(self.connection.page_size, _LOOKUP_LIMIT)
        params: Params = {"expandReferenceNames": "true"}
        if expand:
            params = {**params, "expand": list(expand)}
        url = f"{self.base}/persons/lookup"
        for start in range(0, len(ids), size):
            batch = {"ids": list(ids[start : start + size])}
            where = f"POST /persons/lookup ({start // size + 1})"
            body = await self._json(
                where, partial(self.client.post, url, params=params, json=batch)
            )
            # PersonsExpandedArray: the persons as a bare list (some APIs wrap it in data).
            persons = body.get("data") if isinstance(body, dict) else body
            if not isinstance(persons, list):
                raise _not_standard(where, "not a list of persons")
            found += persons
        return found

    async def _json(self, where: str, send: Callable[[], Awaitable[httpx.Response]]) -> object:
        response = await self._call(where, send)
        if response.status_code >= _REDIRECT:  # no redirect is followed
            raise _status_error(where, response.status_code)
        try:
            return orjson.loads(response.content)
        except orjson.JSONDecodeError:
            raise _not_standard(where, "not JSON") from None

    async def _call(self, where: str, send: Callable[[], Awaitable[T]]) -> T:
        """``send()``, with whatever goes wrong on the way as a ``SchoolSystemError``."""
        self.requests += 1
        try:
            return await send()
        except OAuthError as error:
            raise SchoolSystemError(
                f"the SS 12000 API refused the credentials ({where} answered "
                f"{getattr(error, 'error', '') or 'an OAuth error'}): {_CREDENTIALS}"
            ) from error
        except httpx.HTTPStatusError as error:  # the token endpoint's, raised by Authlib
            raise _status_error(where, error.response.status_code) from error
        except httpx.TimeoutException as error:
            raise SchoolSystemError(
                f"the SS 12000 API did not answer {where} within "
                f"{self.connection.timeout_seconds:g} s: try again later, or raise "
                "IVR_SS12000_TIMEOUT_SECONDS"
            ) from error
        except httpx.TransportError as error:
            raise SchoolSystemError(
                f"cannot reach the SS 12000 API ({where}: {error.__class__.__name__}: {error}): "
                "check IVR_SS12000_URL and IVR_SS12000_TOKEN_URL, the network, and for TLS "
                "IVR_SS12000_CA_FILE, IVR_SS12000_CLIENT_CERT and IVR_SS12000_CLIENT_KEY"
            ) from error
        except ValueError as error:  # Authlib: a token endpoint that answered no JSON object
            raise _not_standard(where, "no OAuth 2.0 token") from error


def _status_error(where: str, status: int) -> SchoolSystemError:
    if status in _REFUSED:
        return SchoolSystemError(
            f"the SS 12000 API refused the credentials (HTTP {status} from {where}): {_CREDENTIALS}"
        )
    if status >= _SERVER_ERROR:
        return SchoolSystemError(
            f"the SS 12000 API failed (HTTP {status} from {where}): the school system's own "
            "fault; try again later, and ask its supplier if it lasts"
        )
    if status == _NOT_FOUND:
        return SchoolSystemError(
            f"the SS 12000 API has no such address (HTTP 404 from {where}): check "
            "IVR_SS12000_URL (the API's base address, where /persons is) and "
            "IVR_SS12000_TOKEN_URL"
        )
    if status == _TOO_MANY:
        return SchoolSystemError(
            f"the SS 12000 API asked the line to slow down (HTTP 429 from {where}): try again later"
        )
    return SchoolSystemError(
        f"the SS 12000 API refused the request (HTTP {status} from {where}): ask the school "
        "system's supplier whether it serves SS 12000 version 2.1 at IVR_SS12000_URL"
    )


def _not_standard(where: str, detail: str) -> SchoolSystemError:
    return SchoolSystemError(
        f"the SS 12000 API answered {where} with something that is not the standard's JSON "
        f"({detail}): check that IVR_SS12000_URL is the base address of an SS 12000 API"
    )
