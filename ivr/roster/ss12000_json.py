"""Reading the standard's JSON (SS 12000): typed access to one field of a parsed object,
and one person read into what the roster needs of them. Pure.

A field that is missing (or ``null``) reads as empty; a field that is there but not of
the standard's type raises ``Malformed``, naming the field and never its value.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache

from ivr.domain.countries import Country
from ivr.domain.identity import IdentityNumber
from ivr.domain.personal_number import InvalidPersonalNumber
from ivr.domain.phone import InvalidPhoneNumber, normalise
from ivr.roster.csv_file import is_email

Json = dict[str, object]  # a JSON object, as orjson and json parse it

CLASS = "Klass"  # GroupTypesEnum
NO_MARKING = "Ingen"  # securityMarking of a person without a protected identity
# Which of a person's emails (Code_EmailType) is theirs to be reached at, best first.
PUPIL_EMAILS = ("Privat", "Skola elev")
GUARDIAN_EMAILS = ("Privat", "Arbete övrigt")
STAFF_EMAILS = ("Skola personal", "Arbete övrigt")
# Validating a number is the costliest step of reading a person (phonenumbers' metadata);
# a family's number, a switchboard's, recur within a read.
_normalise = lru_cache(maxsize=1 << 16)(normalise)
_NUMBER_PROBLEMS = {
    "wrong_length": "civicNo.value has the wrong number of digits",
    "no_such_date": "civicNo.value does not hold a valid date of birth",
    "check_digit": "civicNo.value has a wrong check digit",
}


class Malformed(ValueError):
    """A field that is not of the type the standard gives it."""


def text(obj: Json, key: str) -> str:
    value = obj.get(key)
    if type(value) is str:  # the common case first: a person has a dozen of these
        return value.strip()
    if value is None:
        return ""
    raise Malformed(f"{key} is not a string")


def child(obj: Json, key: str) -> Json | None:
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise Malformed(f"{key} is not an object")
    return value


def objects(obj: Json, key: str) -> list[Json]:
    value = obj.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise Malformed(f"{key} is not a list of objects")
    for item in value:
        if not isinstance(item, dict):
            raise Malformed(f"{key} is not a list of objects")
    return value


def day(obj: Json, key: str) -> date | None:
    value = text(obj, key)
    if not value:
        return None
    try:
        return _date(value[:10])
    except ValueError:
        raise Malformed(f"{key} is not a date") from None


_date = lru_cache(maxsize=4096)(date.fromisoformat)  # a school's dates are few, and recur


def flag(obj: Json, key: str) -> bool:
    value = obj.get(key)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise Malformed(f"{key} is not a boolean")
    return value


def reference_id(obj: Json, key: str) -> str:
    """The ``id`` of the reference ``key`` (``enroledAt``, ``person``, ``group``...)."""
    reference = child(obj, key)
    return "" if reference is None else text(reference, "id")


def is_current(obj: Json, today: date) -> bool:
    """``startDate`` (when given) on or before ``today``, ``endDate`` absent or not before."""
    start, end = day(obj, "startDate"), day(obj, "endDate")
    return (start is None or start <= today) and (end is None or end >= today)


@dataclass(frozen=True, slots=True)
class ClassMembership:
    group_id: str
    name: str
    school_unit_id: str


@dataclass(slots=True)
class Person:
    """What the roster needs of one person, whichever part they play (pupil, responsible,
    mentor). ``problem``: why they cannot be a pupil; ``phone_problem``: why their phone
    cannot be used; ``unreadable``: why nothing of them can. ``classes`` is None when the
    person was read without ``expand=groupMemberships``."""

    id: str
    given_name: str = ""
    family_name: str = ""
    phone: str | None = None
    # (type, address) of each email, in the order given.
    emails: list[tuple[str, str]] = field(default_factory=list)
    protected: bool = False
    # The school units of the enrolments current today, each with its startDate.
    enrolments: list[tuple[str, date | None]] = field(default_factory=list)
    any_enrolment: bool = False
    classes: list[ClassMembership] | None = None
    # (person id, displayName) of each responsible whose relationType makes a guardian.
    responsibles: list[tuple[str, str]] = field(default_factory=list)
    responsible_for: list[str] = field(default_factory=list)
    number: IdentityNumber | None = None
    problem: str | None = None
    phone_problem: str | None = None
    unreadable: str | None = None

    @property
    def is_pupil(self) -> bool:
        """Enrolled somewhere at some time, or in a class: someone the roster may hold."""
        return self.any_enrolment or bool(self.classes)

    @property
    def name(self) -> str:
        return f"{self.given_name} {self.family_name}".strip()

    def email(self, preferred: tuple[str, ...]) -> tuple[str | None, str | None]:
        """The address to reach them at (the first of the ``preferred`` types they have, else
        their first), and what is wrong with it if it is no email address."""
        if not self.emails:
            return None, None
        address = min(self.emails, key=lambda email: _rank(email[0], preferred))[1]
        if not is_email(address):
            return None, "emails: the address is not an email address"
        return address, None


@dataclass(frozen=True, slots=True)
class PersonRules:
    today: date
    country: Country
    relations: frozenset[str]


def read_person(raw: Json, person_id: str, rules: PersonRules) -> Person:
    """``raw`` as a ``Person``; raises ``Malformed`` if a field is not of its type."""
    person = Person(
        person_id, given_name=text(raw, "givenName"), family_name=text(raw, "familyName")
    )
    marking = text(raw, "securityMarking")
    person.protected = bool(marking) and marking != NO_MARKING
    enrolments = objects(raw, "enrolments")
    person.any_enrolment = bool(enrolments)
    for enrolment in enrolments:
        school_unit = reference_id(enrolment, "enroledAt")
        if school_unit and is_current(enrolment, rules.today) and not flag(enrolment, "cancelled"):
            person.enrolments.append((school_unit, day(enrolment, "startDate")))
    for responsible in objects(raw, "responsibles"):
        reference = child(responsible, "person")
        if reference is not None and text(responsible, "relationType") in rules.relations:
            person.responsibles.append((text(reference, "id"), text(reference, "displayName")))
    embedded = child(raw, "_embedded")
    if embedded is not None:
        _read_embedded(person, embedded, rules.today)
    _read_contact(person, raw, rules.country.code)
    if person.is_pupil:
        person.problem = _pupil_problem(person, raw, rules)
    return person


def _read_embedded(person: Person, embedded: Json, today: date) -> None:
    if "groupMemberships" in embedded:
        person.classes = []
        for membership in objects(embedded, "groupMemberships"):
            group = child(membership, "group")
            if group is None or text(group, "groupType") != CLASS:
                continue
            if is_current(group, today) and is_current(membership, today):
                name, group_id = text(group, "displayName"), text(group, "id")
                if name and group_id:
                    school_unit = reference_id(group, "organisation")
                    person.classes.append(ClassMembership(group_id, name, school_unit))
    for cared_for in objects(embedded, "responsibleFor"):
        pupil = reference_id(cared_for, "person")
        if pupil:
            person.responsible_for.append(pupil)


def _read_contact(person: Person, raw: Json, region: str) -> None:
    """The person's phone (a mobile if they have one) as E.164, and their emails."""
    chosen = ""
    for phone in objects(raw, "phoneNumbers"):
        number = text(phone, "value")
        if number and (not chosen or flag(phone, "mobile")):
            chosen = number
            if flag(phone, "mobile"):
                break
    if chosen:
        try:
            person.phone = _normalise(chosen, region)
        except InvalidPhoneNumber:
            person.phone_problem = "phoneNumbers: the number is not a valid phone number"
    for email in objects(raw, "emails"):
        address = text(email, "value")
        if address:
            person.emails.append((text(email, "type"), address))


def _rank(kind: str, preferred: tuple[str, ...]) -> int:
    return preferred.index(kind) if kind in preferred else len(preferred)


def _pupil_problem(person: Person, raw: Json, rules: PersonRules) -> str | None:
    if not person.given_name or not person.family_name:
        return "givenName or familyName is missing"
    civic_no = child(raw, "civicNo")
    value = "" if civic_no is None else text(civic_no, "value")
    if not value:
        return "civicNo is missing"
    try:
        person.number = rules.country.parse_identity_number(value, rules.today)
    except InvalidPersonalNumber as error:
        return f"{_NUMBER_PROBLEMS[error.problem.value]} for {rules.country.code}"
    return person.phone_problem or person.email(PUPIL_EMAILS)[1]
