"""Everything the line logs during the test run, checked at the end for personal numbers.

Every log record of the test process (from any thread) is kept, formatted with all its
fields, and the logs of the server and worker processes the tests start are read too. A
test personal number found whole in any of them fails the run.
"""

from __future__ import annotations

import json
import logging
import re
from functools import cache
from pathlib import Path

from ivr.roster.demo import demo_personal_numbers
from tests import roster_data

SHARED_LISTS = Path(__file__).resolve().parents[2] / "shared" / "data" / "test-personnummer"
LOG_FILES: list[Path] = []
_DIGITS = re.compile(r"(?<!\d)(\d{6,8})[-+]?(\d{4})(?!\d)")


@cache
def known_numbers() -> frozenset[str]:
    """The test personal numbers the suite uses, in their 10-digit form."""
    numbers = {number[-10:] for number in demo_personal_numbers()}
    numbers |= {
        value
        for name, value in vars(roster_data).items()
        if name.isupper() and isinstance(value, str) and value.isdigit() and len(value) == 10
    }
    for name in ("personnummer.json", "samordningsnummer.json"):
        path = SHARED_LISTS / name
        if path.is_file():
            numbers |= {number[-10:] for number in json.loads(path.read_text())}
    return frozenset(numbers)


def personal_numbers_in(text: str) -> set[str]:
    found = set()
    for match in _DIGITS.finditer(text):
        candidate = (match.group(1) + match.group(2))[-10:]
        if len(match.group(1) + match.group(2)) in (10, 12) and candidate in known_numbers():
            found.add(candidate)
    return found


class Collector(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            fields = {k: v for k, v in record.__dict__.items() if k not in ("msg", "args")}
            self.lines.append(f"{record.getMessage()} {fields}")
        except Exception:  # noqa: BLE001 - a record that cannot be formatted is not evidence
            self.lines.append(str(record.msg))


COLLECTOR = Collector()


def leaks() -> list[str]:
    """Where a personal number appeared whole, described without the number itself."""
    found: list[str] = []
    for index, line in enumerate(COLLECTOR.lines):
        for number in personal_numbers_in(line):
            found.append(f"log record {index}: {number[:6]}-**** in {line[:80]!r}...")
    for path in LOG_FILES:
        if path.is_file():
            for number in personal_numbers_in(path.read_text(errors="replace")):
                found.append(f"{path.name}: {number[:6]}-****")
    return found
