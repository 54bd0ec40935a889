"""Skatteverket's official test personal numbers (``tests/data/``): 41,129 personnummer and
2,264 samordningsnummer, 12 digits each, that belong to no real person. Collected by the
open-source personnummer project (github: personnummer/meta, testdata/)."""

from __future__ import annotations

import json
import os
from functools import cache
from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parent / "data"
LISTS = ("personnummer", "samordningsnummer")


@cache
def load(name: str) -> tuple[str, ...] | None:
    """The list ``name``, or None if its file is missing."""
    path = DATA / f"{name}.json"
    if not path.is_file():
        return None
    return tuple(json.loads(path.read_text()))


def official(name: str) -> tuple[str, ...]:
    """The list ``name`` for a test; without it the test is skipped, or with ``CI=true``
    fails: the lists belong to the repository, so a missing one is a fault."""
    numbers = load(name)
    if numbers is None:
        message = f"Skatteverket's test list {DATA / name}.json is missing"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return numbers
