"""Read and check a staff CSV: each group's contact teachers. Pure apart from reading the
bytes it is given.

Columns ``school,group,name,email[,phone]``, a header row, UTF-8 (a file saved from a
Swedish spreadsheet, with ``;`` and a byte-order mark, is read too). A group may have
several contact teachers: one row each. ``phone`` (optional; without a country code it is
read as the organisation's country's) is where the alert for a missing pupil goes by SMS.
"""

from __future__ import annotations

from ivr.domain.phone import InvalidPhoneNumber, normalise
from ivr.roster.csv_file import UnreadableFile, csv_rows, is_email
from ivr.roster.records import RowError
from ivr.store.staff import TeacherRecord

COLUMNS = ("school", "group", "name", "email")


class StaffFileInvalid(ValueError):
    def __init__(self, errors: list[RowError]) -> None:
        super().__init__(f"{len(errors)} problem(s) in the staff file")
        self.errors = errors


def _phone(text: str, region: str, problems: list[str]) -> str | None:
    if not text:
        return None
    try:
        return normalise(text, region)
    except InvalidPhoneNumber as problem:
        problems.append(f"phone {text!r}: {problem}")
        return None


def read_staff_file(data: bytes, region: str = "SE") -> list[TeacherRecord]:
    """Every row checked; raises ``StaffFileInvalid`` listing every bad row if any is bad."""
    try:
        reader = csv_rows(data, COLUMNS)
    except UnreadableFile as problem:
        raise StaffFileInvalid([problem.error]) from None
    errors: list[RowError] = []
    teachers: list[TeacherRecord] = []
    seen: dict[tuple[str, str, str], int] = {}
    for raw in reader:
        line = reader.line_num
        if None in raw:
            errors.append(RowError(line, "more values than columns"))
            continue
        row = {name: (value or "").strip() for name, value in raw.items() if name is not None}
        if not any(row.values()):
            continue
        problems = [f"{name} is empty" for name in COLUMNS if not row.get(name)]
        email = row.get("email", "")
        if email and not is_email(email):
            problems.append(f"email {email!r} is not an email address")
        phone = _phone(row.get("phone", ""), region, problems)
        key = (row.get("school", ""), row.get("group", ""), email.lower())
        if not problems and key in seen:
            problems.append(f"the same teacher of the same group is on line {seen[key]}")
        if problems:
            errors.extend(RowError(line, problem) for problem in problems)
            continue
        seen[key] = line
        teachers.append(TeacherRecord(line, row["school"], row["group"], row["name"], email, phone))
    if errors:
        raise StaffFileInvalid(errors)
    return teachers
