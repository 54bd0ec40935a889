"""Signing in to /staff in Chromium with the organisation's account, at a real OpenID
Connect provider on 127.0.0.1: a teacher sees only their group, cancels a report, finds
their name in the audit and signs out; the office is refused at once after its grant is
revoked; a forged state, a replayed code, and ID tokens for another audience or expired
each end on the same clear page with nothing changed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.browser import browser_tab, require_chromium
from tests.cli import ivr
from tests.clock import Clock
from tests.conftest import LiveServer
from tests.oidc import (
    CLIENT_ID,
    CLIENT_SECRET,
    EXPIRED,
    OFFICE,
    OTHER_AUDIENCE,
    TEACHER,
    oidc_provider,
)
from tests.records import rows
from tests.staff import record

require_chromium()

from playwright.sync_api import Page, Route, expect  # noqa: E402

HOME = ("--org", "Testkommun")
FAILED = "Inloggningen misslyckades"


def _local_only(route: Route) -> None:
    """Nothing leaves the machine (the provider's page asks for a stylesheet elsewhere)."""
    if route.request.url.startswith("http://127.0.0.1:"):
        route.continue_()
    else:
        route.abort()


@pytest.fixture
def browser_page(live_server: LiveServer) -> Iterator[Page]:
    with browser_tab() as page:
        page.route("**/*", _local_only)
        yield page


@pytest.fixture
def signing_in(live_server: LiveServer, cli_env: str, tmp_path: Path) -> Iterator[str]:
    with oidc_provider() as issuer:
        code, output = ivr(
            "org", "oidc", "Testkommun", "--issuer", issuer, "--client-id", CLIENT_ID,
            "--client-secret", CLIENT_SECRET,
        )  # fmt: skip
        assert code == 0, output
        for email, role in ((OFFICE, "office"), (TEACHER, "teacher")):
            code, output = ivr(
                "staff", "grant", email, "--school", "Solskolan", "--role", role, *HOME
            )
            assert code == 0, output
        teachers = tmp_path / "staff.csv"
        teachers.write_text(f"school,group,name,email\nSolskolan,5A,Åsa Lind,{TEACHER}\n")
        assert ivr("staff", "import", str(teachers), *HOME)[0] == 0
        yield live_server.url


def _sign_in(page: Page, base_url: str, person: str) -> None:
    page.goto(f"{base_url}/staff")
    page.get_by_role("link", name="Logga in med kontot från Testkommun").click()
    page.get_by_role("button", name=person, exact=True).click()


def test_a_teacher_signs_in_sees_their_group_cancels_and_signs_out(
    signing_in: str, live_server: LiveServer, clock: Clock, browser_page: Page, db: sa.Engine
) -> None:
    page = browser_page
    today = clock.now.date()
    alva = record(live_server.settings.database_url, "P1", today)
    record(live_server.settings.database_url, "P2", today)  # Bo, 2B: not Åsa's group

    _sign_in(page, signing_in, TEACHER)

    expect(page).to_have_url(f"{signing_in}/staff")
    expect(page.get_by_text(f"Inloggad som {TEACHER}")).to_be_visible()
    expect(page.get_by_role("heading", level=3)).to_have_text("Alva Andersson")
    card = page.locator(f"#absence-{alva}")
    card.get_by_text("Makulera anmälan").click()
    card.get_by_label("Anledning").fill("Fel elev")
    card.get_by_role("button", name="Makulera", exact=True).click()
    expect(page.locator(f"#absence-{alva} .cancel-note")).to_contain_text(f"Makulerad av {TEACHER}")
    code, output = ivr("audit", "list", "--json")
    assert code == 0
    [entry] = [json.loads(line) for line in output.splitlines()]
    assert (entry["who"], entry["action"], entry["reference"]) == (TEACHER, "cancelled", alva)

    page.get_by_role("button", name="Logga ut").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Du är utloggad")
    page.goto(f"{signing_in}/staff")
    expect(page.get_by_role("heading", level=1)).to_have_text("Inloggning krävs")
    assert rows(db, "SELECT id FROM staff_sessions") == []


def test_the_office_is_refused_at_once_after_its_grant_is_revoked(
    signing_in: str, browser_page: Page
) -> None:
    page = browser_page
    _sign_in(page, signing_in, OFFICE)
    expect(page.get_by_text(f"Inloggad som {OFFICE}")).to_be_visible()

    assert ivr("staff", "revoke-grant", OFFICE, *HOME)[0] == 0
    page.reload()

    expect(page.get_by_role("heading", level=1)).to_have_text("Inloggning krävs")


@pytest.mark.parametrize("person", [OTHER_AUDIENCE, EXPIRED])
def test_an_id_token_for_another_audience_or_expired_is_refused(
    signing_in: str, browser_page: Page, person: str, db: sa.Engine
) -> None:
    _sign_in(browser_page, signing_in, person)

    expect(browser_page.get_by_role("heading", level=1)).to_have_text(FAILED)
    assert rows(db, "SELECT id FROM staff_sessions") == []


def test_a_forged_state_and_a_replayed_code_are_refused(
    signing_in: str, browser_page: Page, db: sa.Engine
) -> None:
    page = browser_page
    page.goto(f"{signing_in}/staff/login")
    page.route("**/staff/callback*", lambda route: route.abort())
    with page.expect_request("**/staff/callback*") as caught:
        page.get_by_role("button", name=OFFICE, exact=True).click()
    callback = caught.value.url
    page.unroute("**/staff/callback*")

    page.goto(callback.replace("state=", "state=forged"))
    expect(page.get_by_role("heading", level=1)).to_have_text(FAILED)

    page.goto(f"{signing_in}/staff/login")
    with page.expect_request("**/staff/callback*") as caught:
        page.get_by_role("button", name=OFFICE, exact=True).click()
    expect(page.get_by_text(f"Inloggad som {OFFICE}")).to_be_visible()
    sessions = rows(db, "SELECT id FROM staff_sessions")
    page.goto(caught.value.url)

    expect(page.get_by_role("heading", level=1)).to_have_text(FAILED)
    assert rows(db, "SELECT id FROM staff_sessions") == sessions, "nothing new"
