"""A stateful, in-process fake of Crypto Pay (@CryptoBot's API) on aiohttp, for the tests and the playground.

    async with FakeCryptoPay("app-token") as fake:       # API at fake.api_url, pay pages at fake.url + /pay/<hash>
        fake.webhook_url = "http://127.0.0.1:8080/cryptopay"
        ...
        await fake.pay(invoice_id)                        # paid, and the signed invoice_paid update POSTed
        fake.drop_webhooks = True                         # paid, but no update sent: only polling finds it
        fake.expire(invoice_id)                           # its time is over

Documented shape: ``POST /api/<method>`` with the token in ``Crypto-Pay-API-Token`` and parameters as JSON (or the
query), replies ``{"ok": true, "result": ...}`` or ``{"ok": false, "error": {"code": ..., "name": ...}}``.
createInvoice (crypto or fiat with accepted_assets), getInvoices (invoice_ids, status, count; result
``{"items": [...]}``) and deleteInvoice are served. A webhook update is ``{"update_id", "update_type":
"invoice_paid", "request_date", "payload": <Invoice>}``, its raw body signed in ``crypto-pay-api-signature`` with
HMAC-SHA-256 keyed by SHA-256(token). Each invoice's ``bot_invoice_url`` is a page of this server with a "Pay"
button: the playground's sandbox form of paying in @CryptoBot.
"""
from __future__ import annotations

import asyncio
import html
import itertools
import json
import logging
import secrets
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

import aiohttp
from aiohttp import web

from providers.cryptopay import SIGNATURE_HEADER, signature

from .base import FakeServer

log = logging.getLogger(__name__)

# Made-up rates (USD per unit) for what a fiat invoice costs in each asset.
RATES = {"USDT": Decimal("1"), "USDC": Decimal("1"), "TON": Decimal("5.25"), "BTC": Decimal("65000"),
         "ETH": Decimal("3200"), "LTC": Decimal("80"), "BNB": Decimal("580"), "TRX": Decimal("0.12")}
FIATS = frozenset({"USD", "EUR", "RUB", "BYN", "UAH", "GBP", "CNY", "KZT", "UZS", "GEL", "TRY", "AMD", "THB",
                   "INR", "BRL", "IDR", "AZN", "AED", "PLN", "ILS"})


class ApiError(Exception):
    def __init__(self, code: int, name: str) -> None:
        super().__init__(name)
        self.code, self.name = code, name


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z") if moment else None


class FakeCryptoPay(FakeServer):
    def __init__(self, token: str = "fake-cryptopay-token", *, webhook_url: str | None = None) -> None:
        super().__init__()
        self.token = token
        self.webhook_url = webhook_url
        self.drop_webhooks = False  # paid invoices send no update: the bot must find them by polling
        self.slow_seconds = 3.0
        self.retry_after = 1
        self.invoices: dict[int, dict] = {}
        self.requests: list[tuple[str, dict]] = []  # (method, parameters) of every API call
        self.webhooks_sent: list[tuple[dict, int | None]] = []  # (update, the bot's HTTP status or None)
        self._ids = itertools.count(1001)
        self._update_ids = itertools.count(1)

    @property
    def api_url(self) -> str:
        return f"{self.url}/api"

    def build_app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/api/{method}", self._api)
        app.router.add_get("/api/{method}", self._api)
        app.router.add_get("/pay/{hash}", self._page)
        app.router.add_post("/pay/{hash}", self._page_pay)
        return app

    def fail_next(self, status: int = 500, body: Any = None, headers: dict | None = None, count: int = 1) -> None:
        """The next ``count`` API calls get this reply instead (default: Crypto Pay's error shape)."""
        self.queue_failures(status, body if body is not None else
                            {"ok": False, "error": {"code": status, "name": "INTERNAL_ERROR"}}, headers, count)

    # ------------------------------------------------------------------ control (tests, the playground's page)

    def _by_hash(self, value: str) -> dict:
        for invoice in self.invoices.values():
            if invoice["hash"] == value:
                return invoice
        raise KeyError(value)

    def status(self, invoice: dict) -> str:
        if invoice["status"] == "active" and datetime.now(UTC) >= invoice["_expires"]:
            invoice["status"] = "expired"
        return invoice["status"]

    def expire(self, invoice_id: int) -> None:
        """The invoice's time is over (as if expires_in had passed)."""
        invoice = self.invoices[int(invoice_id)]
        invoice["_expires"] = datetime.now(UTC) - timedelta(seconds=1)
        invoice["expiration_date"] = _iso(invoice["_expires"])
        self.status(invoice)

    async def pay(self, invoice_id: int, asset: str | None = None) -> dict:
        """A buyer pays the invoice: paid now, and the signed update POSTed unless ``drop_webhooks``."""
        invoice = self.invoices[int(invoice_id)]
        if self.status(invoice) != "active":
            raise ValueError(f"invoice {invoice_id} is {invoice['status']}, not payable")
        if invoice["currency_type"] == "fiat":
            accepted = invoice["accepted_assets"]
            asset = asset if asset in accepted else accepted[0]
            rate = RATES.get(asset, Decimal("1"))
            # ":f" keeps 10 USDT from reading "1E+1" once normalize() drops its trailing zeros
            paid = (Decimal(invoice["amount"]) / rate).quantize(Decimal("0.00000001")).normalize()
            invoice.update(paid_asset=asset, paid_amount=f"{paid:f}", paid_fiat_rate=str(rate))
        invoice.update(status="paid", paid_at=_iso(datetime.now(UTC)), paid_anonymously=False)
        update = self.update_of(invoice)
        if not self.drop_webhooks:
            await self.send_webhook(update)
        return update

    def update_of(self, invoice: dict) -> dict:
        return {"update_id": next(self._update_ids), "update_type": "invoice_paid",
                "request_date": _iso(datetime.now(UTC)), "payload": self.public(invoice)}

    async def send_webhook(self, update: dict, *, body: bytes | None = None, signed_with: str | None = None,
                           sign: bool = True) -> int | None:
        """POST an update to ``webhook_url``, signed as Crypto Pay signs (``signed_with`` another token, or
        ``sign=False``, to test refusals). Returns the bot's HTTP status, None when it could not be reached."""
        if not self.webhook_url:
            return None
        raw = body if body is not None else json.dumps(update, separators=(",", ":")).encode()
        headers = {"Content-Type": "application/json"}
        if sign:
            headers[SIGNATURE_HEADER] = signature(signed_with or self.token, raw)
        status: int | None = None
        try:
            async with aiohttp.ClientSession() as session, session.post(self.webhook_url, data=raw,
                                                                        headers=headers) as response:
                status = response.status
        except (aiohttp.ClientError, OSError) as err:  # the bot is down: Crypto Pay retries; the poll finds it
            log.warning("fake Crypto Pay: webhook failed: %s", err)
        self.webhooks_sent.append((update, status))
        return status

    def public(self, invoice: dict) -> dict:
        self.status(invoice)
        return {k: v for k, v in invoice.items() if not k.startswith("_") and v is not None}

    # ------------------------------------------------------------------ the API

    async def _api(self, request: web.Request) -> web.StreamResponse:
        method = request.match_info["method"]
        params: dict = dict(request.query)
        if request.can_read_body:
            try:
                body = await request.json()
            except (json.JSONDecodeError, UnicodeDecodeError):
                body = None
            if isinstance(body, dict):
                params.update(body)
        self.requests.append((method, params))
        if self._failures:
            status, body, headers = self._failures.popleft()
            if isinstance(body, str):
                return web.Response(status=status, text=body, headers=headers)
            return web.json_response(body, status=status, headers=headers)
        if self.mode == "error500":
            return web.json_response({"ok": False, "error": {"code": 500, "name": "INTERNAL_ERROR"}}, status=500)
        if self.mode == "html":
            return web.Response(text="<html><body>Bad gateway</body></html>", content_type="text/html")
        if self.mode == "badjson":
            return web.Response(text='{"ok": true, "resu', content_type="application/json")
        if self.mode == "ratelimit":
            return web.json_response({"ok": False, "error": {"code": 429, "name": "FLOOD_WAIT"}}, status=429,
                                     headers={"Retry-After": str(self.retry_after)})
        if request.headers.get("Crypto-Pay-API-Token") != self.token:
            return web.json_response({"ok": False, "error": {"code": 401, "name": "UNAUTHORIZED"}}, status=401)
        handler = {"createInvoice": self._create, "getInvoices": self._list, "deleteInvoice": self._delete,
                   "getMe": self._me}.get(method)
        try:
            if handler is None:
                raise ApiError(405, "METHOD_NOT_FOUND")
            result = handler(params)
        except ApiError as err:
            return web.json_response({"ok": False, "error": {"code": err.code, "name": err.name}}, status=err.code)
        if self.mode == "slow":  # the work is done; only the reply is late
            await asyncio.sleep(self.slow_seconds)
        return web.json_response({"ok": True, "result": result})

    def _me(self, params: dict) -> dict:
        return {"app_id": 1, "name": "Sandbox shop", "payment_processing_bot_username": "CryptoBot"}

    def _create(self, p: dict) -> dict:
        currency_type = str(p.get("currency_type") or "crypto")
        try:
            amount = Decimal(str(p.get("amount")))
        except InvalidOperation:
            raise ApiError(400, "AMOUNT_INVALID") from None
        if not amount.is_finite() or amount <= 0:
            raise ApiError(400, "AMOUNT_INVALID")
        invoice_id = next(self._ids)
        value = secrets.token_hex(6)
        base = {"invoice_id": invoice_id, "hash": value, "currency_type": currency_type, "amount": f"{amount:f}",
                "status": "active", "created_at": _iso(datetime.now(UTC)), "allow_comments": bool(p.get(
                    "allow_comments", True)), "allow_anonymous": bool(p.get("allow_anonymous", True)),
                "bot_invoice_url": f"{self.url}/pay/{value}", "mini_app_invoice_url": f"{self.url}/pay/{value}?app=1",
                "web_app_invoice_url": f"{self.url}/pay/{value}?web=1",
                "description": str(p.get("description") or "")[:1024], "payload": str(p.get("payload") or "")}
        if currency_type == "fiat":
            fiat = str(p.get("fiat") or "")
            if fiat not in FIATS:
                raise ApiError(400, "FIAT_INVALID")
            accepted = [a for a in str(p.get("accepted_assets") or "").split(",") if a] or list(RATES)
            if any(a not in RATES for a in accepted):
                raise ApiError(400, "ACCEPTED_ASSETS_INVALID")
            base.update(fiat=fiat, accepted_assets=accepted)
        elif currency_type == "crypto":
            asset = str(p.get("asset") or "")
            if asset not in RATES:
                raise ApiError(400, "ASSET_INVALID")
            base.update(asset=asset)
        else:
            raise ApiError(400, "CURRENCY_TYPE_INVALID")
        expires_in = int(p.get("expires_in") or 0)
        if expires_in and not 1 <= expires_in <= 2678400:
            raise ApiError(400, "EXPIRES_IN_INVALID")
        base["_expires"] = (datetime.now(UTC) + timedelta(seconds=expires_in) if expires_in
                            else datetime.max.replace(tzinfo=UTC))
        base["expiration_date"] = _iso(base["_expires"]) if expires_in else None
        self.invoices[invoice_id] = base
        return self.public(base)

    def _list(self, p: dict) -> dict:
        ids = {int(i) for i in str(p.get("invoice_ids") or "").split(",") if i.strip().isdigit()}
        count = int(p.get("count") or 100)
        if not 1 <= count <= 1000:
            raise ApiError(400, "COUNT_INVALID")
        found = [self.public(i) for i in self.invoices.values() if not ids or i["invoice_id"] in ids]
        if p.get("status"):
            found = [i for i in found if i["status"] == p["status"]]
        offset = int(p.get("offset") or 0)
        return {"items": found[offset:offset + count]}

    def _delete(self, p: dict) -> bool:
        invoice = self.invoices.get(int(p.get("invoice_id") or 0))
        if invoice is None or self.status(invoice) == "paid":
            raise ApiError(400, "INVOICE_NOT_FOUND")
        del self.invoices[invoice["invoice_id"]]
        return True

    # ------------------------------------------------------------------ the sandbox's pay page

    async def _page(self, request: web.Request) -> web.Response:
        try:
            invoice = self._by_hash(request.match_info["hash"])
        except KeyError:
            return web.Response(status=404, text="No such invoice (deleted, or from another run of the sandbox).")
        return self._render(invoice)

    async def _page_pay(self, request: web.Request) -> web.Response:
        try:
            invoice = self._by_hash(request.match_info["hash"])
        except KeyError:
            return web.Response(status=404, text="No such invoice.")
        form = await request.post()
        if self.status(invoice) == "active":
            await self.pay(invoice["invoice_id"], str(form.get("asset") or ""))
        return self._render(invoice)

    def _render(self, invoice: dict) -> web.Response:
        status = self.status(invoice)
        what = f"{invoice['amount']} {invoice.get('fiat') or invoice.get('asset')}"
        assets = invoice.get("accepted_assets") or [invoice.get("asset")]
        if status == "active":
            options = "".join(f'<option value="{html.escape(a)}">{html.escape(a)}</option>' for a in assets)
            action = (f'<form method="post"><label>Pay with <select name="asset">{options}</select></label> '
                      f'<button type="submit">Pay</button></form>')
        elif status == "paid":
            action = f"<p>✅ Paid with {html.escape(str(invoice.get('paid_amount') or what))} " \
                     f"{html.escape(str(invoice.get('paid_asset') or ''))}. You can close this page.</p>"
        else:
            action = "<p>⌛ This invoice has expired.</p>"
        page = (f"<!doctype html><html><head><meta charset='utf-8'><title>Crypto Pay sandbox</title></head>"
                f"<body style='font-family:sans-serif;max-width:28em;margin:3em auto'>"
                f"<h1>🪙 Crypto Pay (sandbox)</h1><p>{html.escape(invoice['description'] or 'Invoice')}</p>"
                f"<p><b>{html.escape(what)}</b> · invoice #{invoice['invoice_id']}</p>{action}"
                f"<p style='color:#888'>No real coins move: this page stands in for @CryptoBot.</p></body></html>")
        return web.Response(text=page, content_type="text/html")
