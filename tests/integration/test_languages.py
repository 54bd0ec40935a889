"""Languages and voice through the real protocol: every language through the common paths,
chosen by the dialled number and by the caller's number; golden transcripts of what each
path says, with its estimated call time; Norway; days that are not school days; the offer
of another language; SSML in the TwiML."""

from __future__ import annotations

import os
from datetime import date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from defusedxml import ElementTree as defused

from tests.calls import SignedCall, first_twiml, heard, place_call, transcript
from tests.clock import Clock
from tests.conftest import LiveServer
from tests.records import absences, calls, outbox
from tests.roster_data import (
    ALVA,
    ANNA,
    ENGLISH_LINE,
    ERIK,
    JOHN,
    KARI,
    LINE,
    NORA,
    NORWAY_ENGLISH_LINE,
    NORWAY_LINE,
    NORWEGIAN_LANGUAGE_LINE,
    NOT_A_NORWEGIAN_PUPIL,
    ODD,
    OFFERING_LINE,
    SVEN,
)

GOLDEN = Path(__file__).parent / "golden"
TODAY = date(2026, 11, 25)
FRIDAY = date(2026, 11, 27)
MONDAY = date(2026, 11, 30)
WEDNESDAY_NEXT = date(2026, 12, 2)

# Per line: (language, pupil, caller, how dates are keyed).
LINES = {
    "sv": (LINE, ALVA, ANNA, "%y%m%d"),
    "nb": (NORWEGIAN_LANGUAGE_LINE, ALVA, ANNA, "%y%m%d"),
    "en": (ENGLISH_LINE, ALVA, ANNA, "%y%m%d"),
    "norway-nb": (NORWAY_LINE, NORA, KARI, "%d%m%y"),
}
LANGUAGE_OF = {"sv": "sv", "nb": "nb", "en": "en", "norway-nb": "nb"}


def _paths(date_keys: str) -> dict[str, tuple[list[str], tuple[object, ...]]]:
    """The common paths: keys after the pupil's number, and the period recorded."""
    friday, monday, wednesday = (
        day.strftime(date_keys) for day in (FRIDAY, MONDAY, WEDNESDAY_NEXT)
    )
    return {
        "whole-day-today": (["9"], (TODAY, None, TODAY, None)),
        "one-other-day": ([friday, "9", "9", "9"], (FRIDAY, None, FRIDAY, None)),
        "several-days": ([monday, "9", wednesday, "9"], (MONDAY, None, WEDNESDAY_NEXT, None)),
        "part-of-a-day": (
            [friday, "1000", "9", "1230"],
            (FRIDAY, time(10, 0), FRIDAY, time(12, 30)),
        ),
    }


READ_BACK = {
    ("sv", "whole-day-today"): "Frånvaron är registrerad hela dagen onsdag den 25 november.",
    ("sv", "one-other-day"): "Frånvaron är registrerad hela dagen fredag den 27 november.",
    ("sv", "several-days"): "från måndag den 30 november till och med onsdag den 2 december.",
    ("sv", "part-of-a-day"): "fredag den 27 november mellan klockan 10 och 12:30.",
    ("nb", "whole-day-today"): "Fravær registrert hele dagen onsdag 25 november.",
    ("nb", "one-other-day"): "Fravær registrert hele dagen fredag 27 november.",
    ("nb", "several-days"): "fra mandag 30 november til og med onsdag 2 desember.",
    ("nb", "part-of-a-day"): "fredag 27 november mellom klokken 10 og 12:30.",
    ("en", "whole-day-today"): "Absence recorded, all day Wednesday the 25 of November.",
    ("en", "one-other-day"): "Absence recorded, all day Friday the 27 of November.",
    ("en", "several-days"): "from Monday the 30 of November to Wednesday the 2 of December.",
    ("en", "part-of-a-day"): "Friday the 27 of November from 10 am to 12:30 pm.",
}


def _as_period(absence: dict[str, object]) -> tuple[object, ...]:
    def value(name: str, kind: type[date] | type[time]) -> object:
        raw = absence[name]
        return kind.fromisoformat(raw) if isinstance(raw, str) else raw

    return (
        value("start_date", date),
        value("start_time", time),
        value("end_date", date),
        value("end_time", time),
    )


@pytest.mark.parametrize("path", list(_paths("%y%m%d")))
@pytest.mark.parametrize("line", list(LINES))
def test_every_language_through_the_common_paths_by_the_dialled_number(
    live_server: LiveServer, db: sa.Engine, line: str, path: str
) -> None:
    called, pupil, caller, date_keys = LINES[line]
    keys, period = _paths(date_keys)[path]

    result = place_call(live_server, pupil, *keys, caller=caller, called=called)

    assert result.recorded
    [absence] = absences(db)
    assert _as_period(absence) == period
    [call] = calls(db)
    assert call["language"] == LANGUAGE_OF[line]
    assert READ_BACK[(LANGUAGE_OF[line], path)] in heard(result)


@pytest.mark.parametrize("path", ["whole-day-today", "one-other-day", "several-days"])
@pytest.mark.parametrize("line", list(LINES))
def test_what_each_common_path_says_in_each_language(
    live_server: LiveServer, line: str, path: str
) -> None:
    """Golden transcripts, with the estimated call time. ``IVR_UPDATE_GOLDEN=1`` rewrites
    them after a deliberate change of the texts; the diff is then the review."""
    called, pupil, caller, date_keys = LINES[line]
    keys, _period = _paths(date_keys)[path]

    said = transcript(place_call(live_server, pupil, *keys, caller=caller, called=called))

    golden = GOLDEN / f"{line}-{path}.txt"
    if os.environ.get("IVR_UPDATE_GOLDEN") == "1":
        golden.write_text(said, encoding="utf-8")
    assert said == golden.read_text(encoding="utf-8")


@pytest.mark.parametrize("line", list(LINES))
def test_a_whole_day_today_takes_under_thirty_seconds_in_every_language(
    live_server: LiveServer, line: str
) -> None:
    called, pupil, caller, _date_keys = LINES[line]
    result = place_call(live_server, pupil, "9", caller=caller, called=called)
    assert result.recorded
    assert result.call_time.total < 30, transcript(result)


# --- the caller's number ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("caller", "called", "pupil", "language", "read_back"),
    [
        pytest.param(
            ERIK, LINE, ALVA, "en", "Absence recorded, all day Wednesday", id="en-on-sv-line"
        ),
        pytest.param(
            KARI, NORWAY_ENGLISH_LINE, NORA, "nb", "Fravær registrert hele dagen", id="nb-on-en"
        ),
        pytest.param(
            SVEN, NORWAY_LINE, ODD, "sv", "Frånvaron är registrerad hela dagen", id="sv-on-nb"
        ),
        pytest.param(
            JOHN, NORWAY_LINE, NORA, "en", "Absence recorded, all day Wednesday", id="en-on-nb"
        ),
        pytest.param(JOHN, LINE, ALVA, "sv", "Frånvaron är registrerad", id="a-guardian-elsewhere"),
        pytest.param(ANNA, ENGLISH_LINE, ALVA, "en", "Absence recorded", id="no-preference"),
    ],
)
def test_a_guardian_with_a_preferred_language_is_answered_in_it(
    live_server: LiveServer,
    db: sa.Engine,
    caller: str,
    called: str,
    pupil: str,
    language: str,
    read_back: str,
) -> None:
    result = place_call(live_server, pupil, "9", caller=caller, called=called)

    assert result.recorded
    assert read_back in heard(result)
    [call] = calls(db)
    assert call["language"] == language


def test_confirmations_go_out_in_each_recipients_language(
    live_server: LiveServer, db: sa.Engine
) -> None:
    place_call(live_server, NORA, "9", caller=JOHN, called=NORWAY_LINE)

    messages = {(m["channel"], m["address"]): m for m in outbox(db)}
    assert {key: m["language"] for key, m in messages.items()} == {
        ("sms", KARI): "nb",
        ("email", "kari@example.com"): "nb",
        ("sms", JOHN): "en",
        ("email", "john@example.com"): "en",
    }
    assert messages[("sms", KARI)]["body"].startswith("Nora er meldt fraværende hele dagen 25.")
    assert messages[("sms", JOHN)]["body"].startswith("Nora reported absent all day 25 Nov")


# --- Norway ---------------------------------------------------------------------------------


def test_a_norwegian_line_takes_eleven_digits_and_day_first_dates(
    live_server: LiveServer, db: sa.Engine
) -> None:
    result = place_call(live_server, ODD, "301126", "0815", "021226", "1300", called=NORWAY_LINE)

    assert result.recorded
    text = heard(result)
    assert "Tast elevens fødselsnummer, elleve sifre." in text
    assert "tast startdato: dag, måned, år." in text
    assert result.keys_sent[0] == ODD, "the gather collects all eleven digits"
    [absence] = absences(db)
    assert absence["first_name"] == "Odd"
    assert _as_period(absence) == (MONDAY, time(8, 15), WEDNESDAY_NEXT, time(13, 0))
    assert "fra mandag 30 november klokken 8:15 til og med onsdag 2 desember klokken 13." in text


@pytest.mark.parametrize(
    ("keys", "message"),
    [
        ((NORA[:10],), "Fødselsnummeret skal ha elleve sifre."),
        (
            (NORA[:-1] + "2",),
            f"Det fødselsnummeret stemmer ikke: {NORA[:2]} {NORA[2:4]} {NORA[4:6]} {NORA[6:10]}2.",
        ),
        (("25131551281",), "Det fødselsnummeret inneholder ingen gyldig fødselsdato"),
        ((NOT_A_NORWEGIAN_PUPIL,), "Det fødselsnummeret finnes ikke blant skolens elever."),
        ((ALVA,), "Fødselsnummeret skal ha elleve sifre."),
        ((NORA, "271326"), "Den datoen finnes ikke."),
    ],
)
def test_a_wrong_norwegian_number_or_date_gets_a_specific_answer(
    live_server: LiveServer, db: sa.Engine, keys: tuple[str, ...], message: str
) -> None:
    result = place_call(live_server, *keys, called=NORWAY_LINE)

    assert message in heard(result)
    assert absences(db) == []


# --- not a school day -----------------------------------------------------------------------


def test_a_weekend_day_is_accepted_once_the_caller_keeps_it(
    live_server: LiveServer, db: sa.Engine
) -> None:
    result = place_call(live_server, ALVA, "261128", "9", "9", "9", "9")

    text = heard(result)
    assert "Lördag den 28 november är ingen skoldag." in text
    assert "Tryck 1 för måndag den 30 november i stället, eller 9 för att anmäla ändå." in text
    [absence] = absences(db)
    assert _as_period(absence) == (date(2026, 11, 28), None, date(2026, 11, 28), None)


def test_a_whole_day_today_on_a_public_holiday_can_move_to_the_next_school_day(
    live_server: LiveServer, db: sa.Engine, clock: Clock
) -> None:
    clock.now = datetime(2026, 12, 25, 7, 30, tzinfo=ZoneInfo("Europe/Stockholm"))

    result = place_call(live_server, ALVA, "9", "1")

    text = heard(result)
    assert "Fredag den 25 december är ingen skoldag." in text
    assert "Frånvaron är registrerad hela dagen måndag den 28 december." in text
    [absence] = absences(db)
    assert _as_period(absence) == (date(2026, 12, 28), None, date(2026, 12, 28), None)


def test_a_norwegian_public_holiday_is_norways(
    live_server: LiveServer, db: sa.Engine, clock: Clock
) -> None:
    clock.now = datetime(2027, 5, 17, 7, 30, tzinfo=ZoneInfo("Europe/Oslo"))

    result = place_call(
        live_server, NORA, "9", "*", NORA, "180527", "9", "9", "9", called=NORWAY_LINE
    )

    text = heard(result)
    assert "Mandag 17 mai er ikke en skoledag." in text
    assert "Vi begynner på nytt." in text
    [absence] = absences(db)
    assert _as_period(absence) == (date(2027, 5, 18), None, date(2027, 5, 18), None)


def test_several_days_without_a_school_day_are_asked_about_and_a_wrong_key_explained(
    live_server: LiveServer, db: sa.Engine
) -> None:
    result = place_call(live_server, ALVA, "261128", "9", "261129", "9", "1", "9")

    text = heard(result)
    assert "Från lördag den 28 november till och med söndag den 29 november" in text
    assert "Tryck 9 för att anmäla ändå, eller stjärna för att börja om." in text
    assert len(absences(db)) == 1


# --- the offer of another language ------------------------------------------------------------


def test_a_number_may_offer_another_language_on_one_key(
    live_server: LiveServer, db: sa.Engine
) -> None:
    result = place_call(live_server, "8", ALVA, "9", called=OFFERING_LINE)

    assert result.heard[:3] == [
        "Skolans frånvaroanmälan.",
        "For English, press 8.",
        "Slå elevens personnummer, tio siffror.",
    ]
    assert result.heard[3:6] == [
        "School absence line.",
        "För svenska, tryck 8.",
        "Enter the pupil's personal number, ten digits.",
    ]
    assert "Absence recorded, all day Wednesday the 25 of November." in heard(result)
    assert result.heard[-1].startswith("Absence recorded"), "English to the end of the call"
    [call] = calls(db)
    assert call["language"] == "sv", "the record keeps the language the call came in with"


def test_a_caller_who_keys_the_number_at_once_loses_nothing_to_the_offer(
    live_server: LiveServer, db: sa.Engine
) -> None:
    result = place_call(live_server, ALVA, "9", called=OFFERING_LINE)

    assert result.recorded
    assert "Frånvaron är registrerad hela dagen" in heard(result)
    assert [len(keys) for keys in result.keys_sent] == [10, 1]


def test_a_guardian_answered_in_their_own_language_is_not_offered_another(
    live_server: LiveServer,
) -> None:
    stranger = place_call(live_server, NORA, "9", caller=ANNA, called=NORWAY_ENGLISH_LINE)
    assert stranger.heard[:2] == ["School absence line.", "For norsk, trykk 8."]

    guardian = place_call(live_server, NORA, "9", caller=KARI, called=NORWAY_ENGLISH_LINE)
    assert guardian.heard[0] == "Skolens fraværsmelding. Tast elevens fødselsnummer, elleve sifre."


def test_the_offer_speaks_in_its_own_voice(live_server: LiveServer) -> None:
    document = first_twiml(live_server, OFFERING_LINE, ANNA)

    says = document.findall("./Gather/Say")
    assert [(say.get("voice"), say.get("language")) for say in says] == [
        ("Polly.Astrid", "sv-SE"),
        ("Polly.Amy", "en-GB"),
        ("Polly.Astrid", "sv-SE"),
    ]
    assert document.find("./Gather").get("numDigits") == "10"  # type: ignore[union-attr]


def test_dates_are_said_with_ssml_and_the_voice_of_the_language(
    live_server: LiveServer,
) -> None:
    caller = SignedCall(live_server, NORWEGIAN_LANGUAGE_LINE, ANNA)
    caller.post("/twilio/voice", {"CallStatus": "ringing"})
    caller.press(ALVA)
    document = defused.fromstring(caller.press("9"))

    [say] = document.findall("./Gather/Say")
    assert (say.get("voice"), say.get("language")) == ("Polly.Liv", "nb-NO")
    [say_as] = say.findall("say-as")
    assert (say_as.get("interpret-as"), say_as.text) == ("ordinal", "25")
    assert (say.text or "").endswith("hele dagen onsdag ")


def test_a_wrong_check_digit_is_read_back_digit_by_digit(live_server: LiveServer) -> None:
    caller = SignedCall(live_server, LINE, ANNA)
    caller.post("/twilio/voice", {"CallStatus": "ringing"})
    document = defused.fromstring(caller.press("1501012396"))

    [say] = document.findall("./Gather/Say")
    assert [(s.get("interpret-as"), s.text) for s in say.findall("say-as")] == [
        ("digits", "15"),
        ("digits", "01"),
        ("digits", "01"),
        ("digits", "2396"),
    ]
    assert [b.get("time") for b in say.findall("break")] == ["300ms"] * 3
