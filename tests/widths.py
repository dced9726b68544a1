"""How wide a button label is, and how wide it may be, at phone width (400 px).

The measure is wcwidth's (the standard library for display width): narrow characters count one, East Asian Wide
and Full-width characters and emoji count two. On top of it, a pictograph written without U+FE0F whose emoji form
wcwidth knows (its VS16 table: 🗓 🛡 ⏱ 🗄) counts two as well: a terminal shows it narrow, but Telegram and Chromium
draw it as the colour emoji it is. ASCII and Latin-1 (digits, #, *, ©, ®) stay narrow: they are emoji only as keycaps.

The budget: a button with ``n`` buttons in its row may be ``BUDGET[n]`` wide (more than four in a row: never fits).
Measured in the playground (playground/static/style.css) in Debian's Chromium at a 400 px wide viewport, the fonts
Liberation Sans (Arial's metrics, close to Telegram's Roboto) and Noto Color Emoji:

* the message column is 400 - 2 x 12 px (the list's padding) = 376 px; a bot message with a keyboard is at most
  82 % of that, 308 px (``.stack``); buttons share a row equally with 3 px gaps and keep 2 x 10 px of padding, so a
  label has 288 px alone in its row, 132 px with two, 80 px with three, 54 px with four;
* label widths, each label rendered in a span in the button's font, divided by the label's display width below:
  over every button label of en.toml and ru.toml (filled with $123.45, 🇬🇧 United Kingdom, +44 7700 900123), a
  display unit took 6.2-8.3 px, median 7.1 (en 6.8, ru 7.4), 95th percentile 7.9; an emoji is 17 px (8.5 per unit);
  Latin and Cyrillic letters alone 7.0 (x, о) to 11.7 px (m, ш);
* so 8 px a unit, above the 95th percentile of the real labels: 288 / 8 = 36, 132 / 8 = 16, 80 / 8 = 10,
  54 / 8 = 6.

The rough rule for Telegram's clients, 34 narrow characters for a full-width button at 400 px and
(34 - 2 (n - 1)) / n with n in a row (34, 16, 10, 7), is within a unit or two of these.
tests/test_playground_browser.py checks the pixel widths above on the page it walks (``LABEL_PX``).
"""
from __future__ import annotations

import bisect

from aiogram.types import InlineKeyboardMarkup
from wcwidth import VS16_NARROW_TO_WIDE, wcswidth

PX_PER_UNIT = 8
# px a label has with n buttons in its row, at a 400 px viewport (the playground's .stack, .kb-row and .kb-btn)
STACK_PX, GAP_PX, PADDING_PX = 308, 3, 20
LABEL_PX = {n: (STACK_PX - GAP_PX * (n - 1)) / n - PADDING_PX for n in (1, 2, 3, 4)}
BUDGET = {n: int(px // PX_PER_UNIT) for n, px in LABEL_PX.items()}
assert BUDGET == {1: 36, 2: 16, 3: 10, 4: 6}, BUDGET

_VS16 = sorted(next(iter(VS16_NARROW_TO_WIDE.values())))  # (first, last) code points: emoji shown narrow without FE0F
_STARTS = [first for first, _ in _VS16]


def _emoji_shown_narrow(char: str) -> bool:
    code = ord(char)
    at = bisect.bisect_right(_STARTS, code) - 1
    return code > 0xFF and at >= 0 and _VS16[at][0] <= code <= _VS16[at][1]


def display_width(text: str) -> int:
    """Narrow characters one, wide ones and emoji two (see the module's doc)."""
    width = wcswidth(text)
    assert width >= 0, f"a control character in {text!r}"
    for i, char in enumerate(text):
        if _emoji_shown_narrow(char) and text[i + 1:i + 2] != "\ufe0f":
            width += 1  # wcwidth counted it one; with FE0F after it, two already
    return width


def budget(in_row: int) -> int:
    return BUDGET.get(in_row, 0)


def too_wide(markup: InlineKeyboardMarkup | None) -> list[str]:
    """Each button of ``markup`` wider than its row's budget, as "label (width > budget, n in the row)"."""
    problems = []
    for row in (markup.inline_keyboard if markup else []):
        for button in row:
            if (width := display_width(button.text)) > budget(len(row)):
                problems.append(f"{button.text!r} ({width} > {budget(len(row))}, {len(row)} in the row)")
    return problems
