"""A school's roster as its own system gives it through SS 12000 (SIS standard 12000:2020,
the REST/JSON API of version 2.1): the standard's JSON, page by page, to ``SourceRoster``.
Pure: ``ivr.roster.ss12000_client`` fetches the pages; today, the country and the relation
types that make a guardian are parameters.

Read, by the standard's names (``ss12000_client`` lists the requests):

- organisations: ``id``, ``displayName`` of each ``organisationType`` "Skolenhet".
- persons: ``id``, ``givenName``, ``familyName``, ``civicNo.value`` (a pupil's, parsed as
  the roster CSV's ``personal_number`` is for the organisation's country),
  ``securityMarking`` (a protected identity unless absent or "Ingen"), ``emails[]``
  (``value``, ``type``), ``phoneNumbers[]`` (``value``, ``mobile``), ``enrolments[]``
  (``enroledAt.id``, ``startDate``, ``endDate``, ``cancelled``), ``responsibles[]``
  (``person.id``, ``person.displayName``, ``relationType``), ``_embedded.groupMemberships[]``
  (``startDate``, ``endDate`` and the ``group``'s ``id``, ``displayName``, ``groupType``,
  ``organisation.id``, ``startDate``, ``endDate``) and ``_embedded.responsibleFor[].person.id``.
- groups (a delta): ``groupType`` and ``groupMemberships[].person.id``.
- duties: ``id``, ``person.id``, ``person.displayName``, ``dutyAt.id``, ``startDate``,
  ``endDate``, ``assignmentRole[]`` (``assignmentRoleType``, ``group.id``,
  ``group.displayName``, ``startDate``, ``endDate``) and ``_embedded.person``.
- deletedEntities (a delta): ``data.persons``.

Never read: addresses (``addresses``, an organisation's ``address``), ``birthDate``, ``sex``,
``personStatus``, ``photo``, ``middleName``, ``eduPersonPrincipalNames``,
``externalIdentifiers``, ``civicNo.nationality``, an enrolment's school year, type and
programme, the ``meta`` timestamps (the API filters by them), and every other entity.

A pupil is a person with an enrolment current today (started, not ended, not cancelled)
at one of the school units read; of several, the one started last names the school. Their
class is their current membership of a current "Klass" group, at that school unit if they
have several. A person who cannot be used becomes a ``SourceProblem`` named by the
person's id, never by a personal number or a name, and is left out; everyone else is read.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date

from ivr.domain.countries import country
from ivr.roster.records import (
    GuardianContact,
    MentorRecord,
    PupilRecord,
    SourceProblem,
    SourceRoster,
)
from ivr.roster.ss12000_json import (
    CLASS,
    GUARDIAN_EMAILS,
    PUPIL_EMAILS,
    STAFF_EMAILS,
    Json,
    Malformed,
    Person,
    PersonRules,
    child,
    is_current,
    objects,
    read_person,
    reference_id,
    text,
)

SCHOOL_UNIT = "Skolenhet"  # OrganisationTypeEnum
MENTOR = "Mentor"  # AssignmentRoleTypeEnum
DEFAULT_RELATIONS = ("Vårdnadshavare",)  # RelationTypesEnum


class RosterAssembler:
    """Takes the pages of a read as they come (each a list of the standard's objects) and
    keeps only what the roster needs; ``roster()`` then says what was read."""

    def __init__(
        self, *, today: date, country_code: str, guardian_relations: Iterable[str]
    ) -> None:
        self.rules = PersonRules(today, country(country_code), frozenset(guardian_relations))
        self.schools: dict[str, str] = {}
        self.persons: dict[str, Person] = {}
        # duty id, person id, the person's displayName, dutyAt id, group id, group name
        self.mentorships: list[tuple[str, str, str, str, str, str]] = []
        self.class_schools: dict[str, str] = {}  # a class group's id -> its school unit
        self.touched: set[str] = set()
        self.deleted: set[str] = set()
        self.problems: list[SourceProblem] = []

    def add_organisations(self, page: Iterable[object]) -> None:
        for raw, entity_id in self._entities(page, "organisation"):
            try:
                if text(raw, "organisationType") == SCHOOL_UNIT:
                    self.schools[entity_id] = text(raw, "displayName") or entity_id
            except Malformed as error:
                self.problems.append(SourceProblem("organisation", entity_id, str(error)))

    def add_persons(self, page: Iterable[object]) -> None:
        for raw, person_id in self._entities(page, "person"):
            try:
                person = read_person(raw, person_id, self.rules)
            except Malformed as error:
                self.persons[person_id] = Person(person_id, unreadable=str(error))
                continue
            known = self.persons.get(person_id)
            if person.classes is None and known is not None:
                person.classes = known.classes  # read before with its memberships
            self.persons[person_id] = person
            self.touched.update(person.responsible_for)
            for membership in person.classes or ():
                self.class_schools[membership.group_id] = membership.school_unit_id

    def add_groups(self, page: Iterable[object]) -> None:
        """Classes changed since a delta's moment: each member's record is read again."""
        for raw, group_id in self._entities(page, "group"):
            try:
                if text(raw, "groupType") != CLASS:
                    continue
                self.class_schools[group_id] = reference_id(raw, "organisation")
                for membership in objects(raw, "groupMemberships"):
                    self.touched.add(reference_id(membership, "person"))
            except Malformed as error:
                self.problems.append(SourceProblem("group", group_id, str(error)))

    def add_duties(self, page: Iterable[object]) -> None:
        today = self.rules.today
        for raw, duty_id in self._entities(page, "duty"):
            try:
                reference = child(raw, "person")
                person_id = "" if reference is None else text(reference, "id")
                person_name = "" if reference is None else text(reference, "displayName")
                if not is_current(raw, today):
                    continue
                mentorships = len(self.mentorships)
                for role in objects(raw, "assignmentRole"):
                    if text(role, "assignmentRoleType") != MENTOR or not is_current(role, today):
                        continue
                    group = child(role, "group")
                    group_id = "" if group is None else text(group, "id")
                    group_name = "" if group is None else text(group, "displayName")
                    at = reference_id(raw, "dutyAt")
                    self.mentorships.append(
                        (duty_id, person_id, person_name, at, group_id, group_name)
                    )
                embedded = child(raw, "_embedded")
                person = None if embedded is None else child(embedded, "person")
            except Malformed as error:
                self.problems.append(SourceProblem("duty", duty_id, str(error)))
                continue
            if person is not None and person_id and len(self.mentorships) > mentorships:
                self.add_persons([{**person, "id": text(person, "id") or person_id}])

    def add_deleted(self, data: Json) -> None:
        """A page of ``/deletedEntities``: the persons deleted have left."""
        try:
            self.deleted.update(
                value for value in _strings(data.get("persons"), "persons") if value
            )
        except Malformed as error:
            self.problems.append(SourceProblem("deletedEntities", "persons", str(error)))

    def to_fetch(self) -> list[str]:
        """Persons a delta touched (a class they are in changed, or a responsible of
        theirs) whose record was not read yet."""
        return sorted(self.touched - self.persons.keys() - {""})

    def missing_people(self) -> list[str]:
        """The guardians of the pupils to be returned, and mentors, not read yet."""
        wanted = {
            responsible
            for person in self.persons.values()
            if person.is_pupil and person.problem is None and self._enrolment(person)
            for responsible, _ in person.responsibles
        }
        wanted.update(mentorship[1] for mentorship in self.mentorships)
        return sorted(wanted - self.persons.keys() - {""})

    def roster(self, *, full: bool) -> SourceRoster:
        problems = list(self.problems)
        problems += [
            SourceProblem("person", person.id, person.unreadable)
            for person in self.persons.values()
            if person.unreadable is not None
        ]
        reported = {problem.id for problem in problems}
        pupils: list[PupilRecord] = []
        left: set[str] = set() if full else set(self.deleted)
        holders: dict[str, str] = {}
        for person in self.persons.values():
            if person.unreadable is not None or not person.is_pupil:
                continue
            enrolment = self._enrolment(person)
            if enrolment is None:
                left.add(person.id)
                continue
            record = self._pupil(person, enrolment, holders, problems, reported)
            if record is not None:
                pupils.append(record)
        left -= {pupil.pupil_id for pupil in pupils}
        mentors = self._mentors(problems, reported)
        return SourceRoster(
            dict(self.schools),
            pupils,
            mentors,
            full,
            frozenset() if full else frozenset(left),
            problems,
        )

    def _entities(self, page: Iterable[object], entity: str) -> Iterable[tuple[Json, str]]:
        for raw in page:
            identity = raw.get("id") if isinstance(raw, dict) else None
            if not isinstance(raw, dict) or not isinstance(identity, str) or not identity:
                self.problems.append(SourceProblem(entity, "?", "an object without an id"))
                continue
            yield raw, identity

    def _enrolment(self, person: Person) -> str | None:
        """The school unit of the person's current enrolment here (the latest started)."""
        here = [enrolment for enrolment in person.enrolments if enrolment[0] in self.schools]
        if not here:
            return None
        return max(here, key=lambda enrolment: enrolment[1] or date.min)[0]

    def _pupil(
        self,
        person: Person,
        school_unit: str,
        holders: dict[str, str],
        problems: list[SourceProblem],
        reported: set[str],
    ) -> PupilRecord | None:
        if person.problem is not None or person.number is None:
            problems.append(SourceProblem("person", person.id, person.problem or "no civicNo"))
            return None
        holder = holders.setdefault(person.number.digits, person.id)
        if holder != person.id:
            message = f"civicNo.value is also given for person {holder}"
            problems.append(SourceProblem("person", person.id, message))
            return None
        classes = person.classes or []
        here = [member for member in classes if member.school_unit_id == school_unit]
        group = (here or classes)[0].name if classes else ""
        return PupilRecord(
            school=self.schools[school_unit],
            pupil_id=person.id,
            personal_number=person.number,
            first_name=person.given_name,
            last_name=person.family_name,
            group=group,
            phone=person.phone,
            email=person.email(PUPIL_EMAILS)[0],
            line=0,
            guardians=self._guardians(person, problems, reported),
            protected=person.protected,
        )

    def _guardians(
        self, pupil: Person, problems: list[SourceProblem], reported: set[str]
    ) -> list[GuardianContact]:
        def report(person_id: str, message: str) -> None:
            if person_id not in reported:
                reported.add(person_id)
                problems.append(SourceProblem("person", person_id, message))

        found: dict[str, GuardianContact] = {}
        for responsible_id, display_name in pupil.responsibles:
            person = self.persons.get(responsible_id)
            if person is None:
                report(responsible_id, f"a responsible of person {pupil.id} was not returned")
                continue
            if person.unreadable is not None:
                continue  # reported once, as a person
            email, email_problem = person.email(GUARDIAN_EMAILS)
            problem = person.phone_problem or email_problem
            if problem is not None:
                report(responsible_id, problem)
                continue
            if not (person.phone or email):
                continue  # no way to reach them
            name = display_name or person.name
            if not name:
                report(responsible_id, "a responsible without displayName, givenName, familyName")
                continue
            contact = GuardianContact(name, person.phone, email, None)
            found.setdefault(contact.contact_key, contact)
        return list(found.values())

    def _mentors(self, problems: list[SourceProblem], reported: set[str]) -> list[MentorRecord]:
        mentors: dict[tuple[str, str, str], MentorRecord] = {}
        for duty_id, person_id, person_name, at, group_id, group_name in self.mentorships:
            school_unit = self.class_schools.get(group_id, "")
            if school_unit not in self.schools:
                school_unit = at
            person = self.persons.get(person_id)
            if person is not None and person.unreadable is not None:
                continue  # reported as a person
            email, email_problem = (None, None) if person is None else person.email(STAFF_EMAILS)
            name = person_name or ("" if person is None else person.name)
            problem = _mentor_problem(
                school_unit in self.schools, group_name, person, name, email, email_problem
            )
            if problem is not None:
                if duty_id not in reported:
                    problems.append(SourceProblem("duty", duty_id, problem))
                    reported.add(duty_id)
                continue
            assert person is not None and email is not None
            mentor = MentorRecord(self.schools[school_unit], group_name, name, email, person.phone)
            mentors.setdefault((mentor.school, mentor.group, email.lower()), mentor)
        return list(mentors.values())


def _mentor_problem(
    at_school_unit: bool,
    group_name: str,
    person: Person | None,
    name: str,
    email: str | None,
    email_problem: str | None,
) -> str | None:
    if not at_school_unit:
        return "the mentor's group and duty are at no school unit read"
    if not group_name:
        return "the mentor's group has no displayName (expandReferenceNames)"
    if person is None:
        return "the mentor's person was not returned"
    if not name:
        return "the mentor has no displayName, givenName or familyName"
    if person.phone_problem or email_problem:
        return person.phone_problem or email_problem
    if email is None:
        return "the mentor has no email address"
    return None


def _strings(value: object, key: str) -> Sequence[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise Malformed(f"{key} is not a list of ids")
    return value


def map_roster(
    *,
    today: date,
    country_code: str,
    organisations: Iterable[object],
    persons: Iterable[object],
    duties: Iterable[object] = (),
    guardian_relations: Iterable[str] = DEFAULT_RELATIONS,
    changed_groups: Iterable[object] = (),
    deleted: Json | None = None,
    full: bool = True,
) -> SourceRoster:
    """The roster that these objects, read whole, make (for tests and one-off reads)."""
    assembler = RosterAssembler(
        today=today, country_code=country_code, guardian_relations=guardian_relations
    )
    assembler.add_organisations(organisations)
    assembler.add_duties(duties)
    assembler.add_persons(persons)
    assembler.add_groups(changed_groups)
    if deleted is not None:
        assembler.add_deleted(deleted)
    return assembler.roster(full=full)
