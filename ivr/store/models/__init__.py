"""The tables. Every query lives in the repository modules of ``ivr.store``."""

from ivr.store.models.base import NAMING_CONVENTION, Base, UTCDateTime, table_of, utc_now
from ivr.store.models.messages import OutboxMessage
from ivr.store.models.outreach import Lease, Outreach, OutreachContact, OutreachEvent
from ivr.store.models.reports import Absence, Call, FeedEvent
from ivr.store.models.roster import (
    Guardian,
    InboundNumber,
    Organisation,
    Pupil,
    PupilGuardian,
    RosterSync,
    School,
)
from ivr.store.models.sign_in import AuditEntry, SignInProvider, StaffGrant, StaffSession
from ivr.store.models.staff import ContactTeacher, Digest, StaffToken, StaffTokenSchool
from ivr.store.models.webhooks import WebhookEndpoint

__all__ = [
    "NAMING_CONVENTION",
    "Absence",
    "AuditEntry",
    "Base",
    "Call",
    "ContactTeacher",
    "Digest",
    "FeedEvent",
    "Guardian",
    "InboundNumber",
    "Lease",
    "Organisation",
    "OutboxMessage",
    "Outreach",
    "OutreachContact",
    "OutreachEvent",
    "Pupil",
    "PupilGuardian",
    "RosterSync",
    "School",
    "SignInProvider",
    "StaffGrant",
    "StaffSession",
    "StaffToken",
    "StaffTokenSchool",
    "UTCDateTime",
    "WebhookEndpoint",
    "table_of",
    "utc_now",
]
