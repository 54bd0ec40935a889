"""The outreach call's webhooks against what Twilio might send that the line did not
expect: a contact token that does not open, a forged signature, and a call answered after
the outreach has ended. The caller always hears something sensible; nothing is recorded."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from ivr.devtools.signing import signed_headers
from tests.conftest import AUTH_TOKEN, LiveServer
from tests.missing import calls_to, eventually
from tests.providers import ACCOUNT_SID, Providers
from tests.records import outbox, rows
from tests.roster_data import ANNA, ERIK
from tests.staff import Staff

GOODBYE = "Tack för samtalet. Hej då."
ENDED = ("completed", "canceled", "no-answer", "busy", "failed")


@pytest.fixture
def server_settings(providers: Providers) -> dict[str, object]:
    providers.twilio.ring_timeout_seconds = 60.0
    providers.twilio.default_answer = "ring"
    return providers.settings(dispatcher="on", calls_per_second=50.0, call_from="+46701740698")


def _webhook(url: str, **params: str) -> httpx.Response:
    form = {"AccountSid": ACCOUNT_SID, "CallSid": "CA" + "7" * 32, "To": ANNA, **params}
    return httpx.post(url, data=form, headers=signed_headers(url, form, AUTH_TOKEN), timeout=10)


def _events(db: sa.Engine) -> list[dict[str, Any]]:
    return rows(db, "SELECT kind FROM outreach_events ORDER BY id")


def _settled(db: sa.Engine) -> list[dict[str, Any]] | None:
    """The steps, once half a second has added none."""
    first = _events(db)
    time.sleep(0.5)
    return first if _events(db) == first else None


def test_a_token_that_does_not_open_gets_a_goodbye_and_changes_nothing(
    live_server: LiveServer, db: sa.Engine
) -> None:
    answer = _webhook(
        f"{live_server.url}/twilio/voice/outreach?o=not-a-token", CallStatus="in-progress"
    )
    assert answer.status_code == 200
    assert GOODBYE in answer.text and "<Hangup" in answer.text
    assert "<Gather" not in answer.text

    status = _webhook(
        f"{live_server.url}/twilio/voice/outreach/status?o=not-a-token", CallStatus="completed"
    )
    assert status.status_code == 204
    assert rows(db, "SELECT * FROM outreach_contacts") == []


def test_a_forged_outreach_webhook_is_refused(live_server: LiveServer) -> None:
    url = f"{live_server.url}/twilio/voice/outreach?o=anything"
    answer = httpx.post(url, data={"CallSid": "CA1"}, headers={"X-Twilio-Signature": "forged"})
    assert answer.status_code == 403


def test_a_call_answered_after_the_outreach_ended_is_told_so(
    live_server: LiveServer, solskolan: Staff, providers: Providers, db: sa.Engine
) -> None:
    marked = solskolan.client.post("/api/v1/missing", json={"pupils": ["P1"]})
    reference = marked.json()["pupils"][0]["outreach"]
    [call] = eventually(lambda: calls_to(providers.twilio, ERIK), what="Erik's phone rings")
    assert solskolan.client.post(f"/api/v1/missing/{reference}/arrived").status_code == 200
    # Arrived ends the calls (one placed in that moment is ended as soon as it rings):
    # wait until no phone rings and the line has heard the last of them.
    eventually(
        lambda: (
            not [m for m in outbox(db) if m["status"] in ("pending", "sending")]
            and all(c["status"] in ENDED for c in providers.twilio.calls)
        ),
        what="every call ended",
    )
    before = eventually(lambda: _settled(db), what="no more steps")

    # Twilio's answer to the first ring came in late, after the outreach was over.
    answer = _webhook(call["url"], CallStatus="in-progress", AnsweredBy="human")

    assert "Thank you. This has been answered already, and you need do nothing more." in (
        answer.text
    ), "in Erik's language"
    assert "<Gather" not in answer.text
    assert _events(db) == before, "nothing recorded"


def test_a_call_that_rings_after_the_outreach_ended_is_ended_at_once(
    live_server: LiveServer, solskolan: Staff, providers: Providers, db: sa.Engine
) -> None:
    marked = solskolan.client.post("/api/v1/missing", json={"pupils": ["P1"]})
    reference = marked.json()["pupils"][0]["outreach"]
    [anna] = [m for m in outbox(db) if m["kind"] == "missing_call" and m["address"] == ANNA]
    assert solskolan.client.post(f"/api/v1/missing/{reference}/arrived").status_code == 200

    # The dispatcher had Anna's call in hand as the outreach ended: Twilio reports it ringing.
    late = "CA" + "9" * 32
    url = f"{live_server.url}/twilio/voice/outreach/status?o={anna['body']}"
    form = {"AccountSid": ACCOUNT_SID, "CallSid": late, "To": ANNA, "CallStatus": "ringing"}
    answer = httpx.post(url, data=form, headers=signed_headers(url, form, AUTH_TOKEN), timeout=10)

    assert answer.status_code == 204
    hangups = [m for m in outbox(db) if m["kind"] == "missing_hangup"]
    assert [m["address"] for m in hangups if m["address"] == late] == [late]
    eventually(lambda: any(u["sid"] == late for u in providers.twilio.call_updates))
