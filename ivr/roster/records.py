"""A roster as the line keeps it, whatever it was read from: pupils with their guardians,
and what was wrong with a row (a CSV file today; the school's own system next)."""

from __future__ import annotations

from dataclasses import dataclass, field

from ivr.domain.identity import IdentityNumber


@dataclass(frozen=True, slots=True)
class GuardianContact:
    name: str
    phone: str | None
    email: str | None
    language: str | None

    @property
    def contact_key(self) -> str:
        """Who this guardian is within the organisation: the phone number, else the email."""
        return self.phone or (self.email or "").lower()


@dataclass(frozen=True, slots=True)
class PupilRecord:
    school: str
    pupil_id: str
    personal_number: IdentityNumber
    first_name: str
    last_name: str
    group: str
    phone: str | None
    email: str | None
    line: int
    guardians: list[GuardianContact] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class RowError:
    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


@dataclass(frozen=True, slots=True)
class Roster:
    pupils: list[PupilRecord]
    rows: int

    @property
    def guardians(self) -> dict[str, GuardianContact]:
        found: dict[str, GuardianContact] = {}
        for pupil in self.pupils:
            for guardian in pupil.guardians:
                found[guardian.contact_key] = guardian
        return found
