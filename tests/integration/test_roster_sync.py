"""``ivr roster sync --ss12000 URL`` against a local SS 12000 API: what lands in the line's
database, that the same data twice changes nothing, pupils who leave, guardians who stop
being responsible, the safety valve, delta runs, failures that write nothing, and the
worker's schedule."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from ivr.services.roster_schedule import roster_ticks
from ivr.settings import Settings, get_settings
from ivr.store.db import Database
from tests.cli import ivr
from tests.clock import STOCKHOLM, Clock
from tests.conftest import LiveServer
from tests.records import rows
from tests.ss12000.fixture import TODAY, SchoolData, build_school
from tests.ss12000.server import (
    CLIENT_ID,
    CLIENT_SECRET,
    LocalSchoolSystem,
    RunningSchoolSystem,
    serve_school_system,
)

ORG = ("--org", "Exempelkommun")
LINE = "+46846500480"


@pytest.fixture
def school(
    cli_env: str, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> Iterator[RunningSchoolSystem]:
    """60 pupils at two school units (30 each, in classes of 25 and 5), two guardians
    each, the line's clock on a day the fixture's enrolments are current."""
    clock.now = datetime.combine(TODAY, datetime.min.time(), STOCKHOLM).replace(hour=6)
    api = LocalSchoolSystem(build_school(pupils=60, school_units=2, class_size=25))
    with serve_school_system(api) as running:
        monkeypatch.setenv("IVR_SS12000_TOKEN_URL", running.token_url)
        monkeypatch.setenv("IVR_SS12000_CLIENT_ID", CLIENT_ID)
        monkeypatch.setenv("IVR_SS12000_CLIENT_SECRET", CLIENT_SECRET)
        get_settings.cache_clear()
        assert ivr("org", "add", "Exempelkommun")[0] == 0
        yield running
        running.api.release()


def _sync(school: RunningSchoolSystem, *args: str) -> tuple[int, str]:
    return ivr("roster", "sync", "--ss12000", school.url, *ORG, *args)


def _data(school: RunningSchoolSystem) -> SchoolData:
    return school.api.data


def _pupils(db: sa.Engine) -> dict[str, dict[str, Any]]:
    found = rows(db, "SELECT * FROM pupils ORDER BY external_id")
    return {row["external_id"]: row for row in found}


def _guardians_of(db: sa.Engine, external_id: str) -> set[str]:
    found = rows(
        db,
        "SELECT g.phone FROM guardians g JOIN pupil_guardians l ON l.guardian_id = g.id "
        "JOIN pupils p ON p.id = l.pupil_id WHERE p.external_id = :pupil",
        pupil=external_id,
    )
    return {row["phone"] for row in found}


def _cells(output: str, school: str) -> list[str]:
    [line] = [row for row in output.splitlines() if row.startswith("│ " + school)]
    return [cell.strip() for cell in line.split("│")[1:8]]


def test_a_full_sync_brings_the_schools_pupils_guardians_classes_and_mentors(
    school: RunningSchoolSystem, db: sa.Engine
) -> None:
    code, output = _sync(school)

    assert code == 0, output
    data = _data(school)
    pupils = _pupils(db)
    assert set(pupils) == set(data.pupil_ids)
    assert all(pupil["active"] for pupil in pupils.values())
    assert _cells(output, "Solskolan") == ["Solskolan", "30", "0", "0", "0", "60", "0"]
    schools = rows(db, "SELECT name, external_id FROM schools ORDER BY name")
    assert {row["name"] for row in schools} == {"Solskolan", "Ekskolan"}
    assert all(row["external_id"] for row in schools)
    first = data.pupil_ids[0]
    person = data.persons[first]
    assert pupils[first]["first_name"] == person["givenName"]
    assert pupils[first]["group_name"] == data.groups[data.class_of(first)]["displayName"]
    assert len(_guardians_of(db, first)) == 2
    protected = {key for key, pupil in pupils.items() if pupil["protected_identity"]}
    assert protected == {
        key for key in data.pupil_ids if data.persons[key]["securityMarking"] != "Ingen"
    }
    assert protected, "the fixture has protected identities"
    teachers = rows(db, "SELECT group_name, email FROM contact_teachers")
    assert len(teachers) == len(data.groups) and all(
        t["email"].startswith("mentor") for t in teachers
    )
    [state] = rows(db, "SELECT * FROM roster_syncs")
    assert state["source"] == school.url and state["last_full_at"] is not None
    assert state["last_error"] is None
    diff = json.loads(state["last_summary"])
    assert diff["schools"]["Solskolan"]["added"] == 30


def test_the_same_data_twice_changes_nothing(school: RunningSchoolSystem, db: sa.Engine) -> None:
    assert _sync(school)[0] == 0
    before = rows(db, "SELECT * FROM pupils ORDER BY id")
    links = rows(db, "SELECT * FROM pupil_guardians ORDER BY pupil_id, guardian_id")

    code, output = _sync(school)

    assert code == 0, output
    assert "No pupil or guardian link changes." in output
    assert rows(db, "SELECT * FROM pupils ORDER BY id") == before
    assert rows(db, "SELECT * FROM pupil_guardians ORDER BY pupil_id, guardian_id") == links


def test_a_pupil_who_leaves_is_deactivated_and_a_former_guardian_unlinked(
    school: RunningSchoolSystem, db: sa.Engine, clock: Clock
) -> None:
    assert _sync(school)[0] == 0
    data = _data(school)
    leaver, sibling = data.pupil_ids[0], data.pupil_ids[1]
    when = clock.now
    data.end_enrolment(leaver, TODAY - timedelta(days=1), when)
    former = data.persons[sibling]["responsibles"].pop()
    data.touch(data.persons[sibling], when)

    code, output = _sync(school, "--dry-run")
    assert code == 0, output
    assert _cells(output, "Solskolan") == ["Solskolan", "0", "0", "1", "0", "0", "1"]
    assert _pupils(db)[leaver]["active"], "a dry run writes nothing"

    code, output = _sync(school)

    assert code == 0, output
    pupils = _pupils(db)
    assert not pupils[leaver]["active"] and pupils[leaver]["left_at"] is not None
    assert sum(1 for pupil in pupils.values() if pupil["active"]) == 59
    former_phone = data.persons[former["person"]["id"]]["phoneNumbers"][0]["value"]
    assert len(_guardians_of(db, sibling)) == 1
    assert former_phone not in _guardians_of(db, sibling)


def test_the_safety_valve_stops_a_run_that_would_empty_a_school(
    school: RunningSchoolSystem, db: sa.Engine, clock: Clock
) -> None:
    assert _sync(school)[0] == 0
    data = _data(school)
    for pupil_id in data.pupil_ids[:4]:  # 4 of Solskolan's 30: 13%
        data.cancel_enrolment(pupil_id, clock.now)
    before = rows(db, "SELECT * FROM pupils ORDER BY id")

    code, output = _sync(school)

    assert code == 1
    assert "Solskolan: 4 of 30 pupils (13%) would be deactivated, more than 10%" in output
    assert rows(db, "SELECT * FROM pupils ORDER BY id") == before
    [state] = rows(db, "SELECT last_error FROM roster_syncs")
    assert "would be deactivated" in state["last_error"]

    code, output = _sync(school, "--force")
    assert code == 0, output
    assert sum(1 for pupil in _pupils(db).values() if not pupil["active"]) == 4


def test_a_delta_reads_what_changed_and_deleted_pupils_leave(
    school: RunningSchoolSystem, db: sa.Engine, clock: Clock
) -> None:
    assert _sync(school)[0] == 0
    data = _data(school)
    clock.now += timedelta(minutes=15)
    gone, moved = data.pupil_ids[0], data.pupil_ids[1]
    other_class = next(g for g in data.groups if g != data.class_of(moved))
    data.delete_person(gone, clock.now)
    data.move(moved, other_class, TODAY, clock.now)
    served_before = sum(school.api.served.values())

    code, output = _sync(school, "--delta")

    assert code == 0, output
    assert output.startswith("Delta")
    pupils = _pupils(db)
    assert not pupils[gone]["active"]
    assert pupils[moved]["group_name"] == data.groups[other_class]["displayName"]
    # A delta reads the changed class's members again, not the whole organisation.
    assert sum(school.api.served.values()) - served_before < served_before


def test_a_refused_token_or_a_broken_server_writes_nothing_and_names_the_fix(
    school: RunningSchoolSystem, db: sa.Engine
) -> None:
    school.api.refuse_tokens = True
    code, output = _sync(school)
    assert code == 1
    assert "Nothing was written" in output and "IVR_SS12000_CLIENT" in output
    assert rows(db, "SELECT count(*) AS n FROM pupils")[0]["n"] == 0

    school.api.refuse_tokens = False
    school.api.fail_status = 500
    code, output = _sync(school)
    assert code == 1 and "Nothing was written" in output and "500" in output
    assert rows(db, "SELECT count(*) AS n FROM pupils")[0]["n"] == 0


def test_a_person_that_cannot_be_read_is_named_by_id_and_left_as_it_was(
    school: RunningSchoolSystem, db: sa.Engine
) -> None:
    assert _sync(school)[0] == 0
    data = _data(school)
    broken = data.pupil_ids[5]
    school.api.malformed_person = broken

    code, output = _sync(school)

    assert code == 0, output
    assert broken in output
    assert data.persons[broken]["civicNo"]["value"] not in output
    assert _pupils(db)[broken]["active"], "not deactivated for a record that could not be read"


def test_a_synced_pupil_can_be_reported_and_both_guardians_are_told(
    school: RunningSchoolSystem, live_server: LiveServer, db: sa.Engine, monkeypatch: Any
) -> None:
    assert _sync(school)[0] == 0
    monkeypatch.setenv("IVR_PUBLIC_BASE_URL", live_server.url)
    get_settings.cache_clear()
    assert ivr("number", "add", LINE, "--org", "Exempelkommun")[0] == 0
    data = _data(school)
    pupil = next(p for p in data.pupil_ids if data.persons[p]["securityMarking"] == "Ingen")
    number = data.persons[pupil]["civicNo"]["value"][-10:]
    caller = sorted(_guardians_of(db, pupil))[0]

    code, output = ivr("call", "--to", LINE, "--from", caller, number, "9")

    assert code == 0, output
    messages = rows(db, "SELECT channel, address FROM outbox WHERE kind = 'confirmation'")
    assert {m["address"] for m in messages if m["channel"] == "sms"} == _guardians_of(db, pupil)


def test_the_worker_syncs_a_known_source_by_itself_once_across_processes(
    school: RunningSchoolSystem, db: sa.Engine, clock: Clock, cli_env: str
) -> None:
    assert _sync(school)[0] == 0
    data = _data(school)
    clock.now += timedelta(minutes=20)
    data.cancel_enrolment(data.pupil_ids[0], clock.now)
    settings = Settings(
        _env_file=None,
        database_url=cli_env,
        ss12000_token_url=school.token_url,
        ss12000_client_id=CLIENT_ID,
        ss12000_client_secret=CLIENT_SECRET,
        sync_delta_minutes=15,
    )
    database = Database(cli_env, serving=True)

    async def two_workers() -> tuple[int, int]:
        first, second = roster_ticks(database, settings), roster_ticks(database, settings)
        try:
            return await first(clock.now), await second(clock.now)
        finally:
            await database.aclose()

    assert asyncio.run(two_workers()) == (1, 0), "one sync; the other process waits"
    assert not _pupils(db)[data.pupil_ids[0]]["active"]
    [state] = rows(db, "SELECT last_run_at, last_full_at FROM roster_syncs")
    assert state["last_run_at"] != state["last_full_at"], "a delta, not a full run"


def test_a_renamed_school_unit_renames_the_school_it_is(
    school: RunningSchoolSystem, db: sa.Engine
) -> None:
    assert _sync(school)[0] == 0
    data = _data(school)
    [unit] = [o for o in data.organisations.values() if o["displayName"] == "Solskolan"]
    unit["displayName"] = "Solskolan Norra"

    code, output = _sync(school)

    assert code == 0, output
    assert "School renamed: Solskolan -> Solskolan Norra." in output
    names = {row["name"] for row in rows(db, "SELECT name FROM schools")}
    assert names == {"Solskolan Norra", "Ekskolan"}
    assert "No pupil or guardian link changes." in output, "the pupils stay where they are"


def test_a_sync_needs_to_be_told_where_the_system_is(cli_env: str) -> None:
    code, output = ivr("roster", "sync", *ORG)

    assert code == 1
    assert "--ss12000 URL or IVR_SS12000_URL" in output
