"""What the bot's HTTP server answers besides the GetAText webhook: Telegram's updates, /healthz and /metrics.

In webhook mode Telegram POSTs each update to /telegram with the secret_token it was given in setWebhook;
aiogram's request handler checks the header (401 otherwise) and feeds the dispatcher.

/healthz is 200 when the database answers and every scheduled job (and poll loop) ran within three of its
intervals (for Docker's HEALTHCHECK and orchestrators), 503 with the reason otherwise. /metrics is Prometheus' text
format, behind a bearer token when METRICS_TOKEN is set."""
from __future__ import annotations

import asyncio
import hmac
import time

from aiogram import Bot, Dispatcher
from aiogram.webhook.aiohttp_server import SimpleRequestHandler
from aiohttp import web
from apscheduler.schedulers.base import BaseScheduler

from bot.web.metrics import CONTENT_TYPE, Metrics
from storage import Database

TELEGRAM_PATH = "/telegram"
TELEGRAM_MAX_BODY = 1024 * 1024  # an update with a long message, its reply and entities stays far below
DB_TIMEOUT = 2.0
SLACK = 30.0  # seconds a job may be late beyond three of its intervals (a long tick, a busy machine)


class Health:
    def __init__(self, db: Database, scheduler: BaseScheduler, clock=time.monotonic) -> None:
        self.db = db
        self.scheduler = scheduler
        self.clock = clock
        self.started = clock()
        self.last_run: dict[str, float] = {}
        self.loops: dict[str, float] = {}  # jobs that run as their own loop (the polls): id -> interval in seconds

    def job_event(self, event) -> None:
        """An APScheduler listener (executed or failed: either way the scheduler is alive); a poll loop's too."""
        self.last_run[event.job_id] = self.clock()

    def watch(self, job_id: str, interval: float) -> None:
        """A job outside the scheduler (bot/poll_loop.py), checked like the scheduler's; its runs come to
        ``job_event``."""
        self.loops[job_id] = interval

    async def check(self) -> tuple[bool, str]:
        if not self.scheduler.running:
            return False, "the scheduler is not running"
        try:
            async with asyncio.timeout(DB_TIMEOUT):
                await self.db.ping()
        except Exception as err:  # noqa: BLE001 - whatever it is, the database does not answer
            return False, f"the database does not answer ({type(err).__name__})"
        now = self.clock()
        intervals = dict(self.loops)
        for job in self.scheduler.get_jobs():
            interval = getattr(job.trigger, "interval", None)
            if interval is not None:
                intervals[job.id] = interval.total_seconds()
        for job_id, seconds in intervals.items():
            since = now - self.last_run.get(job_id, self.started)
            if since > 3 * seconds + SLACK:
                return False, f"job {job_id} has not run for {int(since)} s"
        return True, "ok"


def add_routes(app: web.Application, health: Health, metrics: Metrics, metrics_token: str = "") -> None:
    async def healthz(request: web.Request) -> web.Response:
        ok, reason = await health.check()
        return web.json_response({"ok": ok, "reason": reason}, status=200 if ok else 503)

    async def metrics_page(request: web.Request) -> web.Response:
        if metrics_token:
            given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
            if not hmac.compare_digest(given.encode(), metrics_token.encode()):
                return web.json_response({"ok": False, "error": "unauthorized"}, status=401)
        return web.Response(body=metrics.render(), headers={"Content-Type": CONTENT_TYPE})

    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics_page)


class TelegramUpdates:
    """POST /telegram: one update a request, answered at once and handled in the background (aiogram's way:
    Telegram does not wait for a provider call). Once the bot is stopping it answers 503, so that Telegram keeps
    the update and delivers it to the next start instead of to a process that is closing."""

    def __init__(self, dispatcher: Dispatcher, bot: Bot, secret: str) -> None:
        self.secret = secret
        self._handler = SimpleRequestHandler(dispatcher, bot, secret_token=secret)
        self._open = True

    def add_to(self, app: web.Application) -> None:
        app.router.add_post(TELEGRAM_PATH, self.handle)  # not SimpleRequestHandler.register: we close the session

    def close(self) -> None:
        self._open = False

    async def handle(self, request: web.Request) -> web.Response:
        if not self._open:
            return web.json_response({"ok": False, "error": "stopping"}, status=503)
        return await self._handler.handle(request)
