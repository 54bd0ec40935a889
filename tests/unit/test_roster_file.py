"""Reading and checking a roster CSV, row by row."""

from __future__ import annotations

from datetime import date

import pytest

from ivr.roster.csv_file import RosterInvalid, read_roster
from tests.roster_data import ALVA, HEADER, ROSTER

TODAY = date(2026, 11, 25)
LANGUAGES = ["sv", "en", "nb"]


def _errors(text: str | bytes) -> list[str]:
    data = text.encode() if isinstance(text, str) else text
    with pytest.raises(RosterInvalid) as raised:
        read_roster(data, TODAY, LANGUAGES)
    return [str(error) for error in raised.value.errors]


def test_a_good_roster() -> None:
    roster = read_roster(ROSTER.encode(), TODAY, LANGUAGES)
    assert roster.rows == 7
    assert [pupil.pupil_id for pupil in roster.pupils] == ["P1", "P2", "P3", "P4", "P5"]
    alva = roster.pupils[0]
    assert alva.personal_number.digits == f"20{ALVA}"
    assert [(g.name, g.phone, g.language) for g in alva.guardians] == [
        ("Anna Andersson", "+46701740605", None),
        ("Erik Andersson", "+46701740606", "en"),
    ]
    assert roster.pupils[3].guardians == []
    assert len(roster.guardians) == 4


def test_personal_numbers_and_phone_numbers_in_any_common_form() -> None:
    text = HEADER + (
        f"S,1,{ALVA[:6]}-{ALVA[6:]},A,B,1A,G,070-174 06 05,,,,\n"
        "S,2,20180702-2395,C,D,1A,H,+46 70 174 06 06,,sv,,\n"
        "S,3,1810012391,E,F,1A,I,0046701740607,,,,\n"
    )
    roster = read_roster(text.encode(), TODAY, LANGUAGES)
    assert [p.personal_number.digits for p in roster.pupils] == [
        f"20{ALVA}",
        "201807022395",
        "201810012391",
    ]
    assert [p.guardians[0].phone for p in roster.pupils] == [
        "+46701740605",
        "+46701740606",
        "+46701740607",
    ]


def test_a_file_from_a_swedish_spreadsheet() -> None:
    text = "\ufeff" + ROSTER.replace(",", ";")
    roster = read_roster(text.encode("utf-8"), TODAY, LANGUAGES)
    assert len(roster.pupils) == 5


def test_every_bad_row_is_reported_with_its_line_number() -> None:
    text = HEADER + (
        f"Solskolan,P1,20{ALVA},Alva,Andersson,5A,Anna,+46701740605,,,,\n"  # line 2: fine
        "Solskolan,P2,1501012396,Bo,Berg,5A,Anna,+46701740605,,,,\n"  # 3: check digit
        "Solskolan,P3,1513012395,Cia,Berg,5A,,,,,,\n"  # 4: no such date
        "Solskolan,,1807022395,,Berg,5A,,,,,,\n"  # 5: empty pupil_id, first_name
        "Solskolan,P5,1810012391,Dan,Berg,5A,Bea,12,,,,\n"  # 6: phone
        "Solskolan,P6,1701012393,Eva,Berg,5A,Bea,,not-an-email,,,\n"  # 7: email
        "Solskolan,P7,1901012391,Fia,Berg,5A,,+46701740606,,,,\n"  # 8: guardian without name
        "Solskolan,P8,1907022394,Gun,Berg,5A,Bea,,,,,\n"  # 9: guardian without contact
        "Solskolan,P9,2001012398,Hed,Berg,5A,Bea,+46701740606,,de,,\n"  # 10: language
        f"Solskolan,P1,20{ALVA},Alva,Andersson,6A,Erik,+46701740606,,,,\n"  # 11: other group
        f"Solskolan,P10,20{ALVA},Ida,Berg,5A,,,,,,\n"  # 12: number of another pupil
        "Solskolan,P11,1601012394,Jon,Berg,5A,,,,,,,extra\n"  # 13: too many values
    )
    assert _errors(text) == [
        "line 3: personal_number has a wrong check digit",
        "line 4: personal_number does not hold a valid date of birth",
        "line 5: pupil_id is empty",
        "line 5: first_name is empty",
        "line 6: guardian_phone '12' is not a valid phone number",
        "line 7: guardian_email 'not-an-email' is not an email address",
        "line 8: guardian_name is empty but other guardian columns are not",
        "line 9: a guardian needs guardian_phone or guardian_email",
        "line 10: guardian_language 'de' is not one of en, nb, sv",
        "line 11: pupil_id P1 has another group than on line 2",
        "line 12: personal_number is also given for pupil_id P1",
        "line 13: more values than columns",
    ]


def test_a_missing_column_is_reported_on_line_one() -> None:
    assert _errors("school,pupil_id,personal_number\nS,1,1501012395\n") == [
        "line 1: missing column(s): first_name, last_name, group, guardian_name, "
        "guardian_phone, guardian_email, guardian_language"
    ]


def test_a_file_that_is_not_utf8() -> None:
    data = (HEADER + "Solskolan,P1,1501012395,Åsa,Ödman,5A,,,,,,\n").encode("latin-1")
    assert _errors(data) == ["line 2: the file is not UTF-8 text"]


def test_quoted_fields_with_commas_and_empty_lines() -> None:
    text = HEADER + f'"Skola, Norra",P1,20{ALVA},"Alva, Maria",Andersson,5A,,,,,,\n\n'
    roster = read_roster(text.encode(), TODAY, LANGUAGES)
    assert roster.pupils[0].school == "Skola, Norra"
    assert roster.pupils[0].first_name == "Alva, Maria"
