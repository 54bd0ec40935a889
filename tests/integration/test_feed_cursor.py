"""Polling the feed with ``since``: pages, and reports committed out of order while a
school system polls. Every absence is seen, and seen once."""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import date

from ivr.store.db import Database
from tests.conftest import LiveServer
from tests.staff import Staff, record, record_in

DAY = date(2026, 11, 25)
PUPILS = ("P1", "P2", "P4")  # Solskolan


def test_pages_follow_each_other_and_end_where_the_feed_ends(
    live_server: LiveServer, solskolan: Staff, database_url: str
) -> None:
    written = [record(database_url, PUPILS[n % 3], DAY) for n in range(5)]

    pages = []
    cursor = ""
    while True:
        page = solskolan.absences(since=cursor, limit="2")
        pages.append([a["reference"] for a in page["absences"]])
        cursor = page["next"]
        if not page["more"]:
            break

    assert pages == [written[0:2], written[2:4], written[4:5]]
    again = solskolan.absences(since=cursor)
    assert again == {"absences": [], "next": cursor, "more": False}
    assert solskolan.references() == written, "without since: from the beginning"


def _write_slowly(database_url: str, pupil: str, hold_seconds: float) -> str:
    """Record a report, then keep the transaction open a while before committing: later
    reports may commit first."""

    database = Database(database_url)
    try:
        with database.sessions.begin() as session:
            reference = record_in(session, pupil, DAY)
            time.sleep(hold_seconds)
        return reference
    finally:
        database.dispose()


def test_reports_committed_out_of_order_are_each_seen_exactly_once(
    live_server: LiveServer, solskolan: Staff, database_url: str
) -> None:
    random.seed(5)
    holds = [random.choice([0.0, 0.0, 0.05, 0.25]) for _ in range(40)]
    seen: list[str] = []
    done = threading.Event()

    def poll() -> None:
        cursor = ""
        while True:
            finished = done.is_set()
            page = solskolan.absences_now(since=cursor, limit="7")
            seen.extend(a["reference"] for a in page["absences"])
            cursor = page["next"]
            if finished and not page["absences"] and not page["more"]:
                return

    poller = threading.Thread(target=poll)
    poller.start()
    with ThreadPoolExecutor(max_workers=8) as writers:
        written = list(
            writers.map(
                lambda n: _write_slowly(database_url, PUPILS[n % 3], holds[n]), range(len(holds))
            )
        )
    done.set()
    poller.join(timeout=60)

    assert not poller.is_alive()
    assert len(set(written)) == 40
    assert Counter(seen) == Counter(written), "each absence once: none missed, none repeated"
