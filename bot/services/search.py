"""Finding services by the names people type, in any script: "телеграм" and "инста" fold to the Latin
names by transliteration (anyascii); nicknames that no transliteration reaches ("гугл" is "gugl", not
"google") are kept as data in aliases.toml."""
from __future__ import annotations

import re
import tomllib
from functools import cache
from pathlib import Path

from anyascii import anyascii

ALIASES_FILE = Path(__file__).with_name("aliases.toml")


def fold(text: str) -> str:
    """Lower-case ASCII letters and digits, whatever the script: "Телеграм" -> "telegram", "WhatsApp" ->
    "whatsapp". Service keys and search text are folded alike, so either script finds the other."""
    return re.sub(r"[^a-z0-9]+", "", anyascii(text).lower())


@cache
def aliases() -> dict[str, tuple[str, ...]]:
    """Service key -> its nicknames, folded."""
    with ALIASES_FILE.open("rb") as file:
        data = tomllib.load(file)
    return {fold(key): tuple(fold(name) for name in names) for key, names in data.items()}


def match(needle: str, key: str) -> tuple[bool, bool]:
    """(found, starts): whether a folded search text is in the service's key or one of its nicknames, and
    whether one of them starts with it (those are listed first)."""
    names = (key, *aliases().get(key, ()))
    return any(needle in name for name in names), any(name.startswith(needle) for name in names)
