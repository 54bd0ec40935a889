"""Call plans: which path each simulated caller takes, and with which keys."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import date, timedelta

import holidays

from bench.config import SATURDAY
from bench.roster import personal_number


@dataclass(frozen=True, slots=True)
class Script:
    """What a caller keys at each prompt in turn, and the kind of each entry."""

    path: str
    keys: tuple[str, ...]
    kinds: tuple[str, ...]


KIND_NUMBER, KIND_RECORD, KIND_OTHER = "personal number", "records absence", "other keys"
PUPIL_STRIDE = 7919  # a prime: any roster size it does not divide is visited whole


class CallPlanner:
    """Draws calls: a pupil, the path through the line and the keys for it. Pupils come in
    a fixed scattered order that visits each once before any again (a stride coprime to
    the roster's size), so a run reports a pupil twice only after calling them all."""

    PATHS = (
        ("today", 50),
        ("other day", 15),
        ("part of a day", 10),
        ("several days", 10),
        ("help", 5),
        ("wrong entry", 5),
        ("start over", 5),
    )

    def __init__(self, pupils: int, today: date) -> None:
        self.pupils = pupils
        self.days = [(today + timedelta(days=n)).strftime("%y%m%d") for n in range(33)]
        public = holidays.country_holidays("SE", years=range(today.year, today.year + 2))
        self.school_days = [
            n
            for n in range(1, 31)
            if (day := today + timedelta(days=n)).weekday() < SATURDAY and day not in public
        ]
        weights = [weight for _name, weight in self.PATHS]
        self.names = [name for name, _weight in self.PATHS]
        self.cumulative = [sum(weights[: n + 1]) for n in range(len(weights))]
        self.drawn = 0
        self.stride = next(s for s in (PUPIL_STRIDE, 7, 1) if math.gcd(s, pupils) == 1)

    def draw(self, rng: random.Random) -> tuple[int, Script]:
        index = (self.drawn * self.stride) % self.pupils
        self.drawn += 1
        pn = personal_number(index)[2:]
        path = rng.choices(self.names, cum_weights=self.cumulative)[0]
        offset = rng.choice(self.school_days)
        day, later = self.days[offset], self.days[offset + 2]
        n, r, o = KIND_NUMBER, KIND_RECORD, KIND_OTHER
        keys: tuple[str, ...]
        kinds: tuple[str, ...]
        if path == "today":
            keys, kinds = (pn, "9"), (n, r)
        elif path == "other day":
            keys, kinds = (pn, day, "9", "9", "9"), (n, o, o, o, r)
        elif path == "part of a day":
            keys, kinds = (pn, day, "1000", "9", "1230"), (n, o, o, o, r)
        elif path == "several days":
            keys, kinds = (pn, day, "9", later, "9"), (n, o, o, o, r)
        elif path == "help":
            if rng.random() < 0.5:
                keys, kinds = ("#", pn, "9"), (o, n, r)
            else:
                keys, kinds = (pn, "#", "9"), (n, o, r)
        elif path == "wrong entry":
            keys, kinds = (pn, "5", "9"), (n, o, r)
        else:
            keys, kinds = (pn, day, "*", pn, "9"), (n, o, o, n, r)
        return index, Script(path, keys, kinds)
