"""What the tests of protected identities share: Alva's family renamed, so that her last
name is hers alone, and her identity protected or not."""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.orm import Session

from ivr.store.models import Guardian, Pupil
from tests.roster_data import ANNA, ERIK
from tests.staff import in_session

LAST_NAME = "Zetterlund"


def make_family(database_url: str, protected: bool) -> None:
    """Alva (P1, 5A) and her guardians Anna and Erik are the Zetterlunds; Alva's identity
    is protected if ``protected``."""

    def work(session: Session) -> None:
        session.execute(
            update(Pupil)
            .where(Pupil.external_id == "P1")
            .values(last_name=LAST_NAME, protected_identity=protected)
        )
        for phone, first in ((ANNA, "Anna"), (ERIK, "Erik")):
            session.execute(
                update(Guardian).where(Guardian.phone == phone).values(name=f"{first} {LAST_NAME}")
            )

    in_session(database_url, work)


def shows_alva(text: str, protected: bool) -> None:
    """``text`` names Alva as it should: by first name alone when she is protected."""
    if protected:
        assert "Alva" in text
        assert LAST_NAME not in text
    else:
        assert f"Alva {LAST_NAME}" in text
