"""Schemathesis against the OpenAPI document of every HTTP route: generated requests, valid
and not, never get a 500 and every answer matches what the document says. The staff
sign-in's routes (login, the provider's callback, logout) are in the document and fuzzed
with the rest: a forged callback or a logout without the page's form is refused with a
documented answer, never an error."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import checks
from schemathesis.core.result import Err
from schemathesis.generation.case import Case

from ivr.app import create_app
from tests.clock import Clock
from tests.conftest import make_settings
from tests.roster_data import seed_roster
from tests.staff import issue_token

CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
]


@pytest.fixture
def staff_token(database_url: str, clock: Clock) -> str:
    settings = make_settings(database_url)
    seed_roster(settings, clock.now.date())
    return issue_token(settings, "Solskolan", label="fuzz")


@pytest.fixture
def api(database_url: str, clock: Clock, staff_token: str) -> schemathesis.schemas.BaseSchema:
    app = create_app(make_settings(database_url), clock=clock)
    return schemathesis.openapi.from_asgi("/openapi.json", app)


def test_every_route_keeps_to_its_schema(
    api: schemathesis.schemas.BaseSchema, staff_token: str
) -> None:
    headers = {"Authorization": f"Bearer {staff_token}"}
    tried: dict[str, int] = {}
    for result in api.get_all_operations():
        if isinstance(result, Err):
            raise result.err()
        operation = result.ok()
        count = 0

        @given(case=operation.as_strategy())
        @settings(
            max_examples=60,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        )
        def keeps_to_schema(case: Case[Any]) -> None:
            nonlocal count
            count += 1
            case.call_and_validate(headers=headers, checks=CHECKS)

        keeps_to_schema()
        tried[operation.label] = count
    assert len(tried) >= 15, tried
    signing_in = {"GET /staff/login", "GET /staff/callback", "POST /staff/logout"}
    assert signing_in <= tried.keys(), "the staff sign-in's routes are fuzzed too"
    print(f"schemathesis: {sum(tried.values())} requests over {len(tried)} routes")
