"""Random calls against the live line: keys, silences, restarts, repeated webhooks and
hang-ups in any order. After every step the invariants hold: each call has a record in a
known state, every recorded absence is valid and was announced to its caller once, and no
report is ever recorded twice."""

from __future__ import annotations

import secrets
from datetime import date, time, timedelta

import httpx
import sqlalchemy as sa
from defusedxml import ElementTree as defused
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from twilio.request_validator import RequestValidator

from tests.conftest import AUTH_TOKEN, LiveServer
from tests.records import rows
from tests.roster_data import ALVA, ANNA, BO, CELIA, DAVID, LINE, NOT_A_PUPIL, STRANGER

TODAY = date(2026, 11, 25)

KEYS = st.one_of(
    st.sampled_from([ALVA, BO, CELIA, DAVID, NOT_A_PUPIL, "9", "#", "*", "1", "0", "99", ""]),
    st.dates(TODAY - timedelta(days=3), TODAY + timedelta(days=95)).map(
        lambda day: day.strftime("%y%m%d")
    ),
    st.times().map(lambda moment: moment.strftime("%H%M")),
    st.text(alphabet="0123456789#*", max_size=12),
)


class RandomCalls(RuleBasedStateMachine):
    def __init__(self, server: LiveServer, db: sa.Engine, client: httpx.Client) -> None:
        super().__init__()
        self.server = server
        self.db = db
        self.client = client
        self.validator = RequestValidator(AUTH_TOKEN)
        self.call_sid: str | None = None
        self.action: str | None = None
        self.last: tuple[str, dict[str, str], str] | None = None
        self.requests = 0
        self.references: set[str] = set()

    def _post(self, path: str, params: dict[str, str]) -> str:
        url = f"{self.server.url}{path}"
        signature = self.validator.compute_signature(url, params)
        response = self.client.post(url, data=params, headers={"X-Twilio-Signature": signature})
        self.requests += 1
        assert response.status_code in (200, 204), response.text
        if response.status_code == 200:
            document = defused.fromstring(response.content)
            verbs = [verb.tag for verb in document]
            assert verbs in (["Gather", "Redirect"], ["Say", "Hangup"]), verbs
            self.action = document[0].get("action") if verbs[0] == "Gather" else None
            if verbs[1] == "Hangup":
                self.call_sid = None
            if reference := response.headers.get("X-Absence-Reference"):
                assert reference not in self.references, "one answer announces each absence"
                self.references.add(reference)
        self.last = (path, params, response.text)
        return response.text

    @rule(caller=st.sampled_from([ANNA, STRANGER]))
    def new_call(self, caller: str) -> None:
        self.call_sid = "CA" + secrets.token_hex(16)
        self._post(
            "/twilio/voice",
            {"CallSid": self.call_sid, "From": caller, "To": LINE, "CallStatus": "ringing"},
        )

    @precondition(lambda self: self.call_sid is not None and self.action is not None)
    @rule(keys=KEYS)
    def press(self, keys: str) -> None:
        assert self.call_sid is not None and self.action is not None
        params = {"CallSid": self.call_sid, "From": ANNA, "To": LINE}
        if keys:
            params["Digits"] = keys
        self._post(self.action, params)

    @precondition(lambda self: self.last is not None and self.last[0] != "/twilio/voice/status")
    @rule()
    def repeat_the_last_webhook(self) -> None:
        assert self.last is not None
        path, params, answered = self.last
        action, call_sid = self.action, self.call_sid
        assert self._post(path, params) == answered, "a repeated webhook gets the same answer"
        self.action, self.call_sid = action, call_sid

    @precondition(lambda self: self.call_sid is not None)
    @rule()
    def hang_up(self) -> None:
        assert self.call_sid is not None
        self._post("/twilio/voice/status", {"CallSid": self.call_sid, "CallStatus": "completed"})
        self.call_sid = None

    def teardown(self) -> None:
        # Each example starts afresh: the line remembers earlier calls (a caller refused
        # after too many unknown numbers), and the same keys must get the same answers
        # when hypothesis replays an example.
        with self.db.begin() as connection:
            for table in ("outbox", "feed_events", "absences", "calls"):
                connection.execute(sa.text(f"DELETE FROM {table}"))  # noqa: S608 - fixed names
        self.references.clear()

    @invariant()
    def every_call_has_a_record_in_a_known_state(self) -> None:
        for call in rows(self.db, "SELECT status, unknown_pupils, refused_reason FROM calls"):
            assert call["status"] in ("in-progress", "refused", "completed")
            assert call["unknown_pupils"] >= 0
            assert (call["status"] == "refused") == (call["refused_reason"] is not None)

    @invariant()
    def every_absence_is_valid_and_recorded_once(self) -> None:
        absences = rows(
            self.db,
            "SELECT a.*, p.id AS real_pupil FROM absences a "
            "LEFT JOIN pupils p ON p.id = a.pupil_id",
        )
        assert {a["reference"] for a in absences} == self.references, "each report once"
        for absence in absences:
            assert absence["real_pupil"] is not None
            start, end = _day(absence["start_date"]), _day(absence["end_date"])
            assert TODAY <= start <= end <= TODAY + timedelta(days=90)
            end_time = _time(absence["end_time"])
            if start == end and end_time is not None:
                assert end_time > (_time(absence["start_time"]) or time(0))
        assert len({(a["call_sid"], a["number_in_call"]) for a in absences}) == len(absences)


def _day(value: object) -> date:
    return date.fromisoformat(value) if isinstance(value, str) else value  # type: ignore[return-value]


def _time(value: object) -> time | None:
    if value is None:
        return None
    return time.fromisoformat(value) if isinstance(value, str) else value  # type: ignore[return-value]


def test_random_calls_keep_every_invariant(live_server: LiveServer, db: sa.Engine) -> None:
    with httpx.Client(timeout=10) as client:
        machines: list[RandomCalls] = []

        def machine() -> RandomCalls:
            machines.append(RandomCalls(live_server, db, client))
            return machines[-1]

        run_state_machine_as_test(
            machine,  # type: ignore[arg-type]  # a factory works; the stubs ask for the class
            settings=settings(
                max_examples=25,
                stateful_step_count=30,
                deadline=None,
                suppress_health_check=[HealthCheck.too_slow],
            ),
        )
    total = sum(m.requests for m in machines)
    assert total > 100
    print(f"random calls: {len(machines)} machines, {total} webhooks")
