"""A demo roster: two schools, twenty-odd pupils with Skatteverket's test personal numbers,
guardians with phone numbers from the range set aside for fiction and example.com email.

And a small Norwegian organisation, whose pupils have synthetic fødselsnummer (month + 80,
as in Skatteetaten's test data: never a person's): the same calls in Norway, with eleven
digits and day-first dates."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date
from importlib import resources

from ivr.domain.fodselsnummer import D_NUMBER_DAY_OFFSET, SYNTHETIC_MONTH_OFFSET, control_digits
from ivr.roster.csv_file import OPTIONAL_COLUMNS, REQUIRED_COLUMNS

DEMO_ORGANISATION = "Demo kommun"
# PTS keeps these ranges for fiction: no real subscriber ever has them.
DEMO_LINES = {"+46846500400": None, "+46846500401": "en", "+46846500402": "nb"}
_GUARDIAN_PHONES = [f"+467017406{n:02d}" for n in range(5, 100)]
# Ebba Jansson, whose brother Oscar is the next pupil; the simulator calls as their mother.
DEMO_EXAMPLE_PUPIL = 12
DEMO_CALLER = "+46701740623"

_FIRST_NAMES = [
    "Alva",
    "Elias",
    "Maja",
    "Noah",
    "Ella",
    "Hugo",
    "Wilma",
    "Liam",
    "Alma",
    "William",
    "Saga",
    "Lucas",
    "Ebba",
    "Oscar",
    "Astrid",
    "Vincent",
    "Freja",
    "Nils",
    "Selma",
    "Adam",
    "Agnes",
    "Leo",
    "Klara",
    "Arvid",
    "Stella",
    "Sixten",
]
_LAST_NAMES = [
    "Andersson",
    "Johansson",
    "Karlsson",
    "Nilsson",
    "Eriksson",
    "Larsson",
    "Olsson",
    "Persson",
    "Svensson",
    "Gustafsson",
    "Pettersson",
    "Jonsson",
    "Jansson",
]
_ADULT_NAMES = ["Anna", "Erik", "Karin", "Lars", "Eva", "Johan", "Maria", "Per", "Sara", "Anders"]
_LANGUAGES = ["", "", "", "", "", "en", "", "nb"]


@dataclass(frozen=True, slots=True)
class DemoPupil:
    pupil_id: str
    personal_number: str
    first_name: str
    last_name: str
    school: str
    group: str
    guardians: list[tuple[str, str, str, str]]  # name, phone, email, language


def demo_personal_numbers() -> list[str]:
    text = (resources.files("ivr.roster") / "demo_personnummer.txt").read_text("utf-8")
    return [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]


def demo_pupils(count: int = 24) -> list[DemoPupil]:
    numbers = demo_personal_numbers()
    # Spread over the list so the pupils are of every school age.
    chosen = numbers[:: max(1, len(numbers) // count)][:count]
    phones = iter(_GUARDIAN_PHONES)
    pupils: list[DemoPupil] = []
    family: list[tuple[str, str, str, str]] = []
    for index, number in enumerate(chosen):
        last_name = _LAST_NAMES[index % len(_LAST_NAMES)]
        born = int(number[:4])
        age_in_2026 = 2026 - born
        school = "Solskolan" if age_in_2026 <= 12 else "Ekskolan"
        year = age_in_2026 - 6
        group = f"{year}{'AB'[index % 2]}" if year <= 9 else f"NA{year - 9}"
        if index % 6 == 1 and pupils:
            # Every sixth pupil is a younger sibling of the one before: same guardians.
            last_name = pupils[-1].last_name
            guardians = family
        else:
            language = _LANGUAGES[index % len(_LANGUAGES)]
            guardians = []
            for parent in range(1 if index % 5 == 4 else 2):
                name = _ADULT_NAMES[(index * 2 + parent) % len(_ADULT_NAMES)]
                email = f"{name.lower()}.{last_name.lower()}@example.com".replace("ö", "o")
                guardians.append((f"{name} {last_name}", next(phones), email, language))
            family = guardians
        pupils.append(
            DemoPupil(
                pupil_id=f"D{index + 1:04d}",
                personal_number=number,
                first_name=_FIRST_NAMES[index % len(_FIRST_NAMES)],
                last_name=last_name,
                school=school,
                group=group,
                guardians=guardians,
            )
        )
    return pupils


def demo_roster_csv(pupils: list[DemoPupil]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS])
    for index, pupil in enumerate(pupils):
        base = [
            pupil.school,
            pupil.pupil_id,
            pupil.personal_number,
            pupil.first_name,
            pupil.last_name,
            pupil.group,
        ]
        # Pupils of 18 or more have a contact of their own in the demo (the Swedish
        # numbers are written with their century; the Norwegian pupils are all children).
        own = ["", ""]
        swedish = len(pupil.personal_number) == 12
        if swedish and 2026 - int(pupil.personal_number[:4]) >= 18:
            own = [_GUARDIAN_PHONES[-1 - index], f"{pupil.first_name.lower()}@example.com"]
        for name, phone, email, language in pupil.guardians or [("", "", "", "")]:
            writer.writerow([*base, name, phone, email, language, *own])
    return out.getvalue().encode("utf-8")


DEMO_NORWAY_ORGANISATION = "Demo kommune"
# The Norwegian demo line speaks Norwegian and offers English on a key (number: language
# offered). Its number is in the same range set aside for fiction.
DEMO_NORWAY_LINES = {"+46846500403": "en"}
# Nils Nilsen, father of Ingrid and Jonas.
DEMO_NORWAY_CALLER = "+46701740660"


def synthetic_fodselsnummer(born: date, d_number: bool = False) -> str:
    """A synthetic fødselsnummer (or D-number) for ``born``: month + 80, as in Skatteetaten's
    test data, so it is never a person's; the first individual number down from 999 that
    control digits fit."""
    day = born.day + (D_NUMBER_DAY_OFFSET if d_number else 0)
    month = born.month + SYNTHETIC_MONTH_OFFSET
    for individual in range(999, 499, -1):
        first_nine = f"{day:02d}{month:02d}{born:%y}{individual:03d}"
        digits = control_digits(first_nine)
        if digits is not None:
            return first_nine + digits
    raise ValueError(f"no fødselsnummer for {born}")


def demo_norwegian_pupils() -> list[DemoPupil]:
    nils = ("Nils Nilsen", DEMO_NORWAY_CALLER, "nils.nilsen@example.com", "")
    emma = ("Emma Nilsen", "+46701740661", "emma.nilsen@example.com", "en")
    liv = ("Liv Bakke", "+46701740662", "liv.bakke@example.com", "")
    rows = [
        ("Ingrid", "Nilsen", date(2014, 3, 14), False, "6A", [nils, emma]),
        ("Jonas", "Nilsen", date(2017, 9, 2), False, "3B", [nils, emma]),
        ("Sara", "Bakke", date(2015, 6, 21), False, "5A", [liv]),
        ("Amir", "Haddad", date(2013, 11, 5), True, "7A", [liv]),
    ]
    return [
        DemoPupil(
            pupil_id=f"N{index + 1:04d}",
            personal_number=synthetic_fodselsnummer(born, d_number),
            first_name=first,
            last_name=last,
            school="Fjellskolen",
            group=group,
            guardians=guardians,
        )
        for index, (first, last, born, d_number, group, guardians) in enumerate(rows)
    ]
