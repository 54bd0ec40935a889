"""A demo roster: two schools, twenty-odd pupils with Skatteverket's test personal numbers,
guardians with phone numbers from the range set aside for fiction and example.com email."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from importlib import resources

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
_LANGUAGES = ["", "", "", "", "en", "", "nb", ""]


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
        # Pupils of 18 or more have a contact of their own in the demo.
        own = ["", ""]
        if 2026 - int(pupil.personal_number[:4]) >= 18:
            own = [_GUARDIAN_PHONES[-1 - index], f"{pupil.first_name.lower()}@example.com"]
        for name, phone, email, language in pupil.guardians or [("", "", "", "")]:
            writer.writerow([*base, name, phone, email, language, *own])
    return out.getvalue().encode("utf-8")
