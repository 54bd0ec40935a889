"""A school's own system as the tests have it: an HTTP server on 127.0.0.1 that takes
absence webhooks at ``/<name>``, verifies every signature with the ``standardwebhooks``
library as a receiver would, and keeps what arrived. Each name answers as the test says:
204 by default, a queue of statuses, or no answer at all until the test lets go."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from standardwebhooks.webhooks import Webhook, WebhookVerificationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ivr.devtools.providers import HttpServer

_T = TypeVar("_T")


@dataclass(frozen=True)
class Arrival:
    name: str
    headers: dict[str, str]
    body: bytes
    verified: bool
    refusal: str | None
    at: float = field(default_factory=time.monotonic)

    @property
    def event(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.body)
        return parsed

    @property
    def webhook_id(self) -> str:
        return self.headers["webhook-id"]


def verify(secret: str, arrival: Arrival) -> None:
    """What a receiver does with a request: raises ``WebhookVerificationError`` unless
    ``secret`` signed it within five minutes of now."""
    Webhook(secret).verify(arrival.body, arrival.headers)


class Receiver:
    def __init__(self) -> None:
        self.secrets: dict[str, str] = {}
        self.answers: dict[str, list[int]] = {}
        self.hanging: set[str] = set()
        self.arrivals: list[Arrival] = []
        self.let_go = threading.Event()
        self.lock = threading.Lock()
        self.server: HttpServer | None = None

    def url(self, name: str) -> str:
        assert self.server is not None
        return f"{self.server.url}/{name}"

    def of(self, name: str) -> list[Arrival]:
        with self.lock:
            return [arrival for arrival in self.arrivals if arrival.name == name]

    def wait_for(self, name: str, count: int, seconds: float = 15.0) -> list[Arrival]:
        """At least ``count`` arrivals at ``name``; fails after ``seconds``."""
        wait_until(lambda: len(self.of(name)) >= count, seconds)
        return self.of(name)

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/{name}", self._take, methods=["POST"])])

    async def _take(self, request: Request) -> Response:
        name = request.path_params["name"]
        body = await request.body()
        headers = dict(request.headers.items())
        refusal = None
        try:
            Webhook(self.secrets[name]).verify(body, headers)
        except (WebhookVerificationError, KeyError) as error:
            refusal = f"{type(error).__name__}: {error}"
        with self.lock:
            self.arrivals.append(Arrival(name, headers, body, refusal is None, refusal))
            queued = self.answers.get(name) or []
            status = queued.pop(0) if queued else 204
        if name in self.hanging:
            await asyncio.to_thread(self.let_go.wait, 60)
            return Response(status_code=503)
        return Response(status_code=401 if refusal else status)


def wait_until(found: Callable[[], _T], seconds: float = 15.0) -> _T:
    """What ``found`` returns once it is truthy; fails after ``seconds``."""
    deadline = time.monotonic() + seconds
    while not (result := found()):
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {seconds} s")
        time.sleep(0.02)
    return result
