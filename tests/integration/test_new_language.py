"""A new language is a new file: a catalogue dropped in ``IVR_CATALOGUE_DIR`` is spoken by
a number tied to it, with no change to the code."""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

import pytest
import sqlalchemy as sa

from ivr.i18n import available_languages, load_catalogue
from ivr.store.db import Database
from ivr.store.lines import find_organisation, set_number
from tests.calls import first_twiml, heard, place_call
from tests.conftest import LiveServer
from tests.records import calls
from tests.roster_data import ALVA, ANNA

ARABIC_LINE = "+46846500406"
WELCOME = "خط الإبلاغ عن الغياب المدرسي."


@pytest.fixture(scope="module")
def catalogue_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An Arabic catalogue made from the English one: its meta and its welcome replaced."""
    folder = tmp_path_factory.mktemp("catalogues")
    text = (resources.files("ivr.i18n") / "catalogues" / "en.toml").read_text("utf-8")
    replacements = {
        r'^name = ".*"$': 'name = "العربية"',
        r'^locale = ".*"$': 'locale = "ar"',
        r'^say_language = ".*"$': 'say_language = "arb"',
        r'^voice = ".*"$': 'voice = "Polly.Zeina"',
        r'^welcome = ".*"$': f'welcome = "{WELCOME}"',
    }
    for pattern, replacement in replacements.items():
        text = re.sub(pattern, replacement, text, count=1, flags=re.MULTILINE)
    (folder / "ar.toml").write_text(text, encoding="utf-8")
    return folder


@pytest.fixture
def server_settings(catalogue_dir: Path) -> dict[str, object]:
    return {"catalogue_dir": catalogue_dir}


@pytest.fixture
def arabic_line(live_server: LiveServer) -> str:
    database = Database(live_server.settings.database_url)
    try:
        with database.sessions.begin() as session:
            organisation = find_organisation(session, "Testkommun")
            assert organisation is not None
            set_number(session, organisation, ARABIC_LINE, "ar")
    finally:
        database.dispose()
    return ARABIC_LINE


def test_the_new_file_is_a_language(catalogue_dir: Path) -> None:
    assert "ar" in available_languages(catalogue_dir)
    assert set(load_catalogue("ar", catalogue_dir).texts) == set(load_catalogue("sv").texts)


def test_a_number_tied_to_the_new_language_speaks_it(
    live_server: LiveServer, db: sa.Engine, arabic_line: str
) -> None:
    result = place_call(live_server, ALVA, "9", caller=ANNA, called=arabic_line)

    assert result.recorded
    assert heard(result).startswith(WELCOME)
    [call] = calls(db)
    assert call["language"] == "ar"
    [say] = first_twiml(live_server, arabic_line, ANNA).findall("./Gather/Say")
    assert (say.get("voice"), say.get("language")) == ("Polly.Zeina", "arb")
