"""Everything that runs beside the updates: the scheduler's jobs, the delivery loop, the bot's HTTP server.

Started and stopped with the dispatcher (dp.startup / dp.shutdown)."""
from __future__ import annotations

import asyncio
import logging

from aiogram import Bot
from aiohttp import web
from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, EVENT_JOB_MAX_INSTANCES
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.app import App
from bot.jobs import Jobs
from bot.outbound.broadcaster import Broadcaster
from bot.outbound.delivery import Deliverer
from bot.outbound.forwarding import Forwarder
from bot.outbound.hiding import CodeHider
from bot.outbound.money_news import MoneyNews
from bot.outbound.pace import Limits, outbound_of
from bot.outbound.telegram_out import ChatSender
from bot.poll_loop import PollLoop
from bot.poller import SmsPoller
from bot.services.errors import UnknownChat
from bot.services.permissions import ensure_can_spend
from bot.web.cryptopay_hook import add_cryptopay_route
from bot.web.inbound import TELEGRAM_MAX_BODY, TELEGRAM_PATH, Health, TelegramUpdates, add_routes
from bot.web.webhook import MAX_BODY, WebhookServer, add_getatext_route
from providers import Capability, Sms
from providers.cryptopay import Invoice
from storage import JobState
from storage.crypto_invoices import Credit
from storage.notices import MoneyNoticeRepo

log = logging.getLogger(__name__)

DRAIN_POLL = 0.05  # seconds between looks at the outbox while a shutdown drains it
BROADCAST_STOP_WAIT = 5.0  # seconds a stop waits for the broadcast message in flight (then it is left in doubt)


class Background:
    def __init__(self, app: App, bot: Bot, limits: Limits | None = None,
                 telegram: TelegramUpdates | None = None) -> None:
        self.app = app
        settings = app.settings
        self.outbound = outbound_of(bot)  # the one pace of everything the bot sends (bot/outbound/pace.py)
        if limits is not None:
            self.outbound.limits = limits
        self.sender = ChatSender(bot, app.chats, self.outbound)
        self.deliverer = Deliverer(app.sms_repo, app.number_cards, app.chats, self.sender, app.renderer,
                                   on_delivered=app.metrics.delivered, screens=app.screens,
                                   topics=app.topics.repo)
        # Broadcasts share the codes' sender and outbound path, at the lowest priority: after codes, replies, notices.
        self.broadcaster = Broadcaster(app.broadcasts, self.sender, app.renderer,
                                       codes_waiting=lambda: self.deliverer.busy,
                                       progress_interval=settings.broadcast_progress_interval)
        # Codes of a number also to another chat or a URL: its own loop, spare slots only (bot/outbound/forwarding.py).
        self.forwarder = Forwarder(app.forwarding.repo, app.forwarding, app.rentals.rentals, app.chats, self.sender,
                                   app.renderer, timeout=settings.forward_timeout)
        # Money news (payments, refunds, renewals, transfers): its own outbox and loop, woken by whoever wrote one.
        self.money_news = MoneyNews(MoneyNoticeRepo(app.db), app.chats, self.sender, app.renderer,
                                    due=app.money_news_due)
        state = JobState(app.db)
        self.pollers = {
            name: SmsPoller(provider, app.rentals.rentals, app.sms_repo, state, self.stored,
                            app.rentals.adopt_from_sms,
                            lambda provider, new: app.metrics.codes_received.labels(provider).inc(new))
            for name, provider in app.providers.items()
        }
        self.jobs = Jobs(app.db, app.rentals, app.chats, app.sms_repo, self.sender, app.renderer, self.deliverer.wake,
                         app.switches, no_code=app.no_code, crypto=app.crypto, alerts=app.alerts, topics=app.topics,
                         chains=app.chains, on_confirmed=self._card_in_topic, on_notice=self.money_news.wake)
        self.scheduler = AsyncIOScheduler(job_defaults={"max_instances": 1, "coalesce": True,
                                                        "misfire_grace_time": 60})
        job = app.inflight.job  # a SIGTERM waits for a job that runs (its provider calls) before closing
        self.scheduler.add_job(job(self.jobs.expire), "interval", seconds=30, id="expire")
        self.scheduler.add_job(job(self.jobs.warn_renewals), "interval", minutes=10, id="renewals")
        self.scheduler.add_job(job(self.jobs.reconcile), "interval", seconds=30, id="reconcile")
        self.scheduler.add_job(job(self.jobs.refund_no_code), "interval", seconds=20, id="no_code")
        self.scheduler.add_job(job(self.jobs.cleanup), "interval", minutes=30, id="cleanup")
        self.scheduler.add_job(job(self.step_chains), "interval", seconds=settings.chain_step_seconds, id="chains")
        self.scheduler.add_job(job(self.jobs.close_topics), "interval", seconds=30, id="topics")
        if settings.alerts_per_chat:  # paced: one read per service a round, within the providers' call budget
            self.scheduler.add_job(job(self.jobs.check_alerts), "interval", seconds=settings.alert_check_seconds,
                                   id="alerts")
        self.scheduler.add_job(job(self.jobs.retry_stars_refunds), "interval", minutes=5, id="stars_refunds")
        self.bot = bot
        self.scheduler.add_job(job(self.expire_requests), "interval", seconds=60, id="requests")
        # Code messages groups asked to delete after N minutes; spare slots only, codes first. Not held by a
        # SIGTERM (no job() wrapper): a pass cut off is safe, a deletion asked again is refused and marked.
        self.hider = CodeHider(app.sms_repo, self.sender, codes_waiting=lambda: self.deliverer.busy,
                               refresh_card=self._refresh_hidden_card, forwards=app.forwarding.repo)
        self.scheduler.add_job(self.hider.run_once, "interval", seconds=settings.code_hide_interval,
                               id="hide_codes")
        if app.crypto.enabled:  # the fallback of the webhook: what it missed is credited here
            self.scheduler.add_job(job(self.jobs.reconcile_crypto), "interval",
                                   seconds=settings.cryptopay_poll_interval, id="cryptopay")
        self.scheduler.add_job(job(app.metrics.refresh_gauges), "interval", seconds=15, id="metrics", args=[app.db])
        if settings.backup_interval_hours:
            self.scheduler.add_job(job(self.jobs.backup), "interval", hours=settings.backup_interval_hours, id="backup",
                                   args=[settings.database_path, settings.backup_dir, settings.backup_keep])
        self.scheduler.add_listener(app.metrics.job_event,
                                    EVENT_JOB_EXECUTED | EVENT_JOB_ERROR | EVENT_JOB_MAX_INSTANCES)
        self.health = Health(app.db, self.scheduler)
        self.scheduler.add_listener(self.health.job_event, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR)
        # Each provider's poll is its own loop, not a scheduler job (which skips a run while the last one runs): an
        # overrun is counted and the next poll starts at once (bot/poll_loop.py). Told to the jobs' listeners.
        self.polls: list[PollLoop] = []
        for name, poller in self.pollers.items():
            interval = settings.poll_interval
            if settings.getatext_webhook and app.providers[name].supports(Capability.WEBHOOK):
                interval = max(interval * 5, 10.0)  # the webhook pushes; polling is the fallback
            self.polls.append(PollLoop(name, job(poller.tick), interval, listeners=(
                app.metrics.job_event, app.metrics.poll_event, self.health.job_event)))
            self.health.watch(self.polls[-1].job_id, interval)
        self._poll_tasks: list[asyncio.Task] = []
        self.telegram = telegram
        self.http = self._http_server(telegram) if settings.http_port else None
        self._delivery: asyncio.Task | None = None
        self._broadcasts: asyncio.Task | None = None
        self._forwards: asyncio.Task | None = None
        self._money_news: asyncio.Task | None = None

    def stored(self) -> None:
        """New SMS were stored: pushed to their chats, and forwarded, now rather than at the next round."""
        self.deliverer.wake()
        self.forwarder.wake()

    async def _refresh_hidden_card(self, chat_id: int, rental_id: int) -> None:
        """A code was deleted from the group: the card the group was shown last, if it is this number's, says
        "code received at ..., hidden" too (edited on a spare slot: codes first)."""
        rental = await self.app.rentals.rentals.get(rental_id)
        message_id = self.app.screens.card_shown_last(chat_id, rental.card_id) if rental else None
        chat = await self.app.chats.get(chat_id)
        if message_id is None or chat is None:
            return
        card = await self.app.number_cards.of(await self.app.rentals.rentals.get(rental.card_id), chat.is_group)
        text, markup = self.app.renderer.card(chat, card)
        if await self.sender.edit(chat_id, message_id, text, markup, spare=True):
            self.app.screens.card_shown(chat_id, message_id, rental.card_id)  # still the card: the edit forgot it

    async def _may_spend(self, chat_id: int, user_id: int):
        """A fallback chain's next attempt: may its user still spend the chat's balance (a member's budget)."""
        chat = await self.app.chats.get(chat_id)
        if chat is None or not chat.active:
            raise UnknownChat()
        return await ensure_can_spend(self.app.admins.of(self.bot), chat, user_id, budgeted=True)

    async def _card_in_topic(self, rental) -> None:
        """A number confirmed by the reconciler in a forum group with a topic per number: its topic opened and its
        card posted there, as the Rent tap would have (best effort: without one, it stays in the main chat)."""
        chat = await self.app.chats.get(rental.chat_id)
        if chat is None or not chat.active or not (chat.is_group and chat.topic_per_number):
            return
        try:
            await self.app.topic_cards.open_with_card(self.bot, chat, rental)
        except Exception:  # noqa: BLE001 - the number is confirmed either way; its card stays in the main chat
            log.warning("rental %d: its topic after the reconciler confirmed it failed", rental.id, exc_info=True)

    async def step_chains(self) -> int:
        """Fallback chains moved on (bot/services/fallback_chain.py), each changed card edited in place (a new
        message when the tap's was never recorded); a notice: codes and replies first."""
        changed = await self.app.chains.step(self._may_spend)
        for chain_id in changed:
            view = await self.app.chains.view(chain_id)
            chat = await self.app.chats.get(view.chain.chat_id)
            if chat is None or not chat.active:
                continue
            text, markup = self.app.renderer.chain_card(chat, view)
            if view.chain.card_message_id is not None:
                await self.sender.edit(chat.id, view.chain.card_message_id, text, markup)
            else:
                _, message = await self.sender.send(chat.id, text, markup)
                if message is not None:
                    await self.app.chains.repo.set_card(chain_id, chat.id, message.message_id)
        return len(changed)

    async def expire_requests(self) -> int:
        """Members' requests no admin decided in time: expired (nothing was charged), their messages say so."""
        expired = await self.app.teams.expire_due()
        for found in expired:
            chat = await self.app.chats.get(found.chat_id)
            if chat is None or not chat.active or found.message_id is None:
                continue
            # Deleted, or too old to edit: the tap on it still finds the request expired.
            await self.sender.edit(chat.id, found.message_id, self.app.renderer.spend_request(chat, found))
        return len(expired)

    def _http_server(self, telegram: TelegramUpdates | None) -> WebhookServer:
        """One server for everything that comes in: Telegram's updates (webhook mode), GetAText's codes (when its
        webhook is set), /healthz and /metrics."""
        settings = self.app.settings
        web_app = web.Application(client_max_size=TELEGRAM_MAX_BODY if telegram else MAX_BODY)
        if settings.getatext_webhook and "getatext" in self.pollers:
            add_getatext_route(web_app, settings.getatext_webhook_secret.get_secret_value(),
                               settings.getatext_webhook_allowed_ips, self.on_webhook_sms,
                               parse=self.app.providers["getatext"].webhook_sms,  # restores lost leading zeros
                               trusted_proxies=settings.http_trusted_proxies)
        if settings.cryptopay_webhook and self.app.crypto.enabled:
            add_cryptopay_route(web_app, settings.cryptopay_webhook_path,
                                settings.cryptopay_token.get_secret_value().strip(), self.on_crypto_paid)
        add_routes(web_app, self.health, self.app.metrics, settings.metrics_token.get_secret_value())
        if telegram is not None:
            telegram.add_to(web_app)
        return WebhookServer(web_app, settings.http_host, settings.http_port)

    def served(self) -> str:
        paths = ["/healthz", "/metrics"]
        if self.telegram is not None:
            paths.append(f"{TELEGRAM_PATH} (Telegram's updates)")
        if self.app.settings.getatext_webhook and "getatext" in self.pollers:
            paths.append("/getatext/<secret> (GetAText's codes)")
        if self.app.settings.cryptopay_webhook and self.app.crypto.enabled:
            paths.append(f"{self.app.settings.cryptopay_webhook_path} (Crypto Pay's paid invoices)")
        return ", ".join(paths)

    async def on_webhook_sms(self, sms: Sms) -> None:
        await self.pollers["getatext"].store([sms])
        self.stored()

    async def on_crypto_paid(self, invoice: Invoice) -> Credit:
        """A signed invoice_paid update: credited once, its "Payment received" notice written with the credit."""
        return await self.app.inflight.job(self.app.crypto.confirm)(invoice)

    async def start(self) -> None:
        for poller in self.pollers.values():
            try:
                await poller.recover()
            except Exception:
                log.exception("recovery of %s failed; the poll job carries on", poller.provider.name)
        self._delivery = asyncio.create_task(self.deliverer.run(), name="delivery")
        self._broadcasts = asyncio.create_task(self.broadcaster.run(), name="broadcasts")  # resumes any unfinished
        self._forwards = asyncio.create_task(self.forwarder.run(), name="forwards")
        self._money_news = asyncio.create_task(self.money_news.run(), name="money news")  # resumes what is unsent
        self.scheduler.start()
        self._poll_tasks = [asyncio.create_task(poll.run(), name=poll.job_id) for poll in self.polls]
        if self.http is not None:
            port = await self.http.start()
            log.info("HTTP server on port %d: %s", port, self.served())

    async def stop(self) -> None:
        """Updates stop, then what runs is finished and the outbox drained, all within SHUTDOWN_TIMEOUT."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.app.settings.shutdown_timeout
        if self.telegram is not None:
            self.telegram.close()  # 503 from now on: Telegram keeps those updates for the next start
        if self.scheduler.running:
            self.scheduler.pause()  # no new job runs; those running are waited for below
        for poll in self.polls:
            poll.stop()  # nor a new poll; one running is waited for below
        inflight = self.app.inflight
        if inflight.count:
            log.info("stopping: waiting for %d update(s) and job(s) in flight", inflight.count)
            if not await inflight.wait_idle(deadline - loop.time()):
                log.warning("stopping: %d update(s) and job(s) still running after SHUTDOWN_TIMEOUT; cut off"
                            " (a charge whose provider call was cut off is reconciled at the next start)",
                            inflight.count)
        if self._broadcasts is not None:  # the rest of a broadcast goes out at the next start, none of it twice
            self.broadcaster.halt()  # the message in flight is finished (and marked sent), no other started
            try:
                async with asyncio.timeout(min(BROADCAST_STOP_WAIT, max(deadline - loop.time(), 0))):
                    await self._broadcasts
            except TimeoutError:
                self._broadcasts.cancel()
                try:
                    await self._broadcasts
                except asyncio.CancelledError:
                    pass
        await self._drain_outbox(deadline - loop.time())
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        for task in self._poll_tasks:
            task.cancel()  # ended, unless its poll outlived SHUTDOWN_TIMEOUT: cut off (safe: bot/poller.py)
        await asyncio.gather(*self._poll_tasks, return_exceptions=True)
        # What is not marked sent (codes, forwards, money news) goes out at the next start.
        loops = [task for task in (self._delivery, self._forwards, self._money_news) if task is not None]
        for task in loops:
            task.cancel()
        await asyncio.gather(*loops, return_exceptions=True)
        await self.forwarder.aclose()
        if self.http is not None:
            await self.http.stop()

    async def _drain_outbox(self, timeout: float) -> None:
        """Codes already stored go out now rather than at the next start, as far as the time allows. The delivery
        loop sends them (never a second sender on the same rows); this only waits for the outbox to empty."""
        if self._delivery is None or self._delivery.done():
            return
        try:
            async with asyncio.timeout(max(timeout, 0)):
                while await self.app.sms_repo.outbox(limit=1):
                    self.deliverer.wake()
                    await asyncio.sleep(DRAIN_POLL)
        except TimeoutError:
            if left := len(await self.app.sms_repo.outbox()):
                log.warning("stopping: %d SMS still to send after SHUTDOWN_TIMEOUT; they go out at the next start",
                            left)
