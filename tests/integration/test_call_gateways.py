"""The gateways that place and end outreach calls, against the local Twilio API with the
real ``twilio`` client: what Twilio is asked, and how its refusals are classed (for good,
or to try again)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import pytest

from ivr.notify.sending import Outgoing, PermanentFailure, TemporaryFailure
from ivr.notify.twilio_gateways import TwilioCallGateway, TwilioHangupGateway
from ivr.settings import Settings
from tests.conftest import make_settings
from tests.processes import refused_quickly
from tests.providers import Providers
from tests.roster_data import ANNA

LINE = "http://line.example"
_T = TypeVar("_T")


Gateways = tuple[TwilioCallGateway, TwilioHangupGateway]


def _run(settings: Settings, work: Callable[[Gateways], Awaitable[_T]]) -> _T:
    """``work`` with both gateways, made and closed inside one event loop."""

    async def run() -> _T:
        gateways = (TwilioCallGateway(settings), TwilioHangupGateway(settings))
        try:
            return await work(gateways)
        finally:
            for gateway in gateways:
                await gateway.close()

    return asyncio.run(run())


@pytest.fixture
def settings(providers: Providers) -> Settings:
    return make_settings(
        "sqlite://", LINE, **providers.settings(call_from="+46701740698", send_timeout_seconds=5)
    )


def _call(body: str = "sealed-contact") -> Outgoing:
    return Outgoing(1, "call", ANNA, "Anna Andersson", None, body)


def test_a_call_is_placed_with_the_line_s_signed_routes_and_machine_detection(
    settings: Settings, providers: Providers
) -> None:
    providers.twilio.default_answer = "ring"
    providers.twilio.ring_timeout_seconds = 30

    async def place_and_end(gateways: Gateways) -> tuple[str, str | None]:
        calls, hangups = gateways
        accepted = await calls.send(_call())
        ended = await hangups.send(Outgoing(2, "hangup", accepted.provider_id, "", None, ""))
        again = await hangups.send(Outgoing(3, "hangup", accepted.provider_id, "", None, ""))
        assert again.provider_status == "already ended"
        return accepted.provider_id, ended.provider_status

    sid, ended = _run(settings, place_and_end)

    assert sid.startswith("CA")
    [call] = providers.twilio.calls
    form = call["form"]
    assert (form["To"], form["From"]) == (ANNA, "+46701740698")
    assert form["Url"] == f"{LINE}/twilio/voice/outreach?o=sealed-contact"
    assert form["StatusCallback"] == f"{LINE}/twilio/voice/outreach/status?o=sealed-contact"
    assert form["MachineDetection"] == "Enable"
    assert form["Timeout"] == "30"
    assert call["status_callback_events"] == ["initiated", "ringing", "answered", "completed"]
    assert ended == "canceled", "a call still ringing is cancelled"
    assert [update["Status"] for update in providers.twilio.call_updates] == ["completed"] * 2


def test_ending_a_call_twilio_does_not_know_is_done_already(settings: Settings) -> None:
    sid = "CA" + "0" * 32
    accepted = _run(settings, lambda g: g[1].send(Outgoing(1, "hangup", sid, "", None, "")))
    assert (accepted.provider_id, accepted.provider_status) == (sid, "already ended")


@pytest.mark.parametrize(
    ("status", "code", "failure", "said"),
    [
        (400, 21211, PermanentFailure, "Twilio 400 error 21211"),
        (429, 20429, TemporaryFailure, "Twilio 429 error 20429"),
        (503, None, TemporaryFailure, "Twilio 503"),
        (401, 20003, TemporaryFailure, "Twilio 401 error 20003"),
    ],
)
def test_twilio_refusing_a_call_is_for_good_or_for_now(
    settings: Settings,
    providers: Providers,
    status: int,
    code: int | None,
    failure: type[Exception],
    said: str,
) -> None:
    providers.twilio.fail_next(status, code, times=2)
    with pytest.raises(failure, match=said):
        _run(settings, lambda g: g[0].send(_call()))
    with pytest.raises(failure, match=said):
        _run(settings, lambda g: g[1].send(Outgoing(2, "hangup", "CA" + "1" * 32, "", None, "")))
    assert providers.twilio.calls == []


def test_twilio_unreachable_is_tried_again(providers: Providers) -> None:
    settings = make_settings(
        "sqlite://",
        LINE,
        **providers.settings(twilio_api_base_url=f"http://127.0.0.1:{refused_quickly()}"),
    )
    with pytest.raises(TemporaryFailure, match="Twilio unreachable"):
        _run(settings, lambda g: g[0].send(_call()))
    with pytest.raises(TemporaryFailure, match="Twilio unreachable"):
        _run(settings, lambda g: g[1].send(Outgoing(2, "hangup", "CA" + "1" * 32, "", None, "")))
