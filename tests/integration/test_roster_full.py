"""``ivr roster import FILE --full``: the file is the whole roster of its schools. Pupils it
no longer lists leave (deactivated, never deleted: not reportable, no messages, absent from
the roll call; their past absences stay), with a safety valve against a broken export."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.cli import ivr
from tests.clock import Clock
from tests.conftest import LiveServer
from tests.records import rows
from tests.roster_data import ANNA, DAVID, LINE, ROSTER

HOME = ("--org", "Testkommun")
UNKNOWN = "Det personnumret finns inte bland skolans elever."
# Solskolan without David (P4): one pupil of three, a third of the school.
WITHOUT_DAVID = "\n".join(line for line in ROSTER.splitlines() if ",P4," not in line) + "\n"


def _file(tmp_path: Path, text: str, name: str = "roster.csv") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def _active(db: sa.Engine) -> dict[str, bool]:
    found = rows(
        db,
        "SELECT p.external_id, p.active FROM pupils p JOIN organisations o "
        "ON o.id = p.organisation_id WHERE o.name = 'Testkommun'",
    )
    return {row["external_id"]: bool(row["active"]) for row in found}


@pytest.fixture
def line(live_server: LiveServer, cli_env: str, monkeypatch: pytest.MonkeyPatch) -> LiveServer:
    monkeypatch.setenv("IVR_PUBLIC_BASE_URL", live_server.url)
    from ivr.settings import get_settings

    get_settings.cache_clear()
    return live_server


def test_the_safety_valve_writes_nothing_and_says_why(
    line: LiveServer, db: sa.Engine, tmp_path: Path
) -> None:
    before = rows(db, "SELECT * FROM pupils ORDER BY id")

    code, output = ivr("roster", "import", "--full", _file(tmp_path, WITHOUT_DAVID), *HOME)

    assert code == 1
    assert "Solskolan: 1 of 3 pupils (33%) would be deactivated, more than 10%" in output
    assert "--force" in output and "IVR_SYNC_MAX_REMOVALS_PERCENT" in output
    assert rows(db, "SELECT * FROM pupils ORDER BY id") == before


def test_a_dry_run_prints_the_diff_per_school_and_writes_nothing(
    line: LiveServer, db: sa.Engine, tmp_path: Path
) -> None:
    code, output = ivr(
        "roster", "import", "--full", "--force", "--dry-run", _file(tmp_path, WITHOUT_DAVID), *HOME
    )

    assert code == 0, output
    [solskolan] = [row for row in output.splitlines() if "Solskolan" in row]
    cells = [cell.strip() for cell in solskolan.split("│")[1:8]]
    assert cells == ["Solskolan", "0", "0", "1", "0", "0", "0"]
    assert "Ekskolan" not in output, "a school without changes is not listed"
    assert "Dry run: nothing was written." in output
    assert all(_active(db).values())


def test_a_pupil_who_left_cannot_be_reported_nor_marked_and_comes_back(
    line: LiveServer, db: sa.Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clock: Clock
) -> None:
    assert ivr("call", "--to", LINE, "--from", ANNA, DAVID, "9")[0] == 0
    kept = rows(db, "SELECT reference FROM absences")
    monkeypatch.setenv("IVR_SYNC_MAX_REMOVALS_PERCENT", "50")
    from ivr.settings import get_settings

    get_settings.cache_clear()

    code, output = ivr("roster", "import", "--full", _file(tmp_path, WITHOUT_DAVID), *HOME)

    assert code == 0, output
    assert _active(db) == {"P1": True, "P2": True, "P3": True, "P4": False, "P5": True}
    [david] = rows(db, "SELECT left_at FROM pupils WHERE external_id = 'P4'")
    assert david["left_at"] is not None
    assert rows(db, "SELECT reference FROM absences") == kept, "past absences stay"
    code, output = ivr("roster", "import", "--full", _file(tmp_path, WITHOUT_DAVID), *HOME)
    assert code == 0, output
    assert "(0 new, 0 changed, 4 unchanged)" in output
    assert "No pupil or guardian link changes." in output, "the same file again changes nothing"

    code, output = ivr("call", "--to", LINE, "--from", ANNA, DAVID, "9")
    assert code == 1, "a pupil who has left cannot be reported"
    assert UNKNOWN in output, "the line says no more than of a number it never had"
    code, output = ivr("missing", "mark", "--school", "Solskolan", "P4", *HOME)
    assert code != 0 and "P4" in output
    assert rows(db, "SELECT count(*) AS n FROM outreaches")[0]["n"] == 0

    code, output = ivr("roster", "import", "--full", _file(tmp_path, ROSTER, "back.csv"), *HOME)
    assert code == 0, output
    assert _active(db)["P4"] is True
    assert rows(db, "SELECT left_at FROM pupils WHERE external_id = 'P4'") == [{"left_at": None}]
    code, output = ivr("call", "--to", LINE, "--from", ANNA, DAVID, "9")
    assert UNKNOWN not in output, "back in the roster, the pupil can be reported again"


def test_the_same_full_file_twice_changes_nothing(
    line: LiveServer, db: sa.Engine, tmp_path: Path
) -> None:
    path = _file(tmp_path, ROSTER)
    before = rows(db, "SELECT * FROM pupils ORDER BY id")

    code, output = ivr("roster", "import", "--full", path, *HOME)

    assert code == 0, output
    assert "(0 new, 0 changed, 5 unchanged)" in output
    assert "No pupil or guardian link changes." in output
    assert rows(db, "SELECT * FROM pupils ORDER BY id") == before


def test_a_guardian_no_longer_listed_is_unlinked_at_once(
    line: LiveServer, db: sa.Engine, tmp_path: Path
) -> None:
    without_erik = "\n".join(
        line for line in ROSTER.splitlines() if not (",P1," in line and "Erik" in line)
    )
    code, output = ivr("roster", "import", "--full", _file(tmp_path, without_erik + "\n"), *HOME)

    assert code == 0, output
    [solskolan] = [row for row in output.splitlines() if "Solskolan" in row]
    assert [cell.strip() for cell in solskolan.split("│")[1:8]] == [
        "Solskolan",
        "0",
        "0",
        "0",
        "0",
        "0",
        "1",
    ]
    guardians = rows(
        db,
        "SELECT g.name FROM guardians g JOIN pupil_guardians l ON l.guardian_id = g.id "
        "JOIN pupils p ON p.id = l.pupil_id WHERE p.external_id = 'P1'",
    )
    assert guardians == [{"name": "Anna Andersson"}]
