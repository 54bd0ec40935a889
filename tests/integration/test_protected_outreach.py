"""A missing pupil whose identity is protected: the guardians hear and read the first name
only; the contact teacher and the office are alerted (and told it is over) without the
pupil or the guardian being named, with the reference to look up on the staff page, where
the pupil is shown by first name. The same outreach for the pupil unprotected names them
in full, so each check can fail."""

from __future__ import annotations

import json
from email.message import EmailMessage
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from tests.conftest import LiveServer
from tests.missing import (
    OFFICE_EMAIL,
    TEACHER_EMAIL,
    TEACHER_PHONE,
    add_alert_contacts,
    calls_to,
    emails_to,
    eventually,
    outreach,
    reply,
    said,
    texts_to,
)
from tests.protected import LAST_NAME, make_family
from tests.providers import Providers
from tests.records import outbox
from tests.roster_data import ANNA, ERIK
from tests.staff import Staff

ENDED = ("completed", "canceled", "no-answer", "busy", "failed")
GUARDIANS = (ANNA, ERIK, "anna@example.com", "erik@example.com")


@pytest.fixture
def server_settings(providers: Providers) -> dict[str, object]:
    providers.twilio.ring_timeout_seconds = 30.0
    return providers.settings(dispatcher="on", calls_per_second=50.0, call_from="+46701740698")


def _text(message: EmailMessage) -> str:
    body = message.get_body(("plain",))
    assert body is not None
    text: str = body.get_content()
    return text


def _mail(messages: list[EmailMessage], address: str, count: int) -> list[str]:
    found = emails_to(messages, address)
    if len(found) < count:
        return []
    return [f"{message['Subject']}\n{_text(message)}" for message in found]


def _texts(providers: Providers, number: str, count: int) -> list[str] | None:
    texts = texts_to(providers.twilio, number)
    return texts if len(texts) >= count else None


def _ended_call(providers: Providers, number: str) -> dict[str, Any] | None:
    calls = calls_to(providers.twilio, number)
    return calls[-1] if calls and calls[-1]["status"] in ENDED else None


def _panel(server: LiveServer, staff: Staff) -> str:
    with httpx.Client(base_url=server.url, timeout=10) as client:
        assert client.get("/staff", params={"token": staff.token}).status_code == 303
        page = client.get("/staff")
    assert page.status_code == 200
    return page.text


@pytest.mark.parametrize("protected", [True, False], ids=["protected", "unprotected"])
def test_staff_are_alerted_about_a_protected_pupil_without_a_name(
    protected: bool,
    live_server: LiveServer,
    solskolan: Staff,
    providers: Providers,
    db: sa.Engine,
) -> None:
    make_family(live_server.settings.database_url, protected)
    add_alert_contacts(live_server.settings.database_url)
    providers.twilio.answers.update({ANNA: "keys:2", ERIK: "ring"})
    marked = solskolan.client.post("/api/v1/missing", json={"pupils": ["P1"]})
    assert marked.status_code == 200, marked.text
    reference = marked.json()["pupils"][0]["outreach"]

    # Anna hears Alva's first name, keys 2: nobody knows where Alva is.
    anna_call = eventually(lambda: _ended_call(providers, ANNA), what="Anna's call ends")
    spoken = " ".join(said(anna_call))
    assert "Alva" in spoken and LAST_NAME not in spoken

    [alert] = eventually(lambda: texts_to(providers.twilio, TEACHER_PHONE), what="the alert")
    sink = providers.sink
    alert_mail = [
        *eventually(lambda: _mail(sink.messages, TEACHER_EMAIL, 1), what="the teacher's"),
        *eventually(lambda: _mail(sink.messages, OFFICE_EMAIL, 1), what="the office's"),
    ]
    if protected:
        assert alert == (
            f"LARM Solskolan: ingen vet var en elev i 5A är (ref {reference}). "
            "En vårdnadshavare vet inte var eleven är. Se frånvarosidan."
        )
        for mail in alert_mail:
            assert reference in mail and "frånvarosidan" in mail
            assert "Alva" not in mail and "Anna" not in mail and LAST_NAME not in mail
    else:
        assert alert == (
            f"LARM Solskolan: ingen vet var Alva {LAST_NAME} (5A) är. "
            f"Anna {LAST_NAME} vet inte var eleven är."
        )
        assert all(f"Alva {LAST_NAME} (5A" in mail for mail in alert_mail)

    # Erik answers 1 by SMS: the absence is recorded, the school told that it is over.
    eventually(lambda: texts_to(providers.twilio, ERIK), what="Erik's SMS")
    assert reply(live_server, ERIK, "1") == [
        "Thank you. Alva is reported absent for the rest of the day, Solskolan."
    ]
    eventually(lambda: outreach(db)["status"] == "away", what="away")
    [_alert, resolved] = eventually(
        lambda: _texts(providers, TEACHER_PHONE, 2), what="the alert is over"
    )
    resolved_mail = [
        *eventually(lambda: _mail(sink.messages, TEACHER_EMAIL, 2)[1:], what="teacher"),
        *eventually(lambda: _mail(sink.messages, OFFICE_EMAIL, 2)[1:], what="office"),
    ]
    if protected:
        assert resolved == (
            f"Solskolan: en vårdnadshavare har svarat att eleven i 5A (ref {reference}) "
            "är borta i dag."
        )
        for text in [resolved, *resolved_mail]:
            assert "Alva" not in text and "Erik" not in text and LAST_NAME not in text
    else:
        assert resolved == (
            f"Solskolan: Erik {LAST_NAME} har svarat att Alva {LAST_NAME} (5A) är borta i dag."
        )

    # The guardians: every SMS and email queued to them (the outreach's, the word that
    # someone answered, the confirmations of the absence) names Alva by first name.
    to_guardians = [
        m for m in outbox(db) if m["address"] in GUARDIANS and m["channel"] in ("sms", "email")
    ]
    kinds = {m["kind"] for m in to_guardians}
    assert {"missing", "missing_answered", "confirmation"} <= kinds, kinds
    texts = [f"{m['subject'] or ''}\n{m['body']}" for m in to_guardians]
    assert all("Alva" in text for text in texts)
    confirmation_mail = [
        text
        for m, text in zip(to_guardians, texts, strict=True)
        if (m["kind"], m["channel"]) == ("confirmation", "email")
    ]
    assert len(confirmation_mail) == 2
    if protected:
        assert [text for text in texts if LAST_NAME in text] == []
    else:
        assert all(f"Alva {LAST_NAME}" in text for text in confirmation_mail)

    # Staff look it up on the page and in the API: the first name, the guardians' too.
    shown = solskolan.get(f"/api/v1/missing/{reference}").json()
    page = _panel(live_server, solskolan)
    if protected:
        assert shown["pupil"] == "Alva"
        assert {c["name"] for c in shown["contacts"]} == {"Anna", "Erik"}
        assert shown["answered"]["by"] == "Erik"
        assert LAST_NAME not in json.dumps(shown) and LAST_NAME not in page
        assert "Alva" in page
    else:
        assert shown["pupil"] == f"Alva {LAST_NAME}"
        assert f"Alva {LAST_NAME}" in page and f"Erik {LAST_NAME}" in page
