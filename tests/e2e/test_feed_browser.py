"""The page /staff in a real browser (Debian's Chromium, driven by Playwright): what staff
see, on a desktop and on a phone, and acknowledging and cancelling with the page's forms."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from tests.browser import browser_tab, require_chromium
from tests.calls import place_call
from tests.conftest import LiveServer
from tests.records import outbox, rows
from tests.roster_data import ALVA, BO, ERIK
from tests.staff import Staff

require_chromium()

from playwright.sync_api import Page, expect  # noqa: E402


@pytest.fixture
def browser_page(live_server: LiveServer) -> Iterator[Page]:
    """A fresh headless Chromium tab; the live server runs already."""
    with browser_tab() as page:
        yield page


def test_staff_see_the_days_reports_and_acknowledge_and_cancel_them(
    live_server: LiveServer, solskolan: Staff, browser_page: Page, db: sa.Engine
) -> None:
    page = browser_page
    alva = place_call(live_server, ALVA, "9").references[0]
    bo = place_call(live_server, BO, "9").references[0]
    with db.begin() as connection:
        connection.execute(
            sa.text("UPDATE outbox SET status = 'failed' WHERE channel = 'sms' AND address = :a"),
            {"a": ERIK},
        )

    page.goto(f"{live_server.url}/staff?token={solskolan.token}")

    assert page.url == f"{live_server.url}/staff", "the token is gone from the address"
    expect(page.get_by_role("heading", level=1)).to_have_text("Anmäld frånvaro onsdag 25 november")
    expect(page.get_by_role("heading", level=2, name="5A · Solskolan")).to_be_visible()
    card = page.locator(f"#absence-{alva}")
    expect(card.get_by_role("heading", level=3)).to_have_text("Alva Andersson")
    expect(card).to_contain_text("hela dagen 25 nov.")
    expect(card).to_contain_text("(registrerad vårdnadshavare)")
    failed = card.locator(".failed")
    expect(failed).to_have_text(
        "Bekräftelsen med sms till Erik Andersson (+46 70 *** ** 06) kom inte fram"
    )
    assert failed.evaluate("e => getComputedStyle(e).color") == "rgb(164, 0, 15)"
    expect(
        page.get_by_role("img", name="Anmäld frånvaro per skoldag, senaste 30 dagarna")
    ).to_be_visible()

    card.get_by_role("button", name="Markera som sedd").click()

    expect(page.locator(f"#absence-{alva} .seen")).to_have_text("Sedd av Solskolan klockan 07.30")
    assert rows(db, "SELECT acknowledged_by FROM absences WHERE reference = :r", r=alva) == [
        {"acknowledged_by": "Solskolan"}
    ]
    assert solskolan.absences()["absences"][-1]["acknowledged"]["by"] == "Solskolan"

    bo_card = page.locator(f"#absence-{bo}")
    bo_card.get_by_text("Makulera anmälan").click()
    bo_card.get_by_label("Anledning").fill("Fel elev")
    bo_card.get_by_role("button", name="Makulera", exact=True).click()

    expect(page.locator(f"#absence-{bo} .cancel-note")).to_have_text(
        "Makulerad av Solskolan 25 nov. klockan 07.30: Fel elev"
    )
    expect(page.locator(f"#absence-{bo}").get_by_role("button")).to_have_count(0)
    [cancelled] = rows(db, "SELECT status, cancel_reason FROM absences WHERE reference = :r", r=bo)
    assert cancelled == {"status": "cancelled", "cancel_reason": "Fel elev"}
    told = sorted(m["address"] for m in outbox(db) if m["kind"] == "cancellation")
    assert told == ["+46701740605", "anna@example.com", "erik@example.com"], "not Erik's SMS"


def test_the_date_picker_moves_to_another_day(
    live_server: LiveServer, solskolan: Staff, browser_page: Page
) -> None:
    place_call(live_server, BO, "261201", "9", "9", "9")
    page = browser_page
    page.goto(f"{live_server.url}/staff?token={solskolan.token}")
    expect(page.get_by_text("Ingen frånvaro anmäld den här dagen.")).to_be_visible()

    page.get_by_label("Datum").fill("2026-12-01")
    page.get_by_role("button", name="Visa").click()

    expect(page).to_have_url(f"{live_server.url}/staff?day=2026-12-01")
    expect(page.get_by_role("heading", level=1)).to_have_text("Anmäld frånvaro tisdag 1 december")
    expect(page.get_by_role("heading", level=3)).to_have_text("Bo Andersson")


def test_the_page_fits_a_phone(
    live_server: LiveServer, solskolan: Staff, browser_page: Page
) -> None:
    place_call(live_server, ALVA, "9")
    page = browser_page
    page.set_viewport_size({"width": 360, "height": 740})
    page.goto(f"{live_server.url}/staff?token={solskolan.token}")

    expect(page.get_by_role("heading", level=3)).to_have_text("Alva Andersson")
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    assert page.evaluate("getComputedStyle(document.body).fontSize") == "16px"
    button = page.get_by_role("button", name="Markera som sedd")
    box = button.bounding_box()
    assert box is not None and box["height"] >= 32, "big enough for a finger"
