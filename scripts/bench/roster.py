"""The roster: fictional pupils with Skatteverket-shaped test numbers and guardians."""

from __future__ import annotations

import csv
from datetime import timedelta
from pathlib import Path

from stdnum import luhn

from bench.config import (
    BIRTH_FROM,
    CSV_HEADER,
    FICTIONAL_PHONES,
    FIRST_NAMES,
    GUARDIAN_LANGUAGES,
    LAST_NAMES,
    NUMBER_SLOTS,
    NUMBER_STRIDE,
    PUPILS_PER_SCHOOL,
)


def personal_number(index: int) -> str:
    """Pupil ``index``'s personal number, ``YYYYMMDDNNNC``: born 2008-2020, valid check digit,
    unique for every index below ``NUMBER_SLOTS``."""
    slot = (index * NUMBER_STRIDE) % NUMBER_SLOTS
    born = BIRTH_FROM + timedelta(days=slot // 1000)
    nine = f"{born:%y%m%d}{slot % 1000:03d}"
    return f"{born.year // 100}{nine}{luhn.calc_check_digit(nine)}"


def guardian_phone(index: int) -> str:
    """The phone of pupil ``index``'s first guardian, who places the calls."""
    return FICTIONAL_PHONES[(index * 37) % len(FICTIONAL_PHONES)]


def has_second_guardian(index: int) -> bool:
    return index % 2 == 0


def expected_confirmations(index: int) -> int:
    """Outbox rows per absence: SMS and email to the first guardian, email to the second."""
    return 2 + has_second_guardian(index)


def pupil_external_id(index: int) -> str:
    return f"B{index:07d}"


def phone_guardian(phone: str) -> tuple[str, str, str, str]:
    """A guardian is known by phone number, so everything about one follows from it."""
    n = int(phone[-3:])
    name = f"{FIRST_NAMES[n % len(FIRST_NAMES)]} {LAST_NAMES[n % len(LAST_NAMES)]}"
    return name, phone, f"guardian{n}@example.com", GUARDIAN_LANGUAGES[n % 10]


def write_roster(path: Path, first: int, end: int) -> int:
    """Stream pupils ``first`` to ``end - 1`` into a roster CSV; returns its data rows."""
    guardians = {phone: phone_guardian(phone) for phone in FICTIONAL_PHONES}
    rows = 0
    with path.open("w", newline="", encoding="utf-8", buffering=1 << 20) as file:
        writer = csv.writer(file)
        writer.writerow(CSV_HEADER)
        for index in range(first, end):
            first_name = FIRST_NAMES[index % len(FIRST_NAMES)]
            last_name = LAST_NAMES[(index // len(FIRST_NAMES)) % len(LAST_NAMES)]
            pupil = (
                f"School {index // PUPILS_PER_SCHOOL + 1}",
                pupil_external_id(index),
                personal_number(index),
                first_name,
                last_name,
                f"{index % 9 + 1}{'ABCD'[(index // 9) % 4]}",
            )
            writer.writerow((*pupil, *guardians[guardian_phone(index)], "", ""))
            rows += 1
            if has_second_guardian(index):
                second = (f"Guardian {index} {last_name}", "", f"g{index}@example.com", "")
                writer.writerow((*pupil, *second, "", ""))
                rows += 1
    return rows
