"""Language catalogues: every sentence the line speaks or sends, one file per language.

A catalogue is a TOML file named by its language code (``sv.toml``). Adding a language is
adding a file; staff may also point ``IVR_CATALOGUE_DIR`` at a folder of their own files,
whose texts replace the shipped ones key by key.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, time
from functools import cache, lru_cache
from importlib import resources
from pathlib import Path
from string import Formatter
from typing import Any

from babel.dates import format_date, format_time

from ivr.absence import AbsencePeriod

DEFAULT_LANGUAGE = "sv"


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

    def text(self, key: str, **params: object) -> str:
        """The sentence ``key`` with its ``{placeholders}`` filled in this language."""
        try:
            template = self.texts[key]
        except KeyError:
            raise MissingText(f"{self.language}: no text for {key!r}") from None
        values = {name: self.show(value) for name, value in params.items()}
        return _SAFE_FORMATTER.vformat(template, (), values)

    def show(self, value: object, short: bool = False) -> str:
        """A value as this language writes it in a sentence."""
        if isinstance(value, AbsencePeriod):
            return self.period(value, short=short)
        if isinstance(value, date):
            return self.date(value, short=short)
        if isinstance(value, time):
            return self.time(value)
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
        prefix = "period_short" if short else "period"
        start = self.date(period.start_date, short)
        if period.is_single_day:
            start_time = self.time(period.start_time) if period.start_time else None
            end_time = self.time(period.end_time) if period.end_time else None
            values = {"date": start, "start_time": start_time, "end_time": end_time}
            if start_time and end_time:
                return self._fill(f"{prefix}.between_times", values)
            if start_time:
                return self._fill(f"{prefix}.from_time", values)
            if end_time:
                return self._fill(f"{prefix}.until_time", values)
            return self._fill(f"{prefix}.whole_day", values)
        end = self.date(period.end_date, short)
        if period.start_time:
            start = self._fill(
                f"{prefix}.at_time", {"date": start, "time": self.time(period.start_time)}
            )
        if period.end_time:
            end = self._fill(f"{prefix}.at_time", {"date": end, "time": self.time(period.end_time)})
        return self._fill(f"{prefix}.several_days", {"start": start, "end": end})

    def _fill(self, key: str, values: Mapping[str, Any]) -> str:
        return _SAFE_FORMATTER.vformat(self.texts[key], (), values)


@lru_cache(maxsize=2048)
def _formatted_date(day: date, pattern: str, locale: str) -> str:
    return format_date(day, pattern, locale=locale)


@lru_cache(maxsize=2048)
def _formatted_time(moment: time, pattern: str, locale: str) -> str:
    return format_time(moment, pattern, locale=locale)


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
