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


def _at(clock: Clock, minutes: float) -> None:
    """The line's clock, ``minutes`` after Alva was marked (07:30)."""
    clock.now = datetime(2026, 11, 25, 7, 30, tzinfo=clock.now.tzinfo) + timedelta(minutes=minutes)


def test_nobody_answers_each_is_called_once_more_and_the_alert_comes_on_time(
    marked: Any, providers: Providers, db: sa.Engine, clock: Clock
) -> None:
    marked(anna="no-answer", erik="machine")

    eventually(lambda: contacts(db)[ANNA]["call_outcome"] == "no_answer", what="Anna: no answer")
    eventually(lambda: contacts(db)[ERIK]["call_outcome"] == "voicemail", what="Erik: machine")
    [machine] = calls_to(providers.twilio, ERIK)
    assert machine["answered_by"] == "machine_start"
    assert said(machine) == [
        "This is Solskolan. Alva is not at school today and no absence has been reported. "
        "Please call the school as soon as you can."
    ]
    assert keyed(machine) == []

    _at(clock, 9)
    _at(clock, 10.5)
    for number in (ANNA, ERIK):
        eventually(partial(_calls, providers, number, 2), what=f"{number} is called again")
    assert all(contact["recalled"] for contact in contacts(db).values())
    assert outreach(db)["status"] == "active"
    assert texts_to(providers.twilio, TEACHER_PHONE) == []

    _at(clock, 30.5)
    [alert] = eventually(lambda: texts_to(providers.twilio, TEACHER_PHONE), what="the alert")
    assert alert == (
        "LARM Solskolan: ingen vet var Alva Andersson (5A) är. Ingen vårdnadshavare har svarat "
        "på 30 minuter."
    )
    assert (outreach(db)["status"], outreach(db)["alert_reason"]) == (
        "missing",
        "no_guardian_reached",
    )
    _at(clock, 60)
    eventually(lambda: contacts(db)[ANNA]["calls_placed"] == 2)
    assert [len(calls_to(providers.twilio, n)) for n in (ANNA, ERIK)] == [2, 2], "once more only"
    assert len(texts_to(providers.twilio, TEACHER_PHONE)) == 1, "one alert"


def _calls(providers: Providers, number: str, count: int) -> bool:
    return len(calls_to(providers.twilio, number)) >= count


def test_a_guardian_keys_2_in_the_call_the_alert_names_them(
    marked: Any, providers: Providers, db: sa.Engine
) -> None:
    marked(anna="keys:2", erik="ring")

    anna_call = eventually(partial(_ended, providers, ANNA))
    assert said(anna_call)[-1] == (
        "Tack. Skolan får veta det nu. Fortsätt leta efter Alva, och kontakta polisen om ni inte "
        "hittar Alva. Tack för samtalet. Hej då."
    )
    assert eventually(lambda: texts_to(providers.twilio, TEACHER_PHONE)) == [
        "LARM Solskolan: ingen vet var Alva Andersson (5A) är. Anna Andersson vet inte var "
        "eleven är."
    ]
    assert contacts(db)[ANNA]["answer"] == "does_not_know"
    assert calls_to(providers.twilio, ERIK)[-1]["status"] in ("queued", "ringing"), (
        "Erik may know: his phone keeps ringing"
    )


def test_arrived_mid_outreach_ends_the_calls_and_tells_who_was_reached(
    marked: Any,
    providers: Providers,
    db: sa.Engine,
    solskolan: Staff,
    live_server: LiveServer,
    clock: Clock,
) -> None:
    reference = marked(anna="ring", erik="ring")
    for number in (ANNA, ERIK):
        eventually(partial(texts_to, providers.twilio, number), what=f"{number}'s SMS")
        eventually(partial(_ringing, providers, number), what=f"{number}'s phone rings")

    _at(clock, 4)
    response = solskolan.client.post(f"/api/v1/missing/{reference}/arrived")

    assert response.json()["status"] == "arrived"
    for number in (ANNA, ERIK):
        call = eventually(partial(_ended, providers, number))
        assert call["status"] == "canceled"
    eventually(lambda: len(texts_to(providers.twilio, ERIK)) == 2)
    assert texts_to(providers.twilio, ERIK)[1] == "Solskolan: Alva has arrived at school."
    eventually(lambda: len(texts_to(providers.twilio, ANNA)) == 2)
    assert texts_to(providers.twilio, ANNA)[1] == "Solskolan: Alva har kommit till skolan."
    assert providers.sink.messages == [], "the school was never alerted: nothing to call off"

    # Replies after the end: a polite word; a stranger's changes nothing and gets nothing.
    assert reply(live_server, ANNA, "2") == [
        "Det här ärendet är redan avslutat. Kontakta skolan om du har frågor."
    ]
    assert reply(live_server, STRANGER, "2") == []
    _at(clock, 24 * 60)
    assert reply(live_server, ERIK, "1") == [
        "This request is already closed. Please contact the school if you have questions."
    ]
    assert outreach(db)["status"] == "arrived"
    assert rows(db, "SELECT * FROM absences") == []
    assert not [m for m in outbox(db) if m["kind"] == "missing_alert"]


def _ringing(providers: Providers, number: str) -> bool:
    calls = calls_to(providers.twilio, number)
    return bool(calls) and calls[-1]["status"] == "ringing"


def test_with_twilio_down_the_alert_still_comes_on_time_and_the_rest_follows_later(
    marked: Any, providers: Providers, db: sa.Engine, solskolan: Staff, clock: Clock
) -> None:
    providers.twilio.fail_next(429, 20429, times=4)
    providers.twilio.fail_next(503, times=100_000)
    reference = marked(anna="keys:1", erik="ring")

    eventually(
        lambda: all(m["attempts"] >= 1 and m["status"] == "pending" for m in outbox(db)),
        what="every SMS and call tried and kept for later",
    )
    shown = solskolan.get(f"/api/v1/missing/{reference}").json()
    assert [(c["sms"], c["call"], c["reached"]) for c in shown["contacts"]] == [
        ("pending", "queued", False)
    ] * 2
    assert "Twilio 429 error 20429" in " ".join(str(m["last_error"]) for m in outbox(db))

    _at(clock, 30.5)
    sink = providers.sink
    [mail] = eventually(lambda: emails_to(sink.messages, TEACHER_EMAIL), what="the alert")
    assert "Ingen vårdnadshavare har svarat på 30 minuter." in _text(mail)
    assert outreach(db)["status"] == "missing"
    assert providers.twilio.messages == [] and providers.twilio.calls == []

    providers.twilio.planned.clear()  # Twilio is back
    _at(clock, 50)
    eventually(partial(_ended, providers, ANNA), what="Anna's call, once Twilio is back")
    eventually(lambda: outreach(db)["status"] == "away", what="Anna's answer")
    eventually(lambda: texts_to(providers.twilio, TEACHER_PHONE)[1:], what="the alert is over")
    sent = [
        (m["kind"], m["recipient"], m["channel"])
        for m in outbox(db)
        if m["status"] == "sent" or m["status"] == "delivered"
    ]
    assert len(sent) == len(set(sent))
    assert len(texts_to(providers.twilio, ANNA)) == len(set(texts_to(providers.twilio, ANNA)))


def test_an_sms_reply_that_is_neither_1_nor_2_gets_the_question_again_twice_at_most(
    marked: Any, providers: Providers, db: sa.Engine, live_server: LiveServer
) -> None:
    marked(anna="ring", erik="ring")
    eventually(lambda: texts_to(providers.twilio, ANNA), what="Anna's SMS")
    again = "Svara 1 om du vet att Alva är borta i dag, 2 om du inte vet var Alva är."

    assert reply(live_server, ANNA, "Vad gäller det?") == [again]
    assert reply(live_server, ANNA, "3") == [again]
    assert reply(live_server, ANNA, "hallå?") == [], "no third time: no loop of texts"
    assert outreach(db)["status"] == "active", "nothing was taken as an answer"
    assert contacts(db)[ANNA]["answer"] is None

    assert reply(live_server, ANNA, "1") == [
        "Tack. Alva är frånvaroanmäld resten av dagen, Solskolan."
    ]
    assert eventually(lambda: outreach(db)["status"] == "away")
