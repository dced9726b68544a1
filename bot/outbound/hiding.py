"""Codes that hide themselves in groups: a delivered code message is deleted from the group N minutes after it was
delivered (the group's code_delete_minutes), once; the card then says "code received at ..., hidden" and the
renter and the admins can have it sent privately (handlers/numbers.py).

Never losing a code not yet seen: only messages Telegram accepted (their telegram_message_id was stored by
Deliverer after the send) are ever deleted; an SMS still in the outbox, backed off or undeliverable has none and
stays on the card. Codes first: each deletion waits while codes have not asked for their turn yet (Deliverer.busy),
like a broadcast, and goes as BULK (ChatSender.delete)."""
from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from bot.outbound.telegram_out import ChatSender, Outcome
from storage import SmsRepo
from storage.forwarding import ForwardRepo
from storage.models import utcnow

log = logging.getLogger(__name__)

# A pass starts no deletion after this many seconds: it ends well within the health check's 3 job intervals even
# when its last deletion waits out a group's full minute.
PASS_BUDGET = 15.0
MAX_HIDE_ATTEMPTS = 5  # deletions that got no answer (network, 429) are asked again this many times, then given up
LOOK_AGAIN = 0.05  # seconds between looks while codes are being prepared


class CodeHider:
    def __init__(self, sms: SmsRepo, sender: ChatSender, codes_waiting: Callable[[], bool] = lambda: False,
                 refresh_card: Callable[[int, int], Awaitable[None]] | None = None,
                 forwards: ForwardRepo | None = None) -> None:
        self.sms = sms
        self.forwards = forwards  # codes forwarded into a group that deletes its codes follow its rule too
        self.sender = sender
        self.codes_waiting = codes_waiting
        self.refresh_card = refresh_card  # (chat id, rental id): the card shown there says "hidden" now
        self.deleted = 0  # by this process

    async def run_once(self, batch: int = 100, budget: float = PASS_BUDGET) -> int:
        """One pass over the messages due, starting no deletion after ``budget`` seconds (the rest waits for the
        next pass: a group's deletions are spaced like its messages); returns how many were deleted."""
        count = 0
        touched: dict[tuple[int, int], None] = {}
        ends = time.monotonic() + budget
        for sms, chat_id, _kind in await self.sms.to_hide(utcnow(), limit=batch):
            if time.monotonic() > ends:
                break
            while self.codes_waiting():  # codes go first
                await asyncio.sleep(LOOK_AGAIN)
            attempts = await self.sms.hide_attempt(sms.id)
            outcome, why = await self.sender.delete(chat_id, sms.telegram_message_id)
            if outcome is Outcome.SENT:
                await self.sms.mark_hidden(sms.id, "deleted")
                touched[chat_id, sms.rental_id] = None
                count += 1
            elif outcome is Outcome.GONE:  # too old (48 h), already deleted, no rights: never asked again
                await self.sms.mark_hidden(sms.id, f"refused: {why}")
            elif attempts >= MAX_HIDE_ATTEMPTS:
                log.warning("deleting the code message of sms %d: no answer %d times; given up", sms.id, attempts)
                await self.sms.mark_hidden(sms.id, f"gave up: {why}")
        if self.forwards is not None:
            for outbox_id, chat_id, message_id in await self.forwards.to_hide(utcnow(), limit=batch):
                if time.monotonic() > ends:
                    break
                while self.codes_waiting():
                    await asyncio.sleep(LOOK_AGAIN)
                outcome, why = await self.sender.delete(chat_id, message_id)
                if outcome is Outcome.SENT:
                    await self.forwards.mark_hidden(outbox_id, "deleted")
                    count += 1
                elif outcome is Outcome.GONE:  # asked again next pass otherwise: after 48 h Telegram says gone
                    await self.forwards.mark_hidden(outbox_id, f"refused: {why}")
        self.deleted += count
        if self.refresh_card is not None:
            for chat_id, rental_id in touched:
                try:
                    await self.refresh_card(chat_id, rental_id)
                except Exception:  # noqa: BLE001 - a cosmetic edit never disturbs the deletions
                    log.warning("refreshing the card of rental %d after hiding failed", rental_id, exc_info=True)
        return count
