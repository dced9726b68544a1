"""What every GetAText call shares: the HTTP session, the key, the 1 request/s pace, and the
check that turns a 2xx reply reporting a failure into an error. The mixins of the other
modules (activations, multi-service rentals, long rentals, auctions, handler_api) build on
``ClientCore``; ``GetATextClient`` composes them.

Decisions where the document is silent or ambiguous:

* A 2xx reply whose ``status`` is not "success" (on endpoints where ``status`` means the
  request's outcome) or whose ``errors`` is not null is an error. ``"errors": "null"``
  (a string) counts as null. On rental-status and cancel-rental ``status`` is the
  rental's state, so only ``errors`` is checked there.
* Any 5xx to a call that spends money (rent-a-number, re-rent, rent-multiple-services,
  long-rentals create/renew, bid, handler_api getNumber) is ``OutcomeUnknownError``: the
  document names only 400/401/403 as error statuses and never says a 5xx rented nothing.
* Rent, rent-multiple-services, cancel-rental and re-rent share one ``Pacer``
  (1 request/s, ``rent_interval``); so do the handler_api.php equivalents (getNumber,
  setStatus). Each is sent a full interval after the previous one's reply, so no arrival
  jitter brings two within the provider's second (``Pacer.turn``).
* The API key travels in the ``Auth`` header, except on handler_api.php which wants it
  as the ``api_key`` query parameter. Error messages are scrubbed of the key, and a
  filter on the ``httpx`` logger masks ``api_key=`` in the request URLs it logs.
"""
from __future__ import annotations

from typing import Any

import httpx

from ..errors import ProviderError, ProviderRejectedError
from ..http import HttpClientBase, HttpCore, Pacer, redact
from ..parsing import Reader
from .classify import _classify, _error_text, classify_message


class ClientCore(HttpClientBase):
    name: str  # the Provider's name, set by GetATextClient
    # Provider.rent_interval: "(1 Request per second)" on rent-a-number, rent-multiple-services and cancel-rental.
    rent_interval = 1.0

    def __init__(
        self,
        api_key: str,
        *,
        base_url: str = "https://getatext.com",
        timeout: float = 15.0,
        transport: httpx.AsyncBaseTransport | None = None,
        max_retries: int = 2,
        backoff: float = 0.5,
        rent_interval: float | None = None,
        poll_interval: float = 0.2,
    ) -> None:
        self._key = api_key  # handler_api.php takes it as a query parameter
        self._http = HttpCore(
            provider=self.name,
            base_url=base_url,
            headers={"Auth": api_key},
            timeout=timeout,
            max_retries=max_retries,
            backoff=backoff,
            transport=transport,
            classify=_classify,
            secret=api_key,
            spent_5xx_unknown=True,  # the document does not promise a 5xx rented nothing
        )
        if rent_interval is not None:  # a test's faster fake
            self.rent_interval = rent_interval
        self._rent_pacer = Pacer(self.rent_interval)  # the document's 1 request/s endpoints
        self._poll_pacer = Pacer(poll_interval)  # reads are not limited; stay polite anyway

    async def _request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json_body: Any = None,
        spends_money: bool = False,
        paced: bool = False,
        expect_json: bool = True,
    ) -> Any:
        try:
            if paced:
                async with self._rent_pacer.turn():
                    return await self._http.request(method, path, params=params, json_body=json_body,
                                                    spends_money=spends_money, expect_json=expect_json)
            return await self._http.request(
                method, path, params=params, json_body=json_body, spends_money=spends_money, expect_json=expect_json
            )
        except ProviderError as err:
            err.message = redact(err.message)
            err.args = (err.message,)
            raise

    def _error(self, message: str, status: int | None = None) -> ProviderError:
        message = redact(message)
        cls = classify_message(message) or ProviderRejectedError
        return cls(message, provider=self.name, status=status)

    def _checked(self, data: Any, *, request_status: bool = True, where: str = "reply") -> Reader:
        """A 2xx reply that still reports a failure becomes an error."""
        r = Reader(data, provider=self.name, where=where)
        problem = _error_text(data.get("errors"))
        if not problem and request_status:
            status = data.get("status")
            if status is not None and str(status).strip().lower() != "success":
                problem = _error_text(data.get("message")) or f"request status {str(status)[:30]!r}"
        if problem:
            raise self._error(problem)
        return r
