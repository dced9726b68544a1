"""Country names in the chat's language, from CLDR through Babel (no tables written by hand).

Providers name countries their own way ("USA", "United Kingdom", "UK"); ``country_code`` maps a spelling to its
ISO 3166 code through CLDR's territory aliases and English names, so the same country from two providers is one
choice, shown with its flag and its name in the chat's language."""
from __future__ import annotations

import re
from functools import lru_cache

from babel import Locale, UnknownLocaleError
from babel.core import get_global


@lru_cache(maxsize=1)
def _english_names() -> dict[str, str]:
    return {name.casefold(): code for code, name in Locale("en").territories.items()
            if len(code) == 2 and code.isalpha()}


@lru_cache(maxsize=512)
def country_code(name: str) -> str | None:
    """ISO 3166-1 alpha-2 code for a provider's country name or code, or None when CLDR does not know it."""
    text = name.strip()
    if not text:
        return None
    upper = text.upper()
    territories = Locale("en").territories
    if len(upper) == 2 and upper.isalpha() and upper in territories:
        return upper
    aliases = get_global("territory_aliases").get(upper)  # USA -> US, UK -> GB, RUS -> RU
    if aliases and len(aliases[0]) == 2:
        return aliases[0]
    return _english_names().get(text.casefold())


def country_key(name: str) -> str:
    """One stable key per country whoever spells it: the ISO code, else the provider's spelling folded to
    letters and digits (it travels in callback data)."""
    return country_code(name) or re.sub(r"[^a-z0-9]+", "", name.casefold())[:16] or "x"


def flag(code: str | None) -> str:
    """The flag emoji of an ISO alpha-2 code: two regional indicator symbols."""
    if not code or len(code) != 2 or not code.isalpha():
        return "🌍"
    return "".join(chr(0x1F1E6 + ord(c) - ord("A")) for c in code.upper())


@lru_cache(maxsize=64)
def _locale(language: str) -> Locale:
    try:
        return Locale.parse(language)
    except (ValueError, UnknownLocaleError):
        return Locale("en")


def country_name(name: str, language: str) -> str:
    """The country in the chat's language; the provider's spelling when CLDR does not know it."""
    code = country_code(name)
    return _locale(language).territories.get(code, name) if code else name


def country_label(name: str, language: str) -> str:
    return f"{flag(country_code(name))} {country_name(name, language)}"
