"""The page /staff over HTTP: signing in with a link, what it shows, and forms that only
the page itself can send."""

from __future__ import annotations

import re
from datetime import date

import httpx
import pytest
import sqlalchemy as sa

from tests.calls import place_call
from tests.conftest import LiveServer
from tests.records import rows
from tests.roster_data import ALVA, BO, CELIA, ERIK, KARIN, STRANGER
from tests.staff import Staff, issue_token, record

DAY = date(2026, 11, 25)


def signed_in(server: LiveServer, staff: Staff) -> httpx.Client:
    """A browser-like client that has followed the staff member's link."""
    client = httpx.Client(base_url=server.url, timeout=10)
    response = client.get("/staff", params={"token": staff.token})
    assert response.status_code == 303
    return client


def csrf_of(page: str) -> str:
    match = re.search(r'name="csrf" value="([0-9a-f]{64})"', page)
    assert match is not None
    return match[1]


def test_the_link_sets_a_strict_cookie_and_takes_the_token_out_of_the_address(
    live_server: LiveServer, solskolan: Staff
) -> None:
    response = httpx.get(
        f"{live_server.url}/staff", params={"token": solskolan.token, "day": "2026-11-24"}
    )

    assert response.status_code == 303
    assert response.headers["location"] == "/staff?day=2026-11-24"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"ivr_staff={solskolan.token};")
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie
    assert response.headers["referrer-policy"] == "same-origin"

    from_email = httpx.get(
        f"{live_server.url}/staff",
        params={"token": solskolan.token},
        headers={"Sec-Fetch-Site": "cross-site"},
    )
    assert from_email.status_code == 200, "a page that moves on, which keeps the cookie"
    assert '<meta http-equiv="refresh" content="0; url=/staff">' in from_email.text
    assert from_email.headers["set-cookie"].startswith("ivr_staff=")


def test_without_a_valid_token_the_page_says_how_to_get_in(
    live_server: LiveServer, solskolan: Staff
) -> None:
    place_call(live_server, ALVA, "9")
    for response in (
        httpx.get(f"{live_server.url}/staff"),
        httpx.get(f"{live_server.url}/staff", params={"token": "ivrs_wrong"}),
        httpx.get(f"{live_server.url}/staff", cookies={"ivr_staff": "ivrs_wrong"}),
    ):
        assert response.status_code == 401
        assert "<h1>Inloggning krävs</h1>" in response.text
        assert "Alva" not in response.text
        assert "set-cookie" not in response.headers or (
            "ivr_staff=" in response.headers["set-cookie"]
            and "Max-Age=0" in response.headers["set-cookie"]
        )


def test_the_page_shows_the_days_absences_by_group_and_how_they_were_reported(
    live_server: LiveServer, solskolan: Staff, db: sa.Engine
) -> None:
    place_call(live_server, ALVA, "9")
    place_call(live_server, BO, "9", caller=STRANGER)
    place_call(live_server, CELIA, "9", caller=KARIN)
    with db.begin() as connection:
        connection.execute(
            sa.text("UPDATE outbox SET status = 'failed' WHERE channel = 'sms' AND address = :a"),
            {"a": ERIK},
        )
    page = signed_in(live_server, solskolan).get("/staff").text

    assert "<h1>Anmäld frånvaro onsdag 25 november</h1>" in page
    assert "Skolor: Solskolan · 2 anmälda" in page
    groups = re.findall(r'<h2 id="group-\d+">([^<]+)', page)
    assert groups == ["2B · Solskolan ", "5A · Solskolan "]
    assert "Celia" not in page, "another school's pupil"
    alva = page[page.index("<h3>Alva Andersson") :]
    alva = alva[: alva.index("</li>")]
    assert "hela dagen 25 nov." in alva
    assert (
        "Anmält i telefon 25 nov. klockan 07.30 från +46 70 *** ** 05 "
        "(registrerad vårdnadshavare)" in alva
    )
    assert "Bekräftelser: 0 av 4 levererade, övriga väntar" in alva
    assert (
        '<div class="failed" role="alert">Bekräftelsen med sms till Erik Andersson '
        "(+46 70 *** ** 06) kom inte fram</div>" in alva
    )
    assert "(inte en registrerad vårdnadshavare)" in page, "Bo's report came from a stranger"


def test_the_date_picker_chart_and_frequent_absence(
    live_server: LiveServer, solskolan: Staff, database_url: str
) -> None:
    for day in (date(2026, 11, 10), date(2026, 11, 12), date(2026, 11, 17), date(2026, 11, 24)):
        record(database_url, "P2", day)
    record(database_url, "P1", date(2026, 11, 20), end=date(2026, 11, 23))
    client = signed_in(live_server, solskolan)

    today = client.get("/staff").text
    earlier = client.get("/staff", params={"day": "2026-11-24"}).text

    assert "Ingen frånvaro anmäld den här dagen." in today
    assert '<input type="date" id="day" name="day" value="2026-11-25" required>' in today
    assert "Bo Andersson" in earlier and "Alva" not in earlier
    assert len(re.findall(r'<rect class="bar"', today)) == 22, "school days, Oct 27 to Nov 25"
    assert "<title>24 nov.: 1</title>" in today
    assert "<title>23 nov.: 1</title>" in today and "<title>21 nov.: " not in today
    assert "<li>Bo Andersson (2B, Solskolan): 4 dagar</li>" in today
    assert "Alva Andersson (5A" not in today, "3 days is not more than 3"
    assert '<span class="flag"' in earlier


def test_school_days_are_those_of_the_organisations_country(
    live_server: LiveServer, solskolan: Staff
) -> None:
    fjellskolen = Staff(
        live_server,
        issue_token(live_server.settings, "Fjellskolen", organisation="Testkommune"),
    )
    try:
        # 21 April to 20 May 2027: 22 weekdays. Ascension Day (6 May) is a public holiday in
        # both countries; 17 May (Constitution Day and Whit Monday) in Norway only.
        swedish = signed_in(live_server, solskolan).get("/staff", params={"day": "2027-05-20"})
        norwegian = signed_in(live_server, fjellskolen).get("/staff", params={"day": "2027-05-20"})
    finally:
        fjellskolen.close()

    assert len(re.findall(r'<rect class="bar"', swedish.text)) == 21
    assert len(re.findall(r'<rect class="bar"', norwegian.text)) == 20
    assert "<title>17. mai: " not in norwegian.text
    assert "<title>18. mai: 0</title>" in norwegian.text
    assert "<title>17 maj: 0</title>" in swedish.text


def test_forms_need_the_pages_csrf_token_the_cookie_and_this_origin(
    live_server: LiveServer, solskolan: Staff, db: sa.Engine
) -> None:
    reference = place_call(live_server, ALVA, "9").references[0]
    client = signed_in(live_server, solskolan)
    csrf = csrf_of(client.get("/staff").text)
    action = f"/staff/absences/{reference}/acknowledge"

    refused = [
        client.post(action, data={"csrf": "0" * 64}),
        client.post(action, data={"csrf": csrf}, headers={"Origin": "https://evil.example"}),
        httpx.post(f"{live_server.url}{action}", data={"csrf": csrf}),
        httpx.post(
            f"{live_server.url}{action}", data={"csrf": csrf}, params={"token": solskolan.token}
        ),
    ]

    assert [r.status_code for r in refused] == [403, 403, 401, 401]
    assert rows(db, "SELECT acknowledged_at FROM absences") == [{"acknowledged_at": None}]
    accepted = client.post(
        action, data={"csrf": csrf, "day": "2026-11-25"}, headers={"Origin": live_server.url}
    )
    assert accepted.status_code == 303
    assert accepted.headers["location"] == f"/staff?day=2026-11-25#absence-{reference}"
    assert rows(db, "SELECT acknowledged_by FROM absences") == [{"acknowledged_by": "Solskolan"}]


@pytest.mark.parametrize("reason", ["", "  "])
def test_cancelling_on_the_page_needs_a_reason(
    live_server: LiveServer, solskolan: Staff, db: sa.Engine, reason: str
) -> None:
    reference = place_call(live_server, ALVA, "9").references[0]
    client = signed_in(live_server, solskolan)
    csrf = csrf_of(client.get("/staff").text)
    response = client.post(
        f"/staff/absences/{reference}/cancel", data={"csrf": csrf, "reason": reason}
    )
    assert response.status_code == 422
    assert rows(db, "SELECT status FROM absences") == [{"status": "active"}]
