"""Missing pupils on /staff in a real browser: the roll call (tick who is not here, send),
and the outreach panel following each pupil live, without a reload: Twilio refuses every
request (the guardians are "not yet reached"), then a guardian answers 2 and the pupil turns
red."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
import sqlalchemy as sa

from tests.browser import browser_tab, require_chromium
from tests.conftest import LiveServer
from tests.missing import TEACHER_EMAIL, add_alert_contacts, emails_to, eventually, reply
from tests.providers import Providers
from tests.records import outbox, rows
from tests.roster_data import ERIK
from tests.staff import Staff

require_chromium()

from playwright.sync_api import Page, expect  # noqa: E402

RED = "rgb(164, 0, 15)"


@pytest.fixture
def server_settings(providers: Providers) -> dict[str, object]:
    providers.twilio.ring_timeout_seconds = 60.0
    providers.twilio.default_answer = "ring"
    return providers.settings(dispatcher="on", calls_per_second=50.0, call_from="+46701740698")


@pytest.fixture
def browser_page(live_server: LiveServer) -> Iterator[Page]:
    add_alert_contacts(live_server.settings.database_url)
    with browser_tab() as page:
        yield page


def test_staff_tick_a_pupil_and_follow_the_outreach_live_until_the_alert(
    live_server: LiveServer,
    solskolan: Staff,
    providers: Providers,
    browser_page: Page,
    db: sa.Engine,
) -> None:
    page = browser_page
    providers.twilio.fail_next(503, times=10_000)
    page.goto(f"{live_server.url}/staff?token={solskolan.token}")
    expect(page.locator("#missing")).to_contain_text(
        "Ingen elev är markerad som frånvarande utan anmälan denna dag."
    )
    roll_call = page.locator("#roll-call")
    roll_call.get_by_text("5A · Solskolan").click()
    roll_call.get_by_label("Alva Andersson").check()
    roll_call.get_by_role(
        "button", name="Kontakta vårdnadshavarna till de markerade eleverna"
    ).click()

    expect(page.get_by_role("status")).to_contain_text("Vårdnadshavare kontaktas för 1 elever")
    [marked] = rows(db, "SELECT reference, marked_by, status FROM outreaches")
    assert (marked["marked_by"], marked["status"]) == ("Solskolan", "active")
    alva = page.locator(f"#outreach-{marked['reference']}")
    expect(alva.get_by_role("heading", level=3)).to_contain_text("Alva Andersson")
    expect(alva.locator(".state")).to_have_text("Vårdnadshavarna kontaktas")
    eventually(
        lambda: any(m["attempts"] > 0 for m in outbox(db) if m["address"] == ERIK),
        what="a first try to reach Erik",
    )
    expect(alva.locator(".not-reached")).to_have_count(2)
    expect(alva.locator(".contact", has_text="Anna Andersson")).to_contain_text("sms väntar")
    page.evaluate("window.notReloaded = true")

    assert reply(live_server, ERIK, "2") == [
        "Thank you. Solskolan is told now. Contact the police if you cannot find Alva."
    ]

    state = alva.locator(".state")
    expect(state).to_have_text(
        "LARM: ingen vet var Alva är. Erik Andersson: vet inte var barnet är.", timeout=15_000
    )
    expect(state).to_have_attribute("role", "alert")
    assert state.evaluate("e => getComputedStyle(e).color") == RED
    erik = alva.locator(".contact", has_text="Erik Andersson")
    expect(erik.locator(".answer")).to_have_text("vet inte var barnet är")
    expect(erik.locator(".not-reached")).to_have_count(0)
    anna = alva.locator(".contact", has_text="Anna Andersson")
    expect(anna.locator(".not-reached")).to_have_text("inte nådd ännu")
    assert page.evaluate("window.notReloaded") is True, "the panel changed without a reload"
    assert not providers.twilio.messages, "Twilio took nothing"
    eventually(lambda: emails_to(providers.sink.messages, TEACHER_EMAIL), what="the alert")

    alva.get_by_role("button", name="Har kommit till skolan").click()

    arrived = page.locator(f"#outreach-{marked['reference']}")
    expect(arrived.locator(".state")).to_contain_text(
        "Har kommit till skolan (avslutat av Solskolan kl."
    )
    expect(arrived.get_by_role("button", name="Har kommit till skolan")).to_have_count(0)
    assert rows(db, "SELECT status, ended_by FROM outreaches") == [
        {"status": "arrived", "ended_by": "Solskolan"}
    ]
    arrived.get_by_text("Alla steg").click()
    expect(arrived.locator(".steps li")).not_to_have_count(0)


def test_the_panel_needs_the_page_s_cookie(live_server: LiveServer) -> None:
    response = httpx.get(f"{live_server.url}/staff/missing/panel", timeout=10)
    assert response.status_code == 401
    assert response.text == ""
