"""GetAText code webhook: an aiohttp server in the bot's process. The path holds a secret; sources may be allow-listed."""
from __future__ import annotations

import hmac
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from providers import Sms
from providers.errors import MalformedReplyError
from providers.getatext import parse_webhook

log = logging.getLogger(__name__)

MAX_BODY = 64 * 1024


async def parse_plain(body: bytes) -> Sms:
    """The payload alone; ``GetATextClient.webhook_sms`` also restores a code's leading zeros."""
    return parse_webhook(body)


def webhook_app(
    secret: str,
    allowed_ips: frozenset[str],
    on_sms: Callable[[Sms], Awaitable[None]],
    *,
    parse: Callable[[bytes], Awaitable[Sms]] = parse_plain,
) -> web.Application:
    """POST /getatext/<secret> with the documented JSON. Replies 200 once the SMS is stored.

    ``parse`` turns the body into an Sms; pass ``client.webhook_sms`` so a JSON-integer code
    gets back the leading zeros the integer lost."""

    async def receive(request: web.Request) -> web.Response:
        if not secret or not hmac.compare_digest(request.match_info["secret"].encode(), secret.encode()):
            return web.json_response({"ok": False, "error": "not found"}, status=404)
        if allowed_ips and request.remote not in allowed_ips:
            log.warning("webhook from %s refused: not in the allow-list", request.remote)
            return web.json_response({"ok": False, "error": "forbidden"}, status=403)
        if request.content_length and request.content_length > MAX_BODY:
            return web.json_response({"ok": False, "error": "too large"}, status=413)
        try:
            sms = await parse(await request.read())
        except MalformedReplyError as err:
            log.warning("malformed webhook payload: %s", err)
            return web.json_response({"ok": False, "error": "malformed payload"}, status=400)
        await on_sms(sms)
        return web.json_response({"ok": True})

    app = web.Application(client_max_size=MAX_BODY)
    app.router.add_post("/getatext/{secret}", receive)
    return app


class WebhookServer:
    def __init__(self, app: web.Application, host: str, port: int) -> None:
        self.runner = web.AppRunner(app, access_log=None)  # the access log would print the secret path
        self.host = host
        self.port = port

    async def start(self) -> int:
        await self.runner.setup()
        site = web.TCPSite(self.runner, self.host, self.port)
        await site.start()
        sockets = site._server.sockets if site._server else []  # noqa: SLF001 - the bound port when port=0
        return sockets[0].getsockname()[1] if sockets else self.port

    async def stop(self) -> None:
        await self.runner.cleanup()
