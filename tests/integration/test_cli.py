"""The ``ivr`` command line: roster import, demo, listings and the call simulator."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa

from ivr.settings import get_settings
from tests.cli import ivr
from tests.conftest import LiveServer
from tests.records import rows
from tests.roster_data import ALVA, HEADER, LINE, ROSTER


def _counts(db: sa.Engine) -> dict[str, int]:
    return {
        table: rows(db, f"SELECT count(*) AS n FROM {table}")[0]["n"]  # noqa: S608 - fixed names
        for table in ("schools", "pupils", "guardians", "pupil_guardians")
    }


@pytest.fixture
def organisation(cli_env: str) -> str:
    assert ivr("org", "add", "Testkommun")[0] == 0
    return "Testkommun"


def test_roster_import_is_an_idempotent_upsert(
    organisation: str, db: sa.Engine, tmp_path: Path
) -> None:
    roster = tmp_path / "roster.csv"
    roster.write_text(ROSTER)

    code, output = ivr("roster", "import", str(roster))
    assert code == 0, output
    assert "5 pupils (5 new, 0 changed, 0 unchanged)" in output
    first = _counts(db)
    assert first == {"schools": 2, "pupils": 5, "guardians": 4, "pupil_guardians": 6}

    code, output = ivr("roster", "import", str(roster))
    assert code == 0
    assert "(0 new, 0 changed, 5 unchanged)" in output
    assert "links 0 added and 0 removed" in output
    assert _counts(db) == first


def test_a_reimport_updates_names_and_replaces_a_pupils_guardians(
    organisation: str, db: sa.Engine, tmp_path: Path
) -> None:
    roster = tmp_path / "roster.csv"
    roster.write_text(ROSTER)
    ivr("roster", "import", str(roster))
    changed = tmp_path / "changed.csv"
    changed.write_text(
        HEADER
        + f"Solskolan,P1,20{ALVA},Alva,Andersson-Ek,5A,Anna Andersson,+46701740605,"
        + "anna@example.com,nb,,\n"
    )

    code, output = ivr("roster", "import", str(changed))

    assert code == 0, output
    assert "(0 new, 1 changed, 0 unchanged)" in output
    assert "links 0 added and 1 removed" in output
    [alva] = rows(db, "SELECT * FROM pupils WHERE external_id = 'P1'")
    assert alva["last_name"] == "Andersson-Ek"
    guardians = rows(
        db,
        "SELECT g.name, g.language FROM guardians g JOIN pupil_guardians l ON l.guardian_id = g.id "
        "WHERE l.pupil_id = :pupil",
        pupil=alva["id"],
    )
    assert guardians == [{"name": "Anna Andersson", "language": "nb"}]
    assert _counts(db)["pupils"] == 5, "pupils not in the file are left alone"


def test_a_bad_roster_is_reported_line_by_line_and_changes_nothing(
    organisation: str, db: sa.Engine, tmp_path: Path
) -> None:
    good = tmp_path / "roster.csv"
    good.write_text(ROSTER)
    ivr("roster", "import", str(good))
    before = _counts(db)
    bad = tmp_path / "bad.csv"
    bad.write_text(
        HEADER
        + "Solskolan,P9,1807022395,Bo,Berg,5A,,,,,,\n"
        + "Solskolan,P10,1501012396,Cia,Berg,5A,,,,,,\n"
        + "Nyskolan,P11,1907022394,Dan,Berg,5A,Bea,070-1,,,,\n"
    )

    code, output = ivr("roster", "import", str(bad))

    assert code == 1
    assert "line 3: personal_number has a wrong check digit" in output
    assert "line 4: guardian_phone '070-1' is not a valid phone number" in output
    assert "Nothing from the file was written." in output
    assert _counts(db) == before


def test_a_personal_number_already_stored_for_another_pupil_is_refused(
    organisation: str, db: sa.Engine, tmp_path: Path
) -> None:
    good = tmp_path / "roster.csv"
    good.write_text(ROSTER)
    ivr("roster", "import", str(good))
    before = _counts(db)
    clash = tmp_path / "clash.csv"
    clash.write_text(HEADER + f"Nyskolan,P99,20{ALVA},Ny,Elev,1A,,,,,,\n")

    code, output = ivr("roster", "import", str(clash))

    assert code == 1
    assert "line 2: personal_number is already stored for pupil_id P1" in output
    assert _counts(db) == before


def test_a_dry_run_writes_nothing(organisation: str, db: sa.Engine, tmp_path: Path) -> None:
    roster = tmp_path / "roster.csv"
    roster.write_text(ROSTER)

    code, output = ivr("roster", "import", "--dry-run", str(roster))

    assert code == 0
    assert "Would import 7 rows: 5 pupils (5 new" in output
    assert "Dry run: nothing was written." in output
    assert _counts(db) == {"schools": 0, "pupils": 0, "guardians": 0, "pupil_guardians": 0}


def test_an_import_needs_an_organisation(cli_env: str, tmp_path: Path) -> None:
    roster = tmp_path / "roster.csv"
    roster.write_text(ROSTER)
    code, output = ivr("roster", "import", str(roster))
    assert code == 1
    assert "ivr org add" in output


def test_the_demo_loads_a_callable_line_and_can_be_run_again(cli_env: str, db: sa.Engine) -> None:
    code, output = ivr("demo")
    assert code == 0, output
    assert "ivr call --to +46846500400" in output
    assert "ivr call --to +46846500403" in output
    counts = _counts(db)
    assert counts["pupils"] == 24 + 4
    assert ivr("demo")[0] == 0
    assert _counts(db) == counts
    numbers = rows(db, "SELECT number, language FROM inbound_numbers ORDER BY number")
    assert [n["number"] for n in numbers] == [
        "+46846500400",
        "+46846500401",
        "+46846500402",
        "+46846500403",
    ]


def test_numbers_tie_a_line_to_an_organisation(organisation: str, db: sa.Engine) -> None:
    code, output = ivr("number", "add", "08-46 50 04 10", "--org", organisation, "--language", "en")
    assert code == 0, output
    assert rows(db, "SELECT number, language FROM inbound_numbers") == [
        {"number": "+46846500410", "language": "en"}
    ]
    assert ivr("number", "add", "12", "--org", organisation)[0] == 1
    assert ivr("number", "add", "+46846500411", "--org", "Nowhere")[0] == 1
    assert ivr("number", "add", "+46846500411", "--org", organisation, "--language", "xx")[0] == 1


def test_call_records_and_lists(
    live_server: LiveServer, cli_env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IVR_PUBLIC_BASE_URL", live_server.url)
    get_settings.cache_clear()

    code, output = ivr("call", "--to", LINE, "--from", "+46701740605", ALVA, "9")
    assert code == 0, output
    assert "◀ Skolans frånvaroanmälan." in output
    assert "▶ 150101-****" in output
    assert ALVA not in output, "the simulator masks personal numbers"
    assert "Recorded:" in output

    code, output = ivr("call", "--to", LINE, "--from", "+46701740605", ALVA, "5")
    assert code == 1
    assert "No absence recorded" in output

    code, output = ivr("absences", "list", "--json", "--date", "2026-11-25")
    assert code == 0
    [absence] = json.loads(output)
    assert {
        key: absence[key]
        for key in (
            "pupil_id",
            "school",
            "start_date",
            "start_time",
            "end_date",
            "end_time",
            "caller",
            "status",
        )
    } == {
        "pupil_id": "P1",
        "school": "Solskolan",
        "start_date": "2026-11-25",
        "start_time": None,
        "end_date": "2026-11-25",
        "end_time": None,
        "caller": "+46701740605",
        "status": "active",
    }
    assert absence["reported_at"] == "2026-11-25T07:30:00+01:00"
    assert len(absence["reference"]) == 8

    code, output = ivr("outbox", "list", "--json")
    assert code == 0
    messages = json.loads(output)
    assert len(messages) == 4
    assert {m["absence_reference"] for m in messages} == {absence["reference"]}
    assert {(m["channel"], m["status"], m["attempts"]) for m in messages} == {
        ("sms", "pending", 0),
        ("email", "pending", 0),
    }
    assert {m["to"] for m in messages} >= {"+46701740605", "anna@example.com"}

    assert ivr("absences", "list", "--json", "--date", "2026-11-26")[1].strip() == "[]"


def test_call_against_a_line_that_is_not_there(cli_env: str) -> None:
    code, output = ivr("call", "--url", "http://127.0.0.1:9", ALVA, "9")
    assert code == 2
    assert "could not reach" in output


def test_failed_confirmations_are_listed_with_their_reason_and_can_be_sent_again(
    live_server: LiveServer, cli_env: str, db: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IVR_PUBLIC_BASE_URL", live_server.url)
    get_settings.cache_clear()
    ivr("call", ALVA, "9")
    with db.begin() as connection:
        connection.execute(
            sa.text(
                "UPDATE outbox SET status = 'failed', attempts = 8, "
                "last_error = 'Twilio 400 error 21211: invalid' WHERE channel = 'sms'"
            )
        )

    code, output = ivr("outbox", "list", "--status", "failed", "--json")
    assert code == 0
    failed = json.loads(output)
    assert len(failed) == 2
    assert {m["last_error"] for m in failed} == {"Twilio 400 error 21211: invalid"}
    reference = failed[0]["absence_reference"]

    code, output = ivr("outbox", "retry", reference.lower())
    assert code == 0, output
    assert "2 confirmation(s)" in output
    sms = rows(db, "SELECT status, attempts FROM outbox WHERE channel = 'sms'")
    assert sms == [{"status": "pending", "attempts": 0}] * 2

    assert ivr("outbox", "retry", reference)[0] == 1, "nothing failed any more"
    assert ivr("outbox", "list", "--status", "lost")[0] == 1
