"""The contact teachers' daily digest: one email per contact teacher with the group's
reported absences for the day, at ``IVR_DIGEST_TIME`` (07:45 by default) in the
organisation's time zone.

Whatever process runs the dispatcher queues the digests (``DigestSchedule``, at most once a
minute) and sends them like every other message, through the outbox. A group gets one
digest a day however many processes do this at once: the digest is claimed by a row in
``digests``, unique per school, group and day, written in the same transaction as the
emails; a process that loses the claim queues nothing.

A group with no active reported absence that day gets no email: an empty digest every
morning would teach teachers to skip it. A digest is sent once: reports made after it was
queued are on the staff page, not in a second email. A process that starts after the
digest time sends the day's digests then, until midnight.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from datetime import date, datetime
from functools import partial
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from ivr.domain.names import PupilName
from ivr.domain.statuses import AbsenceStatus
from ivr.i18n import Catalogue
from ivr.i18n.lookup import Catalogues
from ivr.services.staff_texts import caller_note, caller_text, local, period_text, pupil_name
from ivr.settings import Settings
from ivr.store import feed
from ivr.store.db import Database
from ivr.store.feed import AbsenceFilter, StaffAbsence
from ivr.store.lines import list_organisations
from ivr.store.models import ContactTeacher, Organisation
from ivr.store.outbox import Draft, queue
from ivr.store.staff import DueGroup, claim_digest, contact_teachers, groups_due_a_digest

log = logging.getLogger(__name__)

KIND = "digest"


def digest_drafts(
    group: DueGroup,
    day: date,
    items: Sequence[StaffAbsence],
    teachers: Sequence[ContactTeacher],
    catalogue: Catalogue,
) -> list[Draft]:
    """One email per teacher listing the group's absences, pupils by name; a pupil whose
    identity is protected is not named (nor the number the report came from): "a pupil in
    5A" with the report's reference, to look up on the staff page."""
    ordered = sorted(items, key=lambda i: (*PupilName.of(i.pupil).order(), i.absence.id))
    lines = "\n".join(_line(catalogue, item) for item in ordered)
    values = {"group": group.group, "school": group.school, "date": day, "count": len(ordered)}
    return [
        Draft(
            kind=KIND,
            recipient=f"teacher:{teacher.id}",
            recipient_name=teacher.name,
            channel="email",
            address=teacher.email,
            language=catalogue.language,
            subject=catalogue.text("digest.subject", **values),
            body=catalogue.text(
                "digest.body", **values, teacher_name=teacher.name, absences=lines
            ).strip()
            + "\n",
        )
        for teacher in teachers
    ]


def _line(catalogue: Catalogue, item: StaffAbsence) -> str:
    period = period_text(catalogue, item, short=False)
    if PupilName.of(item.pupil).is_protected:
        return catalogue.text(
            "digest.line_protected",
            group=item.pupil.group_name,
            reference=item.absence.reference,
            period=period,
        )
    return catalogue.text(
        "digest.line",
        pupil=pupil_name(item),
        period=period,
        time=local(item, item.absence.reported_at).time(),
        caller=caller_text(item),
        caller_note=caller_note(catalogue, item),
    )


def _queue_group(
    session: Session,
    group: DueGroup,
    day: date,
    now: datetime,
    catalogue: Catalogue,
) -> int:
    which = AbsenceFilter([group.school_id], day, day, group.group)
    items = feed.load_absences(
        session, feed.absences_covering(session, which, status=AbsenceStatus.ACTIVE)
    )
    items = [item for item in items if item.pupil.active]  # not those who have left
    teachers = contact_teachers(session, group.school_id, group.group)
    if not items or not teachers:
        return 0
    if not claim_digest(session, group.school_id, group.group, day, len(items), now):
        return 0
    drafts = digest_drafts(group, day, items, teachers, catalogue)
    return queue(session.connection(), None, drafts, now)


async def queue_due_digests(database: Database, now: datetime, settings: Settings) -> int:
    """Queue every digest due at ``now``; how many emails were queued. Each group is one
    transaction. A group without an active reported absence that day is sent nothing."""
    catalogues = Catalogues(settings.language, settings.catalogue_dir)
    organisations: list[Organisation] = await database.run(list_organisations)
    queued = 0
    for organisation in organisations:
        local_now = now.astimezone(ZoneInfo(organisation.timezone))
        if local_now.time() < settings.digest_time:
            continue
        day = local_now.date()
        due = await database.run(
            partial(groups_due_a_digest, organisation_id=organisation.id, day=day)
        )
        catalogue = catalogues(organisation.language)
        for group in due:
            queued += await database.run(
                partial(_queue_group, group=group, day=day, now=now, catalogue=catalogue)
            )
    if queued:
        log.info("daily digests queued", extra={"emails": queued})
    return queued


class DigestSchedule:
    """Queues the due digests from a dispatcher's loop, at most once a minute. A failure is
    logged and tried again a minute later; it never stops the dispatcher."""

    INTERVAL_SECONDS = 60.0

    def __init__(
        self,
        database: Database,
        settings: Settings,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.database = database
        self.settings = settings
        self.monotonic = monotonic
        self.last_run: float | None = None

    async def tick(self, now: datetime) -> int:
        moment = self.monotonic()
        if self.last_run is not None and moment - self.last_run < self.INTERVAL_SECONDS:
            return 0
        self.last_run = moment
        try:
            return await queue_due_digests(self.database, now, self.settings)
        except Exception:
            log.exception("could not queue the daily digests")
            return 0
