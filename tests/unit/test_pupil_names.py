"""The name a pupil is shown by: whole, or the first name only when the pupil's identity is
protected; and a guardian's name beside such a pupil."""

from __future__ import annotations

from dataclasses import dataclass

from ivr.domain.names import PupilName


@dataclass
class Row:
    first_name: str
    last_name: str
    protected_identity: bool


def test_a_pupil_is_shown_by_first_and_last_name() -> None:
    name = PupilName.of(Row("Alva", "Andersson", False))
    assert name.shown == "Alva Andersson"
    assert name.values() == {
        "pupil": "Alva Andersson",
        "first_name": "Alva",
        "last_name": "Andersson",
    }
    assert name.contact("Anna Andersson") == "Anna Andersson"


def test_a_protected_pupil_is_shown_by_first_name_only() -> None:
    name = PupilName.of(Row("Alva", "Andersson", True))
    assert name.shown == "Alva"
    assert name.shown_last == ""
    assert name.values() == {"pupil": "Alva", "first_name": "Alva", "last_name": ""}
    assert "Andersson" not in repr(name.values())


def test_a_protected_pupils_guardian_is_shown_by_the_first_word_of_their_name() -> None:
    name = PupilName("Alva", "Andersson", is_protected=True)
    assert name.contact("Anna Andersson") == "Anna"
    assert name.contact("Anna-Karin von Andersson") == "Anna-Karin"
    assert name.contact("Andersson, Anna") == "Anna"
    assert name.contact("  ") == ""


def test_protected_pupils_come_after_the_others_by_first_name() -> None:
    names = [
        PupilName("Öjvind", "Berg", is_protected=True),
        PupilName("Bo", "Ceder"),
        PupilName("Alva", "Andersson", is_protected=True),
        PupilName("Cecilia", "Ahl"),
    ]
    assert [name.shown for name in sorted(names, key=PupilName.order)] == [
        "Cecilia Ahl",
        "Bo Ceder",
        "Alva",
        "Öjvind",
    ]
