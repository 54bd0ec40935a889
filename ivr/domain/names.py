"""The name a pupil is shown and written by. Pure.

A pupil whose identity is protected in the population register (SS 12000
``securityMarking`` other than "Ingen") is shown by first name only, wherever the line
shows or writes a pupil's name: the staff page, the API, Atom, CSV, the command line, and
the messages to the pupil's own guardians (or the pupil). Beside such a pupil a guardian is
shown by the first word of their name too, since a guardian's full name would often tell
the pupil's. Messages to staff do not name such a pupil at all: they say "a pupil in
group X" with a reference and point to the staff page (``is_protected`` decides which text).
The outreach call speaks every pupil's first name only, protected or not.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


class NamedPupil(Protocol):
    """What a pupil's record offers to be named by (a ``Pupil`` row, for one)."""

    @property
    def first_name(self) -> str: ...

    @property
    def last_name(self) -> str: ...

    @property
    def protected_identity(self) -> bool: ...


@dataclass(frozen=True, slots=True)
class PupilName:
    first: str
    last: str
    is_protected: bool = False

    @classmethod
    def of(cls, pupil: NamedPupil) -> PupilName:
        return cls(pupil.first_name, pupil.last_name, bool(pupil.protected_identity))

    @property
    def shown(self) -> str:
        """The name to show: first and last, or the first name only when protected."""
        return self.first if self.is_protected else f"{self.first} {self.last}"

    @property
    def shown_last(self) -> str:
        """The last name to show: none when protected."""
        return "" if self.is_protected else self.last

    def values(self) -> dict[str, str]:
        """A text's placeholders for the pupil: ``{pupil}`` (the name to show),
        ``{first_name}`` and ``{last_name}`` (empty when protected, so that a text written
        with it leaks nothing)."""
        return {"pupil": self.shown, "first_name": self.first, "last_name": self.shown_last}

    def contact(self, name: str) -> str:
        """A guardian's (or the pupil's own) name as shown beside this pupil: the first
        word of it when the pupil is protected."""
        if not self.is_protected:
            return name
        family, comma, given = name.partition(",")  # "Andersson, Anna"
        words = (given if comma else family).split()
        return words[0] if words else ""

    def order(self) -> tuple[int, str, str]:
        """Pupils by last name, then first; protected ones after the others, by first
        name, so that their place in a list tells nothing of a last name."""
        if self.is_protected:
            return (1, self.first, "")
        return (0, self.last, self.first)
