"""The outbox: stored SMS go to their chats once, paced; a crash re-sends nothing already marked delivered."""
from __future__ import annotations

import asyncio
import collections
import logging
import time
from datetime import timedelta

from bot.outbound.pace import Priority
from bot.outbound.rendering import Renderer
from bot.outbound.rounds import ChatTasks, run_rounds, wait_for_all
from bot.outbound.screens import Screens
from bot.outbound.telegram_out import ChatSender, Outcome
from bot.services.number_card import NumberCards
from storage import ChatRepo, RentalRepo, SmsRepo, StoredSms
from storage.models import utcnow
from storage.topics import NumberTopicRepo

log = logging.getLogger(__name__)

NOT_NOW_FIRST_PAUSE = timedelta(seconds=30)
NOT_NOW_MAX_PAUSE = timedelta(minutes=30)
NOT_NOW_GIVE_UP = timedelta(hours=24)
COMING_CODES_EVERY = 2.0  # seconds between reads of the groups' numbers still waiting for a first code
CODE_EXPECTED_WITHIN = timedelta(minutes=20)  # a number rented longer ago keeps no place of its group's minute


class Deliverer:
    def __init__(self, sms: SmsRepo, cards: NumberCards, chats: ChatRepo, sender: ChatSender,
                 renderer: Renderer, on_delivered=lambda provider, received_at, stored_at: None,
                 screens: Screens | None = None, topics: NumberTopicRepo | None = None) -> None:
        self.sms = sms
        self.topics = topics or NumberTopicRepo(sms.db)  # a number's own topic in a forum group
        self.cards = cards  # the domain's facts of a code message and a card: the renderer only formats them
        self.rental_repo: RentalRepo = cards.rentals.rentals
        self.chats = chats
        self.sender = sender
        self.renderer = renderer
        self.on_delivered = on_delivered  # (provider, received at, stored at): for metrics
        self.screens = screens or Screens()
        self._wake = asyncio.Event()
        self._unbooked = 0  # outbox reads under way, and chats of a pass whose first code has not booked its slot
        self._looping = False  # run() is serving wake()s
        self._serving = ChatTasks("delivery", self._wake)  # chat -> the task sending its codes now
        self._coming_read_at = float("-inf")

    @property
    def busy(self) -> bool:
        """Codes are on their way and have not booked their send slots yet: new SMS were stored and not looked at,
        the outbox is being read, or a chat's first code is being prepared. The broadcast sender takes no slot
        meanwhile (bot/outbound/broadcaster.py). A code that has booked its slot needs nothing more: that slot is
        its own."""
        return self._unbooked > 0 or (self._looping and self._wake.is_set())

    def wake(self) -> None:
        """New SMS were stored: deliver now rather than at the next round."""
        self._wake.set()

    async def run(self, idle: float = 1.0) -> None:
        self._looping = True
        try:
            await run_rounds(self.start_round, self._wake, idle, "delivery")
        finally:
            self._looping = False
            await self._serving.cancel_all()

    async def deliver_once(self, batch: int = 1000) -> int:
        """One pass over the outbox, waited for to the end (tests, benchmarks). Returns messages sent."""
        return await wait_for_all(await self.start_round(batch))

    async def start_round(self, batch: int = 1000) -> list[asyncio.Task]:
        """Read the outbox and start one task per chat that has codes to send and none running (ChatTasks); a code
        another task is still sending is never read twice."""
        self._unbooked += 1
        try:
            await self._expect_codes()
            busy = self._serving.busy()  # before the read: see ChatTasks.busy
            pending = await self.sms.outbox(limit=batch)
            by_chat: dict[int, list[tuple[StoredSms, object]]] = collections.defaultdict(list)
            rentals: dict[int, object] = {}
            for sms in pending:
                rental = rentals.get(sms.rental_id)
                if rental is None:
                    rental = rentals[sms.rental_id] = await self.rental_repo.get(sms.rental_id)
                if rental.chat_id not in busy:  # its codes are being sent now: in order, by its own task
                    by_chat[rental.chat_id].append((sms, rental))
            self._unbooked += len(by_chat)  # each chat takes its own off when its first code asks for its turn
        finally:
            self._unbooked -= 1
        return [self._serving.start(chat_id, self._deliver_chat(chat_id, items), len(items))
                for chat_id, items in by_chat.items()]

    async def _expect_codes(self) -> None:
        """Tell the outbound path which groups have numbers waiting for a first code: each keeps places of its
        minute for them, so a burst of codes does not wait behind the members' replies (bot/outbound/pace.py)."""
        now = time.monotonic()
        if now - self._coming_read_at < COMING_CODES_EVERY:
            return
        self._coming_read_at = now
        coming = await self.rental_repo.awaiting_first_code_in_groups(utcnow() - CODE_EXPECTED_WITHIN)
        self.sender.outbound.expect_codes(coming)

    async def _refresh_card(self, chat, rental, message_id: int) -> None:
        """The card the chat was looking at gets the code too (no stale "No codes yet" above it)."""
        try:
            card = await self.cards.of(await self.rental_repo.get(rental.card_id), chat.is_group)
            text, markup = self.renderer.card(chat, card)
            if await self.sender.edit(chat.id, message_id, text, markup):
                self.screens.card_shown(chat.id, message_id, rental.card_id)  # still the card: the edit forgot it
        except Exception:  # noqa: BLE001 - never let a cosmetic edit disturb the outbox
            log.warning("refreshing the card of rental %d failed", rental.id, exc_info=True)

    async def _back_off(self, chat_id: int, sms: StoredSms) -> None:
        """The chat refused the message for now (no rights, topic closed): the chat's SMS wait, in order, with
        growing pauses; after NOT_NOW_GIVE_UP the refused one leaves the outbox (it stays on the card)."""
        now = utcnow()
        if sms.stored_at is not None and now - sms.stored_at > NOT_NOW_GIVE_UP:
            await self.sms.mark_undeliverable(sms.id, "the bot may not write in this chat")
            return
        pause = min(NOT_NOW_FIRST_PAUSE * 2 ** sms.delivery_attempts, NOT_NOW_MAX_PAUSE)  # attempts before this one
        await self.sms.defer_chat(chat_id, now + pause)

    async def _send_code(self, chat, rental, text: str, markup):
        """(outcome, message, noted rental id). Into the number's topic when it has one; when a person deleted or
        closed it, into the main chat, the first such code with a note: the topic stays 'lost' until that code is
        marked delivered (then 'moved', by the caller), so a kill repeats the note, never the code."""
        code = Priority.CODE
        if not chat.is_group:
            return *await self.sender.send(chat.id, text, markup, priority=code), None
        card = await self.rental_repo.get(rental.card_id) or rental  # read now: an earlier code may have moved it
        if card.topic_thread is not None:
            outcome, message = await self.sender.send(chat.id, text, markup, priority=code,
                                                      message_thread_id=card.topic_thread)
            if outcome is not Outcome.TOPIC_GONE:
                return outcome, message, None
            await self.topics.lost(card.id)
            card = await self.rental_repo.get(card.id) or card
        if card.topic_state != "lost":
            return *await self.sender.send(chat.id, text, markup, priority=code), None
        note = self.renderer.notice(chat.language, "topic-gone-note", phone=card.phone or "",
                                    service=card.service_name)
        return *await self.sender.send(chat.id, note + "\n\n" + text, markup, priority=code), card.id

    async def _deliver_chat(self, chat_id: int, items: list) -> int:
        booked = [False]
        try:
            return await self._deliver_chat_items(chat_id, items, booked)
        finally:
            if not booked[0]:
                self._unbooked -= 1

    async def _deliver_chat_items(self, chat_id: int, items: list, booked: list[bool]) -> int:
        chat = await self.chats.get(chat_id)
        count = 0
        for sms, rental in items:
            if not chat.active:
                await self.sms.mark_undeliverable(sms.id, "chat inactive")
                continue
            text, markup = self.renderer.code_message(chat, sms, rental, self.cards.rentals.code_actions(rental))
            # Before the code goes under it. Private chats only: a group's 20 messages a minute are for codes
            # (one edit there pushed the 20th code of a burst into the next minute, 21 s -> 62 s in the e2e).
            card = None if chat.is_group else self.screens.card_on_top(chat_id, rental.card_id)
            # Written before sending: the only window for a repeat is a crash inside this one HTTP call.
            await self.sms.mark_sending(sms.id)
            if not booked[0]:  # send() books the slot before its first await: from here the slot is this code's
                booked[0] = True
                self._unbooked -= 1
            outcome, message, noted = await self._send_code(chat, rental, text, markup)
            if outcome is Outcome.SENT:
                await self.sms.mark_delivered(sms.id, message.message_id if message else None)
                if noted is not None:  # after the code is marked: a kill between repeats the note, not the code
                    await self.topics.told(noted)
                self.on_delivered(sms.provider, sms.received_at, sms.stored_at)
                count += 1
                if card is not None:  # the code is delivered: refreshing the card above it is a nicety
                    await self._refresh_card(chat, rental, card)
            elif outcome is Outcome.GONE:
                await self.sms.mark_undeliverable(sms.id, "chat unreachable")
            elif outcome is Outcome.NOT_NOW:
                await self._back_off(chat_id, sms)
                break
            else:
                break  # Telegram trouble: keep the rest in order for the next round
            # Re-read: the chat may have gone inactive or migrated to a supergroup id while sending.
            chat = await self.chats.get(chat_id) or chat
        return count
