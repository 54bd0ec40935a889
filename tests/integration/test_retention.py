"""Call records are deleted after the retention period; absences when their school's time
is up, with their confirmations and feed events."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta

import sqlalchemy as sa
from typer.testing import CliRunner

from ivr.cli.main import app as cli
from ivr.services.jobs import retention
from ivr.store.db import Database
from tests.calls import place_call
from tests.conftest import LiveServer
from tests.records import absences, calls, outbox, rows
from tests.staff import Staff


def _age(db: sa.Engine, days_ago: int, reference: str | None = None) -> None:
    """Move the recorded calls (and one absence) back in time."""
    moment = datetime.now(UTC) - timedelta(days=days_ago)
    with db.begin() as connection:
        connection.execute(
            sa.text("UPDATE calls SET started_at = :moment"),
            {"moment": moment.replace(tzinfo=None) if db.dialect.name == "sqlite" else moment},
        )
        if reference is not None:
            day = date.today() - timedelta(days=days_ago)
            connection.execute(
                sa.text(
                    "UPDATE absences SET start_date = :day, end_date = :day WHERE reference = :ref"
                ),
                {"day": day, "ref": reference},
            )


def _forget(live_server: LiveServer) -> int:
    database = Database(live_server.settings.database_url)
    try:
        return asyncio.run(retention(database, live_server.settings).tick(datetime.now(UTC)))
    finally:
        database.dispose()


def test_old_calls_go_and_the_absence_keeps_what_it_needs(
    live_server: LiveServer, db: sa.Engine
) -> None:
    result = place_call(live_server, "1501012395", "9")
    _age(db, days_ago=31)

    assert _forget(live_server) == 1
    assert calls(db) == []
    [absence] = absences(db)
    assert absence["call_sid"] == result.call_sid
    assert absence["caller"] == "+46701740605"


def test_absences_go_when_their_school_says(
    live_server: LiveServer, db: sa.Engine, cli_env: str
) -> None:
    first = place_call(live_server, "1501012395", "9").references[0]
    second = place_call(live_server, "1807022395", "9").references[0]
    _age(db, days_ago=401, reference=first)
    assert len(outbox(db)) == 8

    assert _forget(live_server) == 3, "both calls (moved back too) and the first absence"
    assert [a["reference"] for a in absences(db)] == [second]
    assert len(outbox(db)) == 4, "the confirmations went with their absence"
    assert rows(db, "SELECT count(*) AS n FROM feed_events")[0]["n"] == 1

    result = CliRunner().invoke(
        cli, ["school", "retention", "Solskolan", "30", "--org", "Testkommun"]
    )
    assert result.exit_code == 0, result.output
    assert "30 days" in result.output
    _age(db, days_ago=31, reference=second)
    _forget(live_server)
    assert absences(db) == []


def test_missing_pupils_outreaches_go_with_the_call_records(
    live_server: LiveServer, solskolan: Staff, db: sa.Engine
) -> None:
    marked = solskolan.client.post("/api/v1/missing", json={"pupils": ["P1", "P2"]})
    assert marked.status_code == 200, marked.text
    # Retention runs on the real clock here, as in the tests above: days relative to it.
    first = rows(db, "SELECT MIN(id) AS id FROM outreaches")[0]["id"]
    with db.begin() as connection:
        connection.execute(sa.text("UPDATE outreaches SET day = :day"), {"day": date.today()})
        connection.execute(
            sa.text("UPDATE outreaches SET day = :day WHERE id = :id"),
            {"day": date.today() - timedelta(days=31), "id": first},
        )
    kept = rows(db, "SELECT reference FROM outreaches WHERE id <> :id", id=first)
    assert len(rows(db, "SELECT * FROM outreach_contacts")) == 4
    assert len([m for m in outbox(db) if m["outreach_id"] is not None]) == 8

    assert _forget(live_server) == 1

    assert rows(db, "SELECT reference FROM outreaches") == kept
    assert len(rows(db, "SELECT * FROM outreach_contacts")) == 2, "with its contacts"
    assert len([m for m in outbox(db) if m["outreach_id"] is not None]) == 4, "and messages"
    assert (
        rows(
            db,
            "SELECT count(*) AS n FROM outreach_events WHERE outreach_id NOT IN "
            "(SELECT id FROM outreaches)",
        )[0]["n"]
        == 0
    )
