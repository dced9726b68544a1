"""Everything that runs beside polling Telegram: the scheduler's jobs, the delivery loop, the webhook server.

Started and stopped with the dispatcher (dp.startup / dp.shutdown)."""
from __future__ import annotations

import asyncio
import logging

from aiogram import Bot
from aiohttp import web
from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from providers import Capability, Sms
from storage import JobState

from .app import App
from .delivery import Deliverer
from .jobs import Jobs
from .poller import SmsPoller
from .telegram_out import ChatSender, RateLimiter
from .inbound import Health, add_routes
from .webhook import MAX_BODY, WebhookServer, webhook_app

log = logging.getLogger(__name__)


class Background:
    def __init__(self, app: App, bot: Bot, limiter: RateLimiter | None = None) -> None:
        self.app = app
        settings = app.settings
        self.sender = ChatSender(bot, app.chats, limiter or RateLimiter(), on_flood=app.metrics.telegram_429.inc)
        self.deliverer = Deliverer(app.sms_repo, app.rentals, app.chats, self.sender, app.renderer,
                                   on_delivered=app.metrics.delivered)
        state = JobState(app.db)
        self.pollers = {
            name: SmsPoller(provider, app.rentals.rentals, app.sms_repo, state, self.deliverer.wake,
                            app.rentals.adopt_from_sms,
                            lambda provider, new: app.metrics.codes_received.labels(provider).inc(new))
            for name, provider in app.providers.items()
        }
        self.jobs = Jobs(app.db, app.rentals, app.chats, app.sms_repo, self.sender, app.renderer, self.deliverer.wake,
                         app.switches)
        self.scheduler = AsyncIOScheduler(job_defaults={"max_instances": 1, "coalesce": True,
                                                        "misfire_grace_time": 60})
        webhook_on = bool(settings.webhook_port and settings.webhook_secret.get_secret_value())
        for name, poller in self.pollers.items():
            interval = settings.poll_interval
            if webhook_on and app.providers[name].supports(Capability.WEBHOOK):
                interval = max(interval * 5, 10.0)  # the webhook pushes; polling is the fallback
            self.scheduler.add_job(poller.tick, "interval", seconds=interval, id=f"poll:{name}", name=f"poll {name}")
        self.scheduler.add_job(self.jobs.expire, "interval", seconds=30, id="expire")
        self.scheduler.add_job(self.jobs.warn_renewals, "interval", minutes=10, id="renewals")
        self.scheduler.add_job(self.jobs.reconcile, "interval", seconds=30, id="reconcile")
        self.scheduler.add_job(self.jobs.cleanup, "interval", minutes=30, id="cleanup")
        self.scheduler.add_job(self.jobs.retry_stars_refunds, "interval", minutes=5, id="stars_refunds")
        self.scheduler.add_job(app.metrics.refresh_gauges, "interval", seconds=15, id="metrics", args=[app.db])
        if settings.backup_interval_hours:
            self.scheduler.add_job(self.jobs.backup, "interval", hours=settings.backup_interval_hours, id="backup",
                                   args=[settings.database_path, settings.backup_dir, settings.backup_keep])
        self.scheduler.add_listener(app.metrics.job_event, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR)
        self.health = Health(app.db, self.scheduler)
        self.scheduler.add_listener(self.health.job_event, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR)
        self.webhook = None
        if webhook_on:  # the bot's HTTP server: /healthz, /metrics, and GetAText's webhook when it is enabled
            web_app = web.Application(client_max_size=MAX_BODY)
            if "getatext" in self.pollers:
                web_app = webhook_app(settings.webhook_secret.get_secret_value(), settings.webhook_allowed_ips,
                                      self.on_webhook_sms,
                                      parse=app.providers["getatext"].webhook_sms,  # restores lost leading zeros
                                      trusted_proxies=settings.webhook_trusted_proxies)
            add_routes(web_app, self.health, app.metrics, settings.metrics_token.get_secret_value())
            self.webhook = WebhookServer(web_app, settings.webhook_host, settings.webhook_port)
        self._delivery: asyncio.Task | None = None

    async def on_webhook_sms(self, sms: Sms) -> None:
        await self.pollers["getatext"].store([sms])
        self.deliverer.wake()

    async def start(self) -> None:
        for poller in self.pollers.values():
            try:
                await poller.recover()
            except Exception:
                log.exception("recovery of %s failed; the poll job carries on", poller.provider.name)
        self._delivery = asyncio.create_task(self.deliverer.run(), name="delivery")
        self.scheduler.start()
        if self.webhook is not None:
            port = await self.webhook.start()
            log.info("HTTP server on port %d: /healthz, /metrics%s", port,
                     ", the GetAText webhook" if "getatext" in self.pollers else "")

    async def stop(self) -> None:
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        if self._delivery is not None:
            self._delivery.cancel()
            try:
                await self._delivery
            except asyncio.CancelledError:
                pass
        if self.webhook is not None:
            await self.webhook.stop()
