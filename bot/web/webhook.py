"""GetAText code webhook: an aiohttp server in the bot's process. The path holds a secret; sources may be
allow-listed."""
from __future__ import annotations

import asyncio
import hmac
import logging
import time
from collections import OrderedDict
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


def client_address(request: web.Request, trusted_proxies: frozenset[str]) -> str:
    """Who sent this: the peer, or, when the peer is a trusted proxy, the right-most forwarded address that is
    not one of ours. Without trusted proxies, forwarded headers are never believed."""
    peer = request.remote or ""
    if peer not in trusted_proxies:
        return peer
    hops = [h.strip() for h in ",".join(request.headers.getall("X-Forwarded-For", [])).split(",") if h.strip()]
    for hop in reversed(hops):
        if hop not in trusted_proxies:
            return hop
    return peer


class GuessGuard:
    """Wrong secret paths: from the FREE-th wrong guess a minute on, each source waits longer before its 404
    (up to MAX_DELAY), and one warning line a minute counts them. The table of sources is bounded."""

    FREE = 5
    MAX_DELAY = 2.0
    WINDOW = 60.0
    MAX_SOURCES = 4096

    def __init__(self, clock=time.monotonic) -> None:
        self.clock = clock
        self._wrong: OrderedDict[str, list[float]] = OrderedDict()  # source -> times of wrong guesses
        self._window_start = clock()
        self._window_count = 0
        self._window_sources: set[str] = set()

    def delay_for(self, source: str) -> float:
        """Count a wrong guess from ``source``; the seconds to hold its answer."""
        now = self.clock()
        times = self._wrong.setdefault(source, [])
        self._wrong.move_to_end(source)
        times[:] = [t for t in times if t > now - self.WINDOW] + [now]
        while len(self._wrong) > self.MAX_SOURCES:
            self._wrong.popitem(last=False)
        self._report(now, source)
        extra = len(times) - self.FREE
        return 0.0 if extra <= 0 else min(self.MAX_DELAY, 0.1 * 2 ** min(extra, 10))

    def _report(self, now: float, source: str) -> None:
        if now - self._window_start >= self.WINDOW and self._window_count:
            log.warning("webhook: %d wrong secret paths from %d sources in the last minute",
                        self._window_count, len(self._window_sources))
            self._window_start, self._window_count, self._window_sources = now, 0, set()
        self._window_count += 1
        if len(self._window_sources) < self.MAX_SOURCES:
            self._window_sources.add(source)


def webhook_app(secret: str, allowed_ips: frozenset[str], on_sms: Callable[[Sms], Awaitable[None]],
                **options) -> web.Application:
    """An application with only GetAText's route (see ``add_getatext_route``)."""
    app = web.Application(client_max_size=MAX_BODY)
    add_getatext_route(app, secret, allowed_ips, on_sms, **options)
    return app


def add_getatext_route(
    app: web.Application,
    secret: str,
    allowed_ips: frozenset[str],
    on_sms: Callable[[Sms], Awaitable[None]],
    *,
    parse: Callable[[bytes], Awaitable[Sms]] = parse_plain,
    trusted_proxies: frozenset[str] = frozenset(),
    guard: GuessGuard | None = None,
) -> None:
    """POST /getatext/<secret> with the documented JSON. Replies 200 once the SMS is stored.

    ``parse`` turns the body into an Sms; pass ``client.webhook_sms`` so a JSON-integer code
    gets back the leading zeros the integer lost. ``trusted_proxies``: peers whose X-Forwarded-For
    is believed (a reverse proxy in front, serving HTTPS)."""
    guard = guard or GuessGuard()

    async def receive(request: web.Request) -> web.Response:
        source = client_address(request, trusted_proxies)
        if not secret or not hmac.compare_digest(request.match_info["secret"].encode(), secret.encode()):
            if delay := guard.delay_for(source):
                await asyncio.sleep(delay)
            return web.json_response({"ok": False, "error": "not found"}, status=404)
        if allowed_ips and source not in allowed_ips:
            log.warning("webhook from %s refused: not in the allow-list", source)
            return web.json_response({"ok": False, "error": "forbidden"}, status=403)
        if request.content_length and request.content_length > MAX_BODY:
            return web.json_response({"ok": False, "error": "too large"}, status=413)
        body = await request.read()
        if len(body) > MAX_BODY:  # chunked, without a length: the server's own limit may be higher (Telegram's)
            return web.json_response({"ok": False, "error": "too large"}, status=413)
        try:
            sms = await parse(body)
        except MalformedReplyError as err:
            log.warning("malformed webhook payload: %s", err)
            return web.json_response({"ok": False, "error": "malformed payload"}, status=400)
        await on_sms(sms)
        return web.json_response({"ok": True})

    app.router.add_post("/getatext/{secret}", receive)


class WebhookServer:
    def __init__(self, app: web.Application, host: str, port: int) -> None:
        self.runner = web.AppRunner(app, access_log=None)  # the access log would print the secret path
        self.host = host
        self.port = port
        self.started = False

    async def start(self) -> int:
        self.started = True
        await self.runner.setup()
        site = web.TCPSite(self.runner, self.host, self.port)
        await site.start()
        sockets = site._server.sockets if site._server else []  # noqa: SLF001 - the bound port when port=0
        return sockets[0].getsockname()[1] if sockets else self.port

    async def stop(self) -> None:
        if self.started:  # a stop after a start that never got this far has nothing to close
            await self.runner.cleanup()
