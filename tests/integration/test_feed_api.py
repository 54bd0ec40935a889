"""The staff feed's JSON API over HTTP: tokens of two schools, what each sees, what is
refused, acknowledging, and the OpenAPI document."""

from __future__ import annotations

import httpx
import pytest
import sqlalchemy as sa

from tests.calls import place_call
from tests.conftest import LiveServer
from tests.records import rows
from tests.roster_data import ALVA, BO, CELIA, KARIN, STRANGER
from tests.staff import Staff, issue_token, revoke

UNAUTHORISED = {"detail": "a valid staff token is needed"}


def test_a_token_shows_its_schools_absences_with_everything_staff_need(
    live_server: LiveServer, solskolan: Staff, ekskolan: Staff
) -> None:
    alva = place_call(live_server, ALVA, "9").references[0]
    celia = place_call(live_server, CELIA, "9", caller=KARIN).references[0]

    page = solskolan.absences()

    assert [a["reference"] for a in page["absences"]] == [alva]
    assert ekskolan.references() == [celia]
    [absence] = page["absences"]
    assert {key: absence[key] for key in absence if key != "confirmations"} == {
        "reference": alva,
        "pupil_id": "P1",
        "pupil": "Alva Andersson",
        "group": "5A",
        "school": "Solskolan",
        "start_date": "2026-11-25",
        "start_time": None,
        "end_date": "2026-11-25",
        "end_time": None,
        "whole_days": True,
        "reported_at": "2026-11-25T07:30:00+01:00",
        "reported_by": "phone",
        "caller": "+46701740605",
        "caller_is_guardian": True,
        "status": "active",
        "acknowledged": None,
        "cancelled": None,
        "cancellation_messages": [],
    }
    assert sorted(
        (c["recipient"], c["channel"], c["to"], c["status"]) for c in absence["confirmations"]
    ) == [
        ("Anna Andersson", "email", "a***@example.com", "pending"),
        ("Anna Andersson", "sms", "+46 70 *** ** 05", "pending"),
        ("Erik Andersson", "email", "e***@example.com", "pending"),
        ("Erik Andersson", "sms", "+46 70 *** ** 06", "pending"),
    ]
    assert "+46701740605" not in str(absence["confirmations"]), "addresses are masked"


def test_a_caller_who_is_not_a_guardian_is_shown_as_such(
    live_server: LiveServer, solskolan: Staff
) -> None:
    place_call(live_server, ALVA, "9", caller=STRANGER)
    [absence] = solskolan.absences()["absences"]
    assert absence["caller"] == STRANGER
    assert absence["caller_is_guardian"] is False


def test_without_a_valid_token_nothing_is_shown(
    live_server: LiveServer, solskolan: Staff, ekskolan: Staff
) -> None:
    alva = place_call(live_server, ALVA, "9").references[0]
    celia = place_call(live_server, CELIA, "9", caller=KARIN).references[0]
    url = f"{live_server.url}/api/v1/absences"

    refused = [
        httpx.get(url),
        httpx.get(url, headers={"Authorization": "Bearer ivrs_not-a-token"}),
        httpx.get(url, headers={"Authorization": f"Basic {solskolan.token}"}),
        httpx.get(url, params={"token": "ivrs_not-a-token"}),
        solskolan.get("/api/v1/absences", school="Ekskolan"),
        solskolan.get("/api/v1/absences", school="No such school"),
        solskolan.get("/api/v1/absences.csv", school="Ekskolan"),
        solskolan.get("/api/v1/absences.atom", school="Ekskolan"),
    ]
    for response in refused:
        assert response.status_code == 401, response.request.url
        assert response.json() == UNAUTHORISED, "the same answer, whatever exists"
        assert response.headers["www-authenticate"].startswith("Bearer")
        assert alva not in response.text and celia not in response.text

    other_school = solskolan.get(f"/api/v1/absences/{celia}")
    no_such = solskolan.get("/api/v1/absences/ZZZZZZZZ")
    assert other_school.status_code == no_such.status_code == 404
    assert other_school.json() == no_such.json()
    assert solskolan.acknowledge(celia).status_code == 404

    revoke(live_server.settings, solskolan.token)
    assert solskolan.get("/api/v1/absences").status_code == 401
    assert solskolan.get(f"/api/v1/absences/{alva}").status_code == 401
    assert httpx.get(url, params={"token": solskolan.token}).status_code == 401
    assert ekskolan.references() == [celia], "other tokens go on working"


def test_a_token_for_several_schools_shows_both_and_may_narrow_to_one(
    live_server: LiveServer,
) -> None:
    alva = place_call(live_server, ALVA, "9").references[0]
    celia = place_call(live_server, CELIA, "9", caller=KARIN).references[0]
    both = Staff(live_server, issue_token(live_server.settings, "Solskolan", "Ekskolan"))

    assert set(both.references()) == {alva, celia}
    assert both.references(school="Ekskolan") == [celia]
    assert both.references(group="5A") == [alva]
    schools = both.get("/api/v1/schools").json()
    assert schools == [
        {"name": "Ekskolan", "groups": ["8C", "NA3"]},
        {"name": "Solskolan", "groups": ["2B", "3A", "5A"]},
    ]
    both.close()


def test_a_token_of_another_organisation_sees_nothing_of_this_one(
    live_server: LiveServer,
) -> None:
    place_call(live_server, ALVA, "9")
    other = Staff(
        live_server, issue_token(live_server.settings, "Bergskolan", organisation="Andra kommun")
    )
    assert other.references() == []
    assert other.get("/api/v1/absences", school="Solskolan").status_code == 401
    other.close()


def test_absences_by_date_range(live_server: LiveServer, solskolan: Staff) -> None:
    today = place_call(live_server, ALVA, "9").references[0]
    later = place_call(live_server, BO, "261201", "9", "261203", "9").references[0]

    assert set(solskolan.references()) == {today, later}
    assert solskolan.references(**{"from": "2026-11-26"}) == [later]
    assert solskolan.references(to="2026-11-30") == [today]
    assert solskolan.references(**{"from": "2026-12-03", "to": "2026-12-24"}) == [later]
    assert solskolan.references(**{"from": "2026-12-04"}) == []
    [absence] = solskolan.absences(**{"from": "2026-12-01"})["absences"]
    assert (absence["start_date"], absence["end_date"]) == ("2026-12-01", "2026-12-03")
    assert solskolan.get("/api/v1/absences", **{"from": "yesterday"}).status_code == 422


def test_acknowledging_records_who_and_when_and_moves_the_absence_up_the_feed(
    live_server: LiveServer, solskolan: Staff, db: sa.Engine
) -> None:
    first = place_call(live_server, ALVA, "9").references[0]
    second = place_call(live_server, BO, "9").references[0]
    polled = solskolan.absences()
    assert [a["reference"] for a in polled["absences"]] == [first, second]

    response = solskolan.acknowledge(first)

    assert response.status_code == 200
    assert response.json()["acknowledged"] == {
        "by": "Solskolan",
        "at": "2026-11-25T07:30:00+01:00",
    }
    [recorded] = rows(db, "SELECT * FROM absences WHERE reference = :r", r=first)
    assert recorded["acknowledged_by"] == "Solskolan"
    assert recorded["acknowledged_at"] is not None
    news = solskolan.absences(since=polled["next"])
    assert [a["reference"] for a in news["absences"]] == [first]
    assert news["absences"][0]["acknowledged"]["by"] == "Solskolan"

    other = Staff(live_server, issue_token(live_server.settings, "Solskolan", label="Rektor"))
    assert other.acknowledge(first).json()["acknowledged"]["by"] == "Solskolan", "first kept"
    assert solskolan.absences(since=news["next"])["absences"] == [], "a repeat changes nothing"
    other.close()


def test_changes_through_the_api_need_the_token_in_the_header(
    live_server: LiveServer, solskolan: Staff, db: sa.Engine
) -> None:
    reference = place_call(live_server, ALVA, "9").references[0]
    url = f"{live_server.url}/api/v1/absences/{reference}"

    by_query = httpx.post(f"{url}/acknowledge", params={"token": solskolan.token})
    by_cookie = httpx.post(
        f"{url}/cancel", json={"reason": "x"}, cookies={"ivr_staff": solskolan.token}
    )

    assert by_query.status_code == by_cookie.status_code == 401
    [absence] = rows(db, "SELECT status, acknowledged_at FROM absences")
    assert absence == {"status": "active", "acknowledged_at": None}
    assert httpx.get(url, params={"token": solskolan.token}).status_code == 200, "reading may"


def test_the_openapi_document_describes_the_api(live_server: LiveServer) -> None:
    document = httpx.get(f"{live_server.url}/openapi.json").json()
    paths = document["paths"]
    assert {
        "/api/v1/absences",
        "/api/v1/absences/{reference}",
        "/api/v1/absences/{reference}/acknowledge",
        "/api/v1/absences/{reference}/cancel",
        "/api/v1/absences.csv",
        "/api/v1/absences.atom",
        "/api/v1/schools",
    } <= set(paths)
    listing = paths["/api/v1/absences"]["get"]
    assert {p["name"] for p in listing["parameters"]} >= {"from", "to", "school", "group", "since"}
    schemas = document["components"]["schemas"]
    absence = schemas["Absence"]["properties"]
    for field in (
        "reference",
        "pupil_id",
        "school",
        "start_date",
        "start_time",
        "end_date",
        "end_time",
        "reported_at",
        "caller",
        "status",
        "acknowledged",
        "confirmations",
    ):
        assert field in absence
    assert absence["status"]["enum"] == ["active", "cancelled"]
    assert set(schemas["AbsencePage"]["properties"]) == {"absences", "next", "more"}
    assert "HTTPBearer" in document["components"]["securitySchemes"]
    assert httpx.get(f"{live_server.url}/docs").status_code == 200


@pytest.mark.parametrize("since", ["abc", "1-", "-1-2", "1.2"])
def test_a_cursor_not_made_by_the_api_is_refused(solskolan: Staff, since: str) -> None:
    assert solskolan.get("/api/v1/absences", since=since).status_code == 422
