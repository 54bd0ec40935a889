"""The roster the HTTP tests call against: Skatteverket's test personal numbers for the
Swedish organisations; for the Norwegian one, synthetic fødselsnummer and D-numbers (month
+ 80, as in Skatteetaten's test data: never a person's)."""

from __future__ import annotations

from datetime import date

from ivr.roster.csv_file import read_roster
from ivr.settings import Settings
from ivr.store.db import Database
from ivr.store.lines import ensure_organisation, set_number
from ivr.store.roster import import_roster

LINE = "+46846500400"
ENGLISH_LINE = "+46846500401"
NORWEGIAN_LANGUAGE_LINE = "+46846500402"  # Testkommun, in Norwegian
OFFERING_LINE = "+46846500405"  # Testkommun, in Swedish, offering English on key 8
OTHER_LINE = "+46846500499"
UNKNOWN_LINE = "+46846500450"
NORWAY_LINE = "+46846500403"  # Testkommune (Norway): Norwegian
NORWAY_ENGLISH_LINE = "+46846500404"  # Testkommune: English, offering Norwegian on key 8

ALVA = "1501012395"  # 11 years old; guardians Anna (sv) and Erik (en)
BO = "1807022395"  # Alva's brother: the same guardians
CELIA = "0801012386"  # 18 on 2026-01-01: her own contact gets the confirmation
DAVID = "1701012393"  # no guardian in the roster
EMIL = "1205832387"  # a coordination number
OTHER_PUPIL = "1901012391"  # in another organisation's roster
NOT_A_PUPIL = "1504022383"  # a valid test number that no roster has

ANNA = "+46701740605"
ERIK = "+46701740606"
KARIN = "+46701740607"
CELIA_PHONE = "+46701740690"
STRANGER = "+46701740650"

NORA = "25811551247"  # fødselsnummer, born 2015-01-25; guardians Kari (nb) and John (en)
ODD = "49901356652"  # a D-number, born 2013-10-09; guardian Sven (sv)
NOT_A_NORWEGIAN_PUPIL = "03831254059"  # valid, in no roster
KARI = "+46701740670"
JOHN = "+46701740671"
SVEN = "+46701740672"

HEADER = (
    "school,pupil_id,personal_number,first_name,last_name,group,guardian_name,"
    "guardian_phone,guardian_email,guardian_language,pupil_phone,pupil_email\n"
)
ROSTER = HEADER + (
    f"Solskolan,P1,20{ALVA},Alva,Andersson,5A,Anna Andersson,{ANNA},anna@example.com,,,\n"
    f"Solskolan,P1,20{ALVA},Alva,Andersson,5A,Erik Andersson,070-174 06 06,erik@example.com,en,,\n"
    f"Solskolan,P2,20{BO},Bo,Andersson,2B,Anna Andersson,{ANNA},anna@example.com,,,\n"
    f"Solskolan,P2,20{BO},Bo,Andersson,2B,Erik Andersson,{ERIK},erik@example.com,en,,\n"
    f"Ekskolan,P3,20{CELIA},Celia,Berg,NA3,Karin Berg,{KARIN},karin@example.com,,"
    f"{CELIA_PHONE},celia@example.com\n"
    f"Solskolan,P4,20{DAVID},David,Carlsson,3A,,,,,,\n"
    f"Ekskolan,P5,20{EMIL},Emil,Dahl,8C,Fatima Dahl,+46701740608,,,,\n"
)
OTHER_ROSTER = HEADER + (
    f"Bergskolan,Q1,20{OTHER_PUPIL},Greta,Ek,1A,Hans Ek,+46701740609,hans@example.com,,,\n"
)
NORWEGIAN_ROSTER = HEADER + (
    f"Fjellskolen,N1,{NORA[:6]} {NORA[6:]},Nora,Hansen,6A,Kari Hansen,{KARI},"
    "kari@example.com,nb,,\n"
    f"Fjellskolen,N1,{NORA},Nora,Hansen,6A,John Smith,{JOHN},john@example.com,en,,\n"
    f"Fjellskolen,N2,{ODD},Odd,Berg,7B,Sven Berg,{SVEN},sven@example.com,sv,,\n"
)


def seed_roster(settings: Settings, today: date) -> None:
    database = Database(settings.database_url)
    try:
        with database.sessions.begin() as session:
            home = ensure_organisation(session, "Testkommun", "Europe/Stockholm", "sv")
            set_number(session, home, LINE, None)
            set_number(session, home, ENGLISH_LINE, "en")
            set_number(session, home, NORWEGIAN_LANGUAGE_LINE, "nb")
            set_number(session, home, OFFERING_LINE, None, offer_language="en")
            other = ensure_organisation(session, "Andra kommun", "Europe/Stockholm", "sv")
            set_number(session, other, OTHER_LINE, None)
            norway = ensure_organisation(session, "Testkommune", "Europe/Oslo", "nb", "NO")
            set_number(session, norway, NORWAY_LINE, None)
            set_number(session, norway, NORWAY_ENGLISH_LINE, "en", offer_language="nb")
            key = settings.personal_number_key
            languages = ["sv", "en", "nb"]
            import_roster(session, home.id, read_roster(ROSTER.encode(), today, languages), key)
            import_roster(
                session, other.id, read_roster(OTHER_ROSTER.encode(), today, languages), key
            )
            norwegian = read_roster(NORWEGIAN_ROSTER.encode(), today, languages, "NO")
            import_roster(session, norway.id, norwegian, key)
    finally:
        database.dispose()
