"""The settings of a bench run: the line under test, its organisation and the targets."""

from __future__ import annotations

import secrets
import sys
from datetime import date
from pathlib import Path
from typing import TypeVar

from rich.console import Console

from ivr.roster.csv_file import OPTIONAL_COLUMNS, REQUIRED_COLUMNS

SCRIPTS = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
IVR = BIN / "ivr"
HOST = "127.0.0.1"

ORGANISATION = "Benchkommun"
LINE_NUMBER = "+46846500400"
TIMEZONE = "Europe/Stockholm"
AUTH_TOKEN = "bench-auth-token-" + secrets.token_hex(8)
SECRET_KEY = "bench-secret-key-" + secrets.token_hex(16)
ACCOUNT_SID = "AC" + "b" * 32
DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"

# Swedish numbers set aside for fiction (PTS): +46 70-174 06 05 to +46 70-174 06 99.
FICTIONAL_PHONES = tuple(f"+46701740{n:03d}" for n in range(605, 700))
BIRTH_FROM = date(2008, 1, 1)
BIRTH_DAYS = (date(2021, 1, 1) - BIRTH_FROM).days
NUMBER_SLOTS = BIRTH_DAYS * 1000  # birth date x three-digit serial
NUMBER_STRIDE = 1_000_003  # prime, not a factor of NUMBER_SLOTS: i -> slot is a bijection
PUPILS_PER_SCHOOL = 500
SATURDAY = 5
# The roster file format the line reads (README, "Roster CSV").
CSV_HEADER = (*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS)
FIRST_NAMES = (
    "Alice", "Astrid", "Ebba", "Elsa", "Freja", "Hugo", "Liam", "Lucas", "Maja", "Noah",
    "Oscar", "Saga", "Vera", "William", "Åsa", "Ines", "Omar", "Leo", "Selma", "Ture",
)  # fmt: skip
LAST_NAMES = (
    "Andersson", "Johansson", "Karlsson", "Nilsson", "Eriksson", "Larsson", "Olsson",
    "Persson", "Svensson", "Gustafsson", "Lindström", "Åberg", "Öberg", "Hassan", "Berg",
)  # fmt: skip
GUARDIAN_LANGUAGES = ("", "", "", "", "", "", "", "en", "", "nb")

QUICK_PUPILS, QUICK_SECONDS, QUICK_CONCURRENCY, QUICK_WARMUP = 1_000, 5.0, 8, 1.0
COMPARE_PUPILS = (10_000, 1_000_000)
COMPARE_IMPORT_CHUNK = 50_000
MEMORY_CHECKPOINTS = (20_000, 100_000)
LOADGEN_TARGET_RPS = 5_000
IMPORT_TARGET_ROWS, IMPORT_TARGET_SECONDS = 100_000, 60.0
MEMORY_TARGET = 0.10
COMPARE_TARGET = 0.20

console = Console()
if not console.is_terminal:
    console.width = max(console.width, 140)
_T = TypeVar("_T")
