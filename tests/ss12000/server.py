"""A local SS 12000 API (version 2.1) for the tests, as an ASGI app: it serves a
``SchoolData`` (``tests.ss12000.fixture``) in the standard's JSON shapes, signs clients in
the way school systems do, and fails on purpose when a test says so.

- ``POST /token``: OAuth 2.0 client credentials, the client authenticated by HTTP Basic
  (``client_secret_basic``) or in the form (``client_secret_post``); a bearer token with
  ``expires_in``. The data endpoints take those tokens while they last, and the fixed
  ``bearer_token``.
- ``GET /organisations`` (``type``), ``/persons`` (``relationship.entity.type`` enrolment,
  responsibleFor.enrolment or duty; ``expand`` groupMemberships and responsibleFor),
  ``/groups`` (``groupType``), ``/duties`` (``expand=person``), each with
  ``meta.modified.after`` (on or after, as the standard has it), ``limit`` and an opaque
  ``pageToken``; a ``pageToken`` beside any parameter but ``limit`` is a 400, as the
  standard says. ``GET /deletedEntities`` (``after``, ``entities``), paged the same way.
  ``POST /persons/lookup`` (``ids``) answers a bare list. References always carry their
  ``displayName`` (``expandReferenceNames`` is taken and has nothing more to add).
- Switches a test sets: ``refuse_tokens`` (every data request a 401), ``fail_status``
  (every data request answers it), ``hang_on_request`` (the Nth data request does not
  answer until the server stops), ``malformed_person`` (that person served with fields
  of the wrong type), ``not_json`` (pages that are no JSON), ``delay_seconds`` (each
  data request answers that much later), ``token_lifetime``.

Each page is joined from the entities' JSON, encoded once (orjson) and kept until the data
changes, so that a hundred thousand pupils are served in seconds.
"""

from __future__ import annotations

import asyncio
import base64
import gc
import secrets
import socket
import ssl
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import orjson
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ivr.roster.ss12000_client import SchoolSystemConnection
from tests.ss12000.fixture import Entity, SchoolData

CLIENT_ID = "ivr-absence-line"
CLIENT_SECRET = "local-ss12000-secret"
BEARER_TOKEN = "local-ss12000-bearer-token"
_PLURALS = {
    "Person": "persons",
    "Group": "groups",
    "Duty": "duties",
    "Organisation": "organisations",
}
_COMMON = {"meta.modified.after", "meta.modified.before", "expandReferenceNames", "sortkey"}
_ALLOWED = {
    "organisations": _COMMON | {"type", "schoolUnitCode", "parent"},
    "persons": _COMMON | {"relationship.entity.type", "relationship.organisation", "expand"},
    "groups": _COMMON | {"groupType", "organisation", "expand"},
    "duties": _COMMON | {"organisation", "expand"},
    "deletedEntities": {"after", "entities"},
}


@dataclass(frozen=True)
class _Cursor:
    ids: list[str]
    offset: int
    render: Callable[[list[str]], bytes]  # the page's "data", as JSON


class LocalSchoolSystem:
    """The API over ``data``; ``app`` is the ASGI application."""

    def __init__(self, data: SchoolData, token_lifetime: int = 3600) -> None:
        self.data = data
        self.token_lifetime = token_lifetime
        self.refuse_tokens = False
        self.fail_status: int | None = None
        self.hang_on_request: int | None = None
        self.malformed_person: str | None = None
        self.not_json = False
        self.delay_seconds = 0.0
        self.tokens_issued = 0
        self.token_auth_methods: list[str] = []
        self.data_requests = 0
        self.requests: list[tuple[str, str, list[tuple[str, str]]]] = []
        self.served: Counter[str] = Counter()
        self._issued: dict[str, float] = {}
        self._cursors: dict[str, _Cursor] = {}
        self._released = threading.Event()
        self._version = -1
        self._bytes: dict[tuple[str, bool, bool], bytes] = {}
        self._memberships: dict[str, list[Entity]] = {}
        self._responsible_for: dict[str, list[Entity]] = {}
        self.app = Starlette(
            routes=[
                Route("/token", self._token, methods=["POST"]),
                Route("/persons/lookup", self._lookup, methods=["POST"]),
                *(Route(f"/{kind}", self._list_route(kind), methods=["GET"]) for kind in _ALLOWED),
            ]
        )

    def prepare(self) -> None:
        """Encode every person as a full read asks for them (pupils with their
        memberships), so that the first read does not wait for it."""
        collecting = gc.isenabled()
        gc.disable()
        try:
            self._refresh()
            for key, person in self.data.persons.items():
                self._person(key, bool(person.get("enrolments")), False)
        finally:
            if collecting:
                gc.enable()

    def release(self) -> None:
        """Let a request held by ``hang_on_request`` end (the server is stopping)."""
        self._released.set()

    async def _token(self, request: Request) -> Response:
        form = await request.form()
        client_id, secret = str(form.get("client_id", "")), str(form.get("client_secret", ""))
        method = "client_secret_post"
        scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "basic":
            decoded = base64.b64decode(credentials).decode()
            client_id, _, secret = decoded.partition(":")
            method = "client_secret_basic"
        if form.get("grant_type") != "client_credentials":
            return JSONResponse({"error": "unsupported_grant_type"}, status_code=400)
        if (client_id, secret) != (CLIENT_ID, CLIENT_SECRET):
            return JSONResponse({"error": "invalid_client"}, status_code=401)
        token = secrets.token_urlsafe(24)
        self._issued[token] = time.monotonic() + self.token_lifetime
        self.tokens_issued += 1
        self.token_auth_methods.append(method)
        return JSONResponse(
            {"access_token": token, "token_type": "Bearer", "expires_in": self.token_lifetime}
        )

    async def _gate(self, request: Request) -> Response | None:
        """The answer to a data request that is refused, fails or hangs; else None."""
        self.data_requests += 1
        self.requests.append((request.method, request.url.path, request.query_params.multi_items()))
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        valid = token == BEARER_TOKEN or self._issued.get(token, 0) > time.monotonic()
        if self.refuse_tokens or scheme.lower() != "bearer" or not valid:
            return _error(401, "unauthorized", "the bearer token is missing, unknown or expired")
        if self.fail_status is not None:
            return _error(self.fail_status, "failure", "the local API fails on purpose")
        if self.data_requests == self.hang_on_request:
            await asyncio.to_thread(self._released.wait, 120)
            return _error(503, "stopping", "the local API is stopping")
        if self.not_json:
            return Response("<html><body>Logga in</body></html>", media_type="text/html")
        if self.delay_seconds:
            await asyncio.sleep(self.delay_seconds)
        self._refresh()
        return None

    def _list_route(self, kind: str) -> Callable[[Request], Any]:
        async def answer(request: Request) -> Response:
            refused = await self._gate(request)
            if refused is not None:
                return refused
            return self._page(kind, request)

        return answer

    def _page(self, kind: str, request: Request) -> Response:
        params = request.query_params
        try:
            limit = int(params.get("limit", "100"))
        except ValueError:
            limit = 0
        if limit < 1:
            return _error(400, "limit", "limit must be a whole number of at least 1")
        token = params.get("pageToken")
        if token is not None:
            if set(params.keys()) - {"pageToken", "limit"}:
                return _error(400, "pageToken", "filters cannot be combined with pageToken")
            cursor = self._cursors.get(token)
            if cursor is None:
                return _error(400, "pageToken", "unknown pageToken")
        else:
            unknown = set(params.keys()) - _ALLOWED[kind] - {"limit"}
            if unknown:
                return _error(400, "parameter", f"unknown parameter(s): {sorted(unknown)}")
            cursor = self._query(kind, request)
        ids = cursor.ids[cursor.offset : cursor.offset + limit]
        next_token = None
        if cursor.offset + limit < len(cursor.ids):
            next_token = secrets.token_urlsafe(18)
            self._cursors[next_token] = replace(cursor, offset=cursor.offset + limit)
        self.served.update(ids)
        body = b'{"data":' + cursor.render(ids) + b',"pageToken":' + orjson.dumps(next_token)
        return Response(body + b"}", media_type="application/json")

    def _query(self, kind: str, request: Request) -> _Cursor:
        params = request.query_params
        after = _moment(params.get("meta.modified.after"))
        if kind == "deletedEntities":
            return self._deleted(_moment(params.get("after")), params.getlist("entities"))
        entities: dict[str, Entity] = getattr(self.data, kind)
        ids = [key for key, entity in entities.items() if _modified_since(entity, after)]
        if kind == "organisations" and params.getlist("type"):
            types = set(params.getlist("type"))
            ids = [key for key in ids if entities[key]["organisationType"] in types]
        if kind == "groups" and params.getlist("groupType"):
            types = set(params.getlist("groupType"))
            ids = [key for key in ids if entities[key]["groupType"] in types]
        if kind == "persons":
            related = self._related(params.get("relationship.entity.type"))
            if related is not None:
                ids = [key for key in ids if key in related]
            expand = set(params.getlist("expand"))
            groups, cared_for = "groupMemberships" in expand, "responsibleFor" in expand
            return _Cursor(ids, 0, lambda page: self._persons(page, groups, cared_for))
        if kind == "duties" and "person" in params.getlist("expand"):
            return _Cursor(ids, 0, self._duties_with_persons)
        return _Cursor(ids, 0, lambda page: _join(entities[key] for key in page))

    def _related(self, relation: str | None) -> set[str] | None:
        persons = self.data.persons
        if relation == "enrolment":
            return {key for key, person in persons.items() if person.get("enrolments")}
        if relation == "responsibleFor.enrolment":
            return set(self._responsible_for)
        if relation == "duty":
            return {duty["person"]["id"] for duty in self.data.duties.values()}
        return None

    def _deleted(self, after: datetime | None, entities: list[str]) -> _Cursor:
        found = [
            f"{kind}:{key}"
            for kind, key, when in self.data.deleted
            if (after is None or when >= after) and (not entities or kind in entities)
        ]

        def render(page: list[str]) -> bytes:
            data: dict[str, list[str]] = {}
            for item in page:
                kind, _, key = item.partition(":")
                data.setdefault(_PLURALS.get(kind, kind.lower() + "s"), []).append(key)
            return orjson.dumps(data)

        return _Cursor(found, 0, render)

    async def _lookup(self, request: Request) -> Response:
        refused = await self._gate(request)
        if refused is not None:
            return refused
        body = orjson.loads(await request.body())
        ids = [key for key in body.get("ids", []) if key in self.data.persons]
        self.served.update(ids)
        expand = set(request.query_params.getlist("expand"))
        content = self._persons(ids, "groupMemberships" in expand, "responsibleFor" in expand)
        return Response(content, media_type="application/json")

    def _persons(self, ids: list[str], groups: bool, cared_for: bool) -> bytes:
        return b"[" + b",".join(self._person(key, groups, cared_for) for key in ids) + b"]"

    def _person(self, key: str, groups: bool, cared_for: bool) -> bytes:
        if key == self.malformed_person:
            person = self.data.persons[key]
            return orjson.dumps({**person, "civicNo": "not an object", "enrolments": {"x": 1}})
        cached = self._bytes.get((key, groups, cared_for))
        if cached is None:
            person = self.data.persons[key]
            embedded: Entity = {}
            if groups:
                embedded["groupMemberships"] = self._memberships.get(key, [])
            if cared_for:
                embedded["responsibleFor"] = self._responsible_for.get(key, [])
            cached = orjson.dumps({**person, "_embedded": embedded} if embedded else person)
            self._bytes[(key, groups, cared_for)] = cached
        return cached

    def _duties_with_persons(self, ids: list[str]) -> bytes:
        duties = []
        for key in ids:
            duty = self.data.duties[key]
            person = self.data.persons.get(duty["person"]["id"])
            duties.append({**duty, "_embedded": {"person": person}} if person else duty)
        return orjson.dumps(duties)

    def _refresh(self) -> None:
        """Rebuild what is derived from the data when a test changed it."""
        if self._version == self.data.version:
            return
        self._version = self.data.version
        self._bytes.clear()
        self._memberships = {}
        for group in self.data.groups.values():
            fragment = {key: value for key, value in group.items() if key != "groupMemberships"}
            for membership in group["groupMemberships"]:
                embedded = {key: value for key, value in membership.items() if key != "person"}
                self._memberships.setdefault(membership["person"]["id"], []).append(
                    {"group": fragment, **embedded}
                )
        self._responsible_for = {}
        for key, person in self.data.persons.items():
            if not person.get("enrolments"):
                continue
            reference = {"id": key, "displayName": f"{person['givenName']} {person['familyName']}"}
            for responsible in person.get("responsibles", []):
                self._responsible_for.setdefault(responsible["person"]["id"], []).append(
                    {"person": reference, "relationType": responsible["relationType"]}
                )


def _join(entities: Iterable[Entity]) -> bytes:
    return orjson.dumps(list(entities))


def _moment(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def _modified_since(entity: Entity, after: datetime | None) -> bool:
    return after is None or datetime.fromisoformat(entity["meta"]["modified"]) >= after


def _error(status: int, code: str, message: str) -> Response:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse({"code": code, "message": message}, status_code=status, headers=headers)


@dataclass
class RunningSchoolSystem:
    """The local API listening on 127.0.0.1."""

    api: LocalSchoolSystem
    url: str

    @property
    def token_url(self) -> str:
        return f"{self.url}/token"

    def connection(self, *, bearer: bool = False, **overrides: Any) -> SchoolSystemConnection:
        """How the line reaches this API: client credentials, or the fixed bearer token."""
        fields: dict[str, Any] = {"url": self.url}
        if bearer:
            fields["bearer_token"] = BEARER_TOKEN
        else:
            fields |= {
                "token_url": self.token_url,
                "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET,
            }
        return SchoolSystemConnection(**(fields | overrides))


@dataclass(frozen=True)
class ServerTls:
    """HTTPS for the local API: its certificate and key, and the CA whose client
    certificates it requires (None: no client certificate asked for)."""

    certificate: str
    key: str
    client_ca: str | None = None


@contextmanager
def serve_school_system(
    api: LocalSchoolSystem, tls: ServerTls | None = None
) -> Iterator[RunningSchoolSystem]:
    """Run ``api`` with uvicorn on a free port of 127.0.0.1 in a background thread for the
    ``with`` block (over HTTPS with ``tls``), its pages encoded before it starts; stopped
    (and any held request let go) at its end. What the process
    holds when it starts (the fixture above all) is kept out of the garbage collector's
    passes meanwhile: a hundred thousand pupils' entities would make each pass of the
    reading client scan them too."""
    api.prepare()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    https: dict[str, Any] = {}
    if tls is not None:
        https = {"ssl_certfile": tls.certificate, "ssl_keyfile": tls.key}
        if tls.client_ca is not None:
            https |= {"ssl_ca_certs": tls.client_ca, "ssl_cert_reqs": ssl.CERT_REQUIRED}
    config = uvicorn.Config(
        api.app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        access_log=False,
        lifespan="off",
        timeout_graceful_shutdown=5,
        **https,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True, name="local-ss12000")
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the local SS 12000 API did not start")
        time.sleep(0.01)
    gc.freeze()
    try:
        scheme = "http" if tls is None else "https"
        yield RunningSchoolSystem(api, f"{scheme}://127.0.0.1:{port}")
    finally:
        gc.unfreeze()
        api.release()
        server.should_exit = True
        thread.join(timeout=10)
