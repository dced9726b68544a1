"""Find the verification code in an SMS, as the user has to type it into the app.

Rules, in order:

* A provider's own ``code`` field wins when given: returned stripped, ints as str.
  ``None``, ``0``, ``""``, whitespace and the strings "null"/"none" mean "not given".
* Split codes ("123-456", "123 456", "1234 5678": two equal groups of 3 or 4 digits) are
  returned as digits only ("123456"): that is what the app's field accepts, and pasting
  "123-456" into a numeric field often fails.
* Prefixed codes ("G-482913", "FB-12345": 1-3 capital letters, a dash, digits) are returned
  without the prefix ("482913"): Google shows "G-" in front of its field, Facebook wants digits.
* Plain codes are 4-8 digits. Alphanumeric codes (4-12 chars, at least one letter and one digit,
  e.g. "AB12CD") count only right after a label such as "code:".
* Never codes: links, phone numbers (10+ digits, or "+" and 8+), amounts with a currency,
  durations ("valid for 10 minutes"), times, dates, decimals, masked cards ("*1234", "XX1234").
* Among the rest, the winner is the candidate labelled by a keyword (code, код, kod, código,
  PIN, OTP, password, пароль, ...) in the same sentence and at most 6 words away; then a
  candidate that does not look like a year (1900-2099); then the fewest words to the label;
  then the earliest. A year-like number only counts when labelled.
* No candidate left: None.
"""
from __future__ import annotations

import re

_NOT_PROVIDED = frozenset({"", "null", "none"})
_MAX_LABEL_WORDS = 6

# Substrings on purpose: "code" also hits "passcode" and "Bestätigungscode", "kod" hits
# "kodunuz"/"kode", "код" hits "кода"/"кодом". PIN/OTP are whole words ("shopping", "hotpot").
_KEYWORD = r"code|codice|c[oó]digo|kod|код|\bpin\b|\botp\b|passw|пароль|senha|contrase|验证码|コード"
_KEYWORD_RE = re.compile(_KEYWORD, re.IGNORECASE)

# Thousands groups are at most 3 digits, so "Code 4821 500 ₽" keeps 4821 as a candidate.
_AMOUNT = r"(?<![0-9])(?:[0-9]{1,3}(?:[ \u00a0,.][0-9]{3})+|[0-9]+)(?:[.,][0-9]{1,2})?"
# Spans that hold digits but are never the code; blanked out (same length) before the search.
_NOISE_RE = re.compile(
    "|".join((
        r"\b(?:https?://|www\.)\S+|\b[\w-]+(?:\.[\w-]+)+/\S*",  # links repeat ids, not always the code
        r"(?<![0-9])[0-9]+\s*(?:min|мин|minut|dak|hour|hrs|час|sec|сек|分钟)",  # "valid for 10 minutes"
        rf"(?:[$€£¥₹₽]|\b(?:rs|usd|eur|rub|inr)\b\.?)\s?{_AMOUNT}",  # "$12.50", "INR 2,500.00"
        rf"{_AMOUNT}\s?(?:[$€£¥₹₽₴₸]|руб|р\b|грн|\b(?:usd|eur|rub|uah|inr|kzt)\b)",  # "1 500,00 ₽"
    )),
    re.IGNORECASE,
)
# Grouped digit runs ("+1 800 555 0199", "8 (800) 555-35-35"); the digit count decides.
_PHONE_RE = re.compile(r"(?<!\w)\+?(?:[0-9]{1,4}|\([0-9]{1,4}\))(?:[\s.-]?\([0-9]{2,4}\)|[\s.-][0-9]{2,8}){2,}(?!\w)")

_ALNUM_RE = re.compile(
    rf"(?:{_KEYWORD})\w*\W{{1,3}}(?:is\W{{1,2}})?"
    r"((?=[A-Za-z0-9]*[A-Za-z])(?=[A-Za-z0-9]*[0-9])[A-Za-z0-9]{4,12})(?![\w-])",
    re.IGNORECASE,
)
_PREFIXED_RE = re.compile(r"(?<![\w-])[A-Z]{1,3}-([0-9]{4,8})(?![\w-])")
_SPLIT_RE = re.compile(
    r"(?<![\w+.,-])(?<![0-9][ \u00a0-])([0-9]{3}[ \u00a0-][0-9]{3}|[0-9]{4}[ \u00a0-][0-9]{4})"
    r"(?!\w|[ \u00a0.,-][0-9])"
)
# Not glued to letters, card masks, "+", decimals, dates or ids in paths.
_NUMBER_RE = re.compile(r"(?<![\w*•+.,/-])([0-9]{4,8})(?!\w|[.,:/-][0-9])")
_SENTENCE_END_RE = re.compile(r"[.!?。](?:\s|$)")
_WORD_RE = re.compile(r"\w+")


def extract_code(body: str, provided: str | int | None = None) -> str | None:
    """Return the code to show the user, or None when the SMS carries none (rules above)."""
    given = str(provided).strip() if provided else ""
    if given.lower() not in _NOT_PROVIDED:
        return given
    if not body:
        return None
    text = _NOISE_RE.sub(_blank, body)
    text = _PHONE_RE.sub(_blank_phone, text)
    labels = [m.span() for m in _KEYWORD_RE.finditer(text)]
    best_key, best = None, None
    for start, end, value in _candidates(text):
        words = _label_distance(text, start, end, labels)
        year_like = len(value) == 4 and value.isdigit() and 1900 <= int(value) <= 2099
        if year_like and words is None:
            continue
        key = (words is None, year_like, words or 0, start)
        if best_key is None or key < best_key:
            best_key, best = key, value
    return best


def _blank(match: re.Match) -> str:
    return " " * len(match.group())


def _blank_phone(match: re.Match) -> str:
    digits = sum(ch.isdigit() for ch in match.group())
    is_phone = digits >= 10 or (match.group().startswith("+") and digits >= 8)
    return _blank(match) if is_phone else match.group()


def _candidates(text: str):
    """Yield (start, end, code); earlier patterns are more specific and claim their span first."""
    taken: list[tuple[int, int]] = []
    for pattern in (_ALNUM_RE, _PREFIXED_RE, _SPLIT_RE, _NUMBER_RE):
        for m in pattern.finditer(text):
            start, end = m.span(1)
            if any(start < t_end and t_start < end for t_start, t_end in taken):
                continue
            taken.append((start, end))
            yield start, end, re.sub(r"[^0-9A-Za-z]", "", m.group(1))


def _label_distance(text: str, start: int, end: int, labels: list[tuple[int, int]]) -> int | None:
    """Words between the candidate and the nearest label in the same sentence, None if too far."""
    best = None
    for l_start, l_end in labels:
        gap = text[l_end:start] if l_end <= start else text[end:l_start] if l_start >= end else ""
        words = len(_WORD_RE.findall(gap))
        if words <= _MAX_LABEL_WORDS and not _SENTENCE_END_RE.search(gap):
            best = words if best is None else min(best, words)
    return best
