"""The routes a load balancer and Prometheus read: the process is up, the database answers,
and the line's figures."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text
from sqlalchemy.orm import Session

from ivr import metrics
from ivr.domain.statuses import MessageStatus
from ivr.store.outbox import count_by_status
from ivr.store.webhook_deliveries import endpoint_figures
from ivr.web.state import database_of

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz", responses={503: {"description": "The database does not answer."}})
async def readyz(request: Request) -> JSONResponse:
    """The database answers: ready to take calls."""
    try:
        await database_of(request).run_core(
            lambda connection: connection.execute(text("SELECT 1")), within=2.0
        )
    except Exception as error:  # noqa: BLE001 - whatever fails, the line is not ready
        return JSONResponse({"status": "unavailable", "reason": type(error).__name__}, 503)
    return JSONResponse({"status": "ready"})


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text."}},
)
async def prometheus_metrics(request: Request) -> Response:
    """Webhooks by step and outcome, their latency, absences recorded, refused calls,
    unknown personal numbers, the outbox by status, and absence webhooks by endpoint."""

    def read(session: Session) -> tuple[dict[str, int], list[tuple[int, int, int, int, int]]]:
        endpoints = [
            (e.endpoint_id, e.sent, e.retried, e.failed, e.pending)
            for e in endpoint_figures(session)
        ]
        return count_by_status(session), endpoints

    try:
        by_status, endpoints = await database_of(request).run(read, within=2.0)
    except Exception:  # noqa: BLE001 - the process's own figures are still worth serving
        by_status, endpoints = {}, []
    for status in MessageStatus:
        metrics.OUTBOX.labels(status).set(by_status.get(status, 0))
    metrics.WEBHOOKS_OUT.update(endpoints)
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
