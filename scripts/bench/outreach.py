"""The missing-pupil benchmark's ground: a roster with two guardians per pupil (fictional
phones), the contact teachers who get the alerts, and the local providers, run in the
benchmark's own process so that every SMS, call and email is timed as it arrives."""

from __future__ import annotations

import csv
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from bench.config import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    FICTIONAL_PHONES,
    FIRST_NAMES,
    LAST_NAMES,
    PUPILS_PER_SCHOOL,
)
from bench.processes import free_port
from bench.roster import personal_number, phone_guardian, pupil_external_id
from ivr.devtools.providers import FakeTwilio, HttpServer, SmtpServer, SmtpSink
from ivr.roster.csv_file import OPTIONAL_COLUMNS, REQUIRED_COLUMNS

SMS_FROM = "+46701740698"
CALL_FROM = "+46701740697"
MAIL_FROM = "franvaro@example.org"
# Fictional numbers (PTS): most guardians share the first 80, as the series is short; each
# answering guardian has one of their own, and so has each contact teacher.
SHARED = FICTIONAL_PHONES[:80]
ANSWERERS = FICTIONAL_PHONES[80:87]
TEACHERS = FICTIONAL_PHONES[87:94]


@dataclass
class Arrivals:
    """When each SMS to a guardian, call and email reached the local providers (monotonic
    seconds), appended by the providers' own threads."""

    guardians: frozenset[str]
    sms: list[float] = field(default_factory=list)
    calls: list[float] = field(default_factory=list)
    emails: list[tuple[float, str]] = field(default_factory=list)

    def on_sms(self, message: dict[str, str]) -> None:
        if message["To"] in self.guardians:
            self.sms.append(time.monotonic())

    def on_call(self, _call: dict[str, Any]) -> None:
        self.calls.append(time.monotonic())

    def on_email(self, message: EmailMessage) -> None:
        self.emails.append((time.monotonic(), str(message["To"])))


@contextmanager
def local_providers(arrivals: Arrivals) -> Iterator[tuple[FakeTwilio, int, int]]:
    twilio = FakeTwilio(ACCOUNT_SID, AUTH_TOKEN, on_message=arrivals.on_sms)
    twilio.on_call = arrivals.on_call
    http = HttpServer(twilio.app(), free_port())
    http.start()
    smtp = SmtpServer(SmtpSink(on_message=arrivals.on_email), free_port())
    smtp.start()
    try:
        yield twilio, int(http.url.rsplit(":", 1)[1]), smtp.port
    finally:
        smtp.stop()
        http.stop()


def school_of(index: int) -> str:
    return f"School {index // PUPILS_PER_SCHOOL + 1}"


def group_of(index: int) -> str:
    return f"{index % 9 + 1}{'ABCD'[(index // 9) % 4]}"


def is_missing(index: int, pupils: int, missing: int) -> bool:
    return index % max(1, pupils // missing) == 0


def write_roster(path: Path, pupils: int, answering: dict[int, str]) -> None:
    """Two guardians with phones per pupil; the answering pupils' second guardian has a
    phone of their own."""
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow((*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS))
        for index in range(pupils):
            pupil = (
                school_of(index),
                pupil_external_id(index),
                personal_number(index),
                FIRST_NAMES[index % len(FIRST_NAMES)],
                LAST_NAMES[(index // len(FIRST_NAMES)) % len(LAST_NAMES)],
                group_of(index),
            )
            first = SHARED[index % len(SHARED)]
            second = answering.get(index) or SHARED[(index * 7 + 3) % len(SHARED)]
            if second == first:
                second = SHARED[(index + 1) % len(SHARED)]
            for phone in (first, second):
                writer.writerow((*pupil, *phone_guardian(phone), "", ""))


def write_teachers(path: Path, answering: dict[int, str]) -> dict[int, str]:
    """A contact teacher (email and phone) for each answering pupil's group; their emails."""
    emails = {}
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(("school", "group", "name", "email", "phone"))
        for number, index in enumerate(answering):
            emails[index] = f"teacher{number}@example.org"
            writer.writerow(
                (
                    school_of(index),
                    group_of(index),
                    f"Teacher {number}",
                    emails[index],
                    TEACHERS[number],
                )
            )
    return emails
