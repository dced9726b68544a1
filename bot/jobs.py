"""Background jobs besides polling: expiry, auto-renew, reconciliation, no code no charge, cleanup. Each a plain
async method.

What reports money moved (renewed, refunded) is not sent from here: its notice is written in the transaction that
moves the money (``_money_notice``) and the money news loop sends it once (bot/outbound/money_news.py);
``on_notice`` wakes it."""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path

import aiosqlite

from bot import stars
from bot.outbound.rendering import Renderer
from bot.outbound.telegram_out import ChatSender
from bot.outbound.topics import NumberTopics
from bot.services import money_news
from bot.services.alerts import Alerts
from bot.services.cryptopay import CryptoTopUps
from bot.services.fallback_chain import FallbackChains
from bot.services.localize import duration_name
from bot.services.money_news import money, plan
from bot.services.no_code import NoCodeRefunds
from bot.services.pricing import format_money
from bot.services.renewals import charge_period, period_key
from bot.services.rentals import SNAPSHOT_MAX_AGE, RentalService, period_end
from bot.services.switches import PlanSwitches
from providers import ProviderError, RentalStatus
from storage import (
    ChatRepo,
    Database,
    InsufficientBalanceError,
    PromptRepo,
    RentalRecord,
    RentalRepo,
    SmsRepo,
    backup,
)
from storage.catalogue import CatalogueCache
from storage.fallback_chain import ChainRepo
from storage.models import utcnow
from storage.stars_refunds import StarsRefundRepo
from storage.switches import PlanSwitch
from storage.updates import UpdateLog

log = logging.getLogger(__name__)

RENEW_WARNING = timedelta(hours=24)
RENEW_CUTOFF = timedelta(hours=1)
# A fallback chain's attempts tell their story on the chain's card, not one notice each (money news too).
CHAIN_TELLS = frozenset({"notify-expired", "notify-rent-confirmed", "notify-rent-refunded", "notify-no-code-refunded"})


class Jobs:
    def __init__(self, db: Database, rentals: RentalService, chats: ChatRepo, sms: SmsRepo, sender: ChatSender,
                 renderer: Renderer, on_new_sms=lambda: None, switches: PlanSwitches | None = None,
                 no_code: NoCodeRefunds | None = None, crypto: CryptoTopUps | None = None,
                 alerts: Alerts | None = None, topics: NumberTopics | None = None,
                 chains: FallbackChains | None = None,
                 on_confirmed: Callable[[RentalRecord], Awaitable[object]] | None = None,
                 on_notice: Callable[[], object] = lambda: None) -> None:
        self.alerts = alerts
        self.topics = topics
        self.chains = chains
        # A number the reconciler confirmed after its rent reply was lost: its card where a tap would have put it
        # (a forum group's topic per number; the card is the handlers' to draw, handed in by Background).
        self.on_confirmed = on_confirmed
        self.renderer = renderer
        self.crypto = crypto
        self.db = db
        self.rentals = rentals
        self.switches = switches or PlanSwitches(rentals)
        self.no_code = no_code or NoCodeRefunds(rentals)
        self.repo: RentalRepo = rentals.rentals
        self.chats = chats
        self.sms = sms
        self.sender = sender
        self.on_new_sms = on_new_sms
        self.on_notice = on_notice  # money news written: wake its loop (bot/outbound/money_news.py)

    async def _tell(self, rental: RentalRecord, key: str, **params) -> None:
        if key in CHAIN_TELLS and self.chains is not None and await self.chains.quiet(rental.id):
            return  # a fallback chain's attempt without a code: its card says it (bot/services/fallback_chain.py)
        chat = await self.chats.get(rental.chat_id)
        if chat is None or not chat.active:
            return
        text = self.renderer.notice(chat.language, key, phone=rental.phone or "", service=rental.service_name,
                                    **params)
        await self.sender.send(chat.id, text)

    # -- money news: written in the transaction that moves the money, sent once by bot/outbound/money_news.py ---
    async def _money_notice(self, conn: aiosqlite.Connection, rental: RentalRecord, key: str, ledger_key: str,
                            **params) -> None:
        """The chat's notice that money moved for ``rental``, once per ``ledger_key``; a fallback chain's attempt
        without a code is told on the chain's card instead (CHAIN_TELLS)."""
        if key in CHAIN_TELLS and self.chains is not None and await ChainRepo.quiet_in(conn, rental.id):
            return
        await money_news.tell(conn, money_news.for_rental(rental, key, ledger_key, **params))

    async def _told_rent_refunded(self, conn: aiosqlite.Connection, rental: RentalRecord, ledger_key: str) -> None:
        await self._money_notice(conn, rental, "notify-rent-refunded", ledger_key, price=money(rental.price_charged))

    async def _told_no_code(self, conn: aiosqlite.Connection, rental: RentalRecord, ledger_key: str) -> None:
        await self._money_notice(conn, rental, "notify-no-code-refunded", ledger_key,
                                 price=money(rental.price_charged))

    async def _told_renewed(self, conn: aiosqlite.Connection, rental: RentalRecord, ledger_key: str) -> None:
        await self._money_notice(conn, rental, "notify-renewed", ledger_key, price=money(rental.renewal_price))

    async def _told_renewal_refunded(self, conn: aiosqlite.Connection, rental: RentalRecord, ledger_key: str) -> None:
        await self._money_notice(conn, rental, "notify-renewal-refunded", ledger_key,
                                 price=money(rental.renewal_price))

    async def _told_switch_refunded(self, conn: aiosqlite.Connection, switch: PlanSwitch, ledger_key: str) -> None:
        rental = await RentalRepo.lock(conn, switch.rental_id)
        await self._money_notice(conn, rental, "notify-switch-refunded", ledger_key,
                                 duration=plan(switch.duration_minutes, switch.duration_label),
                                 price=money(switch.price))

    async def expire(self) -> int:
        """Rentals past their end: renewed by the provider (auto-renew) and charged, or closed and announced."""
        count = 0
        for rental in await self.repo.expired(utcnow()):
            if rental.renewing:
                continue  # a renewal asked for is decided first (reconcile)
            if rental.auto_renew and await self._charge_renewal(rental):
                continue
            if await self.no_code.at_end(rental, self._told_no_code):  # an activation's cancel undecided until now
                self.on_notice()
                continue
            if (await self.rentals.close(rental.id, "expired")).status != "expired":
                continue  # closed meanwhile (cancelled, finished): told by that
            await self._tell(rental, "notify-expired")
            count += 1
        if count:
            await self.close_topics()
        return count

    async def close_topics(self) -> int:
        """Numbers that ended (expired, cancelled, refunded, finished): their topics closed, best effort."""
        if self.topics is None:
            return 0
        try:
            return await self.topics.close_ended(self.sender.bot)
        except Exception:  # noqa: BLE001 - a topic left open is cosmetic: the next round tries again
            log.warning("closing the topics of ended numbers failed", exc_info=True)
            return 0

    async def _charge_renewal(self, rental: RentalRecord) -> bool:
        """An auto-renewing rental reached its end: if the provider renewed it, the reserved period is its
        charge (charged now if nothing was reserved); if not, the reservation comes back and it expires."""
        provider = self.rentals.providers.get(rental.provider)
        if provider is None:
            log.warning("renewal check of rental %d: provider %s is not configured", rental.id, rental.provider)
            return True  # ask again once it is, rather than expire on a guess
        try:
            fresh = await provider.get_rental(rental.provider_rental_id)
        except ProviderError as err:
            log.warning("renewal check of rental %d failed: %s", rental.id, err)
            return True  # ask again next round rather than expire on a guess
        till = period_end(fresh, rental.active_from, rental.duration_minutes)
        if fresh.status is not RentalStatus.ACTIVE or not till or till <= utcnow():
            await self.rentals.renewals.release(rental)
            return False
        try:
            async with self.db.transaction() as conn:
                await charge_period(conn, rental)  # nothing more when the period was reserved at the cut-off
                await RentalRepo.update(conn, rental.id, active_till=till, renew_warned_at=None)
                # Once per period (keyed by the end it renews from), with the end moved on.
                await self._told_renewed(conn, rental, period_key(rental))
        except InsufficientBalanceError:
            # Nothing was reserved (the bot was down at the cut-off) and the balance is short: the operator
            # covers this period; no further renewal the chat cannot pay for.
            log.warning("rental %d renewed by %s without a reservation; the balance is short", rental.id,
                        rental.provider)
            async with self.db.transaction() as conn:
                await RentalRepo.update(conn, rental.id, active_till=till)
            await self._disable_auto_renew(rental)
            return True
        self.on_notice()
        return True

    async def _disable_auto_renew(self, rental: RentalRecord) -> bool:
        """Off at the provider first; the chat is told only once that is true (else asked again next run)."""
        try:
            await self.rentals.set_auto_renew(rental.chat_id, rental.id, False)
        except Exception as err:  # noqa: BLE001 - whatever failed, auto-renew is still on: try again next run
            log.warning("turning off auto-renew of rental %d failed: %s", rental.id, err)
            return False
        await self._tell(rental, "notify-renew-disabled", price=format_money(rental.renewal_price))
        return True

    async def warn_renewals(self) -> int:
        """Auto-renewing rentals: a day ahead, warn when the balance is short; at the cut-off an hour ahead,
        reserve the next period on the ledger, or switch auto-renew off at the provider when it cannot be held."""
        now = utcnow()
        warned = 0
        for rental, warned_before in await self.rentals.rentals.renewing_before(now + RENEW_WARNING):
            chat = await self.chats.get(rental.chat_id)
            if rental.active_till - now <= RENEW_CUTOFF:
                if not await self.rentals.renewals.reserve(rental):
                    await self._disable_auto_renew(rental)
            elif not warned_before and chat.balance < rental.renewal_price:
                left = self.renderer.time_left(chat.language, rental.active_till, now)
                await self._tell(rental, "notify-renew-warning", left=left,
                                 balance=format_money(chat.balance), price=format_money(rental.renewal_price))
                async with self.db.transaction() as conn:
                    await RentalRepo.update(conn, rental.id, renew_warned_at=now)
                warned += 1
        return warned

    async def reconcile(self) -> int:
        """Undecided switches, renewals in place and rents settled from the provider's side. A refund or a renewal
        charged is told by the notice written with it (money news); a switch made and a rent confirmed are told
        here."""
        for settled in await self.switches.reconcile(refunded=self._told_switch_refunded):
            if settled.refunded:
                continue
            s = settled.switch
            chat = await self.chats.get(settled.rental.chat_id)
            # The plan in the chat's language; the provider's label only when its length is unknown.
            duration = (duration_name(s.duration_minutes, chat.language) if chat else None) or s.duration_label
            await self._tell(settled.rental, "notify-switch-done", duration=duration, price=format_money(s.price))
        renewals = await self.rentals.reconcile_renewals(self._told_renewed, self._told_renewal_refunded)
        changed = await self.rentals.reconcile_pending(self._told_rent_refunded)
        for rental in changed:
            if rental.status == "active":
                await self._tell(rental, "notify-rent-confirmed")
                if self.on_confirmed is not None and not (self.chains and await self.chains.quiet(rental.id)):
                    await self.on_confirmed(rental)
        if renewals or any(rental.status != "active" for rental in changed):
            self.on_notice()
        if await self.sms.adopt_orphans():
            self.on_new_sms()
        return len(changed)

    async def refund_no_code(self) -> int:
        """Activations about to end without an SMS: cancelled at the provider and refunded."""
        refunds = await self.no_code.run(self._told_no_code)  # each told by the notice written with its refund
        if refunds:
            self.on_notice()
        return len(refunds)

    async def check_alerts(self) -> int:
        """Alerts met since the last round: each fired once (open -> fired first), then its one message sent;
        a chat gone or blocked gets none (the alert is done either way)."""
        if self.alerts is None:
            return 0
        fired = await self.alerts.check()
        for found in fired:
            chat = await self.chats.get(found.alert.chat_id)
            if chat is None or not chat.active:
                continue
            text, markup = self.renderer.alert_fired(chat, found)
            await self.sender.send(chat.id, text, markup)
        return len(fired)

    async def retry_stars_refunds(self) -> int:
        """Stars refunds whose call got no answer: asked again until Telegram says done or no."""
        return await stars.retry_pending(self.sender.bot, StarsRefundRepo(self.db))

    async def reconcile_crypto(self) -> int:
        """Open Crypto Pay invoices: paid ones credited (a webhook that never came), expired ones closed."""
        if self.crypto is None or not self.crypto.enabled:
            return 0
        # Each credit wrote its "Payment received" notice and woke the money news loop (CryptoTopUps.confirm).
        return len(await self.crypto.reconcile())

    async def backup(self, database: Path, folder: Path, keep: int) -> backup.BackupFile:
        """An online copy of the database, checked; in a thread (the copy blocks)."""
        made = await asyncio.to_thread(backup.take, database, folder, keep)
        log.info("backup %s: %d bytes, %d chats, %d ledger rows", made.path.name, made.size, made.chats,
                 made.ledger_rows)
        return made

    async def cleanup(self) -> None:
        await CatalogueCache(self.db).purge()
        await self.rentals.snapshots.purge(SNAPSHOT_MAX_AGE)
        await PromptRepo(self.db).purge()
        await UpdateLog(self.db).prune()
