"""Sending broadcasts: one chat at a time, on the bot's one outbound path, never ahead of a code.

Codes first, by two rules:
* each broadcast send is BULK (bot/outbound/pace.py): it gets a turn only when no code, reply or notice that could go
  at that moment is waiting, never the last places of the bot's second, and a chat not ready for it (a code went
  there a moment ago, a group's minute nearly full) is put aside and come back to;
* before each send the sender waits while the outbox has codes that have not asked for their turn yet
  (Deliverer.busy: SMS stored and not looked at, the outbox being read, a chat's first code being prepared).

One chat at a time, and each chat's row is marked ``sending`` before the HTTP call and ``sent`` after it: a
process killed mid-broadcast leaves at most that one message in doubt. At the next start it is counted failed
("interrupted") and not sent again; the rest carries on from where it stopped."""
from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from bot.outbound.rendering import Renderer
from bot.outbound.telegram_out import ChatSender, Outcome
from bot.services.broadcasts import Broadcasts
from storage.broadcasts import Broadcast, BroadcastRepo, Recipient

log = logging.getLogger(__name__)

LOOK_AGAIN = 0.05  # seconds: codes still being prepared, or chats put aside, are looked at again after this
LATER_TRIES = 3  # a chat Telegram could not be reached for (network, 5xx) is tried this many times in all
BATCH = 500


class Broadcaster:
    def __init__(self, broadcasts: Broadcasts, sender: ChatSender, renderer: Renderer,
                 codes_waiting: Callable[[], bool] = lambda: False, progress_interval: float = 3.0) -> None:
        self.broadcasts = broadcasts
        self.repo: BroadcastRepo = broadcasts.repo
        self.sender = sender
        self.renderer = renderer
        self.codes_waiting = codes_waiting
        self.progress_interval = progress_interval
        self.sent_count = 0  # messages sent by this process (the benchmark's figure)
        self._halting = False

    def halt(self) -> None:
        """Stopping the bot: finish the send in flight (its row then says sent), start no other."""
        self._halting = True
        self.broadcasts.changed.set()  # out of run()'s idle wait at once

    async def run(self, idle: float = 5.0) -> None:
        while not self._halting:
            try:
                await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("broadcast round failed; retrying")
            try:
                async with asyncio.timeout(idle):
                    await self.broadcasts.changed.wait()
            except TimeoutError:
                pass
            self.broadcasts.changed.clear()

    async def run_once(self) -> int:
        """Every confirmed broadcast to its end (or its cancel), oldest first. Returns the broadcasts finished."""
        finished = 0
        for broadcast in await self.repo.sending():
            if await self.send_all(broadcast):
                finished += 1
        return finished

    async def send_all(self, broadcast: Broadcast) -> bool:
        if interrupted := await self.repo.settle_interrupted(broadcast.id):
            log.warning("broadcast %d: %d message(s) in flight when the bot stopped counted failed, not resent",
                        broadcast.id, interrupted)
        body_markup = self.renderer.broadcast_message(broadcast)
        cursor, aside, last_shown = 0, {}, time.monotonic()
        await self._show_progress(broadcast)
        while True:
            if await self._stopped(broadcast.id):
                await self._show_progress(broadcast)
                return False
            rows = await self.repo.pending(broadcast.id, after=cursor, limit=BATCH)
            if not rows:
                if not aside:
                    break
                rows, aside = sorted(aside.values(), key=lambda r: r.id), {}
                await asyncio.sleep(LOOK_AGAIN)  # chats that could not take it a moment ago
            for row in rows:
                cursor = max(cursor, row.id)
                if self._halting:
                    return False
                if self.broadcasts.stopped(broadcast.id):  # Cancel pressed (the database is read a batch at a time)
                    await self._show_progress(broadcast)
                    return False
                while self.codes_waiting():  # codes go first
                    await asyncio.sleep(LOOK_AGAIN)
                if row.active and not self.sender.outbound.chat_ready(row.chat_id):
                    aside[row.id] = row  # a code went there a moment ago, or a group's minute is nearly full
                    continue
                if not await self._send_one(broadcast, row, body_markup):
                    aside[row.id] = row
                if time.monotonic() - last_shown >= self.progress_interval:
                    await self._show_progress(broadcast)
                    last_shown = time.monotonic()
        done = await self.repo.finish(broadcast.id)
        await self._show_progress(broadcast)
        return done

    async def _stopped(self, broadcast_id: int) -> bool:
        if self.broadcasts.stopped(broadcast_id):
            return True
        current = await self.repo.get(broadcast_id)
        return current is None or current.status != "sending"

    async def _send_one(self, broadcast: Broadcast, row: Recipient, markup) -> bool:
        """One chat's message; False when it is to be tried again later."""
        if not row.active:  # blocked the bot (or left) since the broadcast was confirmed
            await self.repo.mark(row.id, "blocked", error="chat inactive")
            return True
        await self.repo.mark_sending(row.id)  # the only window for a repeat: a kill inside this one HTTP call
        outcome, message = await self.sender.send(row.chat_id, broadcast.text, markup,
                                                  photo=broadcast.photo, spare=True)
        if outcome is Outcome.SENT:
            await self.repo.mark(row.id, "sent", message.message_id if message else None)
            self.sent_count += 1
        elif outcome is Outcome.GONE:  # ChatSender marked the chat inactive
            await self.repo.mark(row.id, "blocked", error="blocked, removed or deleted")
        elif outcome is Outcome.NOT_NOW:
            await self.repo.mark(row.id, "failed", error="refused by Telegram (no rights, closed topic)")
        elif row.attempts + 1 < LATER_TRIES:
            await self.repo.mark(row.id, "pending", error="Telegram not reachable; to try again")
            return False
        else:
            await self.repo.mark(row.id, "failed", error="Telegram not reachable")
        return True

    async def _show_progress(self, broadcast: Broadcast) -> None:
        current = await self.repo.get(broadcast.id) or broadcast
        if current.progress_message_id is None:
            return
        text, markup = self.renderer.broadcast_progress(current, await self.repo.counts(broadcast.id))
        # Paced like a broadcast send: the operator's screen never delays a code either.
        await self.sender.edit(current.chat_id, current.progress_message_id, text, markup,
                               spare=True)
