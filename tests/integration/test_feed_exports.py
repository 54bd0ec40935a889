"""The Atom feed and the CSV export, read back the way their readers read them."""

from __future__ import annotations

import csv
import io
import re
from datetime import date, datetime
from xml.etree.ElementTree import Element

import httpx
import pytest
from defusedxml import ElementTree

from tests.calls import place_call
from tests.clock import Clock
from tests.conftest import LiveServer
from tests.roster_data import ALVA, BO, CELIA, KARIN
from tests.staff import Staff, record

ATOM = "{http://www.w3.org/2005/Atom}"
RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(Z|[+-]\d{2}:\d{2})$")


def _feed(response: httpx.Response) -> Element:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/atom+xml; charset=utf-8"
    root: Element = ElementTree.fromstring(response.content)
    assert root.tag == f"{ATOM}feed"
    return root


def _text(element: Element, tag: str) -> str:
    found = element.find(f"{ATOM}{tag}")
    assert found is not None and found.text, f"<{tag}> is required"
    return found.text


def _check_rfc4287(feed: Element) -> None:
    """The elements RFC 4287 requires of a feed and its entries (section 4.1)."""
    assert _text(feed, "id").startswith("urn:uuid:")
    assert _text(feed, "title")
    assert RFC3339.match(_text(feed, "updated"))
    feed_has_author = feed.find(f"{ATOM}author/{ATOM}name") is not None
    for entry in feed.findall(f"{ATOM}entry"):
        assert re.match(r"^urn:uuid:[0-9a-f-]{36}$", _text(entry, "id"))
        assert _text(entry, "title")
        assert RFC3339.match(_text(entry, "updated"))
        assert feed_has_author or entry.find(f"{ATOM}author/{ATOM}name") is not None
        alternate = [
            link
            for link in entry.findall(f"{ATOM}link")
            if link.get("rel", "alternate") == "alternate"
        ]
        assert len(alternate) == 1 and alternate[0].get("href")


def _entries(feed: Element) -> dict[str, Element]:
    return {_text(entry, "id"): entry for entry in feed.findall(f"{ATOM}entry")}


def test_the_atom_feed_has_an_entry_per_absence_updated_when_it_is_cancelled(
    live_server: LiveServer, solskolan: Staff, clock: Clock
) -> None:
    alva = place_call(live_server, ALVA, "9").references[0]
    place_call(live_server, BO, "9")
    place_call(live_server, CELIA, "9", caller=KARIN)
    reader = f"{live_server.url}/api/v1/absences.atom"

    feed = _feed(httpx.get(reader, params={"token": solskolan.token}))

    _check_rfc4287(feed)
    assert _text(feed, "title") == "Anmäld frånvaro: Solskolan"
    entries = _entries(feed)
    assert len(entries) == 2, "Solskolan only"
    [alva_id] = [i for i, e in entries.items() if "Alva" in _text(e, "title")]
    entry = entries[alva_id]
    assert _text(entry, "title") == "Alva Andersson (5A, Solskolan): hela dagen 25 nov."
    assert _text(entry, "updated") == "2026-11-25T07:30:00+01:00"
    assert alva in _text(entry, "summary")
    assert "070-174 06 05 (en registrerad vårdnadshavare)" in _text(entry, "summary")
    link = entry.find(f"{ATOM}link")
    assert link is not None and link.get("href") == f"{live_server.url}/staff?day=2026-11-25"
    assert solskolan.token not in httpx.get(reader, params={"token": solskolan.token}).text

    clock.now = datetime(2026, 11, 25, 8, 5, tzinfo=clock.now.tzinfo)
    assert solskolan.cancel(alva, "Fel elev").status_code == 200
    after = _entries(_feed(solskolan.get("/api/v1/absences.atom")))

    assert set(after) == set(entries), "entry ids are stable"
    changed = after[alva_id]
    assert _text(changed, "title").startswith("Makulerad: Alva Andersson")
    assert _text(changed, "updated") == "2026-11-25T08:05:00+01:00"
    assert "Makulerad av Solskolan" in _text(changed, "summary")
    assert "Fel elev" in _text(changed, "summary")


def test_an_empty_feed_is_still_a_valid_feed(solskolan: Staff) -> None:
    feed = _feed(solskolan.get("/api/v1/absences.atom"))
    _check_rfc4287(feed)
    assert feed.findall(f"{ATOM}entry") == []


def _csv(response: httpx.Response, delimiter: str) -> list[dict[str, str]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"].startswith("attachment; filename=")
    assert response.content.startswith(b"\xef\xbb\xbf"), "a BOM, for Excel"
    text = response.content.decode("utf-8-sig")
    assert "\r\n" in text
    return list(csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter))


@pytest.mark.parametrize(("separator", "delimiter"), [("comma", ","), ("semicolon", ";")])
def test_the_csv_export_round_trips(
    live_server: LiveServer, solskolan: Staff, separator: str, delimiter: str
) -> None:
    alva = place_call(live_server, ALVA, "9").references[0]
    bo = place_call(live_server, BO, "261201", "1015", "9", "1230").references[0]
    tricky = 'Fel; ringde "pappa", ny rad\noch =SUMMA(A1)'
    solskolan.cancel(alva, tricky)

    params = {"from": "2026-11-25", "to": "2026-12-01"}
    if separator != "comma":
        params["separator"] = separator
    table = _csv(solskolan.get("/api/v1/absences.csv", **params), delimiter)

    assert [row["reference"] for row in table] == [alva, bo]
    first, second = table
    assert first == first | {
        "pupil_id": "P1",
        "pupil": "Alva Andersson",
        "school": "Solskolan",
        "group": "5A",
        "start_date": "2026-11-25",
        "start_time": "",
        "end_date": "2026-11-25",
        "end_time": "",
        "reported_at": "2026-11-25 07:30",
        "caller": "070-174 06 05",
        "caller_is_guardian": "yes",
        "status": "cancelled",
        "cancelled_by": "Solskolan",
        "cancel_reason": tricky,
        "confirmations": "4",
        "confirmations_failed": "0",
    }
    assert (second["start_time"], second["end_time"]) == ("10:15", "12:30")
    assert second["status"] == "active"


def test_csv_keeps_free_text_from_being_read_as_a_formula(
    live_server: LiveServer, solskolan: Staff
) -> None:
    alva = place_call(live_server, ALVA, "9").references[0]
    solskolan.cancel(alva, '=HYPERLINK("http://127.0.0.1")')
    [row] = _csv(solskolan.get("/api/v1/absences.csv"), ",")
    assert row["cancel_reason"] == '\'=HYPERLINK("http://127.0.0.1")'


def test_the_csv_export_defaults_to_today_and_to_the_tokens_schools(
    live_server: LiveServer, solskolan: Staff, database_url: str
) -> None:
    today = place_call(live_server, ALVA, "9").references[0]
    record(database_url, "P2", date(2026, 11, 24))
    place_call(live_server, CELIA, "9", caller=KARIN)

    table = _csv(solskolan.get("/api/v1/absences.csv"), ",")

    assert [row["reference"] for row in table] == [today]
    backwards = solskolan.get("/api/v1/absences.csv", **{"from": "2026-11-25", "to": "2026-11-01"})
    assert backwards.status_code == 422
    assert solskolan.get("/api/v1/absences.csv", separator="tab").status_code == 422
