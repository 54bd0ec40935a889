"""A missing pupil's outreach end to end: the server with its dispatcher, the real
``twilio`` client placing calls on the local Twilio API, which answers them as a guardian
would (keys, silence, an answering machine, nobody) through the line's signed webhooks;
SMS replies signed like Twilio's; email to the local SMTP server. What each guardian heard
and got, what was recorded, and what staff see."""

from __future__ import annotations

from datetime import datetime, timedelta
from email.message import EmailMessage
from functools import partial
from typing import Any

import pytest
import sqlalchemy as sa

from tests.clock import Clock
from tests.conftest import LiveServer
from tests.missing import (
    OFFICE_EMAIL,
    TEACHER_EMAIL,
    TEACHER_PHONE,
    add_alert_contacts,
    calls_to,
    contacts,
    emails_to,
    eventually,
    keyed,
    outreach,
    reply,
    said,
    texts_to,
)
from tests.providers import Providers
from tests.records import outbox, rows
from tests.roster_data import ANNA, ERIK, STRANGER
from tests.staff import Staff

LONG_RING = 30.0


@pytest.fixture
def server_settings(providers: Providers) -> dict[str, object]:
    providers.twilio.ring_timeout_seconds = LONG_RING
    return providers.settings(dispatcher="on", calls_per_second=50.0, call_from="+46701740698")


@pytest.fixture
def marked(live_server: LiveServer, solskolan: Staff, providers: Providers) -> Any:
    """Mark Alva (5A; guardians Anna, in Swedish, and Erik, in English) once the test has
    told the phones how to answer."""
    add_alert_contacts(live_server.settings.database_url)

    def mark(anna: str, erik: str) -> str:
        providers.twilio.answers.update({ANNA: anna, ERIK: erik})
        response = solskolan.client.post("/api/v1/missing", json={"pupils": ["P1"]})
        assert response.status_code == 200, response.text
        reference: str = response.json()["pupils"][0]["outreach"]
        return reference

    return mark


def _text(message: EmailMessage) -> str:
    body = message.get_body(("plain",))
    assert body is not None
    text: str = body.get_content()
    return text.replace("\r\n", "\n")


def _after_the_first(messages: list[EmailMessage], address: str) -> list[EmailMessage]:
    return emails_to(messages, address)[1:]


def _ended(providers: Providers, number: str) -> dict[str, Any] | None:
    calls = calls_to(providers.twilio, number)
    return (
        calls[-1]
        if calls and calls[-1]["status"] in ("completed", "canceled", "no-answer", "busy", "failed")
        else None
    )


def test_a_guardian_keys_1_the_absence_is_recorded_and_the_other_call_stopped(
    marked: Any, providers: Providers, db: sa.Engine, solskolan: Staff
) -> None:
    reference = marked(anna="keys:1,1430", erik="ring")

    anna_call = eventually(lambda: _ended(providers, ANNA), what="Anna's call ends")
    assert said(anna_call) == [
        "Det här är Solskolan. Alva är inte i skolan i dag och ingen frånvaro är anmäld. "
        "Tryck 1 om du vet att Alva är borta i dag. Tryck 2 om du inte vet var Alva är.",
        "Tack. Frånvaron är registrerad för resten av dagen. Om Alva kommer till skolan "
        "senare i dag, slå tiden med fyra siffror. Annars kan du lägga på.",
        "Tack. Frånvaron är registrerad till 14:30. Tack för samtalet. Hej då.",
    ]
    assert keyed(anna_call) == ["1", "1430"]
    erik_call = eventually(lambda: _ended(providers, ERIK), what="Erik's call is stopped")
    assert erik_call["status"] == "canceled"

    [absence] = eventually(lambda: rows(db, "SELECT * FROM absences"))
    assert (str(absence["start_time"])[:5], str(absence["end_time"])[:5]) == ("07:30", "14:30")
    assert absence["caller"] == ANNA and absence["caller_is_guardian"]
    eventually(lambda: contacts(db)[ERIK]["call_outcome"] == "cancelled", what="Erik's status")
    shown = solskolan.get(f"/api/v1/missing/{reference}").json()
    assert shown["status"] == "away"
    assert shown["answered"]["by"] == "Anna Andersson"
    by_name = {c["name"]: c for c in shown["contacts"]}
    assert by_name["Anna Andersson"]["answer"] == "away"
    assert by_name["Erik Andersson"]["call"] == "cancelled"
    assert "away_call" in [event["kind"] for event in shown["events"]]

    # Erik had his SMS and his phone rang: he is told that Anna answered, once.
    eventually(lambda: len(texts_to(providers.twilio, ERIK)) >= 3, what="Erik's messages")
    erik_texts = texts_to(providers.twilio, ERIK)
    assert erik_texts[0].startswith("Solskolan: Alva is not at school today")
    assert (
        "Solskolan: Anna Andersson has answered about Alva. You need do nothing more." in erik_texts
    )
    assert any("Alva" in text and absence["reference"] in text for text in erik_texts), (
        "the usual confirmation of the absence"
    )
    eventually(lambda: all(m["status"] in ("sent", "delivered", "cancelled") for m in outbox(db)))
    sent = [(m["kind"], m["address"]) for m in outbox(db) if m["status"] != "cancelled"]
    assert len(sent) == len(set(sent)), "nobody gets the same message twice"
    assert not [m for m in outbox(db) if m["kind"] == "missing_alert"]


def test_a_guardian_answers_2_by_sms_the_school_is_alerted_then_the_other_knows(
    marked: Any, providers: Providers, db: sa.Engine, solskolan: Staff, live_server: LiveServer
) -> None:
    reference = marked(anna="ring", erik="ring")
    eventually(lambda: texts_to(providers.twilio, ERIK), what="Erik's SMS")

    answer = reply(live_server, ERIK, " 2 ")

    assert answer == [
        "Thank you. Solskolan is told now. Contact the police if you cannot find Alva."
    ]
    sink = providers.sink
    teacher_mail = eventually(lambda: emails_to(sink.messages, TEACHER_EMAIL), what="alert")
    office_mail = eventually(lambda: emails_to(sink.messages, OFFICE_EMAIL), what="office")
    assert [m["Subject"] for m in teacher_mail + office_mail] == [
        "LARM: ingen vet var Alva Andersson (5A) är"
    ] * 2
    assert _text(teacher_mail[0]) == (
        "Alva Andersson (5A, Solskolan) är inte i skolan och ingen frånvaro är anmäld.\n"
        "Erik Andersson vet inte var eleven är.\n\n"
        "Markerad 07.30 av Solskolan. Följ ärendet på frånvarosidan.\n"
    )
    assert eventually(lambda: texts_to(providers.twilio, TEACHER_PHONE)) == [
        "LARM Solskolan: ingen vet var Alva Andersson (5A) är. Erik Andersson vet inte var "
        "eleven är."
    ]
    shown = solskolan.get(f"/api/v1/missing/{reference}").json()
    assert shown["status"] == "missing"
    assert shown["alert"]["reason"] == "guardian_does_not_know"
    assert {c["name"]: c["answer"] for c in shown["contacts"]} == {
        "Anna Andersson": None,
        "Erik Andersson": "does_not_know",
    }
    # Anna may still know: her phone keeps ringing.
    assert calls_to(providers.twilio, ANNA)[-1]["status"] in ("queued", "ringing")

    answer = reply(live_server, ANNA, "1")

    assert answer == ["Tack. Alva är frånvaroanmäld resten av dagen, Solskolan."]
    eventually(lambda: outreach(db)["status"] == "away")
    [absence] = rows(db, "SELECT * FROM absences")
    assert (absence["caller"], str(absence["start_time"])[:5], absence["end_time"]) == (
        ANNA,
        "07:30",
        None,
    )
    resolved = "Solskolan: Anna Andersson har svarat att Alva Andersson (5A) är borta i dag."
    eventually(lambda: len(texts_to(providers.twilio, TEACHER_PHONE)) == 2)
    assert texts_to(providers.twilio, TEACHER_PHONE)[1] == resolved
    for address in (TEACHER_EMAIL, OFFICE_EMAIL):
        mail = eventually(partial(_after_the_first, sink.messages, address))
        assert [(m["Subject"], _text(m)) for m in mail] == [
            ("Löst: Alva Andersson (5A)", resolved + "\n")
        ]
    for number in (ANNA, ERIK):
        eventually(partial(_ended, providers, number), what=f"{number}'s call ends")
        assert calls_to(providers.twilio, number)[-1]["status"] == "canceled"
    assert reply(live_server, ERIK, "1") == [
        "This request is already closed. Please contact the school if you have questions."
    ]
