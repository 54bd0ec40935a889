"""The absence webhooks in the OpenAPI document (its ``webhooks``): what a school's
endpoint is posted when a report changes, and the headers that sign it. Nothing here is
served: the dispatcher posts these (``ivr.notify.webhook_lane``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header

from ivr.services.webhooks import TYPES, AbsenceWebhook, PingWebhook

router = APIRouter(tags=["absence webhooks"])

WebhookId = Annotated[
    str,
    Header(
        alias="webhook-id",
        description="The event's id for this endpoint: the same on every attempt, so a "
        "receiver that has seen it drops the repeat.",
    ),
]
WebhookTimestamp = Annotated[
    str,
    Header(
        alias="webhook-timestamp",
        description="When this attempt was signed, in seconds since 1970 (UTC). Refuse one "
        "more than five minutes off your clock.",
    ),
]
WebhookSignature = Annotated[
    str,
    Header(
        alias="webhook-signature",
        description="`v1,` and the base64 HMAC-SHA256 of `{webhook-id}.{webhook-timestamp}."
        "{body}` under the endpoint's secret (the base64 after `whsec_`), as the Standard "
        "Webhooks specification says: `standardwebhooks.Webhook(secret).verify(body, "
        "headers)`.",
    ),
]

ANSWERS: dict[int | str, dict[str, Any]] = {
    200: {"description": "Any 2xx: taken. The body of the answer is not read."},
    410: {"description": "Gone: the endpoint is disabled and sent nothing more."},
    500: {
        "description": "Any other status, a timeout (`IVR_WEBHOOK_TIMEOUT_SECONDS`) or a "
        "refused connection: tried again later with the same `webhook-id` (5 s doubling to "
        "15 minutes, up to `IVR_OUTBOX_MAX_ATTEMPTS` and `IVR_OUTBOX_MAX_AGE_HOURS`)."
    },
}


async def absence_changed(
    event: AbsenceWebhook,
    webhook_id: WebhookId,
    webhook_timestamp: WebhookTimestamp,
    webhook_signature: WebhookSignature,
) -> None:
    """A report changed: ``type`` says how, ``data`` is the absence as the feed API shows
    it. Events of one absence may arrive out of order after a retry: compare the absence's
    ``status``, ``acknowledged`` and ``cancelled`` rather than the order of arrival."""


async def webhook_test(
    event: PingWebhook,
    webhook_id: WebhookId,
    webhook_timestamp: WebhookTimestamp,
    webhook_signature: WebhookSignature,
) -> None:
    """Sent by `ivr webhook test`, once: the signature and the answer, without a report."""


for event_type in TYPES.values():
    router.add_api_route(
        event_type,
        absence_changed,
        methods=["POST"],
        name=event_type,
        operation_id=event_type.replace(".", "_"),
        summary=f"{event_type}",
        responses=ANSWERS,
        status_code=200,
    )
router.add_api_route(
    "webhook.test",
    webhook_test,
    methods=["POST"],
    name="webhook.test",
    operation_id="webhook_test",
    responses=ANSWERS,
)
