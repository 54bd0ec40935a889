"""The provider's webhooks, straight to their handlers.

Every webhook of every call comes through here, and each is a POST of a form answered with
one document: none needs FastAPI's routing, dependency solving or exception layers, which
cost as much as the webhook's own work. Their routes stay declared on the application (for
the OpenAPI document and for anything that reads it); this middleware takes the requests
for those paths first and calls the same handlers, answering an ``HTTPException`` as
FastAPI would (``{"detail": ...}``). It sits inside the request size limit.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from fastapi import HTTPException
from fastapi.responses import JSONResponse
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

Handler = Callable[[Request], Awaitable[Response]]


class WebhookLane:
    def __init__(self, app: ASGIApp, handlers: Mapping[str, Handler]) -> None:
        self.app = app
        self.handlers = dict(handlers)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        handler = self.handlers.get(scope.get("path", "")) if scope["type"] == "http" else None
        if handler is None or scope.get("method") != "POST":
            await self.app(scope, receive, send)
            return
        try:
            response = await handler(Request(scope, receive))
        except HTTPException as error:
            response = JSONResponse(
                {"detail": error.detail}, status_code=error.status_code, headers=error.headers
            )
        await response(scope, receive, send)
