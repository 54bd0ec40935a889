"""Placing simulated calls against the live test server."""

from __future__ import annotations

import httpx

from ivr.cli.simulator import CallResult, CallSimulator, keys_from_list
from tests.conftest import AUTH_TOKEN, LiveServer
from tests.roster_data import ANNA, LINE


def place_call(
    server: LiveServer, *keys: str, caller: str = ANNA, called: str = LINE
) -> CallResult:
    """Call the line and press ``keys`` at the prompts in turn, then hang up."""
    with httpx.Client(timeout=10) as client:
        simulator = CallSimulator(server.url, AUTH_TOKEN, caller, called, client=client)
        return simulator.place(keys_from_list(list(keys)))


def heard(result: CallResult) -> str:
    return "\n".join(result.heard)
