"""Boundary parsing: provider JSON in, typed values out, or MalformedReplyError."""
from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

from .errors import MalformedReplyError

log = logging.getLogger(__name__)
Row = TypeVar("Row")
Read = TypeVar("Read")

# Bounds on what a provider's number may be (its documents set none): an amount at or past a billion is no price
# or balance (and a 27-digit one overflows Decimal's arithmetic); an integer past SQLite's 64 bits is no id.
AMOUNT_LIMIT = Decimal(10) ** 9
INT_LIMIT = 2 ** 63


def readable_rows(rows: Iterable[Row], read: Callable[[Row], Read], *, provider: str, what: str) -> list[Read]:
    """A catalogue list (services, prices, plans) read row by row: a row the bot cannot use is left out, with one
    log line for the list naming the first, and the rest shown. Every row unreadable is the reply's fault: raised.
    (Lists of rentals stay strict: a rental left out would read as one the provider ended.)"""
    kept: list[Read] = []
    bad: list[MalformedReplyError] = []
    for row in rows:
        try:
            kept.append(read(row))
        except MalformedReplyError as err:
            bad.append(err)
    if bad and not kept:
        raise bad[0]
    if bad:
        log.warning("%s %s: %d unreadable row(s) left out, the first: %s", provider, what, len(bad), bad[0])
    return kept


class Reader:
    """Reads fields from one JSON object, naming the provider and path in every error."""

    def __init__(self, data: Any, *, provider: str, where: str = "reply") -> None:
        if not isinstance(data, dict):
            raise MalformedReplyError(f"{where}: expected an object, got {type(data).__name__}", provider=provider)
        self.data = data
        self.provider = provider
        self.where = where

    def _fail(self, key: str, why: str) -> MalformedReplyError:
        return MalformedReplyError(f"{self.where}.{key}: {why}", provider=self.provider)

    def has(self, key: str) -> bool:
        return self.data.get(key) is not None

    def raw(self, key: str, default: Any = ...) -> Any:
        if key not in self.data or self.data[key] is None:
            if default is ...:
                raise self._fail(key, "missing")
            return default
        return self.data[key]

    def obj(self, key: str) -> Reader:
        return Reader(self.raw(key), provider=self.provider, where=f"{self.where}.{key}")

    def list(self, key: str, default: Any = ...) -> list:
        value = self.raw(key, default)
        if not isinstance(value, list):
            raise self._fail(key, "expected a list")
        return value

    def objects(self, key: str) -> list[Reader]:
        return [
            Reader(item, provider=self.provider, where=f"{self.where}.{key}[{i}]")
            for i, item in enumerate(self.list(key))
        ]

    def str(self, key: str, default: Any = ...) -> str:
        value = self.raw(key, default)
        if value is default and default is not ...:
            return value
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            raise self._fail(key, "expected a string")
        return str(value)

    def int(self, key: str, default: Any = ...) -> int:
        value = self.raw(key, default)
        if value is default and default is not ...:
            return value
        if isinstance(value, bool):
            raise self._fail(key, "expected an integer")
        try:
            number = int(str(value))
        except ValueError:
            raise self._fail(key, f"expected an integer, got {str(value)[:20]!r}") from None
        if not -INT_LIMIT <= number < INT_LIMIT:  # an id or a count past what the database stores
            raise self._fail(key, f"integer out of range ({str(value)[:20]}…)")
        return number

    def decimal(self, key: str, default: Any = ...) -> Decimal:
        value = self.raw(key, default)
        if value is default and default is not ...:
            return value
        return to_decimal(value, fail=lambda why: self._fail(key, why))

    def bool(self, key: str, default: Any = ...) -> bool:
        value = self.raw(key, default)
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false", "1", "0"):
            return value.lower() in ("true", "1")
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        raise self._fail(key, "expected a boolean")

    def datetime(self, key: str, default: Any = ...) -> datetime | None:
        value = self.raw(key, default)
        if value is default and default is not ...:
            return value
        if not isinstance(value, str):
            raise self._fail(key, "expected a date string")
        parsed = parse_datetime(value)
        if parsed is None:
            raise self._fail(key, f"unreadable date {value[:30]!r}")
        return parsed


def to_decimal(value: Any, *, fail) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise fail("expected a number")
    try:
        # str() first: floats from JSON become their shortest exact decimal text (4.99, not 4.9900000001)
        result = Decimal(str(value).strip())
    except InvalidOperation:
        raise fail(f"expected a number, got {str(value)[:20]!r}") from None
    if not result.is_finite():
        raise fail("expected a finite number")
    if abs(result) >= AMOUNT_LIMIT:  # schema-valid, yet no price or balance: arithmetic on it would overflow
        raise fail(f"number out of range ({str(value)[:20]}…)")
    return result


def parse_datetime(value: str) -> datetime | None:
    """ISO 8601 or 'YYYY-MM-DD HH:MM:SS' / 'YYYY-MM-DD'; naive values are taken as UTC."""
    text = value.strip()
    for attempt in (text, text.replace(" ", "T", 1)):
        try:
            parsed = datetime.fromisoformat(attempt)
        except ValueError:
            continue
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None
