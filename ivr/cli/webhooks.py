"""``ivr webhook``: the endpoints where schools' own systems take absence events."""

from __future__ import annotations

import json
import sys
import time
from datetime import UTC, datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import typer
from sqlalchemy.orm import Session

from ivr.cli.common import console, fail, organisation_named, with_session
from ivr.domain.statuses import MessageStatus
from ivr.services.webhooks import (
    EVENTS,
    EndpointSecrets,
    InvalidEndpoint,
    check_events,
    check_url,
    new_secret,
    ping_body,
    shown_url,
)
from ivr.settings import Settings
from ivr.store.models import Organisation
from ivr.store.webhooks import (
    EndpointState,
    add_endpoint,
    find_endpoint,
    list_endpoints,
    message_state,
    queue_ping,
    remove_endpoint,
)

app = typer.Typer(
    help="Absence events POSTed to schools' own systems, signed (Standard Webhooks).",
    no_args_is_help=True,
)

Org = Annotated[str | None, typer.Option(help="Organisation (needed if there are several).")]


@app.command("add")
def webhook_add(
    url: Annotated[str, typer.Argument(help="Where to POST the events (https).")],
    event: Annotated[
        list[str] | None,
        typer.Option(
            "--event", help=f"{', '.join(EVENTS)}; repeat for more (default: every event)."
        ),
    ] = None,
    org: Org = None,
) -> None:
    """Register an endpoint. Its signing secret is printed once only. It is sent the events
    from now on, not earlier ones."""
    secret = new_secret()

    def work(session: Session, settings: Settings) -> tuple[int, str, str, list[str]]:
        try:
            events = check_events(event or [])
            checked = check_url(url, development=settings.env == "development")
        except InvalidEndpoint as invalid:
            raise fail(str(invalid)) from None
        organisation = organisation_named(session, org)
        sealed = EndpointSecrets(settings.personal_number_key).seal(
            secret, organisation.id, checked
        )
        endpoint = add_endpoint(
            session, organisation.id, checked, events, sealed, datetime.now(UTC)
        )
        return endpoint.id, organisation.name, checked, events

    endpoint_id, organisation, checked, events = with_session(work)
    console.print(
        f"Webhook endpoint {endpoint_id} for {organisation}: {checked} "
        f"({', '.join(events)}). It gets the events from now on, none from before.",
        soft_wrap=True,
    )
    console.print(
        "Its signing secret is shown only now, and cannot be shown again; give it to the "
        "receiving system, which verifies every request with it:"
    )
    typer.echo(secret)


def _as_dict(state: EndpointState) -> dict[str, Any]:
    endpoint = state.endpoint

    def moment(at: datetime | None) -> str | None:
        return at.isoformat() if at is not None else None

    return {
        "id": endpoint.id,
        "organisation": state.organisation,
        "url": endpoint.url,
        "events": endpoint.events.split(","),
        "created_at": endpoint.created_at.isoformat(),
        "disabled_at": moment(endpoint.disabled_at),
        "disabled_reason": endpoint.disabled_reason,
        "pending": state.pending,
        "consecutive_failures": endpoint.consecutive_failures,
        "last_error": endpoint.last_error,
        "last_failure_at": moment(endpoint.last_failure_at),
        "last_success_at": moment(endpoint.last_success_at),
        "sent": endpoint.sent_count,
        "retried": endpoint.retry_count,
        "failed": endpoint.failed_count,
    }


@app.command("list")
def webhook_list(
    org: Annotated[str | None, typer.Option(help="Only this organisation's.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON for scripts.")] = False,
) -> None:
    """Every endpoint: its events, what waits for it, its failures and last success."""

    def work(session: Session, _settings: Settings) -> list[dict[str, Any]]:
        organisation_id = organisation_named(session, org).id if org is not None else None
        return [_as_dict(state) for state in list_endpoints(session, organisation_id)]

    rows = with_session(work)
    if as_json:
        sys.stdout.write(json.dumps(rows, ensure_ascii=False, indent=2) + "\n")
        return
    if not rows:
        console.print("No webhook endpoints; add one with `ivr webhook add URL`.")
        return
    for row in rows:
        console.print(_block(row), soft_wrap=True, highlight=False)


def _utc(moment: str | None) -> str:
    return f"{moment[:16].replace('T', ' ')} UTC" if moment else "never"


def _block(row: dict[str, Any]) -> str:
    """One endpoint, a few lines: readable at any width."""
    status = "active"
    if row["disabled_at"]:
        status = f"DISABLED since {_utc(row['disabled_at'])}: {row['disabled_reason']}"
    lines = [
        f"{row['id']}  {row['organisation']}  {row['url']}",
        f"   events: {', '.join(row['events'])}",
        f"   {status}; {row['pending']} pending; {row['consecutive_failures']} failure(s) in a "
        f"row; last success {_utc(row['last_success_at'])}",
        f"   sent {row['sent']}, retried {row['retried']}, failed {row['failed']}",
    ]
    if row["last_error"]:
        lines.append(f"   last error: {row['last_error']} ({_utc(row['last_failure_at'])})")
    return "\n".join(lines)


@app.command("remove")
def webhook_remove(
    endpoint_id: Annotated[int, typer.Argument(help="The endpoint's id (see `list`).")],
) -> None:
    """Remove an endpoint: it is sent nothing more, and what waited for it is dropped."""
    dropped = with_session(lambda session, _settings: remove_endpoint(session, endpoint_id))
    if dropped is None:
        raise fail(f"no webhook endpoint {endpoint_id}; see `ivr webhook list`")
    console.print(
        f"Webhook endpoint {endpoint_id} removed; {dropped} event(s) waiting for it dropped."
    )


@app.command("test")
def webhook_test(
    endpoint_id: Annotated[int, typer.Argument(help="The endpoint's id (see `list`).")],
    wait: Annotated[float, typer.Option(help="Seconds to wait for the answer.")] = 30.0,
) -> None:
    """Send the endpoint a signed `webhook.test` event through the dispatcher (which must
    be running: `ivr worker`, or `ivr serve` on SQLite) and say how the receiver answered.
    It is tried once."""

    def queue(session: Session, _settings: Settings) -> int:
        endpoint = find_endpoint(session, endpoint_id)
        if endpoint is None:
            raise fail(f"no webhook endpoint {endpoint_id}; see `ivr webhook list`")
        if endpoint.disabled_at is not None:
            raise fail(
                f"webhook endpoint {endpoint_id} is disabled ({endpoint.disabled_reason}); "
                "remove it and add it again"
            )
        organisation = session.get(Organisation, endpoint.organisation_id)
        assert organisation is not None
        now = datetime.now(UTC)
        body = ping_body(endpoint.id, organisation.name, now, ZoneInfo(organisation.timezone))
        return queue_ping(session, endpoint, shown_url(endpoint.url), body, now)

    message_id = with_session(queue)
    deadline = time.monotonic() + wait
    while True:
        state = with_session(
            lambda session, _settings: _outcome(session, message_id), upgrade=False, write=False
        )
        if state is not None and state[0] == MessageStatus.SENT:
            console.print(f"The receiver took the test event: HTTP {state[1]}.")
            return
        if state is not None and state[0] == MessageStatus.FAILED:
            raise fail(f"the test event was not taken: {state[2]}")
        if time.monotonic() > deadline:
            raise fail(
                f"the test event was not sent within {wait:g} s: is a dispatcher running "
                "(`ivr worker`, or `ivr serve` on SQLite)? It stays queued."
            )
        time.sleep(0.2)


def _outcome(session: Session, message_id: int) -> tuple[str, str, str] | None:
    message = message_state(session, message_id)
    if message is None:
        return None
    return message.status, message.provider_status or "", message.last_error or ""
