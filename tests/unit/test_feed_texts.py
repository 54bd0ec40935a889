"""The staff feed's texts in every language: cancellation SMS fit one segment, and every
new text renders with nothing left unfilled."""

from __future__ import annotations

from datetime import datetime

import pytest

from ivr.domain.masking import masked_email, masked_phone
from ivr.i18n import load_catalogue
from ivr.services.cancellation import cancellation_drafts
from ivr.store.feed import StaffAbsence
from ivr.store.models import Absence, Organisation, OutboxMessage, Pupil, School
from tests.clock import STOCKHOLM
from tests.unit.test_catalogues import GSM_7, LANGUAGES, PERIODS

PLACEHOLDER_VALUES = {
    "schools": "Solskolan",
    "date": "25 nov",
    "count": 3,
    "pupil": "Alva Andersson",
    "group": "5A",
    "school": "Solskolan",
    "period": "hela dagen",
    "reported_at": "07.30",
    "caller": "070-174 06 05",
    "caller_note": "",
    "reference": "K7M4QX2P",
    "time": "07.30",
    "by": "Kansliet",
    "reason": "Fel elev",
    "channel": "sms",
    "recipient": "Erik",
    "to": "+46 70 *** ** 06",
    "delivered": 2,
    "first": "1 nov",
    "last": "25 nov",
    "most": 4,
    "days": 5,
    "teacher_name": "Åsa",
    "absences": "- Alva",
    "reported": 1,
    "started": 2,
    "state": "levererat",
    "name": "Erik Andersson",
    "first_name": "Alva",
    "minutes": 30,
    "detail": "Erik Andersson",
    "outcome": "inget svar",
}


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_staff_text_renders(language: str) -> None:
    catalogue = load_catalogue(language)
    for key in catalogue.texts:
        if key.split(".")[0] in ("staff", "feed", "digest"):
            text = catalogue.text(key, **PLACEHOLDER_VALUES)
            assert text.strip() and "{" not in text, f"{language}: {key}"


def _absence(period_index: int, language: str) -> StaffAbsence:
    period = PERIODS[period_index]
    absence = Absence(
        id=1,
        reference="K7M4QX2P",
        start_date=period.start_date,
        start_time=period.start_time,
        end_date=period.end_date,
        end_time=period.end_time,
        reported_at=datetime(2026, 11, 25, 7, 31, tzinfo=STOCKHOLM),
        caller="+46701740605",
        caller_is_guardian=True,
        status="cancelled",
    )
    pupil = Pupil(id=1, first_name="Maximiliana", last_name="Johansson", group_name="9B")
    school = School(id=1, name="Västra Sjöstadsskolan")
    organisation = Organisation(id=1, name="Testkommun", timezone="Europe/Stockholm")
    confirmations = [
        OutboxMessage(
            kind="confirmation",
            recipient="guardian:1",
            recipient_name="Anna",
            channel=channel,
            address=address,
            language=language,
            status=status,
        )
        for channel, address, status in (
            ("sms", "+46701740605", "delivered"),
            ("email", "anna@example.com", "sent"),
            ("email", "anna2@example.com", "failed"),
        )
    ]
    return StaffAbsence(absence, pupil, school, organisation, confirmations)


@pytest.mark.parametrize("period_index", range(len(PERIODS)))
@pytest.mark.parametrize("language", LANGUAGES)
def test_a_cancellation_sms_fits_one_segment(language: str, period_index: int) -> None:
    drafts = cancellation_drafts(_absence(period_index, language), load_catalogue)
    sms, email = drafts
    assert len(drafts) == 2, "not to the address whose confirmation failed"
    assert (sms.channel, sms.kind, sms.language) == ("sms", "cancellation", language)
    assert len(sms.body) <= 160, sms.body
    assert set(sms.body) <= GSM_7, set(sms.body) - GSM_7
    assert "K7M4QX2P" in sms.body and "Maximiliana" in sms.body
    assert email.subject is not None and "K7M4QX2P" in email.subject
    assert "Anna" in email.body and "Västra Sjöstadsskolan" in email.body
    assert "{" not in email.body


def test_addresses_are_masked_for_staff() -> None:
    assert masked_phone("+46701740605") == "+46 70 *** ** 05"
    assert masked_phone("+4791234567") == "+47 91 ** ** 67"
    assert masked_phone("not a number") == "***"
    assert masked_email("anna@example.com") == "a***@example.com"
    assert masked_email("nobody") == "***"
