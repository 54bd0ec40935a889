"""The ``ivr`` command line for languages and countries: organisations in Norway, numbers
that offer a second language, Norwegian rosters, and the call time the simulator reports."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from ivr.settings import get_settings
from tests.cli import ivr
from tests.conftest import LiveServer
from tests.records import rows
from tests.roster_data import ALVA, ANNA, BO, HEADER, KARI, LINE, NORA, NORWAY_LINE, ODD


def test_an_organisation_in_norway_starts_with_norways_zone_and_language(
    cli_env: str, db: sa.Engine
) -> None:
    code, output = ivr("org", "add", "Testkommune", "--country", "no")
    assert code == 0, output
    assert "(NO, Europe/Oslo, nb)" in output
    assert ivr("org", "add", "Testkommun")[0] == 0
    assert ivr("org", "add", "Engelsk kommune", "--country", "NO", "--language", "en")[0] == 0
    assert rows(db, "SELECT name, country, timezone, language FROM organisations ORDER BY id") == [
        {"name": "Testkommune", "country": "NO", "timezone": "Europe/Oslo", "language": "nb"},
        {"name": "Testkommun", "country": "SE", "timezone": "Europe/Stockholm", "language": "sv"},
        {"name": "Engelsk kommune", "country": "NO", "timezone": "Europe/Oslo", "language": "en"},
    ]
    code, output = ivr("org", "list")
    assert "Testkommune" in output and "NO" in output

    code, output = ivr("org", "add", "Dansk kommune", "--country", "DK")
    assert code == 1 and "no rules for country" in output


def test_a_number_may_offer_a_second_language(cli_env: str, db: sa.Engine) -> None:
    assert ivr("org", "add", "Testkommun")[0] == 0
    code, output = ivr(
        "number", "add", "+46846500420", "--org", "Testkommun", "--offer-language", "en"
    )
    assert code == 0, output
    assert "offering en on key 8" in output
    assert rows(db, "SELECT number, language, offer_language FROM inbound_numbers") == [
        {"number": "+46846500420", "language": None, "offer_language": "en"}
    ]
    code, output = ivr("number", "list")
    assert "+46846500420" in output and "en" in output
    bad = ("number", "add", "+46846500421", "--org", "Testkommun", "--offer-language", "xx")
    assert ivr(*bad)[0] == 1


def test_a_norwegian_roster_takes_fodselsnummer_and_d_numbers(
    cli_env: str, db: sa.Engine, tmp_path: Path
) -> None:
    assert ivr("org", "add", "Testkommune", "--country", "NO")[0] == 0
    roster = tmp_path / "roster.csv"
    roster.write_text(
        HEADER
        + f"Fjellskolen,N1,{NORA[:6]}-{NORA[6:]},Nora,Hansen,6A,Kari Hansen,{KARI},,nb,,\n"
        + f"Fjellskolen,N2,{ODD},Odd,Berg,7B,Sven Berg,+46 70-174 06 73,,,,\n"
    )

    code, output = ivr("roster", "import", str(roster))

    assert code == 0, output
    pupils = rows(db, "SELECT external_id, birth_date FROM pupils ORDER BY external_id")
    assert [(p["external_id"], str(p["birth_date"])) for p in pupils] == [
        ("N1", "2015-01-25"),
        ("N2", "2013-10-09"),
    ]
    phones = {g["phone"] for g in rows(db, "SELECT phone FROM guardians")}
    assert phones == {KARI, "+46701740673"}
    assert NORA not in str(rows(db, "SELECT * FROM pupils")), "kept only as a keyed hash"


def test_a_norwegian_roster_refuses_swedish_numbers_and_says_what_it_wants(
    cli_env: str, db: sa.Engine, tmp_path: Path
) -> None:
    assert ivr("org", "add", "Testkommune", "--country", "NO")[0] == 0
    roster = tmp_path / "roster.csv"
    roster.write_text(HEADER + f"Fjellskolen,N1,{ALVA},Alva,Andersson,5A,,,,,,\n")

    code, output = ivr("roster", "import", str(roster))

    assert code == 1
    assert "line 2: personal_number must have 11 digits" in output
    assert rows(db, "SELECT * FROM pupils") == []


@pytest.mark.parametrize(
    ("called", "keys", "sibling", "language_heard"),
    [
        (LINE, (ALVA, "9"), (BO, "9"), "Frånvaron är registrerad"),
        (NORWAY_LINE, (NORA, "9"), (ODD, "9"), "Fravær registrert"),
    ],
)
def test_the_simulator_reports_the_call_time(
    live_server: LiveServer,
    cli_env: str,
    monkeypatch: pytest.MonkeyPatch,
    called: str,
    keys: tuple[str, ...],
    sibling: tuple[str, ...],
    language_heard: str,
) -> None:
    monkeypatch.setenv("IVR_PUBLIC_BASE_URL", live_server.url)
    get_settings.cache_clear()

    code, output = ivr("call", "--to", called, "--from", ANNA, *keys)

    assert code == 0, output
    assert language_heard in output
    assert "Call time (estimate):" in output
    code, output = ivr("call", "-q", "--to", called, "--from", ANNA, *sibling)
    assert code == 0, output
    assert output.startswith("Recorded: ") and "Call time (estimate): 2" in output
