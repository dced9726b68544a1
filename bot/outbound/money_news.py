"""Money news: the messages that report money moved (a payment received, a refund, a renewal charged, a transfer
received), sent from their outbox (storage/notices.py) once each, like codes.

Each notice was written in the transaction that wrote its ledger row, so once the money moved its message follows,
however the process ends. This loop reads what is still to send, each chat in order (chats concurrently), renders
it in the chat's language at that moment, marks it sending, sends it through the paced sender, and marks it sent:
a kill repeats at most the one notice in flight. A 429 is waited out by the sender itself; Telegram trouble or a
chat that refuses the bot for now leaves the notice pending, its chat waiting with growing pauses; a chat that is
gone (blocked the bot, removed it) gets its notice marked undeliverable, and the loop goes on."""
from __future__ import annotations

import asyncio
import collections
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from bot.outbound.pace import Priority
from bot.outbound.rendering import Renderer
from bot.outbound.rounds import ChatTasks, run_rounds, wait_for_all
from bot.outbound.telegram_out import ChatSender, Outcome
from bot.services.money_news import rendered
from storage import ChatRepo
from storage.models import utcnow
from storage.notices import MoneyNotice, MoneyNoticeRepo

log = logging.getLogger(__name__)

FIRST_PAUSE = timedelta(seconds=10)
MAX_PAUSE = timedelta(minutes=10)
GIVE_UP = timedelta(hours=24)  # a chat that refused the bot this long after the money moved: undeliverable


def pause_after(attempts: int) -> timedelta:
    """The wait after the ``attempts``-th try that was not sent: 10 s, 20 s, 40 s, ... up to 10 min."""
    return min(FIRST_PAUSE * 2 ** min(max(attempts - 1, 0), 10), MAX_PAUSE)


class MoneyNews:
    def __init__(self, repo: MoneyNoticeRepo, chats: ChatRepo, sender: ChatSender, renderer: Renderer, *,
                 clock: Callable[[], datetime] = utcnow, due: asyncio.Event | None = None) -> None:
        self.repo = repo
        self.chats = chats
        self.sender = sender
        self.renderer = renderer
        self.clock = clock
        self._wake = due or asyncio.Event()  # set by whoever writes a notice (the app's ``money_news_due``)
        self._serving = ChatTasks("money news", self._wake)  # chat -> the task telling it now

    def wake(self) -> None:
        """A notice was written: send now rather than at the next round."""
        self._wake.set()

    async def run(self, idle: float = 2.0) -> None:
        try:
            await run_rounds(self.start_round, self._wake, idle, "money news")
        finally:
            await self._serving.cancel_all()

    async def send_once(self, batch: int = 500) -> int:
        """One pass over what is due, waited for to the end (tests). Returns notices sent."""
        return await wait_for_all(await self.start_round(batch))

    async def start_round(self, batch: int = 500) -> list[asyncio.Task]:
        """Start one task per chat with notices due and none running; each chat in order, none waiting for
        another (ChatTasks)."""
        by_chat: dict[int, list[MoneyNotice]] = collections.defaultdict(list)
        busy = self._serving.busy()  # before the read: see ChatTasks.busy
        for notice in await self.repo.pending(self.clock(), limit=batch):
            if notice.chat_id not in busy:
                by_chat[notice.chat_id].append(notice)
        return [self._serving.start(chat_id, self._chat(chat_id, notices), len(notices))
                for chat_id, notices in by_chat.items()]

    async def _chat(self, chat_id: int, notices: list[MoneyNotice]) -> int:
        sent = 0
        chat = await self.chats.get(chat_id)
        for notice in notices:
            if notice.status == "sending":
                log.warning("money notice %d (%s) was in flight when the bot stopped: sent again", notice.id,
                            notice.text_key)
            if chat is None or not chat.active:
                await self.repo.mark_undeliverable(notice.id, "chat inactive")
                continue
            try:
                text = self.renderer.notice(chat.language, notice.text_key, **rendered(notice.params, chat.language))
                markup = self.renderer.notice_markup(chat.language, notice.text_key)
                # Written before sending: the only window for a repeat is a kill inside this one call.
                await self.repo.mark_sending(notice.id)
                # The answer to a person's payment or transfer: a reply's priority on the paced path
                # (bot/outbound/pace.py).
                outcome, message = await self.sender.send(chat.id, text, markup, priority=Priority.REPLY)
            except Exception:  # noqa: BLE001 - not sent: tried again after a pause, not at every round
                log.exception("money notice %d (%s) to chat %s failed; tried again later", notice.id,
                              notice.text_key, chat_id)
                await self._later(notice, Outcome.LATER)
                break
            if outcome is Outcome.SENT:
                await self.repo.mark_sent(notice.id, message.message_id if message else None, self.clock())
                sent += 1
            elif outcome is Outcome.GONE:
                await self.repo.mark_undeliverable(notice.id, "chat unreachable")
            else:  # LATER (Telegram trouble), NOT_NOW (no rights here now): this chat waits, in order
                await self._later(notice, outcome)
                break
            chat = await self.chats.get(chat_id) or chat  # it may have gone, or moved to a supergroup id
        return sent

    async def _later(self, notice: MoneyNotice, outcome: Outcome) -> None:
        now = self.clock()
        if outcome is Outcome.NOT_NOW and now - notice.created_at > GIVE_UP:
            await self.repo.mark_undeliverable(notice.id, "the bot may not write in this chat")
            return
        await self.repo.retry_later(notice.id, now + pause_after(notice.attempts + 1), f"telegram: {outcome.value}")
