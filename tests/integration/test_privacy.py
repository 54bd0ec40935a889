"""Personal numbers never appear whole: in logs (JSON, masked even if code slips), in the
simulator's output, or in stored calls. The check of the whole run's logs is in
``tests/privacy.py`` and fails the run at its end."""

from __future__ import annotations

import io
import json
import logging

import pytest
import sqlalchemy as sa

from ivr.logs import MaskPersonalNumbers, json_formatter
from tests import privacy
from tests.calls import place_call
from tests.conftest import LiveServer
from tests.records import calls
from tests.roster_data import ALVA, BO, EMIL, NORA, NOT_A_PUPIL, ODD


def test_the_run_check_finds_personal_numbers_in_any_common_form() -> None:
    found = privacy.personal_numbers_in(
        f"a 20{ALVA} b {ALVA[:6]}-{ALVA[6:]} c {BO} d {ALVA[:6]}-**** e 2026112512 f +46701740605"
    )
    assert found == {ALVA, BO}


@pytest.mark.parametrize(
    ("written", "number"),
    [
        (f"{NORA}", NORA),
        (f"{NORA[:6]} {NORA[6:]}", NORA),
        (f"{NORA[:6]}-{NORA[6:]}", NORA),
        (f"{ODD[:2]} {ODD[2:4]} {ODD[4:6]} {ODD[6:]}", ODD),
        (f"{ALVA[:6]} {ALVA[6:]}", ALVA),
        (f"20{ALVA[:6]} {ALVA[6:]}", ALVA),
        (f"{EMIL[:6]}+{EMIL[6:]}", EMIL),
        (f"{ALVA[:3]} {ALVA[3:6]} {ALVA[6:8]} {ALVA[8:]}", ALVA),
        (f"ref 12 {ALVA} 34", ALVA),
        (f"digits around it: 99{ALVA}0", ALVA),
    ],
)
def test_the_run_check_finds_norwegian_numbers_and_numbers_written_with_spaces(
    written: str, number: str
) -> None:
    assert privacy.personal_numbers_in(f"keyed {written} at the prompt") == {number}


def test_the_run_check_leaves_what_is_masked_or_no_number() -> None:
    text = f"{ALVA[:6]}-**** {NORA[:6]}-***** 2026-11-25 07:30:00 +46 70 174 06 05 CA12345678"
    assert privacy.personal_numbers_in(text) == set()


def test_a_log_record_is_json_with_its_fields_and_no_personal_number() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(json_formatter())
    handler.addFilter(MaskPersonalNumbers())
    logger = logging.getLogger("ivr.test.privacy")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning(
            "keyed %s", ALVA, extra={"call_sid": "CA1", "step": "start", "note": f"20{ALVA}"}
        )
    finally:
        logger.removeHandler(handler)
    record = json.loads(stream.getvalue())
    assert record["message"] == f"keyed {ALVA[:6]}-****"
    assert record["note"] == f"{ALVA[:6]}-****"
    assert record["call_sid"] == "CA1"
    assert record["step"] == "start"
    assert record["level"] == "WARNING"
    assert ALVA not in stream.getvalue()


def test_calls_leave_no_personal_number_in_the_logs_or_the_call_records(
    live_server: LiveServer, db: sa.Engine
) -> None:
    before = len(privacy.COLLECTOR.lines)
    place_call(live_server, ALVA, "9", "1", NOT_A_PUPIL, "1502302395", BO, "9")
    lines = privacy.COLLECTOR.lines[before:]
    assert any("call step" in line for line in lines), "the calls were logged"
    assert not any(privacy.personal_numbers_in(line) for line in lines)
    for call in calls(db):
        assert not privacy.personal_numbers_in(str(call))
