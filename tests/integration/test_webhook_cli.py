"""``ivr webhook``: adding an endpoint prints its secret once, listing shows its state and
never the secret, removing drops what waited for it; wrong URLs, events and organisations
are refused with the reason."""

from __future__ import annotations

import json
from typing import Any

import pytest
import sqlalchemy as sa

from tests.cli import ivr
from tests.clock import Clock
from tests.conftest import make_settings
from tests.records import rows
from tests.roster_data import seed_roster

URL = "https://sis.example.org/absence-events"


@pytest.fixture
def organisations(cli_env: str, clock: Clock) -> None:
    """Testkommun, Andra kommun and Testkommune (Norway)."""
    seed_roster(make_settings(cli_env), clock.now.date())


def listed(*options: str) -> list[dict[str, Any]]:
    code, output = ivr("webhook", "list", "--json", *options)
    assert code == 0, output
    endpoints: list[dict[str, Any]] = json.loads(output)
    return endpoints


def test_add_prints_the_secret_once_and_list_shows_the_endpoint_without_it(
    organisations: None, db: sa.Engine
) -> None:
    code, output = ivr("webhook", "add", URL, "--org", "Testkommun")

    assert code == 0, output
    lines = output.strip().splitlines()
    secret = lines[-1]
    assert secret.startswith("whsec_") and len(secret) == 50
    assert "Webhook endpoint 1 for Testkommun" in output
    assert "(recorded, cancelled, acknowledged)" in output
    assert "from now on, none from before" in output
    assert "shown only now, and cannot be shown again" in " ".join(lines)
    [stored] = rows(db, "SELECT * FROM webhook_endpoints")
    assert secret not in stored["secret"] and secret.removeprefix("whsec_") not in stored["secret"]

    [endpoint] = listed()
    assert endpoint == {
        **endpoint,
        "id": 1,
        "organisation": "Testkommun",
        "url": URL,
        "events": ["recorded", "cancelled", "acknowledged"],
        "disabled_at": None,
        "pending": 0,
        "consecutive_failures": 0,
        "last_error": None,
        "last_success_at": None,
        "sent": 0,
        "retried": 0,
        "failed": 0,
    }
    code, text = ivr("webhook", "list")
    assert code == 0
    assert f"1  Testkommun  {URL}" in text
    assert "active; 0 pending; 0 failure(s) in a row; last success never" in text
    assert secret not in text and secret not in json.dumps(listed())


def test_add_with_chosen_events_and_list_by_organisation(organisations: None) -> None:
    code, output = ivr(
        "webhook", "add", URL, "--org", "Andra kommun", "--event", "cancelled",
        "--event", "recorded",
    )  # fmt: skip
    assert code == 0, output
    assert "(recorded, cancelled)" in output
    assert ivr("webhook", "add", "http://127.0.0.1:9999/hook", "--org", "Testkommun")[0] == 0

    assert [e["events"] for e in listed("--org", "Andra kommun")] == [["recorded", "cancelled"]]
    assert [e["url"] for e in listed("--org", "Testkommun")] == ["http://127.0.0.1:9999/hook"]
    assert len(listed()) == 2


@pytest.mark.parametrize(
    ("arguments", "says"),
    [
        (["http://sis.example.org/hook"], "the URL must be https"),
        (["ftp://sis.example.org/hook"], "is not an address events can be posted to"),
        (["https://user:pw@sis.example.org/hook"], "put no user or password in the URL"),
        (
            [URL, "--event", "recorded", "--event", "sent"],
            "no event 'sent'; the events are recorded, cancelled, acknowledged",
        ),
        ([URL, "--org", "Nowhere"], "no organisation 'Nowhere'"),
        ([URL], "there are several organisations; say which with --org"),
    ],
)
def test_add_refuses_with_the_reason_and_writes_nothing(
    organisations: None, db: sa.Engine, arguments: list[str], says: str
) -> None:
    code, output = ivr("webhook", "add", *arguments)

    assert code == 1
    assert says in " ".join(output.split())
    assert "whsec_" not in output
    assert rows(db, "SELECT id FROM webhook_endpoints") == []


def test_an_only_organisation_needs_no_org(cli_env: str) -> None:
    assert ivr("org", "add", "Testkommun")[0] == 0
    code, output = ivr("webhook", "add", URL)
    assert code == 0, output
    assert "for Testkommun" in output


def test_remove_drops_the_endpoint_and_what_waited_for_it(
    organisations: None, db: sa.Engine
) -> None:
    assert ivr("webhook", "add", URL, "--org", "Testkommun")[0] == 0
    code, output = ivr("webhook", "test", "1", "--wait", "0.3")
    assert code == 1
    assert "not sent within 0.3 s: is a dispatcher running" in " ".join(output.split())
    assert listed()[0]["pending"] == 1

    code, output = ivr("webhook", "remove", "1")

    assert code == 0, output
    assert "Webhook endpoint 1 removed; 1 event(s) waiting for it dropped." in output
    assert listed() == []
    assert rows(db, "SELECT id FROM outbox WHERE channel = 'webhook'") == []
    code, output = ivr("webhook", "remove", "1")
    assert code == 1 and "no webhook endpoint 1; see `ivr webhook list`" in output
    code, output = ivr("webhook", "test", "1")
    assert code == 1 and "no webhook endpoint 1" in output
    code, output = ivr("webhook", "list")
    assert code == 0 and "No webhook endpoints" in output
