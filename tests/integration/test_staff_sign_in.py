"""Staff sign in to /staff with their organisation's account, against a real OpenID
Connect provider on 127.0.0.1: who sees what (grants, contact teachers), the session
(idle timeout, sign-out, a revoked grant), the audit, and every refusal (a forged state, a
replayed code, a token for another audience or expired, a cross-site form, a token on the
page once the organisation signs in)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from tests.cli import ivr
from tests.clock import Clock
from tests.conftest import LiveServer
from tests.oidc import (
    CLIENT_ID,
    CLIENT_SECRET,
    EXPIRED,
    OFFICE,
    OTHER_AUDIENCE,
    STRANGER,
    TEACHER,
    csrf_of,
    oidc_provider,
    sign_in,
    start,
)
from tests.records import rows
from tests.staff import Staff, issue_token, record

HOME = ("--org", "Testkommun")


@pytest.fixture
def issuer() -> Iterator[str]:
    with oidc_provider() as url:
        yield url


@pytest.fixture
def signing_in(live_server: LiveServer, cli_env: str, issuer: str, tmp_path: Path) -> str:
    """Testkommun's staff sign in with the provider; the office has Solskolan, Åsa Lind is
    the contact teacher of 5A (Alva's group, not Bo's)."""
    code, output = ivr(
        "org", "oidc", "Testkommun", "--issuer", issuer, "--client-id", CLIENT_ID,
        "--client-secret", CLIENT_SECRET,
    )  # fmt: skip
    assert code == 0, output
    assert CLIENT_SECRET not in output
    code, output = ivr("staff", "grant", OFFICE, "--school", "Solskolan", "--role", "office", *HOME)
    assert code == 0, output
    teachers = tmp_path / "staff.csv"
    teachers.write_text(f"school,group,name,email\nSolskolan,5A,Åsa Lind,{TEACHER}\n")
    code, output = ivr("staff", "import", str(teachers), *HOME)
    assert code == 0, output
    return live_server.url


def _reports(live_server: LiveServer, clock: Clock) -> tuple[str, str]:
    today = clock.now.date()
    url = live_server.settings.database_url
    return record(url, "P1", today), record(url, "P2", today)  # Alva (5A), Bo (2B)


def _audit() -> list[dict[str, str]]:
    code, output = ivr("audit", "list", "--json")
    assert code == 0, output
    return [json.loads(line) for line in output.splitlines() if line.strip()]


def test_the_office_signs_in_cancels_a_report_finds_it_in_the_audit_and_signs_out(
    signing_in: str, live_server: LiveServer, clock: Clock, db: sa.Engine
) -> None:
    alva, bo = _reports(live_server, clock)

    signed = sign_in(signing_in, OFFICE)

    assert signed.answer.status_code == 303 and signed.answer.headers["location"] == "/staff"
    cookie = signed.answer.headers["set-cookie"]
    assert "ivr_staff_session=" in cookie and "httponly" in cookie.lower()
    assert "samesite=lax" in cookie.lower()
    page = signed.client.get("/staff")
    assert page.status_code == 200
    assert "Alva Andersson" in page.text and "Bo Andersson" in page.text
    assert f"Inloggad som {OFFICE}" in page.text
    cancelled = signed.client.post(
        f"/staff/absences/{bo}/cancel", data={"csrf": csrf_of(page.text), "reason": "Fel elev"}
    )
    assert cancelled.status_code == 303
    token = Staff(live_server, issue_token(live_server.settings, "Solskolan", label="Kansliet"))
    assert token.get(f"/api/v1/absences/{bo}").json()["cancelled"]["by"] == OFFICE
    assert OFFICE in token.get("/api/v1/absences.csv").text
    assert OFFICE in token.get("/api/v1/absences.atom").text
    assert token.acknowledge(alva).status_code == 200
    token.close()
    assert [(e["who"], e["action"], e["reference"], e["school"]) for e in _audit()] == [
        (OFFICE, "cancelled", bo, "Solskolan"),
        ("Kansliet", "acknowledged", alva, "Solskolan"),
    ]

    csv = signed.client.get("/api/v1/absences.csv")
    assert csv.status_code == 200 and OFFICE in csv.text, "the page's CSV link, with the session"

    page = signed.client.get("/staff")
    out = signed.client.post("/staff/logout", data={"csrf": csrf_of(page.text)})

    assert out.status_code == 200 and "Du är utloggad" in out.text
    assert signed.client.get("/staff").status_code == 401
    assert rows(db, "SELECT id FROM staff_sessions") == []


def test_a_teacher_sees_and_acts_on_their_own_groups_only(
    signing_in: str, live_server: LiveServer, clock: Clock
) -> None:
    alva, bo = _reports(live_server, clock)

    signed = sign_in(signing_in, TEACHER)
    page = signed.client.get("/staff")

    assert page.status_code == 200
    assert "Alva Andersson" in page.text and "Bo Andersson" not in page.text
    assert "absences.csv" not in page.text, "the school-wide exports are not offered"
    csrf = csrf_of(page.text)
    assert (
        signed.client.post(f"/staff/absences/{bo}/acknowledge", data={"csrf": csrf}).status_code
        == 404
    )
    assert (
        signed.client.post(f"/staff/absences/{alva}/acknowledge", data={"csrf": csrf}).status_code
        == 303
    )
    assert signed.client.get("/api/v1/absences").status_code == 401, "a teacher's API is a token"
    assert [(e["who"], e["reference"]) for e in _audit()] == [(TEACHER, alva)]


def test_a_teacher_marks_missing_only_pupils_of_their_groups(
    signing_in: str, db: sa.Engine
) -> None:
    signed = sign_in(signing_in, TEACHER)
    page = signed.client.get("/staff").text
    found = re.search(r'value="(\d+):P1"', page)
    assert found is not None, "Alva is in the roll call"
    assert ':P2"' not in page, "Bo is not"
    school, csrf = found.group(1), csrf_of(page)

    refused = signed.client.post("/staff/missing", data={"csrf": csrf, "pupil": f"{school}:P2"})
    marked = signed.client.post("/staff/missing", data={"csrf": csrf, "pupil": f"{school}:P1"})

    assert refused.status_code == 422 and marked.status_code == 303
    [(who, action, reference)] = [(e["who"], e["action"], e["reference"]) for e in _audit()]
    assert (who, action) == (TEACHER, "marked_missing")
    assert rows(db, "SELECT marked_by FROM outreaches WHERE reference = :r", r=reference) == [
        {"marked_by": TEACHER}
    ]


def test_someone_without_a_grant_gets_a_page_that_names_nobody(
    signing_in: str, db: sa.Engine
) -> None:
    signed = sign_in(signing_in, STRANGER)

    assert signed.answer.status_code == 403
    assert "Ingen åtkomst" in signed.answer.text
    for name in (STRANGER, OFFICE, "Solskolan", "Testkommun"):
        assert name not in signed.answer.text
    assert "ivr_staff_session" not in signed.answer.headers.get("set-cookie", "")
    assert rows(db, "SELECT id FROM staff_sessions") == []


def test_a_revoked_grant_ends_the_session_at_once(signing_in: str, db: sa.Engine) -> None:
    signed = sign_in(signing_in, OFFICE)
    assert signed.client.get("/staff").status_code == 200
    code, output = ivr("staff", "grants")
    assert code == 0 and "office" in output and "Solskolan" in output

    code, output = ivr("staff", "revoke-grant", OFFICE, *HOME)

    assert code == 0, output
    assert signed.client.get("/staff").status_code == 401
    assert rows(db, "SELECT id FROM staff_sessions") == []
    assert sign_in(signing_in, OFFICE).answer.status_code == 403


def test_a_session_unused_for_the_idle_time_is_over(signing_in: str, clock: Clock) -> None:
    signed = sign_in(signing_in, OFFICE)
    clock.now += timedelta(minutes=470)
    assert signed.client.get("/staff").status_code == 200, "used: kept alive"

    clock.now += timedelta(minutes=481)

    assert signed.client.get("/staff").status_code == 401


@pytest.mark.parametrize("person", [OTHER_AUDIENCE, EXPIRED])
def test_an_id_token_for_another_audience_or_expired_is_refused(
    signing_in: str, person: str, db: sa.Engine
) -> None:
    signed = sign_in(signing_in, person)

    assert signed.answer.status_code == 400
    assert "Inloggningen misslyckades" in signed.answer.text
    assert rows(db, "SELECT id FROM staff_sessions") == []


def test_a_forged_state_and_a_replayed_code_are_refused(signing_in: str, db: sa.Engine) -> None:
    client, callback = start(signing_in, OFFICE)
    forged = client.get(callback.replace("state=", "state=x"))
    assert forged.status_code == 400 and "Inloggningen misslyckades" in forged.text

    client, callback = start(signing_in, OFFICE)
    pending = dict(client.cookies)
    assert client.get(callback).status_code == 303
    replay = httpx.Client(base_url=signing_in, cookies=pending, timeout=10)

    replayed = replay.get(callback)

    assert replayed.status_code == 400 and "Inloggningen misslyckades" in replayed.text
    assert "ivr_staff_session" not in replayed.headers.get("set-cookie", "")
    assert len(rows(db, "SELECT id FROM staff_sessions")) == 1, "the first sign-in only"
    assert client.get(callback).status_code == 400, "the same browser cannot reuse it either"


def test_a_cross_site_form_post_is_refused(
    signing_in: str, live_server: LiveServer, clock: Clock, db: sa.Engine
) -> None:
    alva, _bo = _reports(live_server, clock)
    signed = sign_in(signing_in, OFFICE)
    csrf = csrf_of(signed.client.get("/staff").text)

    foreign = signed.client.post(
        f"/staff/absences/{alva}/cancel",
        data={"csrf": csrf, "reason": "x"},
        headers={"Origin": "https://attacker.example"},
    )
    guessed = signed.client.post(
        f"/staff/absences/{alva}/cancel", data={"csrf": "0" * 64, "reason": "x"}
    )

    assert foreign.status_code == 403 and guessed.status_code == 403
    assert rows(db, "SELECT status FROM absences WHERE reference = :r", r=alva) == [
        {"status": "active"}
    ]
    assert _audit() == []


def test_the_page_takes_no_token_once_the_organisation_signs_in(
    signing_in: str, live_server: LiveServer
) -> None:
    token = issue_token(live_server.settings, "Solskolan", label="Kansliet")
    page = httpx.get(f"{signing_in}/staff", params={"token": token}, timeout=10)
    assert page.status_code == 401
    assert "loggar in med sitt eget konto" in page.text
    assert "/staff/login?org=" in page.text
    cookie = httpx.get(f"{signing_in}/staff", cookies={"ivr_staff": token}, timeout=10)
    assert cookie.status_code == 401

    api = httpx.get(
        f"{signing_in}/api/v1/absences", headers={"Authorization": f"Bearer {token}"}, timeout=10
    )
    feed = httpx.get(f"{signing_in}/api/v1/absences.atom", params={"token": token}, timeout=10)

    assert api.status_code == 200 and feed.status_code == 200, "machines keep their tokens"
