"""``IVR_VOICES``: a voice per language over the catalogue's, SSML only for voices that read
it; and ``IVR_COUNTRY``."""

from __future__ import annotations

import pytest
from defusedxml import ElementTree as defused
from pydantic import ValidationError

from ivr.settings import Settings, VoiceSetting
from tests.calls import SignedCall, first_twiml, heard, place_call
from tests.conftest import LiveServer
from tests.roster_data import ALVA, ENGLISH_LINE, LINE

VOICES = {
    "sv": "man",
    "en": {"voice": "Polly.Joanna-Neural", "language": "en-US"},
}


@pytest.fixture
def server_settings() -> dict[str, object]:
    return {"voices": VOICES}


def test_voices_are_read_from_json_with_or_without_a_language(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("IVR_VOICES", '{"sv": "Polly.Astrid", "nb": {"voice": "Polly.Ida-Neural"}}')
    settings = Settings(_env_file=None)
    assert settings.voices == {
        "sv": VoiceSetting(voice="Polly.Astrid"),
        "nb": VoiceSetting(voice="Polly.Ida-Neural"),
    }


def test_the_country_of_new_organisations_must_have_rules() -> None:
    assert Settings(_env_file=None, country="no").country == "NO"
    with pytest.raises(ValidationError, match="no rules for country"):
        Settings(_env_file=None, country="DK")


def test_a_voice_from_the_settings_speaks_its_language(live_server: LiveServer) -> None:
    document = first_twiml(live_server, ENGLISH_LINE, "+46701740650")

    [say] = document.findall("./Gather/Say")
    assert (say.get("voice"), say.get("language")) == ("Polly.Joanna-Neural", "en-US")


def test_a_voice_without_ssml_gets_plain_text(live_server: LiveServer) -> None:
    result = place_call(live_server, ALVA, "9", called=LINE)

    assert "Frånvaron är registrerad hela dagen onsdag 25 november." in heard(result)
    caller = SignedCall(live_server, LINE, "+46701740650")
    caller.post("/twilio/voice", {"CallStatus": "ringing"})
    caller.press(ALVA)
    document = defused.fromstring(caller.press("9"))
    [say] = document.findall("./Gather/Say")
    assert (say.get("voice"), say.get("language")) == ("man", "sv-SE")
    assert list(say) == [], "no SSML elements for a voice that would read them aloud"
    assert "onsdag 25 november" in (say.text or "")


def test_a_voice_with_ssml_gets_say_as(live_server: LiveServer) -> None:
    result = place_call(live_server, ALVA, "9", called=ENGLISH_LINE)

    assert "Absence recorded, all day Wednesday the 25 of November." in heard(result)
