"""A stateful, in-process fake of the GotSMS API (gotsms-openapi.seed.txt) on aiohttp.

    async with FakeGotSms() as fake:            # or: url = await fake.start(); ...; await fake.stop()
        client = GotSmsClient("test-key", base_url=fake.url)
        ...
        fake.inject_sms(rent_id, "Your code is 123456")

State is plain attributes (``balance``, ``services``, ``countries``, ``plans``, ``rents``,
``messages``) that tests may read or change. Ids are UUID-shaped and ordered by creation
(like Laravel's ordered UUIDs), so "id less than before_id" means "older". Listings are
newest first. Choices where the document is silent: errors are ``{"success": false,
"message": ...}`` with 422 (404 for an unknown rent); a refund is allowed while a rent is
active and has received no SMS; ``transition_options`` lists ``{id, duration_translation,
price}`` of the service's monthly plans in the rent's country for daily rents;
``mark_as_read`` accepts 1/true/yes/on.

Area codes (POST /api/rents ``area_code``, documented only as "Preferred area code."): the
number takes it, ``+1 AAA 555 NNNN`` in USA and Canada, ``+44 AAAA NNNNNN`` in the United
Kingdom; without one, the country's default area (``COUNTRY_PHONES``). A code that is not
3 digits (+1) or 2-4 digits (+44) is refused 422 ``{"success": false, "message": "The area
code field format is invalid.", "errors": {"area_code": [...]}}``. An area in
``empty_areas`` (by default ``DEFAULT_EMPTY_AREAS``, Alaska's 907) has no numbers: 422
``{"success": false, "message": "No numbers available for the requested area code."}``.
Nothing is charged on a refused rent. ``last_rent_body`` is the JSON body of the last
POST /api/rents.

Prices (sandbox, the quote lock): ``raise_price(plan_id, price)`` changes what a plan is listed and charged
at; ``surcharge`` (0 by default) is added to what a new rent is charged above its plan's listed price, so the
rent reply's ``price`` is above the listing (the document promises nothing else).
"""
from __future__ import annotations

import asyncio
import itertools
import json
import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from aiohttp import web

from .base import MODES, FakeServer

DEFAULT_PAGE_SIZE = {"/api/services": 25, "/api/rents/plans": 25}  # others: 20, as in the document
MINUTES = {"min": 1, "hour": 60, "day": 1440, "week": 10080, "month": 43200, "year": 525600}
REFUND_REFUSED = "Refund not available for this rent."
NO_NUMBERS_IN_AREA = "No numbers available for the requested area code."
AREA_CODE_INVALID = "The area code field format is invalid."
# Country -> (dialling code, default area, area code lengths allowed); a country not listed dials as USA.
COUNTRY_PHONES = {
    "USA": ("1", "800", (3,)), "Canada": ("1", "416", (3,)), "United Kingdom": ("44", "7700", (2, 3, 4)),
}
DEFAULT_EMPTY_AREAS = frozenset({"907"})  # Alaska: an area with no numbers, so the refusal can be seen


class Refused(Exception):
    def __init__(self, status: int, message: str, errors: dict | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.errors = status, message, errors


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _when(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _number(value: Decimal) -> Any:
    """JSON numbers as the document shows them: 1, 4.99 (anything else a test put in, as is)."""
    if not isinstance(value, Decimal):
        return value
    return int(value) if value == value.to_integral_value() else float(value)


def _digits(text: str) -> str:
    return "".join(ch for ch in text if ch.isdigit())


def _truthy(value: str | None) -> bool:
    return (value or "").lower() in ("1", "true", "yes", "on")


class FakeGotSms(FakeServer):
    # stuck_cursor: /api/numbers/{id}/messages ignores before_id and answers the cursor it was
    # asked with, so the same page comes back again and again (a cursor that does not move).
    modes = MODES | {"stuck_cursor"}

    def __init__(self, api_key: str = "test-key", per_page_cap: int = 100, *, balance: Decimal | str = "100",
                 auto_code_after: float | None = None) -> None:
        """``auto_code_after`` (sandbox): each new rent receives an SMS with a realistic code that many
        seconds after it was created (see ``auto_codes``); the pending injections are cancelled by stop()."""
        super().__init__()
        self.api_key = api_key
        self.auto_code_after = auto_code_after
        self.auto_codes: list[tuple[str, str]] = []  # (rent id, code) injected by auto_code_after
        self.per_page_cap = per_page_cap  # pages never hold more than this, whatever per_page says
        self.balance = Decimal(balance)
        self.slow_seconds = 1.0
        self.retry_after: float = 1
        self.requests: list[tuple[str, str, dict[str, str]]] = []  # (method, path, query)
        self._ids = itertools.count(1)
        self._phones = itertools.count(1)
        self.services: dict[str, dict] = {}
        self.countries: dict[str, dict] = {}
        self.plans: dict[str, dict] = {}
        self.rents: dict[str, dict] = {}
        self.messages: list[dict] = []  # oldest first
        self.empty_areas: set[str] = set(DEFAULT_EMPTY_AREAS)  # area codes with no numbers to rent
        self.last_rent_body: dict | None = None  # the JSON body of the last POST /api/rents (requests keeps queries)
        self.surcharge = Decimal(0)  # charged on a new rent above its plan's listed price (see the docstring)
        self._seed()

    def raise_price(self, plan_id: str, price: Decimal | str) -> None:
        """List and charge the plan at ``price`` from now on (its renewal price too)."""
        self.plans[plan_id]["price"] = Decimal(price)
        self.plans[plan_id]["renew_price"] = Decimal(price)

    def _new_id(self) -> str:
        return f"9d3f8f6a-0000-4000-8000-{next(self._ids):012d}"

    def _seed(self) -> None:
        for name in ("Telegram", "WhatsApp", "Google", "Discord", "Instagram"):
            self.add_service(name)
        for name in ("USA", "United Kingdom", "Canada"):
            sid = self._new_id()
            self.countries[sid] = {"id": sid, "name": name}
        for service, country, billing, dtype, amount, price in (
            ("Telegram", "USA", "duration", "day", 1, "1"),
            ("Telegram", "USA", "duration", "month", 1, "4.99"),
            ("Telegram", "USA", "duration", "month", 3, "12.99"),
            ("Telegram", "United Kingdom", "sms", "min", 20, "0.5"),
            ("WhatsApp", "USA", "duration", "day", 1, "1.5"),
            ("WhatsApp", "USA", "duration", "month", 1, "4.99"),
            ("Google", "Canada", "duration", "week", 1, "2.25"),
            ("Discord", "USA", "sms", "min", 15, "0.35"),
            ("Instagram", "United Kingdom", "duration", "day", 1, "0.99"),
            # Telegram and WhatsApp in every country, each dearer than the plans above (tests count on the
            # cheapest Telegram plan and the first "1 day" plan being those).
            ("Telegram", "Canada", "duration", "day", 1, "1.2"),
            ("Telegram", "United Kingdom", "duration", "day", 1, "1.4"),
            ("WhatsApp", "Canada", "duration", "day", 1, "1.6"),
            ("WhatsApp", "United Kingdom", "duration", "day", 1, "1.8"),
        ):
            self.add_plan(service, country, billing, dtype, amount, price)

    # ------------------------------------------------------------ lifecycle

    def build_app(self) -> web.Application:
        app = web.Application(middlewares=[self._middleware])
        r = app.router
        r.add_get("/api/pricelist", self._pricelist)
        r.add_get("/api/account", self._account)
        r.add_get("/api/services", self._services)
        r.add_get("/api/rents/plans", self._plans)
        r.add_get("/api/rents", self._rents)
        r.add_post("/api/rents", self._create_rent)
        r.add_post("/api/rents/{rent_id}/transition", self._transition)
        r.add_post("/api/rents/{rent_id}/renewal/toggle", self._toggle_renewal)
        r.add_post("/api/rents/{rent_id}/refund", self._refund)
        r.add_get("/api/messages", self._messages)
        r.add_get("/api/messages/unread", self._unread)
        r.add_post("/api/numbers/{rent_id}/wake-up", self._wake_up)
        r.add_get("/api/numbers/{rent_id}/messages", self._rent_messages)
        r.add_get("/api/numbers/{rent_id}/status", self._number_status)
        return app

    # ------------------------------------------------------------ control API

    def fail_next(self, status: int, body: Any = None, headers: dict | None = None, count: int = 1) -> None:
        """The next ``count`` requests get this reply instead (dict/list -> JSON, str -> raw text)."""
        if body is None:
            body = {"success": False, "message": f"Error {status}"}
            if status == 401:
                body = {"message": "Unauthenticated."}
        self.queue_failures(status, body, headers, count)

    def inject_sms(self, rent_id: str, body: str, code: str | None = None, sender: str = "+18001234567") -> str:
        """An SMS arrives (unread) for a rent; returns its id."""
        rent = self.rents[rent_id]
        message = {
            "id": self._new_id(), "rent_id": rent_id, "from": sender, "body": body, "code": code,
            "received_at": _now(), "read": False,
        }
        self.messages.append(message)
        rent["sms_count"] += 1
        return message["id"]

    def _schedule_auto_code(self, rent_id: str) -> None:
        delay = self.code_delay(self.rents[rent_id]["plan_id"])
        if delay is None:
            return

        async def later() -> None:
            await asyncio.sleep(delay)
            rent = self.rents.get(rent_id)
            if rent is None:
                return
            code = f"{random.randint(10000, 999999):05d}"
            service = self.services[rent["service_id"]]["name"]
            self.inject_sms(rent_id, f"{service} code: {code}. Do not give this code to anyone, even if they say "
                                     f"they are from {service}!", code=code)
            self.auto_codes.append((rent_id, code))

        self.later(later())

    def add_service(self, name: str) -> str:
        sid = self._new_id()
        self.services[sid] = {"id": sid, "name": name}
        return sid

    def add_plan(self, service: str, country: str, billing: str, duration_type: str, amount: int,
                 price: Decimal | str, renew_price: Decimal | str | None = None) -> str:
        """A plan for a service and country, both given by name."""
        pid = self._new_id()
        unit = duration_type if amount == 1 else f"{duration_type}s"
        self.plans[pid] = {
            "id": pid,
            "service_id": self._by_name(self.services, service)["id"],
            "country_id": self._by_name(self.countries, country)["id"],
            "billing_type": billing,
            "duration_type": duration_type,
            "duration_in_type": amount,
            "duration_in_minutes": amount * MINUTES[duration_type],
            "duration_translation": f"{amount} {unit}",
            "price": Decimal(price),
            "renew_price": Decimal(renew_price if renew_price is not None else price),
        }
        return pid

    def find_plan(self, service: str, duration_type: str = "day", amount: int = 1) -> str:
        """The id of a seeded plan, e.g. ``find_plan("Telegram", "month")``."""
        sid = self._by_name(self.services, service)["id"]
        for plan in self.plans.values():
            if (plan["service_id"], plan["duration_type"], plan["duration_in_type"]) == (sid, duration_type, amount):
                return plan["id"]
        raise KeyError(f"no {amount} {duration_type} plan for {service}")

    def unread(self) -> list[dict]:
        return [m for m in self.messages if not m["read"]]

    # ------------------------------------------------------------ plumbing

    @web.middleware
    async def _middleware(self, request: web.Request, handler) -> web.StreamResponse:
        self.requests.append((request.method, request.path, dict(request.query)))
        if self._failures:
            status, body, headers = self._failures.popleft()
            if isinstance(body, str):
                has_type = any(k.lower() == "content-type" for k in (headers or {}))
                return web.Response(status=status, text=body, headers=headers,
                                    content_type=None if has_type else "application/json")
            return web.json_response(body, status=status, headers=headers)
        if self.mode == "error500":
            return web.json_response({"message": "Server Error"}, status=500)
        if self.mode == "html":
            return web.Response(text="<!DOCTYPE html><html><body>Be right back.</body></html>",
                                content_type="text/html")
        if self.mode == "badjson":
            return web.Response(text='{"success": true, "data": [{"id": ', content_type="application/json")
        if self.mode == "ratelimit":
            return web.json_response({"message": "Too Many Attempts."}, status=429,
                                     headers={"Retry-After": str(self.retry_after)})
        if request.path != "/api/pricelist" and request.headers.get("Authorization") != f"Bearer {self.api_key}":
            return web.json_response({"message": "Unauthenticated."}, status=401)
        try:
            response = await handler(request)
        except Refused as refusal:
            body: dict[str, Any] = {"success": False, "message": refusal.message}
            if refusal.errors:
                body["errors"] = refusal.errors
            response = web.json_response(body, status=refusal.status)
        if self.mode == "slow":  # the work is done; only the reply is late
            await asyncio.sleep(self.slow_seconds)
        return response

    @staticmethod
    def _by_name(table: dict[str, dict], name: str) -> dict:
        for row in table.values():
            if row["name"].lower() == name.lower():
                return row
        raise KeyError(name)

    @staticmethod
    def _ok(data: Any = None, message: str | None = None, status: int = 200, **extra: Any) -> web.Response:
        body: dict[str, Any] = {"success": True}
        if message is not None:
            body["message"] = message
        if data is not None:
            body["data"] = data
        body.update(extra)
        return web.json_response(body, status=status)

    def _paginate(self, request: web.Request, rows: list) -> tuple[list, dict]:
        """Laravel-style pagination: ?per_page (1..100) & ?page, ``meta`` with the page numbers."""
        per_page = self._int_param(request, "per_page", DEFAULT_PAGE_SIZE.get(request.path, 20), 1, 100)
        page = self._int_param(request, "page", 1, 1, None)
        size = min(per_page, self.per_page_cap)
        last = max(1, -(-len(rows) // size))
        chunk = rows[(page - 1) * size: page * size]
        return chunk, {"current_page": page, "last_page": last, "per_page": size, "total": len(rows)}

    def _page(self, request: web.Request, rows: list) -> web.Response:
        chunk, meta = self._paginate(request, rows)
        return self._ok(chunk, meta=meta)

    @staticmethod
    def _int_param(request: web.Request, name: str, default: int, low: int, high: int | None) -> int:
        raw = request.query.get(name)
        if raw is None or raw == "":
            return default
        try:
            value = int(raw)
        except ValueError:
            raise Refused(422, f"The {name} field must be an integer.", {name: ["must be an integer"]}) from None
        if value < low or (high is not None and value > high):
            raise Refused(422, f"The {name} field must be between {low} and {high}.", {name: ["out of range"]})
        return value

    async def _json_body(self, request: web.Request) -> dict:
        try:
            data = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise Refused(400, "Malformed JSON body.") from None
        return data if isinstance(data, dict) else {}

    def _rent(self, request: web.Request) -> dict:
        rent = self.rents.get(request.match_info["rent_id"])
        if rent is None:
            raise Refused(404, "Rent not found.")
        self._expire(rent)
        return rent

    def _expire(self, rent: dict) -> None:
        if rent["status"] == "active" and rent["active_till"] <= _now():
            rent["status"] = "finished"

    def _debit(self, amount: Decimal) -> None:
        if self.balance < amount:
            raise Refused(422, "Insufficient balance. Please top up your account.")
        self.balance -= amount

    def _plan_json(self, plan: dict) -> dict:
        service, country = self.services[plan["service_id"]], self.countries[plan["country_id"]]
        return {
            "id": plan["id"],
            "service": {"id": service["id"], "name": service["name"]},
            "country": {"id": country["id"], "name": country["name"]},
            "billing_type": plan["billing_type"],
            "duration_type": plan["duration_type"],
            "duration_in_type": plan["duration_in_type"],
            "duration_in_minutes": plan["duration_in_minutes"],
            "duration_translation": plan["duration_translation"],
            "price": _number(plan["price"]),
            "renew_price": _number(plan["renew_price"]),
            "is_monthly_supported": bool(plan["duration_type"] == "day" and self._monthly_plans(plan)),
        }

    def _monthly_plans(self, plan: dict) -> list[dict]:
        """Monthly plans a rent of ``plan`` may move to: same service, same country (the number stays)."""
        return [p for p in self.plans.values()
                if (p["service_id"], p["country_id"]) == (plan["service_id"], plan["country_id"])
                and p["duration_type"] == "month" and p["billing_type"] == "duration"]

    def _can_wake_up(self, rent: dict) -> bool:
        return rent["status"] == "active" and (rent["wake_till"] is None or rent["wake_till"] <= _now())

    def _rent_json(self, rent: dict) -> dict:
        self._expire(rent)
        plan, service = self.plans[rent["plan_id"]], self.services[rent["service_id"]]
        options = []
        if plan["duration_type"] == "day" and rent["status"] == "active":
            options = [{"id": p["id"], "duration_translation": p["duration_translation"], "price": _number(p["price"])}
                       for p in self._monthly_plans(plan)]
        return {
            "id": rent["id"],
            "service": {"id": service["id"], "name": service["name"]},
            "plan": {
                "id": plan["id"], "billing_type": plan["billing_type"], "duration_type": plan["duration_type"],
                "duration_in_type": plan["duration_in_type"], "duration_translation": plan["duration_translation"],
                "price": _number(plan["price"]), "renew_price": _number(plan["renew_price"]),
            },
            "phone": rent["phone"],
            "price": _number(rent["price"]),
            "status": rent["status"],
            "is_included_for_next_renewal": rent["auto_renew"],
            "active_from": _when(rent["active_from"]),
            "active_till": _when(rent["active_till"]),
            "wake_from": _when(rent["wake_from"]),
            "wake_till": _when(rent["wake_till"]),
            "can_wake_up": self._can_wake_up(rent),
            "transition_options": options,
        }

    def _message_json(self, message: dict, *, full: bool = True) -> dict:
        rent = self.rents[message["rent_id"]]
        data = {
            "id": message["id"], "from": message["from"], "to": "+" + _digits(rent["phone"]),
            "body": message["body"], "code": message["code"], "received_at": _when(message["received_at"]),
        }
        if full:
            service = self.services[rent["service_id"]]
            data = {"id": message["id"], "rent_id": rent["id"],
                    "service": {"id": service["id"], "name": service["name"]},
                    "phone": rent["phone"], **{k: v for k, v in data.items() if k != "id"}}
        return data

    def _filtered_messages(self, request: web.Request, rows: list[dict]) -> list[dict]:
        q = request.query
        if q.get("service_id"):
            rows = [m for m in rows if self.rents[m["rent_id"]]["service_id"] == q["service_id"]]
        if q.get("rent_id"):
            rows = [m for m in rows if m["rent_id"] == q["rent_id"]]
        if q.get("phone"):
            rows = [m for m in rows if _digits(q["phone"]) in _digits(self.rents[m["rent_id"]]["phone"])]
        return list(reversed(rows))  # newest first

    # ------------------------------------------------------------ endpoints

    async def _pricelist(self, request: web.Request) -> web.Response:
        groups = []
        for service in self.services.values():
            plans = [p for p in self.plans.values() if p["service_id"] == service["id"]]
            if not plans:
                continue
            groups.append({"name": service["name"], "plans": [{
                "service_name": service["name"],
                "period": p["duration_in_type"],
                "period_type": p["duration_type"],
                "period_type_label": p["duration_type"] if p["duration_in_type"] == 1 else f"{p['duration_type']}s",
                "duration_translation": p["duration_translation"],
                "price": _number(p["price"]),
                "renew_price": _number(p["renew_price"]),
                "country": self.countries[p["country_id"]]["name"],
                "billing_type": p["billing_type"],
            } for p in plans]})
        return self._ok(groups)

    async def _account(self, request: web.Request) -> web.Response:
        return self._ok({"balance": _number(self.balance)})

    async def _services(self, request: web.Request) -> web.Response:
        search = request.query.get("search", "").lower()
        rows = [dict(s) for s in self.services.values() if search in s["name"].lower()]
        return self._page(request, rows)

    async def _plans(self, request: web.Request) -> web.Response:
        q = request.query
        if q.get("duration_type") and q["duration_type"] not in MINUTES:
            raise Refused(422, "The selected duration type is invalid.", {"duration_type": ["invalid"]})
        if q.get("billing_type") and q["billing_type"] not in ("sms", "duration"):
            raise Refused(422, "The selected billing type is invalid.", {"billing_type": ["invalid"]})
        rows = [
            p for p in self.plans.values()
            if (not q.get("service_id") or p["service_id"] == q["service_id"])
            and (not q.get("country_id") or p["country_id"] == q["country_id"])
            and (not q.get("duration_type") or p["duration_type"] == q["duration_type"])
            and (not q.get("billing_type") or p["billing_type"] == q["billing_type"])
            and q.get("search", "").lower() in self.services[p["service_id"]]["name"].lower()
        ]
        return self._page(request, [self._plan_json(p) for p in rows])

    async def _rents(self, request: web.Request) -> web.Response:
        q = request.query
        if q.get("status") and q["status"] not in ("active", "finished"):
            raise Refused(422, "The selected status is invalid.", {"status": ["invalid"]})
        rows = [self._rent_json(r) for r in reversed(list(self.rents.values()))]
        if q.get("status"):
            rows = [r for r in rows if r["status"] == q["status"]]
        if q.get("service"):
            rows = [r for r in rows if q["service"].lower() in r["service"]["name"].lower()]
        if q.get("phone"):
            rows = [r for r in rows if _digits(q["phone"]) in _digits(r["phone"])]
        return self._page(request, rows)

    async def _create_rent(self, request: web.Request) -> web.Response:
        data = await self._json_body(request)
        self.last_rent_body = data
        plan_id = data.get("plan_id")
        if not plan_id:
            raise Refused(422, "The plan id field is required.", {"plan_id": ["The plan id field is required."]})
        plan = self.plans.get(str(plan_id))
        if plan is None:
            raise Refused(422, "The selected plan id is invalid.", {"plan_id": ["The selected plan id is invalid."]})
        phone = self._phone(plan, data.get("area_code"))  # before the debit: a refused area charges nothing
        charged = plan["price"] + self.surcharge
        self._debit(charged)
        now = _now()
        rent = {
            "id": self._new_id(), "plan_id": plan["id"], "service_id": plan["service_id"],
            "phone": phone, "price": charged, "status": "active",
            "auto_renew": False, "active_from": now,
            "active_till": now + timedelta(minutes=plan["duration_in_minutes"]),
            "wake_from": None, "wake_till": None, "online_till": None, "sms_count": 0,
        }
        self.rents[rent["id"]] = rent
        self._schedule_auto_code(rent["id"])
        return self._ok(self._rent_json(rent), "Rent created successfully.", status=201)

    def _phone(self, plan: dict, area_code: Any) -> str:
        """A new number in the plan's country and the area asked for (or the country's default area)."""
        country = self.countries[plan["country_id"]]["name"]
        dial, default_area, lengths = COUNTRY_PHONES.get(country, COUNTRY_PHONES["USA"])
        area = default_area if area_code is None or area_code == "" else str(area_code).strip()
        if not (area.isascii() and area.isdigit() and len(area) in lengths):
            raise Refused(422, AREA_CODE_INVALID, {"area_code": [AREA_CODE_INVALID]})
        if area in self.empty_areas:
            raise Refused(422, NO_NUMBERS_IN_AREA)
        n = next(self._phones)
        return f"+1 {area} 555 {n:04d}" if dial == "1" else f"+{dial} {area} {900000 + n:06d}"

    async def _transition(self, request: web.Request) -> web.Response:
        rent = self._rent(request)
        data = await self._json_body(request)
        target = self.plans.get(str(data.get("plan_id") or ""))
        if target is None:
            raise Refused(422, "The selected plan id is invalid.", {"plan_id": ["The selected plan id is invalid."]})
        if rent["status"] != "active" or self.plans[rent["plan_id"]]["duration_type"] != "day":
            raise Refused(422, "Current rent plan must be daily for this transition endpoint.")
        if target not in self._monthly_plans(self.plans[rent["plan_id"]]):
            raise Refused(422, "Target plan must be a monthly plan of the same service and country.")
        self._debit(target["price"])
        rent["plan_id"] = target["id"]
        rent["price"] += target["price"]
        rent["active_till"] = rent["active_from"] + timedelta(minutes=target["duration_in_minutes"])
        return self._ok({"id": rent["id"], "status": rent["status"]}, "Plan transitioned successfully.")

    async def _toggle_renewal(self, request: web.Request) -> web.Response:
        rent = self._rent(request)
        if rent["status"] != "active" or self.plans[rent["plan_id"]]["duration_type"] != "month":
            raise Refused(422, "Auto renewal can be toggled only for monthly 1/3/6/12 plans.")
        rent["auto_renew"] = not rent["auto_renew"]
        message = "Auto renewal enabled." if rent["auto_renew"] else "Auto renewal disabled."
        return self._ok({"id": rent["id"], "is_included_for_next_renewal": rent["auto_renew"]}, message)

    async def _refund(self, request: web.Request) -> web.Response:
        rent = self._rent(request)
        if rent["status"] != "active" or rent["sms_count"]:
            raise Refused(422, REFUND_REFUSED)
        rent["status"] = "finished"
        self.balance += rent["price"]
        return self._ok({"id": rent["id"], "status": rent["status"]}, "Rent has been refunded successfully.")

    async def _messages(self, request: web.Request) -> web.Response:
        rows = self._filtered_messages(request, self.messages)
        return self._page(request, [self._message_json(m) for m in rows])

    async def _unread(self, request: web.Request) -> web.Response:
        chunk, meta = self._paginate(request, self._filtered_messages(request, self.unread()))
        if _truthy(request.query.get("mark_as_read")):  # only what this page returns
            for message in chunk:
                message["read"] = True
        return self._ok([self._message_json(m) for m in chunk], meta=meta)

    async def _wake_up(self, request: web.Request) -> web.Response:
        rent = self._rent(request)
        if rent["status"] != "active":
            raise Refused(422, "Rent is not active.")
        if not self._can_wake_up(rent):
            raise Refused(422, "Wake up already in progress.")
        now = _now()
        rent["wake_from"], rent["wake_till"] = now, now + timedelta(minutes=5)
        rent["online_till"] = now + timedelta(minutes=35)
        return self._ok(message="Wake up request sent.")

    async def _rent_messages(self, request: web.Request) -> web.Response:
        rent = self._rent(request)
        limit = self._int_param(request, "limit", 20, 1, 100)
        before = request.query.get("before_id")
        stuck = self.mode == "stuck_cursor"
        rows = [m for m in reversed(self.messages)
                if m["rent_id"] == rent["id"] and (stuck or not before or m["id"] < before)]
        chunk = rows[:limit]
        more = len(rows) > limit
        cursor = chunk[-1]["id"] if more else None
        if stuck and before:
            cursor = before
        return self._ok([self._message_json(m, full=False) for m in chunk],
                        meta={"next_before_id": cursor, "count": len(chunk)})

    async def _number_status(self, request: web.Request) -> web.Response:
        rent = self._rent(request)
        now = _now()

        def left(until: datetime | None) -> int:
            return max(0, int((until - now).total_seconds())) if until else 0

        return self._ok({
            "rent_id": rent["id"],
            "status": rent["status"],
            "active_from": _when(rent["active_from"]),
            "active_till": _when(rent["active_till"]),
            "wake_from": _when(rent["wake_from"]),
            "wake_till": _when(rent["wake_till"]),
            "online_till": _when(rent["online_till"]),
            "wakeup_time_left_seconds": left(rent["wake_till"]),
            "online_time_left_seconds": left(rent["online_till"]),
            "can_wake_up": self._can_wake_up(rent),
        })
