"""GetAText's refusals mapped onto the error tree: its error wording, its ``errors`` field,
and the one refusal of its own (cancelling within a minute of renting)."""
from __future__ import annotations

import re
from typing import Any

from .. import errors
from ..errors import CancelTooSoonError, ProviderError

__all__ = ["CancelTooSoonError", "classify_message"]  # GetAText's "wait one minute" is the shared CancelTooSoonError


def classify_message(message: str) -> type[ProviderError] | None:
    """Maps GetAText's error wording onto the error tree."""
    text = message.lower()
    if "wait" in text and ("minute" in text or "cancel" in text):
        return CancelTooSoonError
    if re.search(r"insufficient (funds|balance)|not enough (funds|balance|money)"
                 r"|balance.{0,20}too low|low balance", text):
        return errors.InsufficientFundsError
    if re.search(r"not found|does not exist|no such", text):
        return errors.NotFoundError
    if re.search(r"no numbers?\b|not available|unavailable|out of stock|no stock|sold out", text):
        return errors.NothingAvailableError
    return None


def _classify(status: int, message: str) -> type[ProviderError] | None:
    # 401, 429 and 5xx keep their generic meaning whatever the body says.
    if status == 401 or status == 429 or status >= 500 or not message:
        return None
    return classify_message(message)


def _error_text(value: Any) -> str:
    """``errors`` may be null, "null", a string, a list or a {field: [messages]} object."""
    if value is None or value == "null" or value == "" or value == [] or value == {}:
        return ""
    if isinstance(value, dict):
        value = next(iter(value.values()))
    if isinstance(value, list):
        value = value[0] if value else ""
    return str(value)[:300]
