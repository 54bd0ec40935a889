"""Confirmations reach every guardian: through a local SMTP server and a local Twilio
Messages API, reached by the real ``aiosmtplib`` and ``twilio`` clients."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from twilio.request_validator import RequestValidator

from tests.calls import place_call
from tests.conftest import AUTH_TOKEN, LiveServer
from tests.providers import LINE_SENDER, MAIL_SENDER, Providers
from tests.records import outbox, rows
from tests.roster_data import ALVA, ANNA, ERIK


@pytest.fixture
def server_settings(providers: Providers) -> dict[str, Any]:
    return providers.settings(dispatcher="on")


def _wait_for(condition: Callable[[], bool], seconds: float = 10.0) -> float:
    start = time.monotonic()
    while not condition():
        if time.monotonic() - start > seconds:
            raise AssertionError(f"not within {seconds} s")
        time.sleep(0.02)
    return time.monotonic() - start


def test_a_call_confirms_to_every_guardian_by_sms_and_email(
    live_server: LiveServer, providers: Providers, db: sa.Engine
) -> None:
    result = place_call(live_server, ALVA, "9")
    reference = result.references[0]

    _wait_for(lambda: len(providers.twilio.messages) == 2 and len(providers.sink.messages) == 2)

    sms = sorted(providers.twilio.messages, key=lambda m: m["To"])
    assert [m["To"] for m in sms] == [ANNA, ERIK]
    assert all(m["From"] == LINE_SENDER for m in sms)
    assert sms[0]["Body"].startswith("Alva är frånvaroanmäld hela dagen 25 nov.")
    assert sms[1]["Body"].startswith("Alva reported absent all day 25 Nov")
    assert all(reference in m["Body"] for m in sms)
    assert [m["StatusCallback"] for m in sms] == [
        f"{live_server.url}/twilio/sms/status?m={m['id']}"
        for m in sorted(outbox(db), key=lambda m: m["address"])
        if m["channel"] == "sms"
    ]

    emails = sorted(providers.sink.messages, key=lambda m: str(m["To"]))
    assert [str(m["To"]) for m in emails] == [
        "Anna Andersson <anna@example.com>",
        "Erik Andersson <erik@example.com>",
    ]
    swedish = emails[0]
    assert swedish["From"] == MAIL_SENDER
    assert swedish["Subject"] == f"Frånvaroanmälan för Alva Andersson ({reference})"
    assert swedish.get_content_type() == "text/plain"
    assert swedish.get_content_charset() == "utf-8"
    text = swedish.get_content()
    assert (
        "Alva Andersson (5A, Solskolan) har anmälts frånvarande hela dagen onsdag 25 november"
        in text
    )
    assert "070-174 06 05 (en registrerad vårdnadshavare)" in text
    assert swedish["Message-ID"].startswith("<") and "outbox-" in swedish["Message-ID"]
    assert "The report was made by telephone" in emails[1].get_content()

    settled = [("email", "sent")] * 2 + [("sms", "delivered")] * 2

    def reported() -> bool:
        # The provider records a callback once our answer to it is back: after the update.
        by_channel = sorted((m["channel"], m["status"]) for m in outbox(db))
        return by_channel == settled and len(providers.twilio.callbacks) == 2

    _wait_for(reported)  # "SMS delivery reports arrive"
    assert all(m["attempts"] == 1 and m["provider_id"] for m in outbox(db))
    assert all(status == 204 for _sid, status in providers.twilio.callbacks)


def _report(
    server: LiveServer, provider_id: str, status: str, query: str = "", **extra: str
) -> int:
    url = f"{server.url}/twilio/sms/status{query}"
    params = {"MessageSid": provider_id, "MessageStatus": status, **extra}
    signature = RequestValidator(AUTH_TOKEN).compute_signature(url, params)
    response = httpx.post(url, data=params, headers={"X-Twilio-Signature": signature})
    return response.status_code


def test_delivery_reports_move_a_message_forward_only(
    live_server: LiveServer, providers: Providers, db: sa.Engine
) -> None:
    providers.twilio.deliver = False
    place_call(live_server, ALVA, "9")
    _wait_for(lambda: sum(m["status"] == "sent" for m in outbox(db)) == 4)
    anna, erik = sorted(
        (m for m in outbox(db) if m["channel"] == "sms"), key=lambda m: m["address"]
    )

    assert _report(live_server, anna["provider_id"], "delivered") == 204
    assert _report(live_server, anna["provider_id"], "sent") == 204
    assert _report(live_server, erik["provider_id"], "undelivered", ErrorCode="30003") == 204
    assert _report(live_server, "SM" + "0" * 32, "delivered") == 204

    by_address = {m["address"]: m for m in outbox(db)}
    assert by_address[ANNA]["status"] == "delivered"
    assert by_address[ANNA]["provider_status"] == "delivered"
    assert by_address[ANNA]["delivered_at"] is not None
    assert by_address[ERIK]["status"] == "failed"
    assert by_address[ERIK]["last_error"] == "provider: undelivered (error 30003)"


def test_a_delivery_report_before_the_send_is_recorded_is_kept(
    live_server: LiveServer, providers: Providers, db: sa.Engine
) -> None:
    """Twilio can report delivery before the dispatcher has written down the message's
    SID; the report names the message in its URL, so it lands all the same."""
    providers.twilio.deliver = False
    place_call(live_server, ALVA, "9")
    _wait_for(lambda: sum(m["status"] == "sent" for m in outbox(db)) == 4)
    [anna] = [m for m in outbox(db) if m["channel"] == "sms" and m["address"] == ANNA]
    with db.begin() as connection:
        connection.execute(
            sa.text(
                "UPDATE outbox SET status = 'sending', claimed_by = 'w1', provider_id = NULL, "
                "provider_status = NULL, sent_at = NULL WHERE id = :id"
            ),
            {"id": anna["id"]},
        )
    sid = "SM" + "5" * 32

    assert _report(live_server, sid, "delivered", query=f"?m={anna['id']}") == 204
    assert _report(live_server, "SM" + "6" * 32, "failed", query=f"?m={anna['id']}") == 204

    [after] = rows(db, "SELECT * FROM outbox WHERE id = :id", id=anna["id"])
    assert (after["status"], after["provider_id"], after["claimed_by"]) == ("delivered", sid, None)
    assert after["sent_at"] is not None and after["delivered_at"] is not None


def test_a_forged_delivery_report_is_refused(
    live_server: LiveServer, providers: Providers, db: sa.Engine
) -> None:
    providers.twilio.deliver = False
    place_call(live_server, ALVA, "9")
    _wait_for(lambda: sum(m["status"] == "sent" for m in outbox(db)) == 4)
    [anna] = [m for m in outbox(db) if m["address"] == ANNA]

    response = httpx.post(
        f"{live_server.url}/twilio/sms/status",
        data={"MessageSid": anna["provider_id"], "MessageStatus": "failed"},
        headers={"X-Twilio-Signature": "forged"},
    )

    assert response.status_code == 403
    assert next(m for m in outbox(db) if m["address"] == ANNA)["status"] == "sent"
