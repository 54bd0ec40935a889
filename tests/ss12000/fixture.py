"""What the local SS 12000 API serves: a school organisation (a huvudman, its school units,
their classes, pupils with two guardians each, a mentor per class), every entity a dict in
the standard's JSON shape (SS 12000 version 2.1), and the changes a test makes to it.

Personal numbers: Swedish pupils have Skatteverket's test numbers (``tests/data``; their
personnummer and samordningsnummer lists together hold 43,393, school-age ones first), so
a Swedish fixture has at most that many pupils. Norwegian pupils have synthetic
fødselsnummer (month + 80, Skatteetaten's way of making numbers no person has), as many as
asked for. Phone numbers come from the range set aside for fiction (+46 70 174 00 00 to
+46 70 174 09 99, so guardians share them when there are many), email addresses are at
example.org, addresses are made up.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import cache
from typing import Any

from ivr.domain.countries import country as country_rules
from ivr.domain.fodselsnummer import SYNTHETIC_MONTH_OFFSET, control_digits
from ivr.domain.personal_number import InvalidPersonalNumber
from tests import official

Entity = dict[str, Any]

CREATED = datetime(2025, 6, 1, 6, 0, tzinfo=UTC)
TERM_STARTED = date(2025, 8, 11)
TODAY = date(2026, 2, 2)  # the fixture's enrolments, classes and duties are current on it
ORGANISATION, SCHOOL_UNIT, GROUP, PUPIL, GUARDIAN, STAFF, DUTY = range(1, 8)
FIRST_NAMES = ("Alva", "Elias", "Maja", "Noah", "Ella", "Hugo", "Wilma", "Liam", "Saga", "Leo")
LAST_NAMES = ("Andersson", "Berg", "Dahl", "Ek", "Holm", "Lind", "Nilsson", "Sjöberg", "Strand")
ADULT_NAMES = ("Anna", "Erik", "Karin", "Lars", "Eva", "Johan", "Maria", "Per", "Sara", "Ali")
SCHOOL_NAMES = ("Solskolan", "Ekskolan", "Björkskolan", "Lindskolan", "Fjällskolan")
SWEDISH_SCHOOL_AGE = range(2007, 2021)


def entity_id(kind: int, number: int) -> str:
    """A UUID that says what it names (``kind``) and which one, for readable tests."""
    return f"{kind:08x}-0000-4000-8000-{number:012x}"


def timestamp(moment: datetime) -> str:
    return moment.isoformat()


def fictional_phone(number: int, national: bool = False) -> str:
    """One of the thousand numbers set aside for fiction; written as Swedes write it when
    ``national`` (070-174 06 05), else E.164."""
    last = f"0{number % 1000:03d}"
    return f"070-174 {last[:2]} {last[2:]}" if national else f"+4670174{last}"


@dataclass
class SchoolData:
    """Entities by id, in the order they are served. ``version`` counts changes."""

    country: str
    organisations: dict[str, Entity] = field(default_factory=dict)
    persons: dict[str, Entity] = field(default_factory=dict)
    groups: dict[str, Entity] = field(default_factory=dict)
    duties: dict[str, Entity] = field(default_factory=dict)
    deleted: list[tuple[str, str, datetime]] = field(default_factory=list)  # type, id, when
    version: int = 0

    @property
    def pupil_ids(self) -> list[str]:
        return [key for key, person in self.persons.items() if person.get("enrolments")]

    def guardians_of(self, pupil_id: str) -> list[str]:
        return [item["person"]["id"] for item in self.persons[pupil_id].get("responsibles", [])]

    def touch(self, entity: Entity, when: datetime) -> None:
        entity["meta"]["modified"] = timestamp(when)
        self.version += 1

    def end_enrolment(self, pupil_id: str, end: date, when: datetime) -> None:
        for enrolment in self.persons[pupil_id]["enrolments"]:
            enrolment["endDate"] = end.isoformat()
        self.touch(self.persons[pupil_id], when)

    def cancel_enrolment(self, pupil_id: str, when: datetime) -> None:
        for enrolment in self.persons[pupil_id]["enrolments"]:
            enrolment["cancelled"] = True
        self.touch(self.persons[pupil_id], when)

    def class_of(self, pupil_id: str) -> str:
        for group_id, group in self.groups.items():
            for membership in group["groupMemberships"]:
                if membership["person"]["id"] == pupil_id and "endDate" not in membership:
                    return group_id
        raise LookupError(pupil_id)

    def move(self, pupil_id: str, to_group: str, on: date, when: datetime) -> None:
        """The pupil leaves their class (the membership ends the day before ``on``) and
        joins ``to_group``: the two groups change, the pupil's own record does not."""
        old = self.groups[self.class_of(pupil_id)]
        for membership in old["groupMemberships"]:
            if membership["person"]["id"] == pupil_id:
                membership["endDate"] = (on - timedelta(days=1)).isoformat()
        reference = {"id": pupil_id, "displayName": display_name(self.persons[pupil_id])}
        self.groups[to_group]["groupMemberships"].append(
            {"person": reference, "startDate": on.isoformat()}
        )
        self.touch(old, when)
        self.touch(self.groups[to_group], when)

    def set_phone(self, person_id: str, phone: str, when: datetime) -> None:
        self.persons[person_id]["phoneNumbers"] = [{"value": phone, "type": "Hem", "mobile": True}]
        self.touch(self.persons[person_id], when)

    def delete_person(self, person_id: str, when: datetime) -> None:
        del self.persons[person_id]
        for group in self.groups.values():
            group["groupMemberships"] = [
                item for item in group["groupMemberships"] if item["person"]["id"] != person_id
            ]
        self.deleted.append(("Person", person_id, when))
        self.version += 1


def display_name(person: Entity) -> str:
    return f"{person['givenName']} {person['familyName']}"


def build_school(
    pupils: int = 60,
    school_units: int = 2,
    class_size: int = 25,
    country: str = "SE",
    protected_every: int = 20,
) -> SchoolData:
    """``pupils`` at ``school_units`` school units, in classes of ``class_size``, each with
    two guardians; a mentor per class; every ``protected_every``-th pupil with a protected
    identity (alternately "Skyddad folkbokföring" and "Sekretessmarkering"). The garbage
    collector waits meanwhile: its passes over the growing fixture would take longer than
    building it (a hundred thousand pupils: 6 s instead of 15)."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _build(pupils, school_units, class_size, country, protected_every)
    finally:
        if collecting:
            gc.enable()


def _build(
    pupils: int, school_units: int, class_size: int, country: str, protected_every: int
) -> SchoolData:
    data = SchoolData(country)
    meta = {"created": timestamp(CREATED), "modified": timestamp(CREATED)}
    owner = entity_id(ORGANISATION, 1)
    data.organisations[owner] = {
        "id": owner,
        "meta": dict(meta),
        "displayName": "Exempelkommun",
        "organisationType": "Huvudman",
        "organisationNumber": "2120000000",
    }
    per_unit = -(-pupils // school_units)
    numbers = iter(pupil_numbers(pupils, country))
    for unit in range(school_units):
        unit_id = entity_id(SCHOOL_UNIT, unit + 1)
        data.organisations[unit_id] = {
            "id": unit_id,
            "meta": dict(meta),
            "displayName": school_name(unit),
            "organisationType": "Skolenhet",
            "schoolUnitCode": f"{10000000 + unit}",
            "schoolTypes": ["GR"],
            "parentOrganisation": {"id": owner, "displayName": "Exempelkommun"},
            "address": {
                "type": "Besöksadress",
                "streetAddress": f"Skolvägen {unit + 1}",
                "locality": "Exempelstad",
                "postalCode": "123 45",
            },
        }
        first, last = unit * per_unit, min(pupils, (unit + 1) * per_unit)
        for start in range(first, last, class_size):
            members = range(start, min(last, start + class_size))
            _add_class(data, unit_id, (start - first) // class_size, members, numbers, meta)
    _mark_protected(data, protected_every)
    return data


def school_name(unit: int) -> str:
    return SCHOOL_NAMES[unit] if unit < len(SCHOOL_NAMES) else f"Skolenhet {unit + 1}"


def class_name(index: int) -> str:
    letters = index // 9
    return f"{index % 9 + 1}{chr(65 + letters % 26) * (letters // 26 + 1)}"


def _add_class(
    data: SchoolData,
    unit_id: str,
    index: int,
    members: range,
    numbers: Iterator[str],
    meta: dict[str, str],
) -> None:
    unit = data.organisations[unit_id]
    unit_reference = {"id": unit_id, "displayName": unit["displayName"]}
    group_id = entity_id(GROUP, len(data.groups) + 1)
    name = class_name(index)
    memberships = []
    for number in members:
        pupil = _pupil(number, next(numbers), unit_reference, data.country, meta)
        data.persons[pupil["id"]] = pupil
        for guardian in _guardians(number, pupil["familyName"], data.country, meta):
            data.persons[guardian["id"]] = guardian
        reference = {"id": pupil["id"], "displayName": display_name(pupil)}
        memberships.append({"person": reference, "startDate": TERM_STARTED.isoformat()})
    data.groups[group_id] = {
        "id": group_id,
        "meta": dict(meta),
        "displayName": name,
        "startDate": TERM_STARTED.isoformat(),
        "endDate": "2026-06-12",
        "groupType": "Klass",
        "schoolType": "GR",
        "organisation": unit_reference,
        "groupMemberships": memberships,
    }
    mentor_number = len(data.duties) + 1
    mentor: Entity = {
        "id": entity_id(STAFF, mentor_number),
        "meta": dict(meta),
        "givenName": ADULT_NAMES[mentor_number % len(ADULT_NAMES)],
        "familyName": f"Lärare{mentor_number}",
        "emails": [{"value": f"mentor{mentor_number}@example.org", "type": "Skola personal"}],
        "phoneNumbers": [
            {"value": fictional_phone(500 + mentor_number), "type": "Arbete", "mobile": True}
        ],
    }
    data.persons[mentor["id"]] = mentor
    duty_id = entity_id(DUTY, mentor_number)
    data.duties[duty_id] = {
        "id": duty_id,
        "meta": dict(meta),
        "person": {"id": mentor["id"], "displayName": display_name(mentor)},
        "dutyAt": unit_reference,
        "dutyRole": "Lärare",
        "signature": f"L{mentor_number}",
        "startDate": "2025-08-01",
        "assignmentRole": [
            {
                "group": {"id": group_id, "displayName": name},
                "assignmentRoleType": "Mentor",
                "startDate": TERM_STARTED.isoformat(),
            }
        ],
    }


def _pupil(
    number: int, civic_no: str, unit: dict[str, str], country: str, meta: dict[str, str]
) -> Entity:
    family = LAST_NAMES[number // len(FIRST_NAMES) % len(LAST_NAMES)]
    pupil: Entity = {
        "id": entity_id(PUPIL, number + 1),
        "meta": dict(meta),
        "givenName": FIRST_NAMES[number % len(FIRST_NAMES)],
        "familyName": family,
        "civicNo": {"value": civic_no, "nationality": country},
        "securityMarking": "Ingen",
        "personStatus": "Aktiv",
        "addresses": [_address(number)],
        "enrolments": [
            {
                "enroledAt": unit,
                "schoolYear": 5,
                "schoolType": "GR",
                "startDate": TERM_STARTED.isoformat(),
                "cancelled": False,
            }
        ],
        "responsibles": [
            {
                "person": {
                    "id": entity_id(GUARDIAN, serial + 1),
                    "displayName": f"{ADULT_NAMES[serial % 10]} {family}",
                },
                "relationType": "Vårdnadshavare",
            }
            for serial in (2 * number, 2 * number + 1)
        ],
    }
    if number % 10 == 3:
        pupil["emails"] = [{"value": f"pupil{number + 1}@example.org", "type": "Skola elev"}]
    return pupil


def _guardians(number: int, family: str, country: str, meta: dict[str, str]) -> list[Entity]:
    guardians = []
    for k in range(2):
        serial = 2 * number + k
        guardians.append(
            {
                "id": entity_id(GUARDIAN, serial + 1),
                "meta": dict(meta),
                "givenName": ADULT_NAMES[serial % 10],
                "familyName": family,
                "securityMarking": "Ingen",
                "emails": [{"value": f"guardian{serial + 1}@example.org", "type": "Privat"}],
                "phoneNumbers": [
                    {
                        "value": fictional_phone(serial, national=k == 1 and country == "SE"),
                        "type": "Hem",
                        "mobile": True,
                    }
                ],
                "addresses": [_address(number)],
            }
        )
    return guardians


def _address(number: int) -> Entity:
    return {
        "type": "Folkbokföring",
        "streetAddress": f"Exempelgatan {number % 200 + 1}",
        "locality": "Exempelstad",
        "postalCode": "123 45",
        "country": "Sverige",
    }


def _mark_protected(data: SchoolData, every: int) -> None:
    markings = ("Skyddad folkbokföring", "Sekretessmarkering")
    for index, pupil_id in enumerate(data.pupil_ids):
        if every and index % every == every - 1:
            pupil = data.persons[pupil_id]
            pupil["securityMarking"] = markings[(index // every) % 2]
            pupil.pop("addresses", None)


def pupil_numbers(count: int, country: str) -> list[str]:
    """``count`` different valid identity numbers that belong to no person."""
    if country == "NO":
        return list(_synthetic_fodselsnummer(count))
    numbers = _swedish_test_numbers()
    if len(numbers) < count:
        raise ValueError(
            f"Skatteverket's test lists hold {len(numbers)} numbers, fewer than {count} "
            "pupils; build a Norwegian organisation (country='NO') for more"
        )
    return list(numbers[:count])


@cache
def _swedish_test_numbers() -> tuple[str, ...]:
    rules = country_rules("SE")
    numbers = []
    for name in official.LISTS:
        for number in official.load(name) or ():
            try:
                rules.parse_identity_number(number, TODAY)
            except InvalidPersonalNumber:
                continue
            numbers.append(number)
    numbers.sort(key=lambda number: (int(number[:4]) not in SWEDISH_SCHOOL_AGE, number))
    return tuple(numbers)


@cache
def _synthetic_fodselsnummer(count: int) -> tuple[str, ...]:
    days = [date(2008, 1, 1) + timedelta(days=offset) for offset in range(13 * 365)]
    found: list[str] = []
    for individual in range(999, 499, -1):
        for born in days:
            first_nine = f"{born:%d}{born.month + SYNTHETIC_MONTH_OFFSET}{born:%y}{individual}"
            digits = control_digits(first_nine)
            if digits is not None:
                found.append(first_nine + digits)
                if len(found) == count:
                    return tuple(found)
    raise ValueError(f"no {count} synthetic fødselsnummer")
