"""``ivr missing``, ``ivr school office`` and the contact teachers' phones: what an operator
types and what it records."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import sqlalchemy as sa

from tests.cli import ivr
from tests.clock import Clock
from tests.conftest import make_settings
from tests.records import outbox, rows
from tests.roster_data import ANNA, ERIK, seed_roster

HOME = ("--org", "Testkommun")


def _seeded(cli_env: str, clock: Clock) -> None:
    seed_roster(make_settings(cli_env), clock.now.date())


def test_mark_list_and_arrived_from_the_command_line(
    cli_env: str, clock: Clock, db: sa.Engine
) -> None:
    _seeded(cli_env, clock)

    code, output = ivr("missing", "mark", "--school", "Solskolan", "P1", "--by", "Eva", *HOME)

    assert code == 0, output
    [outreach] = rows(db, "SELECT * FROM outreaches")
    assert outreach["reference"] in output and "started" in output
    assert (outreach["marked_by"], outreach["status"]) == ("Eva", "active")
    assert sorted((m["channel"], m["address"]) for m in outbox(db)) == [
        ("call", ANNA),
        ("call", ERIK),
        ("sms", ANNA),
        ("sms", ERIK),
    ]

    code, output = ivr("missing", "list", "--json", *HOME)
    assert code == 0, output
    [shown] = json.loads(output)
    assert (shown["reference"], shown["pupil"], shown["status"]) == (
        outreach["reference"],
        "Alva Andersson",
        "active",
    )
    assert shown["marked"] == {"by": "Eva", "at": "2026-11-25T07:30:00+01:00"}
    assert [c["name"] for c in shown["contacts"]] == ["Anna Andersson", "Erik Andersson"]
    table = ivr("missing", "list", *HOME)[1]
    assert f"{outreach['reference']}  Alva Andersson (5A, Solskolan)  active" in table
    assert "    Anna Andersson  +46 70 *** ** 05  sms pending  call queued (0 placed)" in table

    clock.now = datetime(2026, 11, 25, 7, 45, tzinfo=clock.now.tzinfo)
    code, output = ivr("missing", "arrived", outreach["reference"], "--by", "Eva", *HOME)
    assert code == 0, output
    assert "stopped" in output
    [ended] = rows(db, "SELECT * FROM outreaches")
    assert (ended["status"], ended["ended_by"]) == ("arrived", "Eva")
    assert "already ended" in ivr("missing", "arrived", outreach["reference"], *HOME)[1]


def test_an_unknown_pupil_or_school_marks_nobody_and_says_why(
    cli_env: str, clock: Clock, db: sa.Engine
) -> None:
    _seeded(cli_env, clock)

    code, output = ivr("missing", "mark", "--school", "Solskolan", "P1", "P9", *HOME)
    assert code == 1
    assert "no such pupil at Solskolan: P9" in output and "Nobody was marked" in output

    code, output = ivr("missing", "mark", "--school", "Ingen skola", "P1", *HOME)
    assert code == 1
    assert "no school 'Ingen skola'" in output

    code, output = ivr("missing", "mark", "--school", "Solskolan", "P1", "--since", "9:99", *HOME)
    assert code == 1 and "not a time of day" in output
    code, output = ivr("missing", "mark", "--school", "Solskolan", "P1", "--since", "08:00", *HOME)
    assert code == 1 and "later than now" in output

    assert rows(db, "SELECT * FROM outreaches") == []
    assert outbox(db) == []
    assert "no outreach 'NOSUCH12'" in ivr("missing", "arrived", "NOSUCH12", *HOME)[1]


def test_the_school_office_gets_alerts_and_teachers_may_have_a_phone(
    cli_env: str, clock: Clock, db: sa.Engine, tmp_path: Path
) -> None:
    _seeded(cli_env, clock)

    code, output = ivr(
        "school",
        "office",
        "Solskolan",
        "--email",
        "exp@example.org",
        "--phone",
        "08-123 45 67",
        *HOME,
    )
    assert code == 0, output
    [school] = rows(db, "SELECT * FROM schools WHERE name = 'Solskolan'")
    assert (school["office_email"], school["office_phone"]) == ("exp@example.org", "+4681234567")
    assert "exp@example.org" in ivr("school", "office", "Solskolan", *HOME)[1]
    assert ivr("school", "office", "Solskolan", "--email", "not-an-address", *HOME)[0] == 1

    staff = tmp_path / "staff.csv"
    staff.write_text(
        "school,group,name,email,phone\n"
        "Solskolan,5A,Åsa Lind,asa@example.org,070-174 06 40\n"
        "Solskolan,2B,Per Berg,per@example.org,\n"
    )
    code, output = ivr("staff", "import", str(staff), *HOME)
    assert code == 0, output
    phones = rows(db, "SELECT name, phone FROM contact_teachers ORDER BY name")
    assert [(t["name"], t["phone"]) for t in phones] == [
        ("Per Berg", None),
        ("Åsa Lind", "+46701740640"),
    ]

    bad = tmp_path / "bad.csv"
    bad.write_text("school,group,name,email,phone\nSolskolan,5A,Åsa Lind,asa@example.org,12\n")
    code, output = ivr("staff", "import", str(bad), *HOME)
    assert code == 1
    assert "line 2: phone '12'" in output and "Nothing from the file was written" in output


def test_a_school_names_its_organisation_when_only_one_has_it(
    cli_env: str, clock: Clock, db: sa.Engine
) -> None:
    _seeded(cli_env, clock)  # three organisations; only Testkommun has a Solskolan

    code, output = ivr("missing", "mark", "--school", "Solskolan", "P1")
    assert code == 0, output
    [outreach] = rows(db, "SELECT reference FROM outreaches")
    code, output = ivr("missing", "list")
    assert code == 0 and outreach["reference"] in output, output
    code, output = ivr("missing", "list", "--school", "Solskolan", "--json")
    assert [shown["reference"] for shown in json.loads(output)] == [outreach["reference"]]

    code, output = ivr("missing", "mark", "--school", "Månskolan", "P1")
    assert code != 0
    assert "no organisation has a school 'Månskolan'; schools come from the roster" in output
    code, output = ivr("missing", "arrived", "NOSUCHREF")
    assert code != 0 and "no outreach 'NOSUCHREF'; see `ivr missing list`" in output
    code, output = ivr("missing", "arrived", outreach["reference"])
    assert code == 0 and "stopped" in output, output
