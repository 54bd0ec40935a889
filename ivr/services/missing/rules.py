"""What an outreach follows: the kinds of its messages, the settings, the sealing of call URLs."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from ivr.domain.statuses import OutreachStatus
from ivr.i18n import Catalogue
from ivr.i18n.lookup import Catalogues
from ivr.settings import Settings
from ivr.twilio.sealed import OutreachTokens

log = logging.getLogger(__name__)

SMS_KIND = "missing"
CALL_KIND = "missing_call"
RECALL_KIND = "missing_recall"
HANGUP_KIND = "missing_hangup"
ANSWERED_KIND = "missing_answered"
ARRIVED_KIND = "missing_arrived"
ALERT_KIND = "missing_alert"
RESOLVED_KIND = "missing_resolved"
CALL_KINDS = (CALL_KIND, RECALL_KIND)
OPEN = (OutreachStatus.ACTIVE, OutreachStatus.MISSING)

CatalogueFor = Callable[[str | None], Catalogue]


@dataclass(frozen=True, slots=True)
class Rules:
    """What the outreach follows: the settings and the sealing of call URLs."""

    escalate_after: timedelta
    recall_after: timedelta
    tokens: OutreachTokens
    catalogue_for: CatalogueFor


def missing_rules(settings: Settings) -> Rules:
    return Rules(
        escalate_after=timedelta(minutes=settings.missing_escalate_minutes),
        recall_after=timedelta(minutes=settings.missing_recall_minutes),
        tokens=OutreachTokens(settings.personal_number_key),
        catalogue_for=Catalogues(settings.language, settings.catalogue_dir),
    )


def local_time(now: datetime, timezone: str) -> datetime:
    return now.astimezone(ZoneInfo(timezone))
