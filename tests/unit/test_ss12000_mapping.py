"""The standard's JSON (SS 12000) to the roster: who is a pupil today, at which school, in
which class, with which guardians and mentors; and what cannot be read, named by id only."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from ivr.domain.countries import country
from ivr.roster.records import GuardianContact, MentorRecord, SourceRoster
from ivr.roster.ss12000 import RosterAssembler, map_roster
from tests.roster_data import ALVA, BO, CELIA, DAVID, EMIL, NORA, ODD

TODAY = date(2026, 2, 2)
SOL = "00000002-0000-4000-8000-000000000001"
EK = "00000002-0000-4000-8000-000000000002"
ELSEWHERE = "00000002-0000-4000-8000-000000000009"
CLASS_5A = "00000003-0000-4000-8000-000000000001"
CLASS_8C = "00000003-0000-4000-8000-000000000002"
PUPIL = "00000004-0000-4000-8000-000000000001"
SISTER = "00000004-0000-4000-8000-000000000002"
MOTHER = "00000005-0000-4000-8000-000000000001"
FATHER = "00000005-0000-4000-8000-000000000002"
TEACHER = "00000006-0000-4000-8000-000000000001"
DUTY = "00000007-0000-4000-8000-000000000001"
META = {"created": "2025-06-01T06:00:00+00:00", "modified": "2025-06-01T06:00:00+00:00"}
ORGANISATIONS = [
    {"id": "00000001-0000-4000-8000-000000000001", "meta": META, "displayName": "Exempelkommun",
     "organisationType": "Huvudman"},
    {"id": SOL, "meta": META, "displayName": "Solskolan", "organisationType": "Skolenhet",
     "address": {"streetAddress": "Skolvägen 1", "locality": "Exempelstad", "postalCode": "12345"}},
    {"id": EK, "meta": META, "displayName": "Ekskolan", "organisationType": "Skolenhet"},
]  # fmt: skip


def enrolment(school: str = SOL, **fields: Any) -> dict[str, Any]:
    return {"enroledAt": {"id": school}, "schoolType": "GR", "startDate": "2025-08-11", **fields}


def membership(
    group: str = CLASS_5A,
    name: str = "5A",
    school: str = SOL,
    group_fields: dict[str, str] | None = None,
    **fields: Any,
) -> Any:
    return {
        "group": {
            "id": group,
            "meta": META,
            "displayName": name,
            "groupType": "Klass",
            "startDate": "2025-08-11",
            "organisation": {"id": school, "displayName": "?"},
            **(group_fields or {}),
        },
        "startDate": "2025-08-11",
        **fields,
    }


def responsible(person: str, relation: str = "Vårdnadshavare", name: str | None = None) -> Any:
    reference = {"id": person} if name is None else {"id": person, "displayName": name}
    return {"person": reference, "relationType": relation}


def pupil(
    person_id: str = PUPIL, number: str = f"20{ALVA}", classes: Any = None, **fields: Any
) -> dict[str, Any]:
    found: dict[str, Any] = {
        "id": person_id,
        "meta": META,
        "givenName": "Alva",
        "familyName": "Andersson",
        "civicNo": {"value": number, "nationality": "SE"},
        "securityMarking": "Ingen",
        "addresses": [{"type": "Folkbokföring", "streetAddress": "Exempelgatan 1"}],
        "enrolments": [enrolment()],
        "responsibles": [
            responsible(MOTHER, name="Anna Andersson"),
            responsible(FATHER, name="Erik Andersson"),
        ],
        "_embedded": {"groupMemberships": [membership()] if classes is None else classes},
    }
    found.update(fields)
    return {key: value for key, value in found.items() if value is not None}


def adult(person_id: str, given: str, family: str, **fields: Any) -> dict[str, Any]:
    return {"id": person_id, "meta": META, "givenName": given, "familyName": family, **fields}


def phone(value: str, mobile: bool = True, kind: str = "Hem") -> dict[str, Any]:
    return {"value": value, "type": kind, "mobile": mobile}


def email(value: str, kind: str = "Privat") -> dict[str, str]:
    return {"value": value, "type": kind}


MOTHER_JSON = adult(
    MOTHER,
    "Anna",
    "Andersson",
    phoneNumbers=[phone("08-123 456 78", mobile=False), phone("070-174 06 05")],
    emails=[email("anna@example.org")],
)
FATHER_JSON = adult(
    FATHER,
    "Erik",
    "Andersson",
    phoneNumbers=[phone("+46701740606", kind="Arbete")],
    emails=[email("erik@skolan.example.org", "Arbete övrigt"), email("erik@example.org")],
)


def duty(
    *roles: Any, person: Any = None, duty_id: str = DUTY, at: str = SOL, **fields: Any
) -> dict[str, Any]:
    teacher = adult(
        TEACHER,
        "Karin",
        "Lind",
        emails=[email("karin.privat@example.org"), email("karin@example.org", "Skola personal")],
        phoneNumbers=[phone("+46701740690", kind="Arbete")],
    )
    return {
        "id": duty_id,
        "meta": META,
        "person": {"id": TEACHER, "displayName": "Karin Lind"},
        "dutyAt": {"id": at},
        "dutyRole": "Lärare",
        "startDate": "2025-08-01",
        "assignmentRole": list(roles) or [mentor_role()],
        "_embedded": {"person": teacher if person is None else person},
        **fields,
    }


def mentor_role(group: str = CLASS_5A, name: str = "5A", **fields: Any) -> dict[str, Any]:
    return {
        "group": {"id": group, "displayName": name},
        "assignmentRoleType": "Mentor",
        "startDate": "2025-08-11",
        **fields,
    }


def read(*persons: Any, duties: Any = (), **options: Any) -> SourceRoster:
    everyone = [*persons, MOTHER_JSON, FATHER_JSON] if persons else []
    return map_roster(
        today=TODAY,
        country_code=options.pop("country_code", "SE"),
        organisations=options.pop("organisations", ORGANISATIONS),
        persons=everyone,
        duties=duties,
        **options,
    )


def test_a_current_pupil_becomes_a_record_with_school_class_guardians() -> None:
    roster = read(pupil())

    assert roster.schools == {SOL: "Solskolan", EK: "Ekskolan"}
    assert roster.full and roster.left == frozenset() and roster.problems == []
    (record,) = roster.pupils
    assert record.pupil_id == PUPIL
    assert record.school == "Solskolan" and record.group == "5A"
    assert (record.first_name, record.last_name) == ("Alva", "Andersson")
    assert record.personal_number == country("SE").parse_identity_number(f"20{ALVA}", TODAY)
    assert record.line == 0 and not record.protected
    assert (record.phone, record.email) == (None, None)
    assert record.guardians == [
        # The mobile before the home number; the private email before the work one.
        GuardianContact("Anna Andersson", "+46701740605", "anna@example.org", None),
        GuardianContact("Erik Andersson", "+46701740606", "erik@example.org", None),
    ]


def test_the_pupils_own_phone_and_email() -> None:
    mine = pupil(
        phoneNumbers=[phone("0701740690")],
        emails=[email("alva@skolan.example.org", "Skola elev"), email("alva@example.org")],
    )

    (record,) = read(mine).pupils

    assert (record.phone, record.email) == ("+46701740690", "alva@example.org")


@pytest.mark.parametrize(
    ("fields", "enrolled"),
    [
        ({}, True),
        ({"endDate": "2026-02-02"}, True),  # the last day is a day at school
        ({"endDate": "2026-02-01"}, False),
        ({"startDate": "2026-02-02"}, True),
        ({"startDate": "2026-02-03"}, False),  # not yet
        ({"cancelled": True}, False),
        ({"cancelled": False, "endDate": "2026-06-12"}, True),
    ],
)
def test_only_an_enrolment_current_today_makes_a_pupil(fields: Any, enrolled: bool) -> None:
    full = read(pupil(enrolments=[enrolment(**fields)]))
    delta = read(pupil(enrolments=[enrolment(**fields)]), full=False)

    assert [record.pupil_id for record in full.pupils] == ([PUPIL] if enrolled else [])
    assert full.left == frozenset()  # a full read: whoever is not there has left
    assert delta.left == (frozenset() if enrolled else frozenset({PUPIL}))
    assert full.problems == delta.problems == []


def test_an_enrolment_at_a_school_unit_not_read_is_not_one_here() -> None:
    roster = read(pupil(enrolments=[enrolment(ELSEWHERE)]), full=False)

    assert roster.pupils == [] and roster.left == {PUPIL}


def test_of_two_current_enrolments_the_one_begun_last_names_the_school() -> None:
    moved = pupil(
        enrolments=[enrolment(SOL), enrolment(EK, startDate="2026-01-07")],
        classes=[membership(), membership(CLASS_8C, "8C", EK)],
    )

    (record,) = read(moved).pupils

    assert (record.school, record.group) == ("Ekskolan", "8C")


@pytest.mark.parametrize(
    "classes",
    [
        [],
        [membership(endDate="2026-01-31")],  # left the class
        [membership(group_fields={"endDate": "2025-12-20"})],  # the class itself has ended
        [membership(group_fields={"groupType": "Undervisning"})],  # a teaching group
    ],
)
def test_a_pupil_in_no_current_class_has_an_empty_group(classes: Any) -> None:
    (record,) = read(pupil(classes=classes)).pupils

    assert record.group == ""


def test_a_pupil_read_without_memberships_is_still_a_pupil() -> None:
    (record,) = read(pupil(_embedded=None)).pupils

    assert record.group == ""


@pytest.mark.parametrize(
    ("marking", "protected"),
    [
        ("Skyddad folkbokföring", True),
        ("Sekretessmarkering", True),
        ("Ingen", False),
        (None, False),
    ],
)
def test_a_security_marking_other_than_ingen_is_a_protected_identity(
    marking: str | None, protected: bool
) -> None:
    (record,) = read(pupil(securityMarking=marking)).pupils

    assert record.protected is protected


def test_only_the_configured_relation_types_make_guardians() -> None:
    cared_for = pupil(
        responsibles=[
            responsible(MOTHER, name="Anna Andersson"),
            responsible(FATHER, "Annan ansvarig", name="Erik Andersson"),
        ]
    )

    (default,) = read(cared_for).pupils
    (both,) = read(cared_for, guardian_relations=["Vårdnadshavare", "Annan ansvarig"]).pupils
    (none,) = read(cared_for, guardian_relations=["God man"]).pupils

    assert [guardian.name for guardian in default.guardians] == ["Anna Andersson"]
    assert [guardian.name for guardian in both.guardians] == ["Anna Andersson", "Erik Andersson"]
    assert none.guardians == []


def test_a_guardian_is_named_by_the_reference_or_by_their_own_names() -> None:
    cared_for = pupil(responsibles=[responsible(MOTHER), responsible(FATHER, name="Pappa Erik")])

    (record,) = read(cared_for).pupils

    assert [guardian.name for guardian in record.guardians] == ["Anna Andersson", "Pappa Erik"]


def test_a_guardian_without_phone_or_email_is_left_out_quietly() -> None:
    silent = adult(MOTHER, "Anna", "Andersson", emails=[], phoneNumbers=[])

    roster = map_roster(
        today=TODAY,
        country_code="SE",
        organisations=ORGANISATIONS,
        persons=[pupil(), silent, FATHER_JSON],
    )

    assert [guardian.name for guardian in roster.pupils[0].guardians] == ["Erik Andersson"]
    assert roster.problems == []


def test_a_guardian_with_a_bad_phone_is_reported_by_id_and_left_out() -> None:
    wrong = adult(MOTHER, "Anna", "Andersson", phoneNumbers=[phone("12")])

    roster = map_roster(
        today=TODAY,
        country_code="SE",
        organisations=ORGANISATIONS,
        persons=[pupil(), pupil(SISTER, f"20{BO}"), wrong, FATHER_JSON],
    )

    assert [len(record.guardians) for record in roster.pupils] == [1, 1]
    assert [(problem.entity, problem.id) for problem in roster.problems] == [("person", MOTHER)]
    assert "phone" in roster.problems[0].message


def test_a_guardian_the_api_did_not_return_is_reported() -> None:
    roster = map_roster(
        today=TODAY, country_code="SE", organisations=ORGANISATIONS, persons=[pupil(), MOTHER_JSON]
    )

    assert len(roster.pupils[0].guardians) == 1
    assert [(problem.id, problem.message) for problem in roster.problems] == [
        (FATHER, f"a responsible of person {PUPIL} was not returned")
    ]


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"civicNo": None}, "civicNo is missing"),
        ({"civicNo": {"value": ""}}, "civicNo is missing"),
        ({"civicNo": {"value": f"20{ALVA[:-1]}4"}}, "check digit"),
        ({"civicNo": {"value": f"{ALVA[:-1]}4"}}, "check digit"),
        ({"civicNo": {"value": "12345"}}, "number of digits"),
        ({"civicNo": {"value": "201513012395"}}, "date of birth"),
        ({"givenName": None}, "givenName or familyName is missing"),
        ({"familyName": " "}, "givenName or familyName is missing"),
        ({"phoneNumbers": [phone("0701")]}, "not a valid phone number"),
        ({"emails": [email("alva at example.org")]}, "not an email address"),
        ({"civicNo": "a string"}, "civicNo is not an object"),
        ({"enrolments": {"enroledAt": SOL}}, "enrolments is not a list of objects"),
        ({"givenName": 7}, "givenName is not a string"),
        ({"enrolments": [enrolment(startDate="11 August")]}, "startDate is not a date"),
        ({"enrolments": [enrolment(cancelled="no")]}, "cancelled is not a boolean"),
    ],
)
def test_a_pupil_who_cannot_be_read_is_reported_by_id_and_the_rest_are_read(
    fields: Any, reason: str
) -> None:
    roster = read(pupil(**fields), pupil(SISTER, f"20{BO}"))

    assert [record.pupil_id for record in roster.pupils] == [SISTER]
    (problem,) = roster.problems
    assert (problem.entity, problem.id) == ("person", PUPIL)
    assert reason in problem.message
    assert roster.left == frozenset()


def test_a_personal_number_given_twice_is_read_once() -> None:
    roster = read(pupil(), pupil(SISTER, f"20{ALVA}"))

    assert [record.pupil_id for record in roster.pupils] == [PUPIL]
    assert [(problem.id, problem.message) for problem in roster.problems] == [
        (SISTER, f"civicNo.value is also given for person {PUPIL}")
    ]


def test_a_former_pupil_who_cannot_be_read_is_no_problem() -> None:
    former = pupil(civicNo=None, enrolments=[enrolment(endDate="2025-06-12")])

    roster = read(former, full=False)

    assert roster.pupils == [] and roster.problems == [] and roster.left == {PUPIL}


def test_an_object_without_an_id_is_reported() -> None:
    roster = read(pupil(), {"givenName": "Nobody"})

    assert len(roster.pupils) == 1
    assert [(problem.entity, problem.id) for problem in roster.problems] == [("person", "?")]


def test_a_norwegian_organisation_reads_fodselsnummer() -> None:
    roster = read(
        pupil(number=NORA, phoneNumbers=[phone("+46701740670")]),
        pupil(SISTER, ODD),
        pupil("00000004-0000-4000-8000-000000000003", f"20{ALVA}"),
        country_code="NO",
    )

    assert [record.personal_number.digits for record in roster.pupils] == [NORA, ODD]
    assert roster.pupils[0].phone == "+46701740670"
    problems = {problem.id: problem.message for problem in roster.problems}
    assert problems["00000004-0000-4000-8000-000000000003"] == (
        "civicNo.value has the wrong number of digits for NO"
    )
    # 070-174 06 05 is a Swedish way of writing a number: in Norway it is none.
    assert problems[MOTHER] == "phoneNumbers: the number is not a valid phone number"


def test_a_swedish_organisation_refuses_a_fodselsnummer() -> None:
    roster = read(pupil(number=NORA))

    assert roster.pupils == []
    assert roster.problems[0].id == PUPIL


def test_a_current_mentor_assignment_makes_a_mentor() -> None:
    roster = read(pupil(), duties=[duty()])

    assert roster.mentors == [
        MentorRecord("Solskolan", "5A", "Karin Lind", "karin@example.org", "+46701740690")
    ]


def test_the_mentors_school_is_the_class_school_else_where_the_duty_is() -> None:
    class_at_ek = pupil(enrolments=[enrolment(EK)], classes=[membership(school=EK)])

    from_class = read(class_at_ek, duties=[duty(at="00000001-0000-4000-8000-000000000001")])
    from_duty = read(duties=[duty(at=EK)])

    assert [mentor.school for mentor in from_class.mentors] == ["Ekskolan"]
    assert [mentor.school for mentor in from_duty.mentors] == ["Ekskolan"]


@pytest.mark.parametrize(
    "role",
    [
        mentor_role(endDate="2026-01-31"),
        mentor_role(startDate="2026-03-01"),
        {**mentor_role(), "assignmentRoleType": "Förskollärare"},
    ],
)
def test_no_mentor_without_a_current_mentor_assignment(role: Any) -> None:
    roster = read(pupil(), duties=[duty(role)])

    assert roster.mentors == [] and roster.problems == []


def test_an_ended_duty_makes_no_mentor() -> None:
    assert read(pupil(), duties=[duty(endDate="2025-12-31")]).mentors == []


@pytest.mark.parametrize(
    ("person", "fields", "reason"),
    [
        (adult(TEACHER, "Karin", "Lind", emails=[]), {}, "the mentor has no email address"),
        (adult(TEACHER, "Karin", "Lind", emails=[email("karin")]), {}, "not an email address"),
        (None, {"_embedded": None}, "the mentor's person was not returned"),
        (None, {"dutyAt": {"id": ELSEWHERE}}, "at no school unit read"),
    ],
)
def test_a_mentor_who_cannot_be_used_is_reported_by_the_duty(
    person: Any, fields: Any, reason: str
) -> None:
    roster = read(duties=[duty(mentor_role(CLASS_8C, "8C"), person=person, **fields)])

    assert roster.mentors == []
    assert [(problem.entity, problem.id) for problem in roster.problems] == [("duty", DUTY)]
    assert reason in roster.problems[0].message


def test_one_mentor_of_a_class_once() -> None:
    roles = (mentor_role(), mentor_role())
    second = "00000007-0000-4000-8000-000000000002"

    roster = read(duties=[duty(*roles), duty(duty_id=second)])

    assert len(roster.mentors) == 1


def test_only_school_units_are_schools() -> None:
    roster = read(pupil(enrolments=[enrolment("00000001-0000-4000-8000-000000000001")]))

    assert roster.schools == {SOL: "Solskolan", EK: "Ekskolan"} and roster.pupils == []


def test_a_delta_says_who_was_deleted_and_who_to_read_again() -> None:
    assembler = RosterAssembler(
        today=TODAY, country_code="SE", guardian_relations=["Vårdnadshavare"]
    )
    assembler.add_organisations(ORGANISATIONS)
    changed_guardian = {**MOTHER_JSON, "_embedded": {"responsibleFor": [responsible(SISTER)]}}
    assembler.add_persons([changed_guardian])
    group = {
        "id": CLASS_5A,
        "meta": META,
        "displayName": "5A",
        "groupType": "Klass",
        "organisation": {"id": SOL},
        "groupMemberships": [{"person": {"id": PUPIL}}],
    }
    assembler.add_groups([group, {**group, "id": CLASS_8C, "groupType": "Undervisning"}])
    assembler.add_deleted({"persons": ["00000004-0000-4000-8000-000000000099"]})

    assert assembler.to_fetch() == [PUPIL, SISTER]
    assembler.add_persons([pupil(), pupil(SISTER, f"20{BO}", enrolments=[])])
    assert assembler.missing_people() == [FATHER]
    roster = assembler.roster(full=False)

    assert not roster.full
    assert [record.pupil_id for record in roster.pupils] == [PUPIL]
    # The guardian read is no pupil; the sister has no enrolment left; one was deleted.
    assert roster.left == {SISTER, "00000004-0000-4000-8000-000000000099"}


def test_no_problem_names_a_person_or_holds_a_personal_number() -> None:
    numbers = [f"20{number}" for number in (ALVA, BO, CELIA, DAVID, EMIL)]
    cases: list[tuple[str, dict[str, Any]]] = [
        (numbers[0], {"phoneNumbers": [phone("1")]}),
        (numbers[1][:-1] + "0", {}),
        (numbers[2], {"givenName": None}),
        (numbers[0], {}),
        (numbers[0], {"emails": [email("Celia Berg")]}),
        (numbers[4], {"enrolments": "Emil Dahl"}),
        (numbers[3], {"civicNo": numbers[3]}),
    ]
    people = [
        pupil(f"00000004-0000-4000-8000-00000000000{index}", number, **fields)
        for index, (number, fields) in enumerate(cases)
    ]
    broken_guardian = adult(MOTHER, "Anna", "Andersson", phoneNumbers=[phone(numbers[1])])
    roster = map_roster(
        today=TODAY,
        country_code="SE",
        organisations=ORGANISATIONS,
        persons=[*people, broken_guardian],
        duties=[duty(person=adult(TEACHER, "Karin", "Lind"))],
    )

    texts = [str(problem) for problem in roster.problems]
    assert len(texts) >= 8
    forbidden = [*numbers, *(number[2:] for number in numbers), ALVA[:6]]
    forbidden += ["Alva", "Andersson", "Anna", "Erik", "Celia", "Berg", "Emil", "Karin", "Lind"]
    assert [text for text in texts if any(word in text for word in forbidden)] == []
