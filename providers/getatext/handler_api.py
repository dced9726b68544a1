"""GetAText's SMS-Activate-compatible API (``/stubs/handler_api.php``): getNumber, getCode
and setStatus, with plain-text replies.

The document lists the actions but not their replies; they follow the SMS-Activate
protocol: plain text such as ACCESS_NUMBER:id:number, STATUS_OK:code, STATUS_WAIT_CODE,
ACCESS_CANCEL, or an error word (NO_NUMBERS, NO_BALANCE, BAD_KEY). ``ERROR_SQL`` (the
handler's server error, in a 200 text reply) to getNumber is ``OutcomeUnknownError``, like
a 5xx to any call that spends money. The key goes in the ``api_key`` query parameter here.
"""
from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from .. import errors
from ..errors import MalformedReplyError, ProviderError, ProviderRejectedError
from ..http import redact
from ..models import Rental, RentalStatus
from .classify import CancelTooSoonError
from .core import ClientCore
from .replies import HandlerCode, _int_id

# SMS-Activate setStatus codes: 1 number ready, 3 request another code, 6 complete, 8 cancel.
HANDLER_STATUSES = frozenset({1, 3, 6, 8})


class HandlerApi(ClientCore):
    _HANDLER_ERRORS: dict[str, type[ProviderError]] = {
        "BAD_KEY": errors.AuthenticationError,
        "NO_BALANCE": errors.InsufficientFundsError,
        "NO_NUMBERS": errors.NothingAvailableError,
        "NO_ACTIVATION": errors.NotFoundError,
        "WRONG_ACTIVATION_ID": errors.NotFoundError,
        "EARLY_CANCEL_DENIED": CancelTooSoonError,
        "ERROR_SQL": errors.ServerError,
        "BAD_ACTION": ProviderRejectedError,
        "BAD_SERVICE": ProviderRejectedError,
        "BAD_STATUS": ProviderRejectedError,
        "WRONG_MAX_PRICE": ProviderRejectedError,
        "BANNED": ProviderRejectedError,
    }

    async def _handler(self, params: dict[str, Any], *, spends_money: bool = False, paced: bool = False
                       ) -> tuple[str, str]:
        """Sends one handler_api.php action; returns (WORD, rest after the first colon)."""
        text = await self._request(
            "GET", "/stubs/handler_api.php", params={"api_key": self._key, **params},
            spends_money=spends_money, paced=paced, expect_json=False,
        )
        text = text.strip()
        if text.startswith("{"):  # some SMS-Activate clones answer errors in JSON
            try:
                data = json.loads(text)
            except json.JSONDecodeError:
                data = None
            if isinstance(data, dict):
                self._checked(data, where="handler_api")
        if "<html" in text[:300].lower() or text[:20].lower().startswith("<!doctype"):
            raise MalformedReplyError("handler_api: expected a text reply, got HTML page", provider=self.name)
        word, _, rest = text.partition(":")
        cls = self._HANDLER_ERRORS.get(word)
        if cls is errors.ServerError and spends_money and self._http.spent_5xx_unknown:
            # ERROR_SQL is the handler's 500: it may come after the number was taken.
            raise errors.OutcomeUnknownError(f"{redact(text[:100])}; outcome unknown", provider=self.name)
        if cls is not None:
            raise cls(redact(text[:100]), provider=self.name)
        return word, rest

    def _unexpected(self, word: str, rest: str) -> MalformedReplyError:
        reply = f"{word}:{rest}" if rest else word
        return MalformedReplyError(f"handler_api: unexpected reply {redact(reply[:60])!r}", provider=self.name)

    async def handler_get_number(self, service: str) -> Rental:
        """handler_api.php?action=getNumber -> ``ACCESS_NUMBER:id:number``. Spends money."""
        word, rest = await self._handler({"action": "getNumber", "service": service}, spends_money=True, paced=True)
        rental_id, _, number = rest.partition(":")
        if word != "ACCESS_NUMBER" or not rental_id.strip().isdigit() or not number.strip():
            raise self._unexpected(word, rest)
        return Rental(
            provider=self.name, id=rental_id.strip(), phone=number.strip(), service_name=service,
            status=RentalStatus.ACTIVE, active_from=datetime.now(UTC),
        )

    async def handler_get_code(self, rental_id: str | int) -> HandlerCode:
        """handler_api.php?action=getCode -> STATUS_WAIT_CODE / STATUS_OK:code / STATUS_CANCEL."""
        word, rest = await self._handler({"action": "getCode", "id": _int_id(rental_id)})
        code = rest.strip() or None
        if word in ("STATUS_OK", "STATUS_WAIT_RETRY") and code:
            return HandlerCode(RentalStatus.ACTIVE, code)
        if word in ("STATUS_WAIT_CODE", "STATUS_WAIT_RESEND"):
            return HandlerCode(RentalStatus.ACTIVE, None)
        if word == "STATUS_CANCEL":
            return HandlerCode(RentalStatus.CANCELLED, None)
        raise self._unexpected(word, rest)

    _SET_STATUS_REPLIES = {
        "ACCESS_READY": RentalStatus.ACTIVE,
        "ACCESS_RETRY_GET": RentalStatus.ACTIVE,
        "ACCESS_ACTIVATION": RentalStatus.FINISHED,
        "ACCESS_CANCEL": RentalStatus.CANCELLED,
    }

    async def handler_set_status(self, rental_id: str | int, status: int = 8) -> RentalStatus:
        """handler_api.php?action=setStatus; 8 cancels (-> ACCESS_CANCEL). Paced like cancel.

        Accepts the SMS-Activate codes 1, 3, 6, 8; the document names only 8."""
        if status not in HANDLER_STATUSES:
            raise ValueError(f"status must be one of {sorted(HANDLER_STATUSES)}, got {status!r}")
        word, rest = await self._handler(
            {"action": "setStatus", "id": _int_id(rental_id), "status": status}, paced=True
        )
        if word not in self._SET_STATUS_REPLIES:
            raise self._unexpected(word, rest)
        return self._SET_STATUS_REPLIES[word]
