"""Roster sync benchmark: a full sync of a municipality's pupils from its SS 12000 API, then
a delta of 100 changes, then the same data again.

    .venv/bin/python scripts/bench_sync.py                          # SQLite, 100,000 pupils
    .venv/bin/python scripts/bench_sync.py --db both --json out.json
    .venv/bin/python scripts/bench_sync.py --pupils 2000            # a quick look

The local SS 12000 API of the test suite (``tests/ss12000``) serves the pupils, two
guardians each, in classes of 25 with a mentor each, over HTTP on 127.0.0.1 with OAuth 2.0
client credentials; the line reads it with the real client and applies it to a fresh
database with ``ivr.services.roster_sync``, as ``ivr roster sync`` does. The organisation
is Norwegian because its synthetic test numbers are as many as asked for (Skatteverket's
Swedish test lists hold about 43,000). Target: the full sync of 100,000 pupils in 60 s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_dispatch import database

from ivr.services.roster_sync import SyncResult, sync_school_system
from ivr.settings import Settings
from ivr.store import migrate
from ivr.store.db import Database, sync_url
from ivr.store.lines import ensure_organisation
from tests.ss12000.fixture import TODAY, SchoolData, build_school
from tests.ss12000.server import (
    CLIENT_ID,
    CLIENT_SECRET,
    LocalSchoolSystem,
    serve_school_system,
)

OSLO = ZoneInfo("Europe/Oslo")
ORGANISATION = "Benchkommune"


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def change_hundred(data: SchoolData, when: datetime) -> dict[str, int]:
    """100 changes of the kinds a school makes in a week: new phone numbers, moves between
    classes, enrolments ended, pupils deleted."""
    pupils = data.pupil_ids
    step = max(1, len(pupils) // 100)
    chosen = pupils[::step][:100]
    classes = list(data.groups)
    kinds = {"phone": 0, "moved": 0, "left": 0, "deleted": 0}
    for index, pupil_id in enumerate(chosen):
        if index < 50:
            guardian = data.guardians_of(pupil_id)[0]
            data.set_phone(guardian, f"+4670174{index % 1000:04d}", when)
            kinds["phone"] += 1
        elif index < 80:
            current = data.class_of(pupil_id)
            target = classes[(classes.index(current) + 1) % len(classes)]
            data.move(pupil_id, target, TODAY, when)
            kinds["moved"] += 1
        elif index < 95:
            data.end_enrolment(pupil_id, TODAY - timedelta(days=1), when)
            kinds["left"] += 1
        else:
            data.delete_person(pupil_id, when)
            kinds["deleted"] += 1
    return kinds


async def run_once(
    db: Database, settings: Settings, url: str, moment: datetime, full: bool
) -> tuple[SyncResult, float]:
    started = time.perf_counter()
    result = await sync_school_system(
        db,
        settings,
        url,
        organisation=ORGANISATION,
        full=full,
        force=True,  # the delta's 15 leavers may be a large share of a small bench school
        now=lambda: moment,
    )
    return result, time.perf_counter() - started


def totals(result: SyncResult) -> dict[str, int]:
    found: dict[str, int] = {}
    for changes in result.summary.by_school.values():
        for kind in ("added", "changed", "left", "returned", "guardians_linked"):
            found[kind] = found.get(kind, 0) + getattr(changes, kind)
        found["guardians_unlinked"] = (
            found.get("guardians_unlinked", 0) + changes.guardians_unlinked
        )
    return found


def bench(kind: str, pupils: int) -> dict[str, Any]:
    started = time.perf_counter()
    data = build_school(pupils=pupils, school_units=max(1, pupils // 500), country="NO")
    built = time.perf_counter() - started
    api = LocalSchoolSystem(data)
    with database(kind) as url, serve_school_system(api) as school:
        migrate.upgrade(url)
        settings = Settings(
            _env_file=None,
            database_url=url,
            ss12000_token_url=school.token_url,
            ss12000_client_id=CLIENT_ID,
            ss12000_client_secret=CLIENT_SECRET,
        )
        db = Database(url)
        with db.sessions.begin() as session:
            ensure_organisation(session, ORGANISATION, "Europe/Oslo", "nb", "NO")
        morning = datetime.combine(TODAY, datetime.min.time(), OSLO).replace(hour=5, minute=30)
        full, full_seconds = asyncio.run(run_once(db, settings, school.url, morning, True))
        rss_after_full = peak_rss_mb()
        later = morning + timedelta(minutes=15)
        made = change_hundred(data, later - timedelta(minutes=1))
        delta, delta_seconds = asyncio.run(run_once(db, settings, school.url, later, False))
        again, again_seconds = asyncio.run(
            run_once(db, settings, school.url, later + timedelta(minutes=15), True)
        )
        engine = sa.create_engine(sync_url(url))
        with engine.connect() as connection:
            active = connection.scalar(sa.text("SELECT count(*) FROM pupils WHERE active"))
            links = connection.scalar(sa.text("SELECT count(*) FROM pupil_guardians"))
        engine.dispose()
        db.dispose()
    return {
        "pupils": pupils,
        "fixture_seconds": round(built, 1),
        "full_seconds": round(full_seconds, 1),
        "full": totals(full),
        "delta_changes": made,
        "delta_seconds": round(delta_seconds, 2),
        "delta": totals(delta),
        "again_seconds": round(again_seconds, 1),
        "again": totals(again),
        "active_pupils": active,
        "guardian_links": links,
        "peak_rss_mb": round(rss_after_full, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="sqlite")
    parser.add_argument("--pupils", type=int, default=100_000)
    parser.add_argument("--json", type=Path, help="Write the figures here too.")
    arguments = parser.parse_args()
    kinds = ["sqlite", "postgres"] if arguments.db == "both" else [arguments.db]
    figures: dict[str, Any] = {}
    for kind in kinds:
        figures[kind] = found = bench(kind, arguments.pupils)
        print(
            f"{kind}: {found['pupils']:,} pupils: full sync {found['full_seconds']} s "
            f"(target 60 s), delta of 100 changes {found['delta_seconds']} s, the same data "
            f"again {found['again_seconds']} s; peak RSS {found['peak_rss_mb']} MB"
        )
        print(f"  full {found['full']}")
        print(f"  delta {found['delta_changes']} -> {found['delta']}")
        print(f"  again {found['again']}")
    if arguments.json:
        arguments.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
