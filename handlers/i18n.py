"""User-visible texts live in locales/<lang>.toml; this module only looks them up and fills them in."""
from __future__ import annotations

import html
import tomllib
from functools import cache
from pathlib import Path

from babel import Locale
from babel.numbers import format_decimal

LOCALES_DIR = Path(__file__).with_name("locales")
DEFAULT_LANGUAGE = "en"


class Html(str):
    """A value already in safe HTML; not escaped again when filled into a text."""


@cache
def catalog(language: str) -> dict[str, str]:
    path = LOCALES_DIR / f"{language}.toml"
    with path.open("rb") as file:
        return tomllib.load(file)


def available_languages() -> list[str]:
    return list(_languages())


@cache
def _languages() -> tuple[str, ...]:
    """The locale files shipped (read once: every update asks, and they do not change while the bot runs)."""
    return tuple(sorted(p.stem for p in LOCALES_DIR.glob("*.toml")))


def pick_language(code: str | None) -> str:
    """The chat's language from a Telegram language code like 'ru' or 'en-US'."""
    short = (code or "").split("-")[0].lower()
    return short if short in _languages() else DEFAULT_LANGUAGE


class Texts:
    def __init__(self, language: str, time_zone: str = "UTC") -> None:
        self.language = language if language in _languages() else DEFAULT_LANGUAGE
        self.time_zone = time_zone  # the chat's (Settings): the views show times in it
        self._own = catalog(self.language)
        self._fallback = catalog(DEFAULT_LANGUAGE)

    def __call__(self, key: str, **params) -> str:
        template = self._own.get(key) or self._fallback.get(key)
        if template is None:
            raise KeyError(f"no text {key!r} in locale {self.language!r}")
        safe = {k: v if isinstance(v, Html) else html.escape(str(v), quote=False) for k, v in params.items()}
        return template.format_map(safe) if params else template

    def plural(self, key: str, count: int, **params) -> str:
        """A text with a count: ``<key>-<form>``, the form CLDR's plural rules pick for ``count`` in this
        language (through Babel: one, few, many, other), ``{n}`` the count in the language's digits."""
        form = _plural_form(self.language, count)
        chosen = f"{key}-{form}" if (f"{key}-{form}" in self._own or f"{key}-{form}" in self._fallback) \
            else f"{key}-other"
        return self(chosen, n=Html(format_decimal(count, locale=self.language)), **params)

    def has(self, key: str) -> bool:
        return key in self._own


@cache
def _locale(language: str) -> Locale:
    return Locale.parse(language)


def _plural_form(language: str, count: int) -> str:
    return _locale(language).plural_form(count)
