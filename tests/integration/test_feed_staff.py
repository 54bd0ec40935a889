"""``ivr staff``: tokens made, listed and revoked from the command line, and the staff CSV
of contact teachers imported all or nothing."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from tests.cli import ivr
from tests.conftest import LiveServer
from tests.records import rows
from tests.staff import Staff

HOME = ("--org", "Testkommun")


def _token(output: str) -> str:
    [token] = [line for line in output.splitlines() if line.startswith("ivrs_")]
    return token


def test_a_token_is_shown_once_stored_hashed_and_can_be_revoked(
    live_server: LiveServer, cli_env: str, db: sa.Engine
) -> None:
    code, output = ivr("staff", "token", "create", "--school", "Solskolan", "--name", "Kansliet")
    assert code == 1 and "several organisations" in output

    code, output = ivr(
        "staff", "token", "create", "--school", "Solskolan", "--name", "Kansliet", *HOME
    )

    assert code == 0, output
    token = _token(output)
    assert len(token) > 40
    assert f"/staff?token={token}" in output
    [stored] = rows(db, "SELECT * FROM staff_tokens")
    assert token not in str(stored) and len(stored["token_hash"]) == 64
    staff = Staff(live_server, token)
    assert staff.get("/api/v1/schools").json() == [
        {"name": "Solskolan", "groups": ["2B", "3A", "5A"]}
    ]
    code, listing = ivr("staff", "token", "list")
    assert "Kansliet" in listing and "Solskolan" in listing and "valid" in listing
    assert token not in listing

    code, output = ivr("staff", "token", "revoke", "Kansliet")
    assert code == 0 and "revoked." in output
    assert staff.get("/api/v1/schools").status_code == 401
    listing = ivr("staff", "token", "list")[1]
    assert "revoked" in listing and "valid" not in listing
    code, output = ivr("staff", "token", "revoke", str(stored["id"]))
    assert code == 0 and "already revoked" in output
    assert ivr("staff", "token", "revoke", "nobody")[0] == 1
    staff.close()


def test_a_token_for_several_schools_and_tokens_refused(
    live_server: LiveServer, cli_env: str
) -> None:
    code, output = ivr(
        "staff", "token", "create", "--school", "Solskolan", "--school", "Ekskolan", *HOME
    )
    assert code == 0, output
    staff = Staff(live_server, _token(output))
    assert [s["name"] for s in staff.get("/api/v1/schools").json()] == ["Ekskolan", "Solskolan"]
    staff.close()

    code, output = ivr("staff", "token", "create", "--school", "Nyskolan", *HOME)
    assert code == 1 and "no school 'Nyskolan'" in output
    code, output = ivr("staff", "token", "create", "--school", "Bergskolan", *HOME)
    assert code == 1, "a school of another organisation"
    assert ivr("staff", "token", "create", "--school", "Ekskolan", "--name", "A", *HOME)[0] == 0
    code, output = ivr("staff", "token", "create", "--school", "Ekskolan", "--name", "A", *HOME)
    assert code == 1 and "already a token named 'A'" in output


def _teachers(db: sa.Engine) -> list[tuple[str, str, str, str]]:
    found = rows(
        db,
        "SELECT s.name AS school, t.group_name, t.name, t.email FROM contact_teachers t "
        "JOIN schools s ON s.id = t.school_id ORDER BY s.name, t.group_name, t.email",
    )
    return [(t["school"], t["group_name"], t["name"], t["email"]) for t in found]


def test_the_staff_csv_is_an_idempotent_upsert(
    live_server: LiveServer, cli_env: str, db: sa.Engine, tmp_path: Path
) -> None:
    staff_file = tmp_path / "staff.csv"
    staff_file.write_bytes(
        "\ufeffschool;group;name;email\n"
        "Solskolan;5A;Åsa Lind;asa.lind@example.org\n"
        "Solskolan;5A;Per Berg;Per.Berg@example.org\n"
        "Ekskolan;8C;Nils Ek;nils@example.org\n".encode()
    )

    code, output = ivr("staff", "import", str(staff_file), *HOME)

    assert code == 0, output
    assert "3 new, 0 changed, 0 unchanged, 0 removed" in output
    assert _teachers(db) == [
        ("Ekskolan", "8C", "Nils Ek", "nils@example.org"),
        ("Solskolan", "5A", "Åsa Lind", "asa.lind@example.org"),
        ("Solskolan", "5A", "Per Berg", "per.berg@example.org"),
    ]
    assert "0 new, 0 changed, 3 unchanged" in ivr("staff", "import", str(staff_file), *HOME)[1]

    changed = tmp_path / "changed.csv"
    changed.write_text("school,group,name,email\nSolskolan,5A,Åsa Lind-Ek,asa.lind@example.org\n")
    code, output = ivr("staff", "import", str(changed), *HOME)
    assert code == 0, output
    assert "0 new, 1 changed, 0 unchanged, 1 removed" in output
    assert _teachers(db) == [
        ("Ekskolan", "8C", "Nils Ek", "nils@example.org"),
        ("Solskolan", "5A", "Åsa Lind-Ek", "asa.lind@example.org"),
    ], "5A gets exactly the teachers listed; 8C, not in the file, is left alone"


def test_a_bad_staff_csv_is_reported_line_by_line_and_changes_nothing(
    live_server: LiveServer, cli_env: str, db: sa.Engine, tmp_path: Path
) -> None:
    good = tmp_path / "good.csv"
    good.write_text("school,group,name,email\nSolskolan,5A,Åsa Lind,asa@example.org\n")
    ivr("staff", "import", str(good), *HOME)
    before = _teachers(db)
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "school,group,name,email\n"
        "Solskolan,2B,Bo Ek,bo@example.org\n"
        "Solskolan,,Cia Ek,cia@example.org\n"
        "Solskolan,3A,Dan Ek,not-an-address\n"
        "Solskolan,2B,Bo Ek again,BO@example.org\n"
        "Solskolan,3A,Eva Ek,eva@example.org,extra\n"
    )

    code, output = ivr("staff", "import", str(bad), *HOME)

    assert code == 1
    assert "line 3: group is empty" in output
    assert "line 4: email 'not-an-address' is not an email address" in output
    assert "line 5: the same teacher of the same group is on line 2" in output
    assert "line 6: more values than columns" in output
    assert "Nothing from the file was written." in output
    assert _teachers(db) == before

    unknown = tmp_path / "unknown.csv"
    unknown.write_text(
        "school,group,name,email\n"
        "Solskolan,2B,Bo Ek,bo@example.org\n"
        "Nyskolan,1A,Cia Ek,cia@example.org\n"
        "Solskolan,9Z,Dan Ek,dan@example.org\n"
    )
    code, output = ivr("staff", "import", str(unknown), *HOME)
    assert code == 1
    assert "line 3: school 'Nyskolan' is not in the roster" in output
    assert "line 4: group '9Z' has no pupils at Solskolan" in output
    assert _teachers(db) == before

    missing = tmp_path / "missing.csv"
    missing.write_text("school,group,name\nSolskolan,2B,Bo Ek\n")
    code, output = ivr("staff", "import", str(missing), *HOME)
    assert code == 1 and "line 1: missing column(s): email" in output
