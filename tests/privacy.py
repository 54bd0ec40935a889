"""Everything the line logs during the test run, checked at the end for personal numbers.

Every log record of the test process (from any thread) is kept, formatted with all its
fields, and the logs of the server and worker processes the tests start are read too. A
test personal number found whole in any of them fails the run.
"""

from __future__ import annotations

import logging
import re
from functools import cache
from pathlib import Path

from ivr.roster.demo import demo_norwegian_pupils, demo_personal_numbers
from tests import official, roster_data

LOG_FILES: list[Path] = []
# Digits, each group joined to the next by at most one space, "-" or "+": a number written
# "150101-2395", "20150101 2395", "251115 47247" or whole. Every window of 10 and 11 digits
# of such a run is looked up, so a number stays found when other digits stand beside it.
_DIGIT_RUN = re.compile(r"\d(?:[ \-+]?\d)*")
_SEPARATORS = re.compile(r"[ \-+]")
SWEDISH = 10  # the 12-digit form holds the 10-digit one
NORWEGIAN = 11


@cache
def known_numbers() -> frozenset[str]:
    """The test numbers the suite uses: Swedish in their 10-digit form (the demo, the test
    roster, Skatteverket's lists) and Norwegian fødselsnummer and D-numbers (11 digits)."""
    numbers = {number[-SWEDISH:] for number in demo_personal_numbers()}
    numbers |= {pupil.personal_number for pupil in demo_norwegian_pupils()}
    numbers |= {
        value
        for name, value in vars(roster_data).items()
        if name.isupper() and isinstance(value, str) and value.isdigit()
        if len(value) in (SWEDISH, NORWEGIAN)
    }
    for name in official.LISTS:
        numbers |= {number[-SWEDISH:] for number in official.load(name) or ()}
    return frozenset(numbers)


def personal_numbers_in(text: str) -> set[str]:
    found = set()
    known = known_numbers()
    for run in _DIGIT_RUN.finditer(text):
        digits = _SEPARATORS.sub("", run.group(0))
        for length in (SWEDISH, NORWEGIAN):
            for offset in range(len(digits) - length + 1):
                window = digits[offset : offset + length]
                if window in known:
                    found.add(window)
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
            found.append(f"log record {index}: {number[:6]}-**** in {_masked(line)[:80]!r}...")
    for path in LOG_FILES:
        if path.is_file():
            for number in personal_numbers_in(path.read_text(errors="replace")):
                found.append(f"{path.name}: {number[:6]}-****")
    return found


def _masked(text: str) -> str:
    for number in personal_numbers_in(text):
        text = text.replace(number, f"{number[:6]}-****")
    return text
