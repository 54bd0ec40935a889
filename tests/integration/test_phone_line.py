"""The phone line through its real protocol: signed webhooks over HTTP, TwiML followed as
Twilio follows it, and what was recorded checked in the database."""

from __future__ import annotations

from datetime import date, time

import pytest
import sqlalchemy as sa

from tests.calls import heard, place_call
from tests.conftest import LiveServer
from tests.records import absences, calls, outbox
from tests.roster_data import (
    ALVA,
    ANNA,
    BO,
    CELIA,
    CELIA_PHONE,
    DAVID,
    EMIL,
    ENGLISH_LINE,
    ERIK,
    KARIN,
    NOT_A_PUPIL,
    OTHER_PUPIL,
    STRANGER,
    UNKNOWN_LINE,
)

TODAY = date(2026, 11, 25)


def _period(absence: dict[str, object]) -> tuple[object, ...]:
    def as_time(value: object) -> object:
        return time.fromisoformat(value) if isinstance(value, str) else value

    def as_date(value: object) -> object:
        return date.fromisoformat(value) if isinstance(value, str) else value

    return (
        as_date(absence["start_date"]),
        as_time(absence["start_time"]),
        as_date(absence["end_date"]),
        as_time(absence["end_time"]),
    )


@pytest.mark.parametrize(
    ("keys", "period", "said"),
    [
        pytest.param(
            ("9",), (TODAY, None, TODAY, None), "hela dagen onsdag den 25 november", id="today"
        ),
        pytest.param(
            ("261127", "9", "9", "9"),
            (date(2026, 11, 27), None, date(2026, 11, 27), None),
            "hela dagen fredag den 27 november",
            id="one-other-day",
        ),
        pytest.param(
            ("261125", "1000", "9", "1230"),
            (TODAY, time(10, 0), TODAY, time(12, 30)),
            "onsdag den 25 november mellan klockan 10 och 12:30",
            id="part-of-today",
        ),
        pytest.param(
            ("261130", "9", "261202", "9"),
            (date(2026, 11, 30), None, date(2, 12, 2).replace(year=2026), None),
            "från måndag den 30 november till och med onsdag den 2 december",
            id="several-days",
        ),
        pytest.param(
            ("261201", "0815", "261203", "1300"),
            (date(2026, 12, 1), time(8, 15), date(2026, 12, 3), time(13, 0)),
            "från tisdag den 1 december klockan 8:15 till och med torsdag den 3 december "
            "klockan 13",
            id="several-days-with-times",
        ),
        pytest.param(
            ("261126", "9", "9", "1100"),
            (date(2026, 11, 26), None, date(2026, 11, 26), time(11, 0)),
            "torsdag den 26 november fram till klockan 11",
            id="morning-only",
        ),
        pytest.param(
            ("261126", "1300", "9", "9"),
            (date(2026, 11, 26), time(13, 0), date(2026, 11, 26), None),
            "torsdag den 26 november från klockan 13",
            id="afternoon-only",
        ),
    ],
)
def test_a_report_is_recorded_read_back_and_confirmed_to_every_guardian(
    live_server: LiveServer,
    db: sa.Engine,
    keys: tuple[str, ...],
    period: tuple[object, ...],
    said: str,
) -> None:
    result = place_call(live_server, ALVA, *keys)

    assert result.recorded
    [absence] = absences(db)
    assert _period(absence) == period
    assert absence["first_name"] == "Alva"
    assert absence["caller"] == ANNA
    assert absence["caller_is_guardian"]
    assert absence["status"] == "active"
    assert absence["reference"] == result.references[0]
    assert f"Frånvaron är registrerad {said}." in heard(result)
    assert "Tryck 1 för en elev till." in heard(result)
    messages = outbox(live_server_db := db)
    assert live_server_db is db
    assert sorted((m["channel"], m["address"], m["language"]) for m in messages) == [
        ("email", "anna@example.com", "sv"),
        ("email", "erik@example.com", "en"),
        ("sms", "+46701740605", "sv"),
        ("sms", "+46701740606", "en"),
    ]
    assert all(m["status"] == "pending" and m["absence_id"] == absence["id"] for m in messages)
    assert all(absence["reference"] in m["body"] for m in messages)
    english_sms = next(m for m in messages if m["channel"] == "sms" and m["language"] == "en")
    assert english_sms["body"].startswith("Alva reported absent")
    assert len(english_sms["body"]) <= 160


def test_siblings_are_reported_in_one_call(live_server: LiveServer, db: sa.Engine) -> None:
    result = place_call(live_server, ALVA, "9", "1", BO, "9")

    assert len(result.references) == 2
    recorded = absences(db)
    assert [(a["first_name"], a["number_in_call"]) for a in recorded] == [("Alva", 1), ("Bo", 2)]
    assert len({a["call_sid"] for a in recorded}) == 1
    assert len(outbox(db)) == 8


def test_help_explains_the_step_and_asks_it_again(live_server: LiveServer, db: sa.Engine) -> None:
    result = place_call(live_server, "#", ALVA, "#", "261127", "#", "9", "#", "9", "#", "9", "#")

    text = heard(result)
    assert "födelsedatum med år, månad och dag" in text
    assert "För torsdag den 26 november slår du 2 6 1 1 2 6" in text
    assert "För halv elva slår du 1 0 3 0" in text
    assert "Tryck 9 om frånvaron slutar samma dag som den börjar" in text
    assert "Tryck 9 om eleven är borta resten av dagen" in text
    assert "Tryck 1 om du vill anmäla frånvaro för ett syskon" in text
    assert len(absences(db)) == 1


@pytest.mark.parametrize("restart_after", [1, 2, 3, 4])
def test_star_starts_over_and_drops_the_report_so_far(
    live_server: LiveServer, db: sa.Engine, restart_after: int
) -> None:
    entered = [ALVA, "261127", "1000", "261128", "1200"][:restart_after]
    result = place_call(live_server, *entered, "*", BO, "9")

    assert "Vi börjar om." in heard(result)
    [absence] = absences(db)
    assert absence["first_name"] == "Bo"
    assert _period(absence) == (TODAY, None, TODAY, None)


def test_silence_asks_again(live_server: LiveServer, db: sa.Engine) -> None:
    result = place_call(live_server, "", ALVA, "", "9")

    assert heard(result).count("Jag hörde ingen knapptryckning.") == 2
    assert len(absences(db)) == 1


@pytest.mark.parametrize(
    ("keys", "message"),
    [
        ((ALVA[:9],), "Personnumret ska ha tio siffror."),
        ((ALVA[:-1] + "6",), "Det personnumret stämmer inte: 15 01 01 2396."),
        (("1513012395",), "Det personnumret innehåller inget giltigt födelsedatum: 15 13 01 2395."),
        ((NOT_A_PUPIL,), "Det personnumret finns inte bland skolans elever."),
        ((OTHER_PUPIL,), "Det personnumret finns inte bland skolans elever."),
        ((ALVA, "5"), "Tryck 9, eller slå datumet med sex siffror."),
        ((ALVA, "260230"), "Det datumet finns inte."),
        ((ALVA, "261124"), "Det datumet har redan varit."),
        (
            (ALVA, "271125"),
            "Frånvaro kan anmälas till och med tisdag den 23 februari.",
        ),
        ((ALVA, "261127", "2561"), "Det klockslaget finns inte."),
        ((ALVA, "261127", "10"), "Slå klockslaget med fyra siffror, eller tryck 9."),
        ((ALVA, "261127", "9", "261126"), "Slutdatumet är före startdatumet."),
        ((ALVA, "261127", "9", "270301"), "Frånvaro kan anmälas till och med tisdag den 23"),
        ((ALVA, "261127", "1200", "9", "1100"), "Sluttiden måste vara efter starttiden."),
        ((ALVA, "261127", "1200", "9", "1200"), "Sluttiden måste vara efter starttiden."),
        ((ALVA, "261127", "9", "9", "2400"), "Det klockslaget finns inte."),
        ((ALVA, "9", "7"), "Tryck 1 för att anmäla en elev till, eller lägg på."),
    ],
)
def test_a_wrong_entry_gets_a_specific_answer_and_the_step_again(
    live_server: LiveServer, db: sa.Engine, keys: tuple[str, ...], message: str
) -> None:
    result = place_call(live_server, *keys)

    text = heard(result)
    assert message in text
    after_error = text[text.index(message) :]
    assert "Slå" in after_error or "Tryck" in after_error, "the step is asked again"
    assert result.ended_by == "caller hung up"
    assert len(absences(db)) == (1 if keys[1:2] == ("9",) else 0)


@pytest.mark.parametrize(
    "keys",
    [
        (ALVA[:5], ALVA[:5], ALVA[:5]),
        (ALVA, "5", "", "123"),
        (ALVA, "261127", "1000", "261126", "261126", "261126"),
        (NOT_A_PUPIL, NOT_A_PUPIL, NOT_A_PUPIL),
        ("", "", ""),
    ],
)
def test_three_failures_in_a_row_end_the_call_with_nothing_saved(
    live_server: LiveServer, db: sa.Engine, keys: tuple[str, ...]
) -> None:
    result = place_call(live_server, *keys, "9", "9", "9")

    assert result.ended_by == "line hung up"
    assert "Anmälan kunde inte registreras. Kontakta skolan direkt." in heard(result)
    assert absences(db) == []
    assert outbox(db) == []


def test_failures_are_counted_per_step(live_server: LiveServer, db: sa.Engine) -> None:
    result = place_call(live_server, "1", "1", ALVA, "5", "5", "261127", "99", "99", "9", "9", "9")

    assert result.recorded
    assert len(absences(db)) == 1


def test_a_report_of_a_sibling_survives_a_failed_second_report(
    live_server: LiveServer, db: sa.Engine
) -> None:
    result = place_call(live_server, ALVA, "9", "1", BO, "5", "5", "5")

    assert result.ended_by == "line hung up"
    assert [a["first_name"] for a in absences(db)] == ["Alva"]


def test_a_hidden_number_is_refused(live_server: LiveServer, db: sa.Engine) -> None:
    for withheld in ("+266696687", "anonymous", "Restricted", ""):
        result = place_call(live_server, ALVA, "9", caller=withheld)
        assert "Du ringer med dolt nummer." in heard(result)
        assert result.ended_by == "line hung up"
        assert result.keys_sent == []
    assert absences(db) == []


def test_an_unknown_line_is_refused(live_server: LiveServer, db: sa.Engine) -> None:
    result = place_call(live_server, ALVA, "9", called=UNKNOWN_LINE)

    assert "Det här numret används inte för frånvaroanmälan." in heard(result)
    assert absences(db) == []


def test_the_caller_number_is_kept_and_whether_it_is_a_guardian(
    live_server: LiveServer, db: sa.Engine
) -> None:
    place_call(live_server, ALVA, "9", caller=STRANGER)

    [absence] = absences(db)
    assert absence["caller"] == STRANGER
    assert not absence["caller_is_guardian"]
    email = next(m for m in outbox(db) if m["address"] == "anna@example.com")
    assert "070-174 06 50 (inte ett registrerat nummer)" in email["body"]


def test_a_pupil_of_eighteen_is_told_instead_of_the_guardians(
    live_server: LiveServer, db: sa.Engine
) -> None:
    place_call(live_server, CELIA, "9", caller=KARIN)

    [absence] = absences(db)
    assert absence["caller_is_guardian"]
    assert sorted((m["channel"], m["address"]) for m in outbox(db)) == [
        ("email", "celia@example.com"),
        ("sms", CELIA_PHONE),
    ]


def test_a_coordination_number_works(live_server: LiveServer, db: sa.Engine) -> None:
    place_call(live_server, EMIL, "9")

    [absence] = absences(db)
    assert absence["first_name"] == "Emil"
    assert [(m["channel"], m["address"]) for m in outbox(db)] == [("sms", "+46701740608")]


def test_a_pupil_without_guardians_is_recorded_with_no_confirmations(
    live_server: LiveServer, db: sa.Engine
) -> None:
    result = place_call(live_server, DAVID, "9")

    assert result.recorded
    assert len(absences(db)) == 1
    assert outbox(db) == []


def test_the_line_of_a_number_speaks_its_language(live_server: LiveServer, db: sa.Engine) -> None:
    result = place_call(live_server, ALVA, "9", called=ENGLISH_LINE)

    text = heard(result)
    assert text.startswith("School absence line.")
    assert "Absence recorded, all day Wednesday the 25 of November." in text
    assert len(absences(db)) == 1


def test_the_call_and_its_status_are_kept(live_server: LiveServer, db: sa.Engine) -> None:
    result = place_call(live_server, ALVA, "9")

    [call] = calls(db)
    assert call["call_sid"] == result.call_sid
    assert call["status"] == "completed"
    assert call["ended_at"] is not None
    assert ALVA not in str(call), "the personal number is not stored with the call"


def test_a_report_another_call_already_made_is_not_made_twice(
    live_server: LiveServer, db: sa.Engine
) -> None:
    first = place_call(live_server, ALVA, "261127", "9", "261127", "9")
    again = place_call(live_server, ALVA, "261127", "0815", "9", "1200", caller=ERIK)

    assert first.recorded
    assert not again.recorded
    said = heard(again)  # Erik hears English, his language in the roster
    assert "This pupil is already reported absent, all day Friday the 27 of November." in said
    assert "A confirmation is sent" not in said
    assert said.endswith("Press 1 for another pupil."), "the call goes on"
    assert len(absences(db)) == 1
    assert len(outbox(db)) == 4, "no second confirmation to anyone"


def test_a_caller_who_is_no_guardian_hears_nothing_of_an_earlier_report(
    live_server: LiveServer, db: sa.Engine
) -> None:
    """Someone who knows a personal number must not learn that the child is at home."""
    place_call(live_server, ALVA, "9")
    stranger = place_call(live_server, ALVA, "9", caller=STRANGER)

    assert "Frånvaron är registrerad hela dagen onsdag den 25 november." in heard(stranger)
    assert "redan" not in heard(stranger)
    assert not stranger.recorded
    assert len(absences(db)) == 1
    assert len(outbox(db)) == 4


def test_a_report_that_only_overlaps_another_is_recorded(
    live_server: LiveServer, db: sa.Engine
) -> None:
    assert place_call(live_server, ALVA, "261125", "0800", "9", "1000").recorded
    whole_day = place_call(live_server, ALVA, "9", caller=ERIK)

    assert whole_day.recorded, "08:00-10:00 does not hold the whole day"
    assert len(absences(db)) == 2
    assert len(outbox(db)) == 8


def test_a_cancelled_report_holds_nothing(live_server: LiveServer, db: sa.Engine) -> None:
    place_call(live_server, ALVA, "9")
    with db.begin() as connection:
        connection.execute(sa.text("UPDATE absences SET status = 'cancelled'"))
    assert place_call(live_server, ALVA, "9", caller=ERIK).recorded
