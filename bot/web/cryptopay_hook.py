"""Crypto Pay's webhook on the bot's HTTP server: POST CRYPTOPAY_WEBHOOK_PATH with an Update, signed.

The signature (header crypto-pay-api-signature) is checked on the raw body before anything in it is read:
unsigned or altered -> 401; not an update -> 400; invoice_paid for an invoice the bot never made -> 400. A paid
invoice of ours is credited once (a replay answers 200 and changes nothing); one already closed answers 200 and
is not credited (Crypto Pay would otherwise retry it for days)."""
from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from providers.cryptopay import SIGNATURE_HEADER, Invoice, read_update, signed
from providers.errors import MalformedReplyError
from storage.crypto_invoices import Credit, Outcome

log = logging.getLogger(__name__)

MAX_BODY = 64 * 1024


def add_cryptopay_route(app: web.Application, path: str, token: str,
                        on_paid: Callable[[Invoice], Awaitable[Credit]]) -> None:
    async def receive(request: web.Request) -> web.Response:
        if request.content_length and request.content_length > MAX_BODY:
            return web.json_response({"ok": False, "error": "too large"}, status=413)
        body = await request.read()
        if len(body) > MAX_BODY:
            return web.json_response({"ok": False, "error": "too large"}, status=413)
        if not signed(token, body, request.headers.get(SIGNATURE_HEADER)):
            log.warning("Crypto Pay webhook refused: %s signature", "a wrong" if SIGNATURE_HEADER in request.headers
                        else "no")
            return web.json_response({"ok": False, "error": "bad signature"}, status=401)
        try:
            update_type, invoice = read_update(body)
        except MalformedReplyError as err:
            log.warning("Crypto Pay webhook refused: %s", err.message)
            return web.json_response({"ok": False, "error": "malformed update"}, status=400)
        if invoice is None:
            return web.json_response({"ok": True, "ignored": update_type})
        result = await on_paid(invoice)
        if result.outcome is Outcome.UNKNOWN:
            log.warning("Crypto Pay webhook: invoice %d is not one of this bot's", invoice.invoice_id)
            return web.json_response({"ok": False, "error": "unknown invoice"}, status=400)
        return web.json_response({"ok": True, "credited": result.outcome is Outcome.CREDITED})

    app.router.add_post(path, receive)
