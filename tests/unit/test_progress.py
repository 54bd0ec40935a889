"""A call's progress in the gather URL: every state comes back as it went, the same state
in the same call always gives the same URL, and nothing in it can be read, changed or moved
to another call."""

from __future__ import annotations

import base64
from datetime import date, time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ivr.flows import CallState, Step
from ivr.voice.progress import LONGEST_TOKEN, CallProgress, InvalidProgress, ProgressTokens

TOKENS = ProgressTokens(b"test-secret-key-of-sufficient-length-123")
CALL = "CA" + "1" * 32
PROGRESS = CallProgress(
    organisation_id=3,
    timezone="Europe/Stockholm",
    country="SE",
    language="sv",
    state=CallState(
        step=Step.END_TIME,
        pupil_id=123456,
        start_date=date(2026, 11, 27),
        start_time=time(8, 15),
        end_date=date(2026, 11, 27),
    ),
)

states = st.builds(
    CallState,
    step=st.sampled_from(Step),
    failures=st.integers(0, 9),
    pupil_id=st.none() | st.integers(1, 2**40),
    start_date=st.none() | st.dates(),
    start_time=st.none() | st.times().map(lambda moment: moment.replace(microsecond=0)),
    end_date=st.none() | st.dates(),
    end_time=st.none() | st.times().map(lambda moment: moment.replace(microsecond=0)),
    reports=st.integers(0, 20),
    unknown_pupils=st.integers(0, 20),
    offer=st.none() | st.sampled_from(["en", "nb", "sv"]),
)


@given(
    state=states,
    organisation_id=st.integers(1, 2**31),
    timezone=st.sampled_from(["Europe/Stockholm", "Europe/Oslo"]),
    language=st.sampled_from(["sv", "en", "nb"]),
)
def test_every_progress_comes_back_as_it_went(
    state: CallState, organisation_id: int, timezone: str, language: str
) -> None:
    progress = CallProgress(organisation_id, timezone, "SE", language, state)
    token = TOKENS.seal(progress, CALL)
    assert TOKENS.open(token, CALL) == progress
    assert len(token) < LONGEST_TOKEN
    assert token.replace("-", "").replace("_", "").isalnum(), "URL-safe without escaping"


def test_the_same_progress_in_the_same_call_is_the_same_url() -> None:
    """A repeated webhook is answered with exactly the same TwiML."""
    assert TOKENS.seal(PROGRESS, CALL) == TOKENS.seal(PROGRESS, CALL)
    assert TOKENS.seal(PROGRESS, CALL) != TOKENS.seal(PROGRESS, "CA" + "2" * 32)


def test_nothing_about_the_pupil_or_the_report_can_be_read() -> None:
    token = TOKENS.seal(PROGRESS, CALL)
    plain = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    for visible in (b"123456", b"2026-11-27", b"08:15", b"Stockholm", b"end_time"):
        assert visible not in plain


@pytest.mark.parametrize(
    "tamper",
    [
        lambda token: token[:-2] + ("AA" if token[-2:] != "AA" else "BB"),
        lambda token: token[:10],
        lambda token: "",
        lambda token: "not a token at all",
        lambda token: "x" * (LONGEST_TOKEN + 1),
        lambda token: token + "é",
    ],
)
def test_a_changed_or_foreign_token_is_refused(tamper: object) -> None:
    assert callable(tamper)
    with pytest.raises(InvalidProgress):
        TOKENS.open(tamper(TOKENS.seal(PROGRESS, CALL)), CALL)


def test_a_token_does_not_open_in_another_call_or_under_another_key() -> None:
    token = TOKENS.seal(PROGRESS, CALL)
    with pytest.raises(InvalidProgress):
        TOKENS.open(token, "CA" + "2" * 32)
    with pytest.raises(InvalidProgress):
        ProgressTokens(b"another-secret-key-of-sufficient-length").open(token, CALL)
