"""Pick the catalogue for a language, falling back to the line's own language."""

from __future__ import annotations

from pathlib import Path

from ivr.i18n import DEFAULT_LANGUAGE, Catalogue, UnknownLanguage, load_catalogue


class Catalogues:
    """The catalogues of one deployment (shipped files plus the operator's overrides)."""

    def __init__(self, default_language: str, override_dir: Path | None = None) -> None:
        self.override_dir = override_dir
        self.default_language = default_language
        self.default = self._load(default_language) or load_catalogue(DEFAULT_LANGUAGE)

    def _load(self, language: str) -> Catalogue | None:
        try:
            return load_catalogue(language, self.override_dir)
        except UnknownLanguage:
            return None

    def __call__(self, language: str | None) -> Catalogue:
        if not language:
            return self.default
        return self._load(language) or self.default
