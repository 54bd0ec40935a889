"""``ivr outbox``: confirmations waiting to be sent, sent and failed."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.table import Table
from sqlalchemy.orm import Session

from ivr.cli.common import (
    console,
    fail,
    with_session,
)
from ivr.domain.statuses import MessageStatus
from ivr.settings import Settings
from ivr.store.outbox import list_messages, requeue

app = typer.Typer(help="Confirmations waiting to be sent, sent and failed.", no_args_is_help=True)


@app.command("list")
def outbox_list(
    status: Annotated[
        str | None,
        typer.Option(help=f"Only messages with this status: {', '.join(MessageStatus)}."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON for scripts.")] = False,
    limit: Annotated[int, typer.Option(help="At most this many, newest first.")] = 200,
) -> None:
    """Confirmations: pending, sent and failed, and why."""
    if status is not None and status not in set(MessageStatus):
        raise fail(f"status must be one of {', '.join(MessageStatus)}")

    def work(session: Session, _settings: Settings) -> list[dict[str, object]]:
        return [
            {
                "id": message.id,
                "absence_reference": reference,
                "kind": message.kind,
                "channel": message.channel,
                "to": message.address,
                "language": message.language,
                "status": message.status,
                "attempts": message.attempts,
                "next_attempt_at": message.next_attempt_at.isoformat(),
                "sent_at": message.sent_at.isoformat() if message.sent_at else None,
                "provider_id": message.provider_id,
                "last_error": message.last_error,
                "body": message.body,
            }
            for message, reference in list_messages(session, status, limit)
        ]

    rows = with_session(work)
    if as_json:
        sys.stdout.write(json.dumps(rows, ensure_ascii=False, indent=2) + "\n")
        return
    table = Table("absence", "channel", "to", "status", "attempts", "last error")
    for row in rows:
        table.add_row(
            str(row["absence_reference"]),
            str(row["channel"]),
            str(row["to"]),
            str(row["status"]),
            str(row["attempts"]),
            str(row["last_error"] or ""),
        )
    console.print(table)


@app.command("retry")
def outbox_retry(
    reference: Annotated[str, typer.Argument(help="The absence reference (as in the SMS).")],
) -> None:
    """Send the failed confirmations of an absence again."""

    def work(session: Session, _settings: Settings) -> int:
        return requeue(session, reference.strip().upper(), datetime.now(UTC))

    count = with_session(work)
    if count == 0:
        raise fail(f"no failed confirmation of an absence {reference!r}")
    console.print(f"{count} confirmation(s) of {reference.upper()} queued again.")
