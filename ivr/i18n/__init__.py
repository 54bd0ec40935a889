"""Language catalogues: every sentence the line speaks or sends, one file per language.

A catalogue is a TOML file named by its language code (``sv.toml``). Adding a language is
adding a file; staff may also point ``IVR_CATALOGUE_DIR`` at a folder of their own files,
whose texts replace the shipped ones key by key.

Sentences are written (``text``: SMS, email, staff pages) or spoken (``spoken``: the phone
line). Spoken, a date is said as people say it ("Wednesday the twenty-fifth of November",
from ``meta.spoken_date`` with the day as an SSML ordinal, for voices that read SSML) and a
time as a time ("10", "10:30"; ``meta.spoken_time_format`` and ``meta.spoken_hour_format``).
"""

from __future__ import annotations

import datetime as dt
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, time
from functools import cache, lru_cache
from importlib import resources
from pathlib import Path
from string import Formatter
from typing import Any

from babel.dates import format_date, format_time

from ivr.domain.absence import AbsencePeriod
from ivr.domain.spoken import DigitGroups, Pause, Phrase, SayAs, Spoken, as_text, joined

DEFAULT_LANGUAGE = "sv"
DIGIT_GROUP_PAUSE_MS = 300


class UnknownLanguage(LookupError):
    pass


class MissingText(LookupError):
    pass


@dataclass(frozen=True)
class Catalogue:
    language: str
    texts: Mapping[str, str]

    @property
    def locale(self) -> str:
        return self.texts["meta.locale"]

    def text(self, key: str, /, **params: object) -> str:
        """The sentence ``key`` with its ``{placeholders}`` filled in this language."""
        try:
            template = self.texts[key]
        except KeyError:
            raise MissingText(f"{self.language}: no text for {key!r}") from None
        values = {name: self.show(value) for name, value in params.items()}
        return _fill_text(template, values)

    def show(self, value: object, short: bool = False) -> str:
        """A value as this language writes it in a sentence."""
        if isinstance(value, AbsencePeriod):
            return self.period(value, short=short)
        if isinstance(value, date):
            return self.date(value, short=short)
        if isinstance(value, time):
            return self.time(value)
        if isinstance(value, Phrase | DigitGroups):
            return as_text(self.speak(value, ssml=False))
        return str(value)

    def date(self, day: date, short: bool = False) -> str:
        pattern = self.texts["meta.short_date_format" if short else "meta.date_format"]
        return _formatted_date(day, pattern, self.locale)

    def time(self, moment: time) -> str:
        return _formatted_time(
            moment.replace(second=0, microsecond=0), self.texts["meta.time_format"], self.locale
        )

    def period(self, period: AbsencePeriod, short: bool = False) -> str:
        """``period`` as one phrase: "the whole day Monday 3 March", "from ... to ..."."""
        return as_text(
            self._period(
                period,
                "period_short" if short else "period",
                lambda day: (self.date(day, short),),
                lambda moment: (self.time(moment),),
            )
        )

    # --- spoken --------------------------------------------------------------------------

    def spoken(self, key: str, ssml: bool = False, /, **params: object) -> Spoken:
        """The sentence ``key`` as the line says it, with SSML parts if ``ssml``; a sentence
        that starts with a value ("{date} is not a school day") starts with a capital."""
        return _capitalised(self._spoken(key, ssml, params))

    def _spoken(self, key: str, ssml: bool, params: Mapping[str, object]) -> Spoken:
        try:
            template = self.texts[key]
        except KeyError:
            raise MissingText(f"{self.language}: no text for {key!r}") from None
        values = {name: self.speak(value, ssml) for name, value in params.items()}
        return _fill_spoken(template, values)

    def speak(self, value: object, ssml: bool) -> Spoken:
        """A value as the line says it in a sentence."""
        if isinstance(value, AbsencePeriod):
            return self._period(
                value,
                "period",
                lambda day: self.spoken_date(day, ssml),
                lambda moment: (self.spoken_time(moment),),
            )
        if isinstance(value, date):
            return self.spoken_date(value, ssml)
        if isinstance(value, time):
            return (self.spoken_time(value),)
        if isinstance(value, Phrase):
            return self._spoken(f"speech.{value.key}", ssml, {})
        if isinstance(value, DigitGroups):
            return _digit_groups(value, ssml)
        return (str(value),)

    def spoken_date(self, day: dt.date, ssml: bool) -> Spoken:
        """With SSML: ``meta.spoken_date`` with the day as an ordinal ("den tjugofemte");
        without: the written date, which reads well aloud too."""
        if not ssml:
            return (self.date(day),)
        values: dict[str, Spoken] = {
            "weekday": (_formatted_date(day, "EEEE", self.locale),),
            "day": (SayAs(str(day.day), "ordinal"),),
            "month": (_formatted_date(day, "MMMM", self.locale),),
        }
        return _fill_spoken(self.texts["meta.spoken_date"], values)

    def spoken_time(self, moment: dt.time) -> str:
        """A time as it is said: the hour alone when it is whole ("klockan 10")."""
        key = "meta.spoken_hour_format" if moment.minute == 0 else "meta.spoken_time_format"
        return _formatted_time(
            moment.replace(second=0, microsecond=0), self.texts[key], self.locale
        )

    # --- both ----------------------------------------------------------------------------

    def _period(
        self,
        period: AbsencePeriod,
        prefix: str,
        say_date: Callable[[dt.date], Spoken],
        say_time: Callable[[dt.time], Spoken],
    ) -> Spoken:
        start = say_date(period.start_date)
        if period.is_single_day:
            start_time = say_time(period.start_time) if period.start_time else None
            end_time = say_time(period.end_time) if period.end_time else None
            values = {"date": start, "start_time": start_time, "end_time": end_time}
            if start_time and end_time:
                return self._fill(f"{prefix}.between_times", values)
            if start_time:
                return self._fill(f"{prefix}.from_time", values)
            if end_time:
                return self._fill(f"{prefix}.until_time", values)
            return self._fill(f"{prefix}.whole_day", values)
        end = say_date(period.end_date)
        if period.start_time:
            start = self._fill(
                f"{prefix}.at_time", {"date": start, "time": say_time(period.start_time)}
            )
        if period.end_time:
            end = self._fill(f"{prefix}.at_time", {"date": end, "time": say_time(period.end_time)})
        return self._fill(f"{prefix}.several_days", {"start": start, "end": end})

    def _fill(self, key: str, values: Mapping[str, Spoken | None]) -> Spoken:
        return _fill_spoken(self.texts[key], values)


def _capitalised(spoken: Spoken) -> Spoken:
    if spoken and isinstance(spoken[0], str) and spoken[0][:1].islower():
        return (spoken[0][:1].upper() + spoken[0][1:], *spoken[1:])
    return spoken


def _digit_groups(value: DigitGroups, ssml: bool) -> Spoken:
    """Each group digit by digit, a pause between groups: "1 5, 0 1, 0 1, 2 3 9 5"."""
    if not ssml:
        return (", ".join(" ".join(group) for group in value.groups),)
    parts: list[Spoken] = []
    for number, group in enumerate(value.groups):
        if number:
            parts.append((Pause(DIGIT_GROUP_PAUSE_MS),))
        parts.append((SayAs(group, "digits"),))
    return joined(*parts)


@lru_cache(maxsize=1024)
def _template(template: str) -> tuple[tuple[str, str | None, str], ...]:
    """``template`` as (literal text, field name or None, format spec) pieces; plain
    ``{name}`` fields only, as ``_PlainFormatter`` allows."""
    pieces = []
    for literal, name, spec, _conversion in Formatter().parse(template):
        if name is not None and not name.isidentifier():
            raise MissingText(f"only plain {{name}} fields are allowed, not {{{name}}}")
        pieces.append((literal, name, spec or ""))
    return tuple(pieces)


def _fill_spoken(template: str, values: Mapping[str, Spoken | None]) -> Spoken:
    parts: list[Spoken] = []
    for literal, name, spec in _template(template):
        parts.append((literal,))
        if name is None:
            continue
        value = values.get(name)
        if value is None:
            raise MissingText(f"no value for {{{name}}} in {template!r}")
        if spec and all(isinstance(segment, str) for segment in value):
            value = (format(as_text(value), spec),)
        parts.append(value)
    return joined(*parts)


@lru_cache(maxsize=2048)
def _formatted_date(day: date, pattern: str, locale: str) -> str:
    return format_date(day, pattern, locale=locale)


@lru_cache(maxsize=2048)
def _formatted_time(moment: time, pattern: str, locale: str) -> str:
    return format_time(moment, pattern, locale=locale)


@lru_cache(maxsize=1024)
def _text_pieces(template: str) -> tuple[tuple[str, str | None, str, str | None], ...] | None:
    """``template`` parsed once, as ``_fill_text`` fills it; None for the rare template
    whose format spec holds a field of its own, which the formatter fills."""
    pieces = []
    for literal, name, spec, conversion in Formatter().parse(template):
        if name is not None and not name.isidentifier():
            raise MissingText(f"only plain {{name}} fields are allowed, not {{{name}}}")
        if spec and "{" in spec:
            return None
        pieces.append((literal, name, spec or "", conversion))
    return tuple(pieces)


_CONVERSIONS: dict[str, Callable[[object], str]] = {"r": repr, "s": str, "a": ascii}


def _fill_text(template: str, values: Mapping[str, str]) -> str:
    """What ``_SAFE_FORMATTER.vformat(template, (), values)`` gives, without parsing the
    template again: every confirmation is a few of these."""
    pieces = _text_pieces(template)
    if pieces is None:
        return _SAFE_FORMATTER.vformat(template, (), values)
    parts = []
    for literal, name, spec, conversion in pieces:
        parts.append(literal)
        if name is not None:
            value: object = values[name]
            if conversion:
                value = _CONVERSIONS[conversion](value)
            parts.append(format(value, spec))
    return "".join(parts)


class _PlainFormatter(Formatter):
    """``str.format`` limited to plain ``{name}`` fields: templates are edited by staff,
    so attribute and index lookups (``{x.__class__}``) are refused."""

    def get_field(self, field_name: str, args: Any, kwargs: Any) -> tuple[Any, str]:
        if not field_name.isidentifier():
            raise MissingText(f"only plain {{name}} fields are allowed, not {{{field_name}}}")
        value, used = super().get_field(field_name, args, kwargs)
        return value, str(used)


_SAFE_FORMATTER = _PlainFormatter()


def _flatten(table: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    flat: dict[str, str] = {}
    for name, value in table.items():
        key = f"{prefix}{name}"
        if isinstance(value, Mapping):
            flat.update(_flatten(value, f"{key}."))
        else:
            flat[key] = str(value)
    return flat


def _shipped_dir() -> Path:
    return Path(str(resources.files("ivr.i18n") / "catalogues"))


def available_languages(override_dir: Path | None = None) -> list[str]:
    folders = [_shipped_dir()] + ([override_dir] if override_dir else [])
    return sorted({path.stem for folder in folders for path in folder.glob("*.toml")})


@cache
def load_catalogue(language: str, override_dir: Path | None = None) -> Catalogue:
    texts: dict[str, str] = {}
    found = False
    for folder in (_shipped_dir(), override_dir):
        if folder is None:
            continue
        path = folder / f"{language}.toml"
        if path.is_file():
            found = True
            with path.open("rb") as file:
                texts.update(_flatten(tomllib.load(file)))
    if not found:
        raise UnknownLanguage(language)
    return Catalogue(language, texts)
