"""A fresh database per run, and the check of what it holds against what callers were told."""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa

from bench.load import LoadResult
from bench.roster import expected_confirmations, pupil_external_id


@contextlib.contextmanager
def fresh_database(kind: str, workdir: Path, admin_url: str) -> Iterator[str]:
    """A new, empty database for one run, removed afterwards."""
    if kind == "sqlite":
        yield f"sqlite:///{workdir / 'bench.db'}"
        return
    name = f"ivr_bench_{secrets.token_hex(6)}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
        try:
            yield sa.make_url(admin_url).set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as connection:
                connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


@dataclass
class Check:
    """The database against what the callers were told."""

    absences: int = 0
    references_seen: int = 0
    outbox: int = 0
    outbox_expected: int = 0
    calls_completed: int = 0
    statuses_accepted: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def check_database(database_url: str, result: LoadResult) -> Check:
    check = Check(references_seen=len(result.recorded), statuses_accepted=result.statuses_accepted)
    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as connection:
            absences = connection.execute(
                sa.text(
                    "SELECT a.id, a.reference, a.call_sid, p.external_id"
                    " FROM absences a JOIN pupils p ON p.id = a.pupil_id"
                )
            ).all()
            confirmations: dict[int, int] = dict(
                connection.execute(
                    sa.text("SELECT absence_id, count(*) FROM outbox GROUP BY absence_id")
                ).all()
            )
            check.absences = int(connection.scalar(sa.text("SELECT count(*) FROM absences")) or 0)
            check.outbox = int(connection.scalar(sa.text("SELECT count(*) FROM outbox")) or 0)
            check.calls_completed = int(
                connection.scalar(sa.text("SELECT count(*) FROM calls WHERE status = 'completed'"))
                or 0
            )
    finally:
        engine.dispose()
    stored = {
        reference: (call_sid, pupil, int(confirmations.get(absence_id, 0)))
        for absence_id, reference, call_sid, pupil in absences
    }
    check.outbox_expected = sum(expected_confirmations(r.pupil) for r in result.recorded.values())
    problems = check.problems
    if result.duplicate_references:
        problems.append(f"{result.duplicate_references} reference(s) given to two reports")
    if check.absences != check.references_seen:
        problems.append(
            f"{check.absences} absences stored, {check.references_seen} references given to callers"
        )
    wrong = [
        reference
        for reference, told in result.recorded.items()
        if stored.get(reference, ("", "", -1))[:2] != (told.call_sid, pupil_external_id(told.pupil))
    ]
    if wrong:
        problems.append(f"{len(wrong)} reference(s) missing or for another call or pupil")
    unseen = stored.keys() - result.recorded.keys()
    if unseen:
        problems.append(f"{len(unseen)} stored absence(s) no caller was told about")
    short = [
        reference
        for reference, told in result.recorded.items()
        if reference in stored and stored[reference][2] != expected_confirmations(told.pupil)
    ]
    if short:
        problems.append(f"{len(short)} absence(s) with another number of confirmations")
    if check.outbox != check.outbox_expected:
        problems.append(f"{check.outbox} outbox rows, {check.outbox_expected} expected")
    if check.calls_completed != check.statuses_accepted:
        problems.append(
            f"{check.calls_completed} calls completed in the database, "
            f"{check.statuses_accepted} status callbacks accepted"
        )
    return check
