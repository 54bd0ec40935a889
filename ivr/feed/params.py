"""The query parameters the feed's listings share (the JSON API, Atom, CSV)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import Query

From = Annotated[
    date | None, Query(alias="from", description="Only absences that end on or after this day.")
]
To = Annotated[
    date | None, Query(alias="to", description="Only absences that start on or before this day.")
]
SchoolName = Annotated[
    str | None, Query(max_length=200, description="One of the token's schools; default all.")
]
Group = Annotated[str | None, Query(max_length=100, description="Only pupils of this group.")]
