"""The operations of GotSMS's OpenAPI document, one method (``api_*``) each: services,
plans, rents (create, transition, auto-renewal, refund), messages, and a number's wake-up
and online state. The ``Provider`` methods of ``GotSmsClient`` are built on them.

Decisions where the document is silent or ambiguous:

* ``mark_as_read`` is sent as ``1``: Laravel's ``boolean`` rule refuses "true" in a query.
* A reply to a call that spends money (create, transition) that cannot be read is an
  ``OutcomeUnknownError``: the provider may well have done it.
* So is any 5xx to such a call: the document lists only 201/200 and 422 for them and
  never says a 5xx means nothing was done, so a 500 after the rent was created is possible.
* "... not available" means "no stock" only for create-rent; elsewhere ("Refund not
  available for this rent.") it is the provider refusing, with its message.
* ``area_code`` is documented only as "Preferred area code."; what the provider answers when
  it has no number there is not. A create-rent that asked for an area code and is refused as
  "nothing available" (whatever the wording, e.g. 422 "No numbers available for the requested
  area code.") is ``NoNumberInAreaError``: the caller may try another area or none. The wording
  alone could not tell "none in this area" from "none at all", and asking without the area
  code then says which. A rent in another area (if the provider treats the code as a mere
  preference) is not refused here: it was rented and paid for.
"""
from __future__ import annotations

import re
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from .. import errors
from ..errors import ProviderRejectedError
from ..http import spent_reply
from ..models import BillingType, NumberStatus, Offer, Rental, Service, Sms
from ..parsing import Reader, readable_rows
from .core import PAGE_SIZE, ClientCore
from .replies import (
    _BILLING_TYPES,
    MessagePage,
    PricelistEntry,
    RentUpdate,
    read_number_status,
    read_offer,
    read_pricelist,
    read_rental,
    read_service,
    read_sms,
    read_update,
)

DURATION_TYPES = frozenset({"min", "hour", "day", "week", "month", "year"})
RENT_FILTER_STATUSES = frozenset({"active", "finished"})


def _choice(value: str | None, allowed: frozenset[str], name: str) -> str | None:
    if value is not None and str(value) not in allowed:
        raise ValueError(f"{name} must be one of {sorted(allowed)}, got {value!r}")
    return None if value is None else str(value)


def _size(value: int | None, name: str) -> int | None:
    if value is not None and not 1 <= value <= PAGE_SIZE:
        raise ValueError(f"{name} must be between 1 and {PAGE_SIZE}")
    return value


def _path_id(value: str) -> str:
    text = str(value).strip()
    if not text:
        raise ValueError("rent_id must not be empty")
    return quote(text, safe="")


class GotSmsApi(ClientCore):
    async def api_public_pricelist(self) -> list[PricelistEntry]:
        """GET /api/pricelist (public: needs no key)."""
        return read_pricelist(await self._call("GET", "/api/pricelist", "pricelist"))

    async def api_account_balance(self) -> Decimal:
        """GET /api/account."""
        r = await self._call("GET", "/api/account", "account")
        return r.obj("data").decimal("balance")

    async def api_list_services(self, search: str | None = None, per_page: int | None = None) -> list[Service]:
        """GET /api/services, all pages."""
        params = {"search": search, "per_page": _size(per_page, "per_page")}
        return readable_rows(await self._all_pages("/api/services", params, "services"), read_service,
                             provider=self.name, what="services")

    async def api_list_rent_plans(
        self,
        service_id: str | None = None,
        country_id: str | None = None,
        duration_type: str | None = None,
        billing_type: str | BillingType | None = None,
        search: str | None = None,
        per_page: int | None = None,
    ) -> list[Offer]:
        """GET /api/rents/plans, all pages. Offer.id is the plan id."""
        params = {
            "service_id": service_id,
            "country_id": country_id,
            "duration_type": _choice(duration_type, DURATION_TYPES, "duration_type"),
            "billing_type": _choice(billing_type, frozenset(_BILLING_TYPES), "billing_type"),
            "search": search,
            "per_page": _size(per_page, "per_page"),
        }
        return readable_rows(await self._all_pages("/api/rents/plans", params, "plans"), read_offer,
                             provider=self.name, what="rent plans")

    async def api_list_rents(
        self, status: str | None = None, service: str | None = None, phone: str | None = None,
        per_page: int | None = None,
    ) -> list[Rental]:
        """GET /api/rents, all pages."""
        params = {
            "status": _choice(status, RENT_FILTER_STATUSES, "status"),
            "service": service,
            "phone": phone,
            "per_page": _size(per_page, "per_page"),
        }
        return [read_rental(r) for r in await self._all_pages("/api/rents", params, "rents")]

    async def api_create_rent(self, plan_id: str, area_code: str | None = None) -> Rental:
        """POST /api/rents. Spends money: sent once; a lost or unreadable reply raises
        OutcomeUnknownError. "... not available" replies mean no stock; with ``area_code``,
        no stock is ``NoNumberInAreaError``."""
        body = {"plan_id": str(plan_id)}
        if area_code is not None:
            body["area_code"] = str(area_code)
        # With an area code asked for, "nothing available" is about that area (module docstring).
        no_stock = errors.NothingAvailableError if area_code is None else errors.NoNumberInAreaError
        try:
            with spent_reply(self.name, "create rent"):
                r = await self._call("POST", "/api/rents", "create_rent", json_body=body, spends_money=True)
                return read_rental(r.obj("data"))
        except errors.NothingAvailableError as err:
            if isinstance(err, no_stock):
                raise
            raise no_stock(err.message, provider=self.name, status=err.status) from None
        except ProviderRejectedError as err:
            if re.search(r"not available|unavailable", err.message.lower()):
                raise no_stock(err.message, provider=self.name, status=err.status) from None
            raise

    async def api_transition_rent(self, rent_id: str, plan_id: str) -> RentUpdate:
        """POST /api/rents/{rent_id}/transition: a daily rent to a monthly plan. Spends money."""
        path = f"/api/rents/{_path_id(rent_id)}/transition"
        with spent_reply(self.name, "transition"):
            r = await self._call("POST", path, "transition", json_body={"plan_id": str(plan_id)}, spends_money=True)
            return read_update(r)

    async def api_toggle_auto_renewal(self, rent_id: str) -> bool:
        """POST /api/rents/{rent_id}/renewal/toggle; the new state (monthly plans only)."""
        r = await self._call("POST", f"/api/rents/{_path_id(rent_id)}/renewal/toggle", "renewal_toggle")
        return r.obj("data").bool("is_included_for_next_renewal")

    async def api_refund_rent(self, rent_id: str) -> RentUpdate:
        """POST /api/rents/{rent_id}/refund."""
        return read_update(await self._call("POST", f"/api/rents/{_path_id(rent_id)}/refund", "refund"))

    async def api_list_messages(
        self, service_id: str | None = None, phone: str | None = None, per_page: int | None = None
    ) -> list[Sms]:
        """GET /api/messages: every SMS of every rent, all pages."""
        params = {"service_id": service_id, "phone": phone, "per_page": _size(per_page, "per_page")}
        return [read_sms(r) for r in await self._all_pages("/api/messages", params, "messages")]

    async def api_list_unread_messages(
        self,
        service_id: str | None = None,
        rent_id: str | None = None,
        phone: str | None = None,
        per_page: int | None = None,
        mark_as_read: bool = False,
    ) -> list[Sms]:
        """GET /api/messages/unread, all pages; ``mark_as_read`` marks what it returns."""
        params: dict[str, Any] = {
            "service_id": service_id, "rent_id": rent_id, "phone": phone, "per_page": _size(per_page, "per_page"),
        }
        if mark_as_read:
            params["mark_as_read"] = 1
            rows = await self._consume_pages("/api/messages/unread", params, "unread")
        else:
            rows = await self._all_pages("/api/messages/unread", params, "unread")
        return [read_sms(r) for r in rows]

    async def api_wake_up(self, rent_id: str) -> str:
        """POST /api/numbers/{rent_id}/wake-up; the provider's message."""
        r = await self._call("POST", f"/api/numbers/{_path_id(rent_id)}/wake-up", "wake_up")
        return r.str("message", "") or "Wake up request sent."

    async def api_rent_messages(
        self, rent_id: str, limit: int | None = None, before_id: str | None = None
    ) -> MessagePage:
        """GET /api/numbers/{rent_id}/messages: one page, newest first."""
        params = {"limit": _size(limit, "limit"), "before_id": before_id}
        r = await self._call("GET", f"/api/numbers/{_path_id(rent_id)}/messages", "rent_messages", params=params)
        messages = tuple(read_sms(m, rental_id=str(rent_id)) for m in r.objects("data"))
        meta = r.obj("meta") if r.has("meta") else Reader({}, provider=self.name, where="rent_messages.meta")
        return MessagePage(messages, meta.str("next_before_id", None), meta.int("count", len(messages)))

    async def api_number_status(self, rent_id: str) -> NumberStatus:
        """GET /api/numbers/{rent_id}/status."""
        r = await self._call("GET", f"/api/numbers/{_path_id(rent_id)}/status", "number_status")
        return read_number_status(r.obj("data"))
