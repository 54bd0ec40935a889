"""Marking pupils as missing through the API: what is recorded and queued, the answers an
attendance system gets, and the mistakes that mark nobody."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from tests.calls import place_call
from tests.clock import Clock
from tests.conftest import LiveServer
from tests.records import outbox, rows
from tests.roster_data import ALVA, ANNA, CELIA_PHONE, ERIK, KARIN
from tests.staff import Staff, issue_token


def _mark(staff: Staff, *pupils: str, **extra: Any) -> Any:
    return staff.client.post("/api/v1/missing", json={"pupils": list(pupils), **extra})


def test_marking_a_pupil_reaches_every_guardian_by_sms_and_call_at_once(
    live_server: LiveServer, solskolan: Staff, db: sa.Engine
) -> None:
    response = _mark(solskolan, "P1")

    assert response.status_code == 200, response.text
    [marked] = response.json()["pupils"]
    assert marked["pupil_id"] == "P1"
    assert (marked["state"], marked["status"]) == ("started", "active")
    reference = marked["outreach"]
    [outreach] = rows(db, "SELECT * FROM outreaches")
    assert (outreach["reference"], outreach["status"], outreach["marked_by"]) == (
        reference,
        "active",
        "Solskolan",
    )
    queued = sorted((m["channel"], m["address"], m["kind"]) for m in outbox(db))
    assert queued == [
        ("call", ANNA, "missing_call"),
        ("call", ERIK, "missing_call"),
        ("sms", ANNA, "missing"),
        ("sms", ERIK, "missing"),
    ]
    sms = {m["address"]: m["body"] for m in outbox(db) if m["channel"] == "sms"}
    assert sms[ANNA] == (
        "Solskolan: Alva är inte i skolan i dag och ingen frånvaro är anmäld. Svara 1 om du "
        "vet att Alva är borta i dag, 2 om du inte vet var Alva är."
    )
    assert sms[ERIK] == (
        "Solskolan: Alva is not at school today and no absence has been reported. Reply 1 if "
        "you know Alva is away today, 2 if you do not know where Alva is."
    )

    shown = solskolan.get(f"/api/v1/missing/{reference}").json()
    assert shown["pupil"] == "Alva Andersson"
    assert (shown["group"], shown["school"], shown["status"]) == ("5A", "Solskolan", "active")
    assert shown["marked"] == {"by": "Solskolan", "at": "2026-11-25T07:30:00+01:00"}
    assert [
        (c["name"], c["phone"], c["sms"], c["call"], c["reached"]) for c in shown["contacts"]
    ] == [
        ("Anna Andersson", "+46 70 *** ** 05", "pending", "queued", False),
        ("Erik Andersson", "+46 70 *** ** 06", "pending", "queued", False),
    ]
    assert [event["kind"] for event in shown["events"]] == ["marked", "reaching"]
    assert solskolan.get("/api/v1/missing").json() == [shown]


def test_marking_the_same_pupil_again_starts_no_second_outreach(
    live_server: LiveServer, solskolan: Staff, db: sa.Engine
) -> None:
    first = _mark(solskolan, "P1").json()["pupils"][0]
    again = _mark(solskolan, "P1", "P2").json()["pupils"]

    assert again[0] == {**first, "state": "already_started"}
    assert again[1]["state"] == "started"
    assert len(rows(db, "SELECT * FROM outreaches")) == 2
    assert len([m for m in outbox(db) if m["address"] == ANNA and m["channel"] == "sms"]) == 2


def test_a_pupil_with_a_report_covering_now_is_not_contacted(
    live_server: LiveServer, solskolan: Staff, db: sa.Engine
) -> None:
    place_call(live_server, ALVA, "9")
    before = len(outbox(db))

    [marked] = _mark(solskolan, "P1").json()["pupils"]

    assert marked == {
        "pupil_id": "P1",
        "state": "already_reported",
        "outreach": None,
        "status": None,
    }
    assert rows(db, "SELECT * FROM outreaches") == []
    assert len(outbox(db)) == before


def test_an_unknown_pupil_marks_nobody_and_names_the_ids(
    live_server: LiveServer, solskolan: Staff, db: sa.Engine
) -> None:
    response = _mark(solskolan, "P1", "P404", "P3")  # P3 is Ekskolan's, not Solskolan's

    assert response.status_code == 422
    message = response.json()["detail"][0]["msg"]
    assert "P404, P3" in message and "nobody was marked" in message
    assert rows(db, "SELECT * FROM outreaches") == []
    assert outbox(db) == []


def test_the_pupils_school_must_be_named_when_the_token_has_several(
    live_server: LiveServer, db: sa.Engine
) -> None:
    both = Staff(live_server, issue_token(live_server.settings, "Solskolan", "Ekskolan"))
    try:
        unnamed = _mark(both, "P3")
        named = _mark(both, "P3", school="Ekskolan")
        not_its = _mark(both, "P3", school="Bergskolan")
    finally:
        both.close()

    assert unnamed.status_code == 422
    assert "name the pupils' school" in unnamed.json()["detail"][0]["msg"]
    assert named.status_code == 200
    # Celia is 18 and has her own phone: she is the one reached.
    assert {m["address"] for m in outbox(db) if m["channel"] == "sms"} == {CELIA_PHONE}
    assert KARIN not in {m["address"] for m in outbox(db)}
    assert not_its.status_code == 401


def test_since_must_be_a_time_today_not_later_than_now(
    live_server: LiveServer, solskolan: Staff, db: sa.Engine, clock: Clock
) -> None:
    assert _mark(solskolan, "P1", since="7:15").status_code == 422
    later = _mark(solskolan, "P1", since="08:00")
    assert later.status_code == 422
    assert "later than now" in later.json()["detail"][0]["msg"]
    assert rows(db, "SELECT * FROM outreaches") == []

    assert _mark(solskolan, "P1", since="07:10").status_code == 200
    shown = solskolan.get("/api/v1/missing").json()
    assert shown[0]["since"] == "07:10"


def test_marking_needs_a_token_in_the_header(
    live_server: LiveServer, solskolan: Staff, db: sa.Engine
) -> None:
    import httpx

    in_query = httpx.post(
        f"{live_server.url}/api/v1/missing",
        params={"token": solskolan.token},
        json={"pupils": ["P1"]},
    )
    assert in_query.status_code == 401
    assert rows(db, "SELECT * FROM outreaches") == []


def test_arrived_stops_the_outreach_once_and_cancels_what_was_not_sent(
    live_server: LiveServer, solskolan: Staff, db: sa.Engine, clock: Clock
) -> None:
    reference = _mark(solskolan, "P1").json()["pupils"][0]["outreach"]
    clock.now = datetime(2026, 11, 25, 7, 41, tzinfo=clock.now.tzinfo)

    stopped = solskolan.client.post(f"/api/v1/missing/{reference}/arrived")
    again = solskolan.client.post(f"/api/v1/missing/{reference}/arrived")

    assert stopped.status_code == 200
    shown = stopped.json()
    assert shown["status"] == "arrived"
    assert shown["ended"] == {"by": "Solskolan", "at": "2026-11-25T07:41:00+01:00"}
    assert again.json() == shown
    statuses = {
        (m["channel"], m["address"]): m["status"]
        for m in outbox(db)
        if m["kind"] != "missing_arrived"
    }
    # Nothing had left yet: nothing is sent, and nobody needs to be told.
    assert set(statuses.values()) == {"cancelled"}
    assert [m for m in outbox(db) if m["kind"] == "missing_arrived"] == []
    assert solskolan.client.post("/api/v1/missing/NOSUCH12/arrived").status_code == 404
