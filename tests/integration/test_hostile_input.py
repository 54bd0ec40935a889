"""Bad and hostile input at the webhooks: odd fields, huge or foreign digits, wrong content
types and sizes, forged signatures, and someone trying personal numbers to learn which
children exist. Never a 500, never a partial record, never a personal number in a log."""

from __future__ import annotations

import json
import logging

import httpx
import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from ivr.cli.main import app as cli
from tests.calls import heard, place_call
from tests.conftest import LiveServer
from tests.integration.test_webhooks import Caller
from tests.records import absences, calls, outbox
from tests.roster_data import ALVA, ANNA, LINE, NOT_A_PUPIL, OTHER_PUPIL, STRANGER


@pytest.fixture
def client() -> httpx.Client:
    return httpx.Client(timeout=10)


@pytest.mark.parametrize(
    "digits",
    [
        "1" * 10_000,
        "abcdefghij",
        "١٥٠١٠١٢٣٩٥",  # Arabic-Indic digits
        "１５０１０１２３９５",  # full-width digits
        "' OR 1=1 --",
        "<Say>hi</Say>",
        "9" * 3,
        " ",
    ],
)
def test_strange_digits_get_a_spoken_answer(
    live_server: LiveServer, client: httpx.Client, db: sa.Engine, digits: str
) -> None:
    caller = Caller(live_server, client)
    caller.start()
    response = caller.press(digits)

    assert response.status_code == 200
    assert "Personnumret ska ha tio siffror." in response.text or "Jag hörde ingen" in response.text
    assert "&lt;Say&gt;" not in response.text, "what was keyed is never echoed"
    assert absences(db) == []
    [call] = calls(db)
    assert call["unknown_pupils"] == 0


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("To", "+46846500499999"),
        ("To", "not a number"),
        ("From", "x" * 300),
        ("CallSid", "CA" + "x" * 200),
    ],
)
def test_odd_call_fields_are_answered_without_a_record_of_an_absence(
    live_server: LiveServer, client: httpx.Client, db: sa.Engine, field: str, value: str
) -> None:
    caller = Caller(live_server, client)
    params = caller.params(CallStatus="ringing") | {field: value}
    response = caller.post("/twilio/voice", params)
    assert response.status_code in (200, 400)
    assert absences(db) == []


def test_a_body_over_the_limit_is_refused(
    live_server: LiveServer, client: httpx.Client, db: sa.Engine
) -> None:
    caller = Caller(live_server, client)
    params = caller.params(CallStatus="ringing", Padding="x" * 70_000)
    response = caller.post("/twilio/voice", params)
    assert response.status_code == 413
    chunked = client.post(
        f"{live_server.url}/twilio/voice",
        content=iter([b"CallSid=CA1&" + b"x" * 40_000, b"y" * 40_000]),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert chunked.status_code == 413
    assert calls(db) == []


@pytest.mark.parametrize(
    "content_type", ["application/json", "text/plain", "multipart/form-data; boundary=x", ""]
)
def test_a_wrong_content_type_is_refused(
    live_server: LiveServer, client: httpx.Client, db: sa.Engine, content_type: str
) -> None:
    response = client.post(
        f"{live_server.url}/twilio/voice",
        content=b"CallSid=CA1&From=%2B46701740605&To=%2B46846500400",
        headers={"Content-Type": content_type, "X-Twilio-Signature": "x"},
    )
    assert response.status_code == 415
    assert calls(db) == []


def test_a_forged_request_is_logged_without_its_personal_data(
    live_server: LiveServer, client: httpx.Client, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    params = {"CallSid": "CA1", "From": ANNA, "To": LINE, "Digits": ALVA}
    response = client.post(
        f"{live_server.url}/twilio/voice/step?s=x",
        data=params,
        headers={"X-Twilio-Signature": "forged"},
    )
    assert response.status_code == 403
    refused = [record for record in caplog.records if "signature" in record.getMessage()]
    assert refused
    text = " ".join(f"{record.getMessage()} {record.__dict__}" for record in refused)
    assert ALVA not in text
    assert ANNA not in text


def test_unknown_personal_numbers_end_the_call_after_three(
    live_server: LiveServer, db: sa.Engine
) -> None:
    result = place_call(live_server, NOT_A_PUPIL, OTHER_PUPIL, NOT_A_PUPIL, ALVA, "9")

    assert not result.recorded
    assert heard(result).count("Det personnumret finns inte bland skolans elever.") == 3
    assert result.ended_by == "line hung up"
    [call] = calls(db)
    assert call["unknown_pupils"] == 3


def test_the_answer_for_an_unknown_pupil_says_no_more_than_needed(live_server: LiveServer) -> None:
    """No one can tell from the answer whether a number is nobody's, another organisation's
    pupil's, or malformed in a way only the check digit shows; and no name is ever said."""
    nobody = heard(place_call(live_server, NOT_A_PUPIL))
    elsewhere = heard(place_call(live_server, OTHER_PUPIL))
    assert nobody == elsewhere
    known = heard(place_call(live_server, ALVA, "9"))
    for name in ("Alva", "Andersson", "Solskolan", "Ekskolan", "Greta", "Bergskolan"):
        assert name not in nobody + elsewhere + known


@pytest.fixture
def server_settings() -> dict[str, object]:
    return {"max_unknown_pupils_per_caller": 5}


def test_a_caller_trying_numbers_is_refused_for_a_while_and_reported(
    live_server: LiveServer, db: sa.Engine, cli_env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for _ in range(2):
        place_call(live_server, NOT_A_PUPIL, OTHER_PUPIL, NOT_A_PUPIL, caller=STRANGER)
    assert sum(c["unknown_pupils"] for c in calls(db)) == 6

    refused = place_call(live_server, ALVA, "9", caller=STRANGER)
    assert not refused.recorded
    assert "För många okända personnummer" in heard(refused) or "för många okända" in heard(refused)
    assert calls(db)[-1]["refused_reason"] == "too_many_attempts"

    other = place_call(live_server, ALVA, "9", caller=ANNA)
    assert other.recorded, "other callers are not affected"

    result = CliRunner().invoke(cli, ["security", "report", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["refused_calls"] == {"too_many_attempts": 1}
    [suspect] = report["callers"]
    assert suspect["caller"] == STRANGER
    assert suspect["unknown_personal_numbers"] == 6
    assert suspect["refused_calls"] == 1
    assert len(outbox(db)) == 4


def test_metrics_count_what_happened(live_server: LiveServer, client: httpx.Client) -> None:
    place_call(live_server, ALVA, "9")
    place_call(live_server, NOT_A_PUPIL)
    place_call(live_server, ALVA, "9", caller="anonymous")
    text = client.get(f"{live_server.url}/metrics").text
    assert 'ivr_webhooks_total{outcome="ok",route="step",step="start"}' in text
    assert "ivr_absences_recorded_total" in text
    assert 'ivr_calls_refused_total{reason="hidden_number"}' in text
    assert "ivr_unknown_personal_numbers_total" in text
    assert 'ivr_outbox_messages{status="pending"} 4.0' in text
    assert "ivr_webhook_seconds_bucket" in text


def test_a_nul_character_anywhere_is_refused_before_it_reaches_the_database(
    live_server: LiveServer, client: httpx.Client, db: sa.Engine
) -> None:
    caller = Caller(live_server, client)
    assert (
        caller.post("/twilio/voice", caller.params(CallStatus="ringing", To="+46\x00")).status_code
        == 400
    )
    assert client.get(f"{live_server.url}/api/v1/absences?group=%00").status_code == 400
    assert calls(db) == []
