"""GotSMS (https://app.gotsms.org) client.

Follows gotsms-openapi.seed.txt. Low-level methods (``api_*``) map one-to-one onto the
document's operations; the ``Provider`` methods are built on them. Decisions where the
document is silent or ambiguous:

* Page-based listings are followed with ``page=N`` (Laravel) until ``meta.last_page``.
  ``mark_as_read`` listings are different: each reply marks what it returned, so the
  unread set shrinks under us; they re-read page 1 until the server reports one page.
* ``mark_as_read`` is sent as ``1``: Laravel's ``boolean`` rule refuses "true" in a query.
* Rent statuses: ``active``, ``finished`` (documented), plus ``expired``, ``refunded``,
  ``cancelled``/``canceled``; anything else is a malformed reply. Number statuses
  (``/numbers/{id}/status``) are passed through as text: the document lists no values.
* ``transition_options`` has no item schema: strings are kept, objects give their ``id``.
* ``rent_messages`` is read newest first; ``history`` keeps that order and stops when
  ``meta.next_before_id`` is null, a page is empty, or the cursor does not move (it equals
  the one just asked with or any asked before: reading on would repeat pages). SMS are
  kept once by id, and a cursor that did not move is logged once.
* A reply to a call that spends money (create, transition) that cannot be read is an
  ``OutcomeUnknownError``: the provider may well have done it.
* So is any 5xx to such a call: the document lists only 201/200 and 422 for them and
  never says a 5xx means nothing was done, so a 500 after the rent was created is possible.
* "... not available" means "no stock" only for create-rent; elsewhere ("Refund not
  available for this rent.") it is the provider refusing, with its message.
* ``cancel`` and ``transition`` read the rental first, so that once the provider has
  acted, a failing follow-up read can no longer turn a success into an error.
"""
from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator, Sequence
from contextlib import aclosing
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any
from urllib.parse import quote

import httpx

from .. import errors
from ..base import Provider
from ..codes import extract_code
from ..errors import MalformedReplyError, NotFoundError, ProviderError, ProviderRejectedError
from ..http import HttpCore, redact, spent_reply
from ..models import BillingType, Capability, NumberStatus, Offer, Rental, RentalStatus, Service, Sms
from ..parsing import Reader

log = logging.getLogger(__package__)

PROVIDER = "gotsms"
PAGE_SIZE = 100  # the document's maximum per_page / limit
MAX_PAGES = 200  # a guard against a server whose pages never end
HISTORY_PAGES = 50
DURATION_TYPES = frozenset({"min", "hour", "day", "week", "month", "year"})
RENT_FILTER_STATUSES = frozenset({"active", "finished"})

_RENT_STATUSES = {
    "active": RentalStatus.ACTIVE,
    "finished": RentalStatus.FINISHED,
    "expired": RentalStatus.EXPIRED,
    "refunded": RentalStatus.CANCELLED,
    "cancelled": RentalStatus.CANCELLED,
    "canceled": RentalStatus.CANCELLED,
}
_BILLING_TYPES = {"duration": BillingType.DURATION, "sms": BillingType.SMS}


# ---------------------------------------------------------------- typed results


@dataclass(frozen=True, slots=True)
class PricelistEntry:
    """One plan of the public pricelist (no ids: it is for showing prices, not renting)."""

    service_name: str
    period: int
    period_type: str
    period_type_label: str
    duration_label: str
    price: Decimal
    renew_price: Decimal | None
    country: str
    billing: BillingType


@dataclass(frozen=True, slots=True)
class RentUpdate:
    """What refund and transition replies say: the rent's id and new status."""

    id: str
    status: RentalStatus
    message: str


@dataclass(frozen=True, slots=True)
class MessagePage:
    """One page of a rent's messages, newest first; pass ``next_before_id`` for older ones."""

    messages: tuple[Sms, ...]
    next_before_id: str | None
    count: int


# ---------------------------------------------------------------- error mapping

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




def _enum(value: str, table: dict, r: Reader, key: str):
    found = table.get(value.strip().lower())
    if found is None:
        raise MalformedReplyError(f"{r.where}.{key}: unknown value {value[:30]!r}", provider=PROVIDER)
    return found


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


# ---------------------------------------------------------------- client


class GotSmsClient(Provider):
    name = PROVIDER
    title = "GotSMS"
    capabilities = frozenset(
        {Capability.CANCEL, Capability.AUTO_RENEW, Capability.WAKE_UP, Capability.TRANSITION, Capability.HISTORY}
    )
    auto_renew_min_minutes = 28 * 24 * 60  # "Auto renewal can be toggled only for monthly 1/3/6/12 plans."
    transition_max_minutes = 24 * 60  # "Current rent plan must be daily for this transition endpoint."

    def __init__(
        self,
        api_key: str,
        *,
        base_url: str = "https://app.gotsms.org",
        timeout: float = 15.0,
        transport: httpx.AsyncBaseTransport | None = None,
        max_retries: int = 2,
        backoff: float = 0.5,
    ) -> None:
        self._http = HttpCore(
            provider=self.name,
            base_url=base_url,
            headers={"Authorization": f"Bearer {api_key}"} if api_key else {},
            timeout=timeout,
            max_retries=max_retries,
            backoff=backoff,
            transport=transport,
            classify=_classify,
            secret=api_key,
            spent_5xx_unknown=True,  # the document does not promise a 5xx rented nothing
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    def observe(self, observer) -> None:
        self._http.add_observer(observer)

    # ------------------------------------------------------------ plumbing

    async def _call(
        self, method: str, path: str, where: str, *, params: dict[str, Any] | None = None,
        json_body: Any = None, spends_money: bool = False,
    ) -> Reader:
        """One request; the reply as a Reader, or a ProviderError with the key scrubbed out."""
        try:
            data = await self._http.request(method, path, params=params, json_body=json_body, spends_money=spends_money)
            return self._checked(data, where)
        except ProviderError as err:
            err.message = redact(err.message)
            err.args = (err.message,)
            raise

    def _checked(self, data: Any, where: str) -> Reader:
        """A 2xx reply with ``success: false`` is an error, mapped like an error status."""
        r = Reader(data, provider=self.name, where=where)
        if not r.bool("success", True):
            message = redact(r.str("message", "") or f"{where}: request failed")
            cls = classify_message(message) or ProviderRejectedError
            raise cls(message, provider=self.name)
        return r

    async def _iter_pages(self, path: str, params: dict[str, Any], where: str) -> AsyncIterator[list[Reader]]:
        """Rows of a page-based listing, one list per page, following ``meta.last_page``."""
        page = 1
        while True:
            r = await self._call("GET", path, where, params={**params, "page": page})
            rows = r.objects("data")
            meta = r.obj("meta")
            last, current = meta.int("last_page"), meta.int("current_page")
            if current != page:
                raise MalformedReplyError(f"{where}.meta.current_page: asked {page}, got {current}", provider=self.name)
            yield rows
            if page >= last or not rows:
                return
            if page >= MAX_PAGES:
                raise MalformedReplyError(f"{where}: more than {MAX_PAGES} pages", provider=self.name)
            page += 1

    async def _all_pages(self, path: str, params: dict[str, Any], where: str) -> list[Reader]:
        rows: list[Reader] = []
        async for page in self._iter_pages(path, params, where):
            rows.extend(page)
        return rows

    async def _consume_pages(self, path: str, params: dict[str, Any], where: str) -> list[Reader]:
        """A listing whose replies remove what they return (``mark_as_read``): page 1 again
        and again until the server says that was the last page."""
        rows: list[Reader] = []
        seen: set[str] = set()
        for _ in range(MAX_PAGES):
            r = await self._call("GET", path, where, params={**params, "page": 1})
            page = r.objects("data")
            last = r.obj("meta").int("last_page")
            fresh = [row for row in page if row.str("id") not in seen]
            seen.update(row.str("id") for row in fresh)
            rows.extend(fresh)
            if last <= 1 or not fresh:
                return rows
        log.warning("%s: stopped after %d pages", where, MAX_PAGES)
        return rows

    # ------------------------------------------------------------ parsing

    def _service(self, r: Reader) -> Service:
        return Service(id=r.str("id"), name=r.str("name"))

    def _offer(self, r: Reader) -> Offer:
        service, country = r.obj("service"), r.obj("country")
        return Offer(
            provider=self.name,
            id=r.str("id"),
            service_id=service.str("id"),
            service_name=service.str("name"),
            price=r.decimal("price"),
            billing=_enum(r.str("billing_type"), _BILLING_TYPES, r, "billing_type"),
            duration_minutes=r.int("duration_in_minutes", None),
            duration_label=r.str("duration_translation"),
            country=country.str("name"),
            renew_price=r.decimal("renew_price", None),
        )

    def _rental(self, r: Reader) -> Rental:
        plan_id = None
        if r.has("plan"):
            plan = r.obj("plan")
            plan_id = plan.str("id")
            if plan.has("billing_type"):
                _enum(plan.str("billing_type"), _BILLING_TYPES, plan, "billing_type")
        options = []
        for i, item in enumerate(r.list("transition_options", [])):
            if isinstance(item, dict):
                options.append(Reader(item, provider=self.name, where=f"{r.where}.transition_options[{i}]").str("id"))
            elif isinstance(item, (str, int)) and not isinstance(item, bool):
                options.append(str(item))
            else:
                raise MalformedReplyError(f"{r.where}.transition_options[{i}]: unexpected item", provider=self.name)
        return Rental(
            provider=self.name,
            id=r.str("id"),
            phone=r.str("phone"),
            service_name=r.obj("service").str("name"),
            status=_enum(r.str("status"), _RENT_STATUSES, r, "status"),
            price=r.decimal("price"),
            active_from=r.datetime("active_from", None),
            active_till=r.datetime("active_till", None),
            auto_renew=r.bool("is_included_for_next_renewal", False),
            can_wake_up=r.bool("can_wake_up", False),
            plan_id=plan_id,
            transition_options=tuple(options),
        )

    def _sms(self, r: Reader, rental_id: str | None = None) -> Sms:
        body = r.str("body")
        code = r.raw("code", None)
        if code is not None and (isinstance(code, bool) or not isinstance(code, (str, int))):
            raise MalformedReplyError(f"{r.where}.code: expected a string", provider=self.name)
        provided = str(code).strip() if code is not None else ""
        return Sms(
            provider=self.name,
            id=r.str("id"),
            rental_id=rental_id if rental_id is not None else r.str("rent_id"),
            body=body,
            code=extract_code(body, provided or None),
            received_at=r.datetime("received_at", None),
            sender=r.str("from", None),
            phone=r.str("phone", None) or r.str("to", None),
        )

    def _update(self, r: Reader) -> RentUpdate:
        data = r.obj("data")
        return RentUpdate(
            id=data.str("id"),
            status=_enum(data.str("status"), _RENT_STATUSES, data, "status"),
            message=r.str("message", ""),
        )

    # ------------------------------------------------------------ documented operations

    async def api_public_pricelist(self) -> list[PricelistEntry]:
        """GET /api/pricelist (public: needs no key)."""
        r = await self._call("GET", "/api/pricelist", "pricelist")
        entries = []
        for group in r.objects("data"):
            group_name = group.str("name")
            for p in group.objects("plans"):
                entries.append(PricelistEntry(
                    service_name=p.str("service_name", None) or group_name,
                    period=p.int("period"),
                    period_type=p.str("period_type"),
                    period_type_label=p.str("period_type_label", ""),
                    duration_label=p.str("duration_translation"),
                    price=p.decimal("price"),
                    renew_price=p.decimal("renew_price", None),
                    country=p.str("country"),
                    billing=_enum(p.str("billing_type"), _BILLING_TYPES, p, "billing_type"),
                ))
        return entries

    async def api_account_balance(self) -> Decimal:
        """GET /api/account."""
        r = await self._call("GET", "/api/account", "account")
        return r.obj("data").decimal("balance")

    async def api_list_services(self, search: str | None = None, per_page: int | None = None) -> list[Service]:
        """GET /api/services, all pages."""
        params = {"search": search, "per_page": _size(per_page, "per_page")}
        return [self._service(r) for r in await self._all_pages("/api/services", params, "services")]

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
        return [self._offer(r) for r in await self._all_pages("/api/rents/plans", params, "plans")]

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
        return [self._rental(r) for r in await self._all_pages("/api/rents", params, "rents")]

    async def api_create_rent(self, plan_id: str, area_code: str | None = None) -> Rental:
        """POST /api/rents. Spends money: sent once; a lost or unreadable reply raises
        OutcomeUnknownError. "... not available" replies mean no stock."""
        body = {"plan_id": str(plan_id)}
        if area_code is not None:
            body["area_code"] = str(area_code)
        try:
            with spent_reply(self.name, "create rent"):
                r = await self._call("POST", "/api/rents", "create_rent", json_body=body, spends_money=True)
                return self._rental(r.obj("data"))
        except ProviderRejectedError as err:
            if re.search(r"not available|unavailable", err.message.lower()):
                raise errors.NothingAvailableError(err.message, provider=self.name, status=err.status) from None
            raise

    async def api_transition_rent(self, rent_id: str, plan_id: str) -> RentUpdate:
        """POST /api/rents/{rent_id}/transition: a daily rent to a monthly plan. Spends money."""
        path = f"/api/rents/{_path_id(rent_id)}/transition"
        with spent_reply(self.name, "transition"):
            r = await self._call("POST", path, "transition", json_body={"plan_id": str(plan_id)}, spends_money=True)
            return self._update(r)

    async def api_toggle_auto_renewal(self, rent_id: str) -> bool:
        """POST /api/rents/{rent_id}/renewal/toggle; the new state (monthly plans only)."""
        r = await self._call("POST", f"/api/rents/{_path_id(rent_id)}/renewal/toggle", "renewal_toggle")
        return r.obj("data").bool("is_included_for_next_renewal")

    async def api_refund_rent(self, rent_id: str) -> RentUpdate:
        """POST /api/rents/{rent_id}/refund."""
        return self._update(await self._call("POST", f"/api/rents/{_path_id(rent_id)}/refund", "refund"))

    async def api_list_messages(
        self, service_id: str | None = None, phone: str | None = None, per_page: int | None = None
    ) -> list[Sms]:
        """GET /api/messages: every SMS of every rent, all pages."""
        params = {"service_id": service_id, "phone": phone, "per_page": _size(per_page, "per_page")}
        return [self._sms(r) for r in await self._all_pages("/api/messages", params, "messages")]

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
        return [self._sms(r) for r in rows]

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
        messages = tuple(self._sms(m, rental_id=str(rent_id)) for m in r.objects("data"))
        meta = r.obj("meta") if r.has("meta") else Reader({}, provider=self.name, where="rent_messages.meta")
        return MessagePage(messages, meta.str("next_before_id", None), meta.int("count", len(messages)))

    async def api_number_status(self, rent_id: str) -> NumberStatus:
        """GET /api/numbers/{rent_id}/status."""
        r = await self._call("GET", f"/api/numbers/{_path_id(rent_id)}/status", "number_status")
        d = r.obj("data")
        return NumberStatus(
            rental_id=d.str("rent_id"),
            status=d.str("status"),
            active_till=d.datetime("active_till", None),
            wake_till=d.datetime("wake_till", None),
            online_till=d.datetime("online_till", None),
            wakeup_seconds_left=max(0, d.int("wakeup_time_left_seconds", 0)),
            online_seconds_left=max(0, d.int("online_time_left_seconds", 0)),
            can_wake_up=d.bool("can_wake_up", False),
        )

    # ------------------------------------------------------------ Provider interface

    async def list_services(self) -> list[Service]:
        return await self.api_list_services(per_page=PAGE_SIZE)

    async def list_offers(self, service: Service) -> list[Offer]:
        offers = await self.api_list_rent_plans(service_id=service.id, per_page=PAGE_SIZE)
        return [o for o in offers if o.service_id == service.id]

    async def get_balance(self) -> Decimal:
        return await self.api_account_balance()

    async def rent(self, offer: Offer) -> Rental:
        if offer.provider != self.name:
            raise ValueError(f"offer of {offer.provider!r} given to {self.name}")
        return await self.api_create_rent(offer.id)

    async def get_rental(self, rental_id: str) -> Rental:
        """There is no rent-by-id endpoint: scan active rents first (usually one page),
        then all rents, stopping at the page that has it."""
        wanted = str(rental_id)
        for status in ("active", None):
            pages = self._iter_pages("/api/rents", {"status": status, "per_page": PAGE_SIZE}, "rents")
            async with aclosing(pages):
                async for rows in pages:
                    for r in rows:
                        if r.str("id") == wanted:
                            return self._rental(r)
        raise NotFoundError(f"rent {wanted[:64]} not found", provider=self.name)

    async def list_active_rentals(self) -> list[Rental]:
        return await self.api_list_rents(status="active", per_page=PAGE_SIZE)

    async def fetch_new_sms(self, rental_ids: Sequence[str]) -> list[Sms]:
        """All unread SMS in one listing (one request per page however many rentals),
        not marked read; only those of ``rental_ids`` are returned, oldest first."""
        wanted = {str(i) for i in rental_ids}
        if not wanted:
            return []
        messages = await self.api_list_unread_messages(per_page=PAGE_SIZE)
        # The API lists newest first; the interface promises arrival order.
        return [m for m in reversed(messages) if m.rental_id in wanted]

    async def acknowledge_sms(self) -> list[Sms]:
        return list(reversed(await self.api_list_unread_messages(per_page=PAGE_SIZE, mark_as_read=True)))

    async def cancel(self, rental_id: str) -> Rental:
        before = await self.get_rental(rental_id)
        await self.api_refund_rent(rental_id)
        return replace(before, status=RentalStatus.CANCELLED, can_wake_up=False, auto_renew=False)

    async def set_auto_renew(self, rental_id: str, enabled: bool) -> bool:
        """The API only toggles: toggle only when the current state differs."""
        current = await self.get_rental(rental_id)
        if current.auto_renew == enabled:
            return enabled
        return await self.api_toggle_auto_renewal(rental_id)

    async def wake_up(self, rental_id: str) -> str:
        return await self.api_wake_up(rental_id)

    async def transition(self, rental_id: str, plan_id: str) -> Rental:
        before = await self.get_rental(rental_id)
        update = await self.api_transition_rent(rental_id, plan_id)
        try:
            return await self.get_rental(rental_id)
        except ProviderError as err:  # the transition happened: never report it as failed
            log.warning("gotsms: rent %s transitioned but could not be re-read: %s", rental_id, err)
            return replace(before, status=update.status, plan_id=str(plan_id), transition_options=())

    async def history(self, rental_id: str) -> list[Sms]:
        """Every SMS of the rental, oldest first (the API pages newest first, following ``next_before_id``)."""
        messages: dict[str, Sms] = {}  # by id: a page that did not advance repeats SMS already read
        before: str | None = None
        asked: set[str | None] = set()
        for _ in range(HISTORY_PAGES):
            asked.add(before)
            page = await self.api_rent_messages(rental_id, limit=PAGE_SIZE, before_id=before)
            for sms in page.messages:
                messages.setdefault(sms.id, sms)
            cursor = page.next_before_id
            if not page.messages or cursor is None:
                return list(messages.values())[::-1]
            if cursor in asked:  # the same cursor again (or an older one): the next page is one already read
                log.warning("gotsms: history of %s stopped: cursor %s did not move", rental_id, cursor[:64])
                return list(messages.values())[::-1]
            before = cursor
        log.warning("gotsms: history of %s cut at %d pages", rental_id, HISTORY_PAGES)
        return list(messages.values())[::-1]
