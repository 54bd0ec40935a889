"""Read and check a roster CSV. Pure apart from reading the bytes it is given.

Format (DESIGN.md): UTF-8, a header row, one row per pupil-guardian pair; a pupil without
guardians has one row with the guardian columns empty. Columns::

    school,pupil_id,personal_number,first_name,last_name,group,
    guardian_name,guardian_phone,guardian_email,guardian_language[,pupil_phone,pupil_email]

A file exported from a Swedish spreadsheet (``;`` between columns, a byte-order mark) is
read as well.

``personal_number`` is the pupil's number in the organisation's country: a Swedish
personal or coordination number (10 or 12 digits), or a Norwegian fødselsnummer or
D-number (11 digits). Phone numbers without a country code are read as that country's.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from datetime import date

from ivr.domain.countries import Country, country
from ivr.domain.identity import IdentityNumber
from ivr.domain.personal_number import InvalidPersonalNumber
from ivr.domain.phone import InvalidPhoneNumber, normalise
from ivr.roster.records import GuardianContact, PupilRecord, Roster, RowError

REQUIRED_COLUMNS = (
    "school",
    "pupil_id",
    "personal_number",
    "first_name",
    "last_name",
    "group",
    "guardian_name",
    "guardian_phone",
    "guardian_email",
    "guardian_language",
)
OPTIONAL_COLUMNS = ("pupil_phone", "pupil_email")
_EMAIL = re.compile(r"^[^@\s,;<>]+@[^@\s,;<>]+\.[^@\s,;<>]+$")
_PERSONAL_NUMBER_PROBLEMS = {
    "wrong_length": "personal_number must have {lengths} digits",
    "no_such_date": "personal_number does not hold a valid date of birth",
    "check_digit": "personal_number has a wrong check digit",
}


class RosterInvalid(ValueError):
    def __init__(self, errors: list[RowError]) -> None:
        super().__init__(f"{len(errors)} problem(s) in the roster")
        self.errors = errors


def read_roster(
    data: bytes, today: date, languages: Iterable[str], country_code: str = "SE"
) -> Roster:
    """Every row checked; raises ``RosterInvalid`` listing every bad row if any is bad.
    ``country_code`` is the organisation's country (``SE``, ``NO``)."""
    try:
        reader = csv_rows(data, REQUIRED_COLUMNS)
    except UnreadableFile as problem:
        raise RosterInvalid([problem.error]) from None
    checker = _RowChecker(today, frozenset(languages), country(country_code))
    rows = 0
    for row in reader:
        rows += 1
        checker.check(reader.line_num, row)
    if checker.errors:
        raise RosterInvalid(checker.errors)
    return Roster(list(checker.pupils.values()), rows)


class UnreadableFile(ValueError):
    """A CSV file that cannot be read row by row: not UTF-8 text, or a column missing."""

    def __init__(self, error: RowError) -> None:
        super().__init__(str(error))
        self.error = error


def csv_rows(data: bytes, required: Iterable[str]) -> csv.DictReader[str]:
    """The rows of a CSV file saved as UTF-8 (with or without a byte-order mark, with ``,``
    or ``;``), the header's names stripped; ``UnreadableFile`` if the bytes are not UTF-8
    or a ``required`` column is missing."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise UnreadableFile(RowError(line, "the file is not UTF-8 text")) from None
    reader = csv.DictReader(io.StringIO(text, newline=""), dialect=csv_dialect(text))
    columns = [name.strip() for name in reader.fieldnames or []]
    missing = [name for name in required if name not in columns]
    if missing:
        raise UnreadableFile(RowError(1, f"missing column(s): {', '.join(missing)}"))
    reader.fieldnames = columns
    return reader


def csv_dialect(text: str) -> type[csv.Dialect]:
    """``;`` if the header row has more of them than commas (a Swedish spreadsheet)."""
    header = text.split("\n", 1)[0]
    if header.count(";") > header.count(","):
        return _Semicolon
    return csv.excel


def is_email(text: str) -> bool:
    return _EMAIL.match(text) is not None


class _Semicolon(csv.excel):
    delimiter = ";"


class _RowChecker:
    def __init__(self, today: date, languages: frozenset[str], rules: Country) -> None:
        self.today = today
        self.languages = languages
        self.rules = rules
        self.region = rules.code
        self.errors: list[RowError] = []
        self.pupils: dict[str, PupilRecord] = {}
        self.pupil_by_number: dict[str, str] = {}

    def check(self, line: int, raw: dict[str | None, str | list[str] | None]) -> None:
        if None in raw:
            self.errors.append(RowError(line, "more values than columns"))
            return
        row = {
            name: value.strip()
            for name, value in raw.items()
            if isinstance(name, str) and isinstance(value, str)
        }
        if not any(row.values()):
            return
        problems: list[str] = []
        for name in ("school", "pupil_id", "personal_number", "first_name", "last_name", "group"):
            if not row.get(name):
                problems.append(f"{name} is empty")
        number = self._personal_number(row.get("personal_number", ""), problems)
        pupil_phone = self._phone(row.get("pupil_phone", ""), "pupil_phone", problems)
        pupil_email = self._email(row.get("pupil_email", ""), "pupil_email", problems)
        guardian = self._guardian(row, problems)
        if problems:
            self.errors.extend(RowError(line, problem) for problem in problems)
            return
        assert number is not None
        record = PupilRecord(
            school=row["school"],
            pupil_id=row["pupil_id"],
            personal_number=number,
            first_name=row["first_name"],
            last_name=row["last_name"],
            group=row["group"],
            phone=pupil_phone,
            email=pupil_email,
            line=line,
        )
        self._add(line, record, guardian)

    def _add(self, line: int, record: PupilRecord, guardian: GuardianContact | None) -> None:
        known = self.pupils.get(record.pupil_id)
        if known is None:
            holder = self.pupil_by_number.get(record.personal_number.digits)
            if holder is not None:
                self.errors.append(
                    RowError(line, f"personal_number is also given for pupil_id {holder}")
                )
                return
            self.pupils[record.pupil_id] = known = record
            self.pupil_by_number[record.personal_number.digits] = record.pupil_id
        else:
            differences = [
                name
                for name in ("school", "personal_number", "first_name", "last_name", "group")
                if getattr(known, name) != getattr(record, name)
            ]
            if differences:
                self.errors.append(
                    RowError(
                        line,
                        f"pupil_id {record.pupil_id} has another {', '.join(differences)} "
                        f"than on line {known.line}",
                    )
                )
                return
        if guardian is not None and guardian.contact_key not in {
            g.contact_key for g in known.guardians
        }:
            known.guardians.append(guardian)

    def _personal_number(self, text: str, problems: list[str]) -> IdentityNumber | None:
        if not text:
            return None
        try:
            return self.rules.parse_identity_number(text, self.today)
        except InvalidPersonalNumber as error:
            problem = _PERSONAL_NUMBER_PROBLEMS[error.problem.value]
            problems.append(problem.format(lengths=self.rules.identity_number_lengths))
            return None

    def _phone(self, text: str, column: str, problems: list[str]) -> str | None:
        if not text:
            return None
        try:
            return normalise(text, self.region)
        except InvalidPhoneNumber:
            problems.append(f"{column} {text!r} is not a valid phone number")
            return None

    @staticmethod
    def _email(text: str, column: str, problems: list[str]) -> str | None:
        if not text:
            return None
        if not is_email(text):
            problems.append(f"{column} {text!r} is not an email address")
            return None
        return text

    def _guardian(self, row: dict[str, str], problems: list[str]) -> GuardianContact | None:
        name = row.get("guardian_name", "")
        phone_text, email_text = row.get("guardian_phone", ""), row.get("guardian_email", "")
        language = row.get("guardian_language", "").lower()
        if not (name or phone_text or email_text or language):
            return None
        if not name:
            problems.append("guardian_name is empty but other guardian columns are not")
        if not (phone_text or email_text):
            problems.append("a guardian needs guardian_phone or guardian_email")
        if language and language not in self.languages:
            problems.append(
                f"guardian_language {language!r} is not one of {', '.join(sorted(self.languages))}"
            )
        phone = self._phone(phone_text, "guardian_phone", problems)
        email = self._email(email_text, "guardian_email", problems)
        return GuardianContact(name, phone, email, language or None)
