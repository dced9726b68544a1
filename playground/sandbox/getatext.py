"""A stateful, in-process fake of the GetAText API (getatext-docs.seed.txt) on aiohttp.

    async with FakeGetAText() as fake:          # or: url = await fake.start(); ...; await fake.stop()
        client = GetATextClient("test-key", base_url=fake.url)
        ...
        await fake.inject_code(rental_id, "123456")

Behaviour the document leaves open is chosen to match the client's reading: prices-info is
a JSON list, ``ttl`` is a rental's lifetime in minutes, naive timestamps are US Eastern,
errors are ``{"status": "error", "errors": "..."}`` with 400/404/422, handler_api.php
answers SMS-Activate text. A bid reserves nothing (the document does not say when it is
charged).

Carriers (rent-a-number and rent-multiple-services take ``carrier``, ``keep_carrier`` and
``max_price``): every rental has one, from ``carriers`` (name -> premium over the listed
price; by default ``CARRIER_PREMIUMS``: "verizon" costs 0.10 more). Names match without regard
to case. Which carrier a rent gets:

* ``keep_carrier`` true (JSON true or "true", as the document's two examples send it) and the
  account has an active short rental: the carrier of the newest one, whatever ``carrier`` says;
* else ``carrier``, if given;
* else the cheapest carrier in stock (ties: the first listed).

A carrier in ``empty_carriers`` (empty by default), or one the fake does not know, has no
numbers: 400 ``{"status": "error", "errors": "No numbers available for the requested
carrier"}``. The price charged, and the reply's ``price``, is the listed price plus the
carrier's premium; ``max_price`` is checked against that (400 "No numbers available at or
below your max price"). Nothing is charged on a refused rent.

rent-multiple-services fails as a whole when a service is sold out or unknown, or when two of them are a
pair in ``apart`` (no number has both); the combination is then refused again, without a look, for
``set_refusal_seconds`` (the document's "cached for 5-15 minutes"). ``last_rent_body`` is the JSON
body of the last rent-a-number request.
"""
from __future__ import annotations

import asyncio
import itertools
import json
import logging
import random
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
from aiohttp import web

from .base import FakeServer

log = logging.getLogger(__name__)

SERVER_TZ = ZoneInfo("America/New_York")
REQUEST_DATA = web.RequestKey("data", dict)  # a typed key: plain str keys make aiohttp warn

# The document's "(1 Request per second)" endpoints, and their handler_api.php twins.
RATE_LIMITED = frozenset({
    "/api/v1/rent-a-number", "/api/v1/rent-multiple-services", "/api/v1/cancel-rental", "/api/v1/re-rent",
    "handler:getNumber", "handler:setStatus", "handler:cancelRental",
})
CARRIER_PREMIUMS = {"at&t": Decimal("0"), "t-mobile": Decimal("0"), "verizon": Decimal("0.10")}
NO_NUMBERS_FOR_CARRIER = "No numbers available for the requested carrier"
LONG_PLANS = {  # rental_time -> (price, period label, days)
    "1w": (Decimal("10.55"), "1 Week", 7),
    "2w": (Decimal("19.99"), "2 Weeks", 14),
    "1m": (Decimal("34.99"), "1 Month", 30),
    "1y": (Decimal("299.00"), "1 Year", 365),
}


@dataclass
class FakeService:
    api_name: str
    service_name: str
    price: Decimal
    ttl: int  # minutes
    stock: int
    multiple_sms: bool = True


@dataclass
class FakeRental:
    id: int
    service: FakeService
    number: str
    price: Decimal
    end_time: datetime
    started: float  # time.monotonic() at creation, for the cancel wait
    carrier: str = "at&t"
    status: str = "active"  # active | cancelled | completed (expired is derived)
    code: str | None = None


@dataclass
class FakeLongRental:
    id: int
    number: str
    rented_at: datetime
    end_time: datetime
    price: Decimal
    period: str
    days: int
    auto_renew: bool
    status: str = "Active"
    messages: list[dict] = field(default_factory=list)


@dataclass
class FakeAuction:
    id: int
    service_name: str
    current_bid: Decimal
    end_time: datetime
    amount: int


class Refused(Exception):
    """A refusal, answered as JSON on /api/v1 and as an SMS-Activate word on handler_api."""

    def __init__(self, status: int, message: Any, word: str = "ERROR") -> None:
        super().__init__(message)
        self.status, self.message, self.word = status, message, word


def _money(value: Decimal) -> str:
    return str(value.quantize(Decimal("0.01")))


def _when(value: datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S")


def _now() -> datetime:
    return datetime.now(SERVER_TZ)


def _decimal(value: Any, field_name: str) -> Decimal:
    try:
        result = Decimal(str(value))
    except InvalidOperation:
        raise Refused(422, {field_name: [f"The {field_name} must be a number."]}) from None
    if not result.is_finite():
        raise Refused(422, {field_name: [f"The {field_name} must be a number."]})
    return result


class FakeGetAText(FakeServer):
    def __init__(
        self,
        api_key: str = "test-key",
        cancel_after_seconds: float = 60,
        *,
        balance: Decimal | str = "100.00",
        rate_limit_interval: float = 1.0,
        auto_code_after: float | None = None,
    ) -> None:
        """``auto_code_after`` (sandbox): each new rental (short or long) receives a realistic code that many
        seconds after it was created, through inject_code (so the webhook is called too; see ``auto_codes``);
        the pending injections are cancelled by stop()."""
        super().__init__()
        self.api_key = api_key
        self.auto_code_after = auto_code_after
        self.auto_codes: list[tuple[int, str]] = []  # (rental id, code) injected by auto_code_after
        self.cancel_after_seconds = cancel_after_seconds
        self.balance = Decimal(balance)
        self.enforce_rate_limit = True  # 429 on the 1 request/s endpoints when called faster
        self.rate_limit_interval = rate_limit_interval
        self.rate_limited_count = 0  # how many 429s the rate limit (not a mode) produced
        self.slow_seconds = 2.0
        self.retry_after = 1
        self.webhook_url: str | None = None
        # True: the webhook's code is always a JSON integer, as documented, so "012345" is
        # sent as 12345 (rental-status still reads "012345"). False keeps such codes strings.
        self.webhook_int_codes = False
        self.webhooks_sent: list[dict] = []
        self.requests: list[tuple[str, str, dict]] = []  # (method, path, query or JSON body)
        # (endpoint, time.monotonic() on arrival) of each call to the rate-limited endpoints, refused or not
        self.limited_arrivals: list[tuple[str, float]] = []
        self.services: dict[str, FakeService] = {
            s.api_name: s
            for s in (
                FakeService("whatsapp", "Whatsapp", Decimal("0.55"), 5, 66),
                FakeService("telegram", "Telegram", Decimal("0.45"), 10, 12),
                FakeService("instagram", "Instagram", Decimal("0.50"), 5, 3, multiple_sms=False),
                # None in stock. Named like a brand, as real services are: the bot shows a provider's
                # service names as they come, so English words here would show on Russian screens.
                FakeService("soldout", "Zolto", Decimal("0.30"), 5, 0),
            )
        }
        self.carriers: dict[str, Decimal] = dict(CARRIER_PREMIUMS)  # name -> premium over the listed price
        self.empty_carriers: set[str] = set()  # carriers with no numbers to rent
        # rent-multiple-services: services no number has together (each pair a frozenset of api names), and
        # combinations refused lately, refused again without a look until then (monotonic time), as documented.
        self.apart: set[frozenset[str]] = set()
        self.set_refusal_seconds = 600.0
        self.refused_sets: dict[frozenset[str], float] = {}
        self.rentals: dict[int, FakeRental] = {}
        self.long_rentals: dict[int, FakeLongRental] = {}
        self.long_plans: dict[str, tuple[Decimal, str, int]] = dict(LONG_PLANS)  # a test may raise a price
        self.auctions: dict[int, FakeAuction] = {
            1: FakeAuction(1, "Whatsapp", Decimal("0.55"), _now() + timedelta(hours=2), 100),
        }
        self._ids = itertools.count(12345)  # one id space for short and long rentals
        self._numbers = itertools.count(2025550100)
        self._last_hit: dict[str, float] = {}

    # ------------------------------------------------------------ lifecycle

    def build_app(self) -> web.Application:
        app = web.Application(middlewares=[self._middleware])
        r = app.router
        r.add_get("/api/v1/prices-info", self._prices_info)
        r.add_get("/api/v1/balance", self._balance)
        r.add_post("/api/v1/rent-a-number", self._rent_a_number)
        r.add_post("/api/v1/rent-multiple-services", self._rent_multiple)
        r.add_post("/api/v1/rental-status", self._rental_status)
        r.add_post("/api/v1/rental-status/{id}/completed", self._completed)
        r.add_post("/api/v1/cancel-rental", self._cancel_rental)
        r.add_post("/api/v1/re-rent", self._re_rent)
        r.add_get("/api/v1/long-rentals", self._long_rentals)
        r.add_post("/api/v1/long-rentals", self._create_long_rental)
        r.add_post("/api/v1/long-rentals/{id}/update", self._update_long_rental)
        r.add_get("/api/v1/long-rentals/{id}/messages", self._long_rental_messages)
        r.add_get("/api/v1/auctions", self._auctions)
        r.add_post("/api/v1/auctions/{id}/bid", self._bid)
        r.add_get("/stubs/handler_api.php", self._handler_api)
        return app

    # ------------------------------------------------------------ control API

    def fail_next(self, status: int, body: Any = None, headers: dict | None = None, count: int = 1) -> None:
        """The next ``count`` requests get this reply instead (dict/list -> JSON, str -> text)."""
        if body is None:
            body = {"status": "error", "errors": f"injected error {status}"}
        self.queue_failures(status, body, headers, count)

    def long_rental_ends(self, rental_id: int | str) -> bool:
        """The provider's end of a long rental's period: renewed (and charged at the plan's price now) when
        auto-renew is on and the balance covers it, else ended. True when renewed."""
        rental = self.long_rentals[int(rental_id)]
        price = self.long_plans[next(k for k, v in self.long_plans.items() if v[1] == rental.period)][0]
        if rental.auto_renew and self.balance >= price:
            self._debit(price)
            rental.price = price
            rental.end_time += timedelta(days=rental.days)
            return True
        rental.status = "Expired"
        return False

    async def inject_code(self, rental_id: int | str, code: str | int, text: str | None = None) -> dict:
        """A code arrives for a short or long rental; POSTs the webhook if ``webhook_url`` is set.
        Returns the webhook payload."""
        rid = int(rental_id)
        now = _now()
        if rid in self.rentals:
            rental = self.rentals[rid]
            rental.code = str(code)
            number, service_name = rental.number, rental.service.service_name
            cost, status = rental.price, self._state(rental)
        elif rid in self.long_rentals:
            long_rental = self.long_rentals[rid]
            long_rental.messages.append({
                "message": text or f"Your verification code is {code}",
                "number": long_rental.number,
                "rented_at": now.isoformat(timespec="seconds"),
                "sender": "8888",
            })
            number, service_name, cost, status = long_rental.number, "Long rental", long_rental.price, "active"
        else:
            raise KeyError(f"no rental {rental_id}")
        text_code = str(code)
        payload = {
            "id": rid,
            # an integer, as documented, unless that would lose a leading zero (see webhook_int_codes)
            "code": int(text_code) if text_code.isdigit() and (self.webhook_int_codes or not text_code.startswith("0"))
            else text_code,
            "received_at": _when(now),
            "number": number,
            "service_name": service_name,
            "status": status,
            "cost": _money(cost),
        }
        if self.webhook_url:
            async with aiohttp.ClientSession() as session:
                async with session.post(self.webhook_url, json=payload) as response:
                    await response.read()
            self.webhooks_sent.append(payload)
        return payload

    def _schedule_auto_code(self, rental_id: int, plan: str) -> None:
        delay = self.code_delay(plan)
        if delay is None:
            return

        async def later() -> None:
            await asyncio.sleep(delay)
            code = f"{random.randint(100000, 999999)}"
            self.auto_codes.append((rental_id, code))
            try:
                await self.inject_code(rental_id, code)
            except (aiohttp.ClientError, OSError) as err:  # the webhook receiver is down: the poller finds it
                log.warning("fake GetAText: webhook for rental %s failed: %s", rental_id, err)

        self.later(later())

    # ------------------------------------------------------------ plumbing

    @web.middleware
    async def _middleware(self, request: web.Request, handler) -> web.StreamResponse:
        data: Any = dict(request.query)
        if request.can_read_body:
            raw = await request.text()
            try:
                data = json.loads(raw)
            except json.JSONDecodeError:
                data = {"_raw": raw}
        self.requests.append((request.method, request.path, data))
        request[REQUEST_DATA] = data if isinstance(data, dict) else {}

        if self._failures:
            status, body, headers = self._failures.popleft()
            if isinstance(body, str):
                return web.Response(status=status, text=body, headers=headers)
            return web.json_response(body, status=status, headers=headers)
        if self.mode == "error500":
            return web.json_response({"status": "error", "message": "Server Error"}, status=500)
        if self.mode == "html":
            return web.Response(text="<html><body>Under maintenance</body></html>", content_type="text/html")
        if self.mode == "badjson":
            return web.Response(text='{"status": "success", "bal', content_type="application/json")
        if self.mode == "ratelimit":
            return web.json_response(
                {"status": "error", "errors": "Too many requests"}, status=429,
                headers={"Retry-After": str(self.retry_after)},
            )

        if request.path.startswith("/api/") and request.headers.get("Auth") != self.api_key:
            return web.json_response({"status": "error", "errors": "Unauthenticated."}, status=401)
        key = f"handler:{request.query.get('action')}" if request.path.endswith("handler_api.php") else request.path
        if key in RATE_LIMITED:
            now = time.monotonic()
            self.limited_arrivals.append((key, now))
            if self.enforce_rate_limit:
                if now - self._last_hit.get(key, -1e9) < self.rate_limit_interval:
                    self.rate_limited_count += 1
                    return web.json_response(
                        {"status": "error", "errors": "Too many requests. 1 request per second allowed."},
                        status=429, headers={"Retry-After": "1"},
                    )
                self._last_hit[key] = now

        try:
            response = await handler(request)
        except Refused as refusal:
            if request.path.endswith("handler_api.php"):
                response = web.Response(text=refusal.word)
            else:
                response = web.json_response({"status": "error", "errors": refusal.message}, status=refusal.status)
        if self.mode == "slow":  # the work is done; only the reply is late
            await asyncio.sleep(self.slow_seconds)
        return response

    def _state(self, rental: FakeRental) -> str:
        if rental.status == "active" and _now() > rental.end_time:
            return "expired"
        return rental.status

    def _rental(self, rental_id: Any) -> FakeRental:
        try:
            return self.rentals[int(rental_id)]
        except (KeyError, TypeError, ValueError):
            raise Refused(404, "Rental not found", "NO_ACTIVATION") from None

    def _long_rental(self, rental_id: Any) -> FakeLongRental:
        try:
            return self.long_rentals[int(rental_id)]
        except (KeyError, TypeError, ValueError):
            raise Refused(404, "Long rental not found") from None

    def _debit(self, amount: Decimal, message: str = "Insufficient balance") -> None:
        if self.balance < amount:
            raise Refused(400, message, "NO_BALANCE")
        self.balance -= amount

    def raise_price(self, api_name: str, price: Decimal | str) -> None:
        """Sandbox, the quote lock: list and charge the service's numbers at ``price`` from now on."""
        self.services[api_name].price = Decimal(price)

    @property
    def last_rent_body(self) -> dict | None:
        """The JSON body of the last rent-a-number request (None before the first)."""
        return next((data for _, path, data in reversed(self.requests) if path == "/api/v1/rent-a-number"), None)

    def _new_rental(self, service: FakeService, number: str | None = None, carrier: str = "at&t") -> FakeRental:
        rental = FakeRental(
            id=next(self._ids), service=service, number=number or str(next(self._numbers)),
            price=service.price + self.carriers.get(carrier, Decimal(0)),
            end_time=_now() + timedelta(minutes=service.ttl), started=time.monotonic(), carrier=carrier,
        )
        self.rentals[rental.id] = rental
        self._schedule_auto_code(rental.id, service.api_name)
        return rental

    def _carrier(self, carrier: Any = None, keep_carrier: Any = None) -> str:
        """The carrier a rent gets (see the module docstring); refused when it has no numbers."""
        if str(keep_carrier).lower() == "true":  # JSON true, or the cURL example's "true"
            active = [r for r in self.rentals.values() if self._state(r) == "active"]
            if active:
                carrier = max(active, key=lambda r: r.id).carrier
        if carrier is None or carrier == "":
            in_stock = [c for c in self.carriers if c not in self.empty_carriers]
            if not in_stock:
                raise Refused(400, "No numbers available for this service", "NO_NUMBERS")
            return min(in_stock, key=lambda c: self.carriers[c])  # min keeps the first of equals
        name = str(carrier).strip().lower()
        if name not in self.carriers or name in self.empty_carriers:
            raise Refused(400, NO_NUMBERS_FOR_CARRIER, "NO_NUMBERS")
        return name

    def _rent(self, api_name: Any, max_price: Any = None, carrier: Any = None, keep_carrier: Any = None) -> FakeRental:
        if not api_name:
            raise Refused(422, {"service": ["The service field is required."]}, "BAD_SERVICE")
        service = self.services.get(str(api_name))
        if service is None:
            raise Refused(404, "Service not found", "BAD_SERVICE")
        if service.stock <= 0:
            raise Refused(400, "No numbers available for this service", "NO_NUMBERS")
        chosen = self._carrier(carrier, keep_carrier)
        price = service.price + self.carriers[chosen]  # what is charged: the cap is checked against it
        if max_price is not None and _decimal(max_price, "max_price") < price:
            raise Refused(400, "No numbers available at or below your max price", "NO_NUMBERS")
        self._debit(price)
        service.stock -= 1
        return self._new_rental(service, carrier=chosen)

    def _rent_json(self, rental: FakeRental) -> dict:
        return {
            "id": rental.id, "status": "success", "message": "Number rented successfully.", "errors": None,
            "end_time": _when(rental.end_time), "number": rental.number,
            "service_name": rental.service.service_name, "price": _money(rental.price),
        }

    def _status_json(self, rental: FakeRental) -> dict:
        return {
            "id": rental.id, "status": self._state(rental), "code": rental.code, "errors": None,
            "end_time": _when(rental.end_time), "number": rental.number,
            "service_name": rental.service.service_name, "cost": _money(rental.price),
            "balance": _money(self.balance),
        }

    def _long_json(self, rental: FakeLongRental) -> dict:
        return {
            "id": rental.id, "number": rental.number, "end_time": rental.end_time.strftime("%Y-%m-%d"),
            "rented_at": rental.rented_at.strftime("%Y-%m-%d"), "price": _money(rental.price),
            "status": rental.status, "period": rental.period, "auto_renew": rental.auto_renew,
        }

    def _cancel(self, rental: FakeRental) -> None:
        if self._state(rental) != "active":
            raise Refused(400, "Rental is not active", "BAD_STATUS")
        if rental.code is not None:
            raise Refused(400, "Cannot cancel a rental that has received a code", "BAD_STATUS")
        if time.monotonic() - rental.started < self.cancel_after_seconds:
            raise Refused(400, "You must wait 1 minute before cancelling a rental.", "EARLY_CANCEL_DENIED")
        rental.status = "cancelled"
        self.balance += rental.price

    def _complete(self, rental: FakeRental) -> None:
        if self._state(rental) != "active":
            raise Refused(400, "Rental is not active", "BAD_STATUS")
        rental.status = "completed"

    # ------------------------------------------------------------ /api/v1

    async def _prices_info(self, request: web.Request) -> web.Response:
        return web.json_response([
            {"service_name": s.service_name, "api_name": s.api_name, "multiple_sms": str(s.multiple_sms).lower(),
             "price": _money(s.price), "ttl": s.ttl, "stock": s.stock}
            for s in self.services.values()
        ])

    async def _balance(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "success", "balance": _money(self.balance), "errors": "null"})

    async def _rent_a_number(self, request: web.Request) -> web.Response:
        body = request[REQUEST_DATA]
        rental = self._rent(body.get("service"), body.get("max_price"), body.get("carrier"), body.get("keep_carrier"))
        return web.json_response({**self._rent_json(rental), "new_balance": _money(self.balance)}, status=201)

    async def _rent_multiple(self, request: web.Request) -> web.Response:
        body = request[REQUEST_DATA]
        names = [n.strip() for n in str(body.get("services") or "").split(",") if n.strip()]
        if not names:
            raise Refused(422, {"services": ["The services field is required."]})
        services = [self.services.get(n) for n in names]
        combination = frozenset(names)
        if self.refused_sets.get(combination, 0.0) > time.monotonic():
            raise Refused(400, "One or more services are not available on the same number")
        if any(s is None or s.stock <= 0 for s in services) or any(pair <= combination for pair in self.apart):
            self.refused_sets[combination] = time.monotonic() + self.set_refusal_seconds
            raise Refused(400, "One or more services are not available on the same number")
        carrier = self._carrier(body.get("carrier"), body.get("keep_carrier"))  # one number: one carrier
        total = sum((s.price + self.carriers[carrier] for s in services), Decimal(0))
        if body.get("max_price") is not None and _decimal(body["max_price"], "max_price") < total:
            raise Refused(400, "No numbers available at or below your max price")
        self._debit(total)
        number = str(next(self._numbers))
        rentals = []
        for service in services:
            service.stock -= 1
            rentals.append(self._rent_json(self._new_rental(service, number, carrier)))
        return web.json_response(
            {"status": "success", "rentals": rentals, "new_balance": _money(self.balance), "total_cost": _money(total)},
            status=201,
        )

    async def _rental_status(self, request: web.Request) -> web.Response:
        return web.json_response(self._status_json(self._rental(request[REQUEST_DATA].get("id"))))

    async def _cancel_rental(self, request: web.Request) -> web.Response:
        rental = self._rental(request[REQUEST_DATA].get("id"))
        self._cancel(rental)
        return web.json_response({**self._status_json(rental), "code": None})

    async def _completed(self, request: web.Request) -> web.Response:
        rental = self._rental(request.match_info["id"])
        self._complete(rental)
        return web.json_response({
            "status": "success", "message": "Rental marked as completed successfully.", "errors": "null",
            "rental": {
                "id": rental.id, "end_time": _when(_now()), "number": rental.number,
                "service_name": rental.service.service_name, "price": _money(rental.price),
                "new_balance": _money(self.balance),
            },
        })

    async def _re_rent(self, request: web.Request) -> web.Response:
        old = self._rental(request[REQUEST_DATA].get("rental_id"))
        self._debit(old.service.price + self.carriers.get(old.carrier, Decimal(0)))  # the same number: its carrier
        rental = self._new_rental(old.service, old.number, old.carrier)
        return web.json_response({**self._rent_json(rental), "new_balance": _money(self.balance)}, status=201)

    async def _long_rentals(self, request: web.Request) -> web.Response:
        return web.json_response({
            # "the user's active long-term rentals": the ended ones are not listed
            "status": "success", "long_rentals": [self._long_json(r) for r in self.long_rentals.values()
                                                  if r.status == "Active"],
            "errors": "null",
        })

    async def _create_long_rental(self, request: web.Request) -> web.Response:
        body = request[REQUEST_DATA]
        plan = self.long_plans.get(body.get("rental_time"))
        if plan is None:
            raise Refused(422, {"rental_time": ["The selected rental time is invalid."]})
        if not isinstance(body.get("auto_renew"), bool):
            raise Refused(422, {"auto_renew": ["The auto renew field is required."]})
        price, period, days = plan
        self._debit(price)
        now = _now()
        rental = FakeLongRental(
            id=next(self._ids), number=str(next(self._numbers)), rented_at=now, end_time=now + timedelta(days=days),
            price=price, period=period, days=days, auto_renew=body["auto_renew"],
        )
        self.long_rentals[rental.id] = rental
        self._schedule_auto_code(rental.id, f"long:{body['rental_time']}")
        return web.json_response({"status": "success", "long_rental": self._long_json(rental), "errors": "null"})

    async def _update_long_rental(self, request: web.Request) -> web.Response:
        rental = self._long_rental(request.match_info["id"])
        body = request[REQUEST_DATA]
        action = body.get("action")
        if action == "renew":
            self._debit(rental.price)
            rental.end_time += timedelta(days=rental.days)
            rental.status = "Active"
        elif action == "cancel":
            rental.status = "Cancelled"
        elif action == "auto_renew":
            if not isinstance(body.get("auto_renew"), bool):
                raise Refused(422, {"auto_renew": ["The auto renew field is required when action is auto_renew."]})
            rental.auto_renew = body["auto_renew"]
        else:
            raise Refused(422, {"action": ["The selected action is invalid."]})
        return web.json_response({"status": "success", "long_rental": self._long_json(rental), "errors": "null"})

    async def _long_rental_messages(self, request: web.Request) -> web.Response:
        rental = self._long_rental(request.match_info["id"])
        return web.json_response({"status": "success", "messages": list(rental.messages), "errors": "null"})

    async def _auctions(self, request: web.Request) -> web.Response:
        now = _now()
        return web.json_response({"status": "success", "auctions": [
            {"id": a.id, "service_name": a.service_name, "current_bid": _money(a.current_bid),
             "end_time": _when(a.end_time), "amount": a.amount}
            for a in self.auctions.values() if a.end_time > now
        ]})

    async def _bid(self, request: web.Request) -> web.Response:
        auction = self.auctions.get(int(request.match_info["id"])) if request.match_info["id"].isdigit() else None
        if auction is None or auction.end_time <= _now():
            raise Refused(404, "Auction not found or is no longer active")
        if request[REQUEST_DATA].get("bid_amount") is None:
            raise Refused(422, {"bid_amount": ["The bid amount field is required."]})
        amount = _decimal(request[REQUEST_DATA]["bid_amount"], "bid_amount")
        if amount <= auction.current_bid:
            raise Refused(400, "Your bid must be higher than the current bid")
        if self.balance < amount * auction.amount:
            raise Refused(400, "Insufficient funds for this bid")
        auction.current_bid = amount
        return web.json_response(
            {"status": "success", "message": "Bid placed successfully.", "new_current_bid": _money(amount)}
        )

    # ------------------------------------------------------------ /stubs/handler_api.php (SMS-Activate text)

    async def _handler_api(self, request: web.Request) -> web.Response:
        q = request.query
        if q.get("api_key") != self.api_key:
            return web.Response(text="BAD_KEY")
        action = q.get("action")
        if action == "getNumber":
            rental = self._rent(q.get("service") or "-")
            return web.Response(text=f"ACCESS_NUMBER:{rental.id}:{rental.number}")
        if action == "getCode":
            rental = self._rental(q.get("id"))
            if rental.code is not None:
                return web.Response(text=f"STATUS_OK:{rental.code}")
            return web.Response(text="STATUS_WAIT_CODE" if self._state(rental) == "active" else "STATUS_CANCEL")
        if action in ("setStatus", "cancelRental"):  # the document lists both names
            rental = self._rental(q.get("id"))
            status = "8" if action == "cancelRental" else q.get("status")
            if status == "8":
                self._cancel(rental)
                return web.Response(text="ACCESS_CANCEL")
            if status == "6":
                self._complete(rental)
                return web.Response(text="ACCESS_ACTIVATION")
            if status in ("1", "3"):
                return web.Response(text="ACCESS_READY" if status == "1" else "ACCESS_RETRY_GET")
            return web.Response(text="BAD_STATUS")
        return web.Response(text="BAD_ACTION")
