"""What the tests of missing pupils share: the school's alert contacts, waiting for what the
line does on its own, and a guardian's SMS reply."""

from __future__ import annotations

import time
from collections.abc import Callable
from email.message import EmailMessage
from typing import Any, TypeVar

import httpx
import sqlalchemy as sa
from sqlalchemy import select
from sqlalchemy.orm import Session

from ivr.devtools.providers import FakeTwilio
from ivr.devtools.reply import incoming_sms, send_sms
from ivr.store.models import ContactTeacher, School
from tests.conftest import LiveServer
from tests.providers import ACCOUNT_SID, LINE_SENDER
from tests.records import rows
from tests.staff import in_session

TEACHER_PHONE = "+46701740640"
TEACHER_EMAIL = "asa.lind@example.org"
OFFICE_EMAIL = "expedition@example.org"
_T = TypeVar("_T")


def add_alert_contacts(database_url: str) -> None:
    """Solskolan's 5A (Alva's group) has a contact teacher with a phone; the office has an
    address."""

    def work(session: Session) -> None:
        school = session.scalar(select(School).where(School.name == "Solskolan"))
        assert school is not None
        school.office_email = OFFICE_EMAIL
        session.add(
            ContactTeacher(
                school_id=school.id,
                group_name="5A",
                name="Åsa Lind",
                email=TEACHER_EMAIL,
                phone=TEACHER_PHONE,
            )
        )

    in_session(database_url, work)


def eventually(check: Callable[[], _T | None], within: float = 20.0, what: str = "") -> _T:
    """``check()`` once it is truthy; fails after ``within`` seconds."""
    deadline = time.monotonic() + within
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {within} s: {what or check}")
        time.sleep(0.05)


def outreach(db: sa.Engine) -> dict[str, Any]:
    [found] = rows(db, "SELECT * FROM outreaches")
    return found


def contacts(db: sa.Engine) -> dict[str, dict[str, Any]]:
    """The outreach's contacts by phone."""
    return {c["phone"]: c for c in rows(db, "SELECT * FROM outreach_contacts ORDER BY id")}


def texts_to(twilio: FakeTwilio, number: str) -> list[str]:
    return [message["Body"] for message in twilio.messages if message["To"] == number]


def calls_to(twilio: FakeTwilio, number: str) -> list[dict[str, Any]]:
    return [call for call in twilio.calls if call["to"] == number]


def said(call: dict[str, Any]) -> list[str]:
    return [entry["said"] for entry in call["log"] if "said" in entry]


def keyed(call: dict[str, Any]) -> list[str]:
    return [entry["keyed"] for entry in call["log"] if "keyed" in entry]


def emails_to(messages: list[EmailMessage], address: str) -> list[EmailMessage]:
    return [message for message in messages if address in str(message["To"])]


def reply(server: LiveServer, sender: str, body: str) -> list[str]:
    """A guardian answers the SMS: what the line answers back."""
    params = incoming_sms(sender, body, LINE_SENDER, ACCOUNT_SID)
    with httpx.Client(timeout=15) as client:
        return send_sms(
            client,
            server.url,
            params,
            server.settings.twilio_auth_token.get_secret_value(),
        )
