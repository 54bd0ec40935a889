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
    # A protected identity (SS 12000 securityMarking other than "Ingen").
    protected: bool = False


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


@dataclass(frozen=True, slots=True)
class SourceProblem:
    """Something a school's system sent that could not be used, named by the entity's id
    (never by a personal number or a name)."""

    entity: str
    id: str
    message: str

    def __str__(self) -> str:
        return f"{self.entity} {self.id}: {self.message}"


@dataclass(frozen=True, slots=True)
class MentorRecord:
    """A group's contact teacher as a school's system names them (an SS 12000 mentor)."""

    school: str
    group: str
    name: str
    email: str
    phone: str | None = None


@dataclass(frozen=True, slots=True)
class SourceRoster:
    """What a school's system says about the schools it covers.

    ``full``: every enrolled pupil of ``schools`` is in ``pupils``, so a pupil of those
    schools who is not has left. Otherwise (a delta) ``pupils`` holds complete records of
    the pupils that changed, and ``left`` the ids of those who are no longer enrolled or
    were deleted. ``schools`` maps the school unit's id to its name, the name
    ``PupilRecord.school`` and ``MentorRecord.school`` use.
    """

    schools: dict[str, str]
    pupils: list[PupilRecord]
    mentors: list[MentorRecord]
    full: bool
    left: frozenset[str] = frozenset()
    problems: list[SourceProblem] = field(default_factory=list)
