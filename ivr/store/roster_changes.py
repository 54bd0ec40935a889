"""What a roster run changed, in all and per school: the diff a dry run prints, a sync logs
and the metrics count."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class SchoolChanges:
    """What a roster run changed at one school: the diff a dry run prints and a sync logs."""

    added: int = 0
    changed: int = 0
    left: int = 0  # deactivated: no longer enrolled
    returned: int = 0  # had left, enrolled again
    guardians_linked: int = 0
    guardians_unlinked: int = 0

    @property
    def any(self) -> bool:
        return any(
            (
                self.added,
                self.changed,
                self.left,
                self.returned,
                self.guardians_linked,
                self.guardians_unlinked,
            )
        )


@dataclass
class ImportSummary:
    rows: int = 0
    pupils_added: int = 0
    pupils_updated: int = 0
    pupils_unchanged: int = 0
    guardians_added: int = 0
    guardians_updated: int = 0
    links_added: int = 0
    links_removed: int = 0
    schools_added: list[str] = field(default_factory=list)
    by_school: dict[str, SchoolChanges] = field(default_factory=dict)

    def school(self, name: str) -> SchoolChanges:
        return self.by_school.setdefault(name, SchoolChanges())


__all__ = ["ImportSummary", "SchoolChanges"]
