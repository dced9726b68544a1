"""Country names, plan durations and dates in the chat's language, from CLDR through Babel (no tables written by
hand); times in the chat's time zone.

Providers name countries their own way ("USA", "United Kingdom", "UK"); ``country_code`` maps a spelling to its
ISO 3166 code through CLDR's territory aliases and English names, so the same country from two providers is one
choice, shown with its flag and its name in the chat's language."""
from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo, available_timezones

from babel import Locale, UnknownLocaleError
from babel.core import get_global
from babel.dates import format_skeleton, get_timezone_location
from babel.units import format_unit


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


# -- plan durations ------------------------------------------------------------------------------------------

# Largest first; a plan is named by the largest unit that divides it exactly ("1 day", not "24 hours"), so
# nothing is rounded: 90 minutes stay "90 minutes". A month is 30 days and a year 365, as providers count them.
_UNITS = ((525600, "duration-year"), (43200, "duration-month"), (10080, "duration-week"), (1440, "duration-day"),
          (60, "duration-hour"), (1, "duration-minute"))


def duration_name(minutes: int | None, language: str) -> str | None:
    """A plan's length in the chat's language ("1 день", "2 weeks"); None when it is not known."""
    if not minutes or minutes < 0:
        return None
    size, unit = next((size, unit) for size, unit in _UNITS if minutes % size == 0)
    return format_unit(minutes // size, unit, length="long", locale=_locale(language))


def counted(count: int, unit: str, language: str) -> str:
    """A count of days, hours or minutes with the noun in the form the number asks for ("1 день", "2 дня",
    "5 дней", "21 минута"): CLDR's plural rules through Babel."""
    return format_unit(count, f"duration-{unit}", length="long", locale=_locale(language))


# -- dates, times and time zones -----------------------------------------------------------------------------

def valid_zone(name: str) -> bool:
    """An IANA zone name this machine's tz data knows ("Europe/Berlin"); forged callback data is refused."""
    return name in _zone_names()


@lru_cache(maxsize=1)
def _zone_names() -> frozenset[str]:
    # Walks the tz directories once; "Factory" is a placeholder zone, not a place anyone lives in.
    return frozenset(available_timezones()) - {"Factory"}


@lru_cache(maxsize=256)
def _zone(name: str) -> tzinfo:
    """The chat's zone; UTC for a name the tz data does not know (no tz data at all still gives UTC)."""
    return ZoneInfo(name) if valid_zone(name) else UTC


def in_zone(moment: datetime, time_zone: str) -> datetime:
    """A stored (UTC) moment as the chat's clock reads it, with its offset (for files a spreadsheet reads)."""
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(_zone(time_zone))


def format_moment(moment: datetime | None, language: str, time_zone: str) -> str:
    """A short date and time in the chat's zone and language: "Dec 2, 08:48", "2 дек., 08:48".

    CLDR's own order for a day-and-month and a 24-hour time, joined as the locale joins them."""
    if moment is None:
        return "—"
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)  # stored times are UTC
    locale, zone = _locale(language), _zone(time_zone)
    date = format_skeleton("MMMd", moment, tzinfo=zone, locale=locale)
    time = format_skeleton("Hm", moment, tzinfo=zone, locale=locale)
    return locale.datetime_formats["short"].replace("'", "").replace("{0}", time).replace("{1}", date)


def zone_offset(time_zone: str, at: datetime | None = None) -> timedelta:
    """The zone's offset from UTC at a moment (now by default): summer time moves it."""
    return (at or datetime.now(UTC)).astimezone(_zone(time_zone)).utcoffset() or timedelta(0)


def utc_offset(time_zone: str, at: datetime | None = None) -> str:
    """The zone named by its offset at a moment ("UTC+03:00"), to follow a time shown in it; UTC is "UTC"."""
    if time_zone == "UTC":
        return "UTC"
    offset = zone_offset(time_zone, at)
    sign = "-" if offset < timedelta(0) else "+"
    hours, rest = divmod(abs(int(offset.total_seconds())) // 60, 60)
    return f"UTC{sign}{hours:02d}:{rest:02d}"


def zone_label(time_zone: str, language: str) -> str:
    """A zone for the Settings picker: its offset now and its city in the chat's language, "UTC+03:00 Москва"."""
    if time_zone == "UTC" or not valid_zone(time_zone):
        return "UTC"
    city = get_timezone_location(time_zone, locale=_locale(language), return_city=True)
    return f"{utc_offset(time_zone)} {city}"
