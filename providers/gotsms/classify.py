"""GotSMS's error wording mapped onto the error tree (no funds, no stock)."""
from __future__ import annotations

import re

from .. import errors
from ..errors import ProviderError

_NO_FUNDS = re.compile(
    r"insufficient (funds|balance)|not enough (funds|balance|money)|balance.{0,20}too low|low balance"
)
_NO_STOCK = re.compile(
    r"no (free |available )?numbers?\b|numbers? (is |are )?not available|out of stock|sold out|no stock"
)


def classify_message(message: str) -> type[ProviderError] | None:
    text = message.lower()
    if _NO_FUNDS.search(text):
        return errors.InsufficientFundsError
    if _NO_STOCK.search(text):
        return errors.NothingAvailableError
    return None


def _classify(status: int, message: str) -> type[ProviderError] | None:
    # 401/403, 404, 429 and 5xx keep their generic meaning whatever the body says.
    if status in (401, 403, 404, 429) or status >= 500 or not message:
        return None
    return classify_message(message)
