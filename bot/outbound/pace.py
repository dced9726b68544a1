"""One paced path for everything the bot puts into a chat: codes, replies to taps and commands, invoices,
payment news, notices, card and topic edits, broadcasts.

It is a request middleware of the bot's session, so a handler's ``message.answer`` and the outbox's code take
the same road. Telegram's limits (Bot FAQ, and the Bot API team on edits): about 30 new messages a second per
bot; about one a second per chat, short bursts allowed; 20 a minute per group; edits count against the same
per-chat limits as sends. Within them:

* each chat has its own lane: its messages go out in order, one at a time, and a flood wait (429) or a slow
  send in one chat holds back that chat alone, never another;
* when several chats could send at one moment, the best ``Priority`` goes first: a code, then the answer to a
  person who is waiting, then notices, then broadcasts; a group keeps the last places of its minute for codes
  (``kept_for_codes``: for the codes its new numbers wait for, and its recent bursts), and broadcasts leave
  ``bulk_headroom`` of the bot's second free;
* a 429 is never the caller's problem: the lane waits ``retry_after`` and the same call goes again, first in
  its lane. A caller waits as long as its turn takes (docs/codes.md: the bounds).

Calls that put nothing in a chat (callback answers, getChatMember, deletions, ...) are not queued; a short
429 on them is waited out and asked again, as before."""
from __future__ import annotations

import asyncio
import collections
import enum
import heapq
import itertools
import logging
import time
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from aiogram import Bot
from aiogram.client.session.middlewares.base import BaseRequestMiddleware
from aiogram.exceptions import TelegramRetryAfter
from aiogram.methods import (
    CopyMessage,
    CopyMessages,
    EditMessageCaption,
    EditMessageMedia,
    EditMessageReplyMarkup,
    EditMessageText,
    ForwardMessage,
    ForwardMessages,
    SendAnimation,
    SendAudio,
    SendContact,
    SendDice,
    SendDocument,
    SendInvoice,
    SendLocation,
    SendMediaGroup,
    SendMessage,
    SendPhoto,
    SendPoll,
    SendSticker,
    SendVenue,
    SendVideo,
    SendVideoNote,
    SendVoice,
    TelegramMethod,
)

log = logging.getLogger(__name__)


class Priority(enum.IntEnum):
    """Who goes first when sends compete for Telegram's limits: lower goes first."""
    CODE = 0  # an SMS code: someone is typing it into another app
    REPLY = 1  # the answer to a person who is waiting (a tap, a command, a payment)
    NOTICE = 2  # news nobody is waiting for at this moment (expired, renewed, warnings, chain cards)
    BULK = 3  # broadcasts and forwarded copies: only what the others leave


# The priority of the calls made in this context: REPLY inside an update's handling (set by
# ``UpdatePriority``), a sender's own choice around its call (``at_priority``), NOTICE otherwise.
CURRENT: ContextVar[Priority] = ContextVar("outbound_priority", default=Priority.NOTICE)

NEW_MESSAGES = (SendMessage, SendPhoto, SendInvoice, SendDocument, SendAnimation, SendAudio, SendVoice, SendVideo,
                SendVideoNote, SendSticker, SendMediaGroup, SendLocation, SendVenue, SendContact, SendPoll, SendDice,
                CopyMessage, CopyMessages, ForwardMessage, ForwardMessages)
EDITS = (EditMessageText, EditMessageReplyMarkup, EditMessageCaption, EditMessageMedia)

UNPACED_MAX_WAIT = 10.0  # a 429 on a call that is not queued: waited out up to this, then the caller decides
UNPACED_ATTEMPTS = 3
CODE_PEAK_MEMORY = 300.0  # how long a group's busiest minute of codes shapes the places kept for its codes


@dataclass(frozen=True)
class Limits:
    """What the bot allows itself, with margins under Telegram's limits: sends spaced at the exact limit arrive
    bunched by network jitter, and a group's 429 costs up to a minute."""
    per_second: float = 28.0  # new messages a second, all chats together
    bulk_headroom: int = 4  # of those, broadcasts leave this many to everyone else
    chat_rate: float = 0.9  # messages and edits a second per chat, sustained
    chat_burst: int = 2  # ... and how many may go at once after a quiet spell
    group_per_minute: int = 20
    group_window: float = 62.0
    group_spare: int = 5  # of a group's minute, the last places are for codes

    @classmethod
    def from_settings(cls, settings) -> Limits:
        return cls(per_second=settings.telegram_messages_per_second, chat_rate=settings.telegram_chat_rate,
                   chat_burst=settings.telegram_chat_burst, group_per_minute=settings.telegram_group_per_minute)

    @classmethod
    def unlimited(cls) -> Limits:
        """For tests that tap at machine speed: ordering and flood waits still apply, pacing does not."""
        return cls(per_second=1e6, bulk_headroom=0, chat_rate=1e6, chat_burst=1_000_000, group_per_minute=1_000_000)


class _Lane:
    """One chat: its waiting calls (best priority, then oldest, first), its recent sends and any flood wait."""
    __slots__ = ("chat_id", "is_group", "queue", "busy", "tokens", "refilled", "minute", "blocked_until", "edits",
                 "code_peak", "code_peak_at", "codes_coming", "twins")

    def __init__(self, chat_id: int | str, now: float, burst: int) -> None:
        self.chat_id = chat_id
        self.is_group = isinstance(chat_id, int) and chat_id < 0  # @channel usernames count as private
        self.queue: list[_Turn] = []
        self.busy = False  # a call of this chat is with Telegram now
        self.tokens, self.refilled = float(burst), now
        # A group's sends in the last window: (when, whether it was a code).
        self.minute: collections.deque[tuple[float, bool]] = collections.deque()
        self.blocked_until = 0.0
        self.edits: dict[tuple, _Turn] = {}  # edits waiting, by (method, message id)
        self.twins: dict[str, _Turn] = {}  # a group's messages waiting, by their whole content
        # The most codes the group had in one window lately, and when: its bursts come again.
        self.code_peak, self.code_peak_at = 0, now
        self.codes_coming = 0  # the group's numbers waiting for their first code (``Outbound.expect_codes``)

    def ready_at(self, turn: _Turn, now: float, limits: Limits) -> float:
        """The earliest moment this call may go as far as its own chat is concerned."""
        self.tokens = min(float(limits.chat_burst), self.tokens + (now - self.refilled) * limits.chat_rate)
        self.refilled = now
        at = max(now, self.blocked_until)
        if self.tokens < 1.0:
            at = max(at, now + (1.0 - self.tokens) / limits.chat_rate)
        if self.is_group:
            while self.minute and self.minute[0][0] <= now - limits.group_window:
                self.minute.popleft()
            room = limits.group_per_minute
            if turn.priority is not Priority.CODE:
                room -= self.kept_for_codes(now, limits)
            room = max(room, 1)
            if len(self.minute) >= room:
                at = max(at, self.minute[len(self.minute) - room][0] + limits.group_window)
        return at

    def kept_for_codes(self, now: float, limits: Limits) -> int:
        """The free places of a group's minute kept for codes: one for each of its numbers waiting for a first code
        and one more, or, when more, one more than the most codes it had in one window in the last
        ``CODE_PEAK_MEMORY`` seconds; at least ``group_spare``. A group's codes come in bursts (its members rent
        together), often after its replies took their places: places kept only for the codes already in the window
        come too late for the burst. Replies keep a quarter of the minute whatever comes."""
        codes_now = sum(code for _, code in self.minute)
        if now - self.code_peak_at > CODE_PEAK_MEMORY:
            self.code_peak, self.code_peak_at = codes_now, now
        kept = max(limits.group_spare, max(self.code_peak, codes_now, self.codes_coming) + 1)
        return min(kept, limits.group_per_minute - max(limits.group_per_minute // 4, 1))

    def took(self, now: float, code: bool = False) -> None:
        self.tokens -= 1.0
        if self.is_group:
            self.minute.append((now, code))
            if code:
                codes_now = sum(code for _, code in self.minute)
                if codes_now >= self.code_peak:
                    self.code_peak, self.code_peak_at = codes_now, now

    def came_back(self, now: float, counted: bool) -> None:
        """The call let go last (one at a time per lane) came back. Telegram counts a group's minute from when a
        message reached it, not from when the bot let it go: a send slowed on its way (a busy machine, the network)
        would otherwise let the 21st arrive inside the minute Telegram counts, and its 429 would stop the group's
        codes too. So the minute counts it from its return, the latest it can have arrived; a 429 was not counted
        at all."""
        if not self.is_group or not self.minute:
            return
        if counted:
            at, code = self.minute[-1]
            self.minute[-1] = (max(at, now), code)
        else:
            self.minute.pop()

    def forget(self, turn: _Turn) -> None:
        """The call went, or gave up waiting: later calls no longer merge with it."""
        if turn.screen is not None and self.edits.get(turn.screen) is turn:
            del self.edits[turn.screen]
        if turn.twin is not None and self.twins.get(turn.twin) is turn:
            del self.twins[turn.twin]

    def forgettable(self, now: float, window: float) -> bool:
        """Nothing waits here, nothing is in flight or blocked, and no send still counts in the group's minute."""
        return (not self.queue and not self.busy and self.blocked_until <= now
                and (not self.minute or self.minute[-1][0] <= now - window))


@dataclass(order=True)
class _Turn:
    priority: Priority
    seq: int
    new_message: bool = field(default=False, compare=False)
    granted: asyncio.Future | None = field(default=None, compare=False)
    asked: float = field(default=0.0, compare=False)  # when the call first asked for its turn
    screen: tuple | None = field(default=None, compare=False)  # an edit's (method, message id)
    twin: str | None = field(default=None, compare=False)  # a group message's whole content
    followers: list = field(default_factory=list, compare=False)  # futures of the edits this one replaced


class _Superseded(Exception):
    """A waiting edit was replaced by a newer one of the same message: its caller gets the newer's answer."""

    def __init__(self, by: _Turn) -> None:
        super().__init__()
        self.answer = asyncio.get_running_loop().create_future()
        by.followers.append(self.answer)

    async def follow(self) -> Any:
        return await self.answer


class Outbound(BaseRequestMiddleware):
    """The middleware and its scheduler. One per bot process (``outbound_of``)."""

    MAX_LANES = 50_000  # idle lanes beyond this are forgotten (a forgotten lane starts with a full burst)

    def __init__(self, limits: Limits | None = None, clock: Callable[[], float] = time.monotonic, *,
                 on_flood: Callable[[], None] = lambda: None,
                 on_granted: Callable[[Priority, float], None] = lambda priority, waited: None) -> None:
        """``on_flood``: a 429 met; ``on_granted``: a call's turn came after waiting so long (both for metrics)."""
        self.limits = limits or Limits()
        self.clock = clock
        self._lanes: dict[int | str, _Lane] = {}
        self._waiting: set[int | str] = set()  # lanes with a queued call and none in flight
        self._second: collections.deque[float] = collections.deque()  # new messages sent in the last second
        self._seq = itertools.count()
        self._wake = asyncio.Event()
        self._pump: asyncio.Task | None = None
        self.flood_waits = 0  # 429s met (all calls)
        self.max_flood_wait = 600.0  # a retry_after beyond this is taken as this (a misbehaving server)
        self.on_flood = on_flood
        self.on_granted = on_granted

    # ---------------------------------------------------------------------------------------- the middleware
    async def __call__(self, make_request, bot: Bot, method: TelegramMethod) -> Any:
        chat_id = getattr(method, "chat_id", None)
        if chat_id is None or not isinstance(method, NEW_MESSAGES + EDITS):
            return await self._unpaced(make_request, bot, method)
        screen = (type(method).__name__, method.message_id) if isinstance(method, EDITS) else None
        return await self.paced(chat_id, isinstance(method, NEW_MESSAGES), lambda: make_request(bot, method), screen,
                                twin_of(method))

    async def paced(self, chat_id: int | str, new_message: bool, request: Callable[[], Any],
                    screen: tuple | None = None, twin: str | None = None) -> Any:
        """``request`` made at this chat's turn; a 429 waited out in the chat's lane and the call made again.

        ``screen``: an edit's (method, message id). An edit still waiting when a newer one of the same message comes
        is dropped for it: the newer takes its place in line, and both callers get the newer's answer (the message
        ends the same, with one call fewer of the chat's limit: a person tapping through a menu in a busy group sees
        the screen they are on, not each one they passed).

        ``twin``: a group message's whole content. A message to a group the same as one still waiting there is
        not sent again: its caller gets the waiting one's answer (five members asking /balance of a group at its
        20 a minute get one answer, not five minutes of the same one)."""
        priority = CURRENT.get()
        lane = self._lane(chat_id)
        while (waiting := lane.twins.get(twin) if twin is not None else None) is not None and waiting in lane.queue:
            answer = asyncio.get_running_loop().create_future()
            waiting.followers.append(answer)
            if priority < waiting.priority:
                waiting.priority = priority
                heapq.heapify(lane.queue)
            try:
                return await answer
            except asyncio.CancelledError:
                if asyncio.current_task().cancelling():
                    raise
                # The caller of the one it waited with gave up: this one asks again, in its own name.
            lane = self._lane(chat_id)
        turn = _Turn(priority, next(self._seq), new_message, asked=self.clock(), screen=screen, twin=twin)
        older = lane.edits.pop(screen, None) if screen is not None else None
        if older is not None and older in lane.queue:
            lane.queue.remove(older)
            heapq.heapify(lane.queue)
            turn.priority, turn.seq, turn.asked = min(turn.priority, older.priority), older.seq, older.asked
            turn.followers.extend(older.followers)  # edits the older one had replaced wait for this one now
            older.followers.clear()
            older.granted.set_exception(_Superseded(turn))
        try:
            result = await self._paced(lane, turn, request)
        except _Superseded as superseded:
            return await superseded.follow()
        except BaseException as err:
            for follower in turn.followers:
                if not follower.done():
                    follower.set_exception(err)
            raise
        for follower in turn.followers:
            if not follower.done():
                follower.set_result(result)
        return result

    async def _paced(self, lane: _Lane, turn: _Turn, request: Callable[[], Any]) -> Any:
        while True:
            await self._turn(lane, turn)
            counted = True  # an answer, or an error that may have reached Telegram: counted in the group's minute
            try:
                return await request()
            except TelegramRetryAfter as err:
                counted = False
                self._flooded(lane, err.retry_after)
            finally:
                lane.came_back(self.clock(), counted)
                lane.busy = False
                self._nudge(lane)

    async def _unpaced(self, make_request, bot: Bot, method: TelegramMethod) -> Any:
        for attempt in range(1, UNPACED_ATTEMPTS + 1):
            try:
                return await make_request(bot, method)
            except TelegramRetryAfter as err:
                self.flood_waits += 1
                self.on_flood()
                if attempt == UNPACED_ATTEMPTS or err.retry_after > UNPACED_MAX_WAIT:
                    raise
                log.warning("flood limit on %s: retrying in %ss", type(method).__name__, err.retry_after)
                await asyncio.sleep(err.retry_after)
        raise AssertionError("unreachable")

    def _flooded(self, lane: _Lane, retry_after: float) -> None:
        self.flood_waits += 1
        self.on_flood()
        lane.blocked_until = max(lane.blocked_until, self.clock() + min(retry_after, self.max_flood_wait))
        log.warning("flood limit for chat %s: its lane waits %ss (other chats go on)", lane.chat_id, retry_after)

    # ------------------------------------------------------------------------------------------ the scheduler
    def _lane(self, chat_id: int | str) -> _Lane:
        lane = self._lanes.get(chat_id)
        if lane is None:
            if len(self._lanes) >= self.MAX_LANES:
                self._forget_idle()
            lane = self._lanes[chat_id] = _Lane(chat_id, self.clock(), self.limits.chat_burst)
        return lane

    def _forget_idle(self) -> None:
        now = self.clock()
        for chat_id in [c for c, lane in self._lanes.items() if lane.forgettable(now, self.limits.group_window)]:
            del self._lanes[chat_id]

    async def _turn(self, lane: _Lane, turn: _Turn) -> None:
        """Wait until the scheduler gives this call its turn; the lane is then busy with it."""
        turn.granted = asyncio.get_running_loop().create_future()
        heapq.heappush(lane.queue, turn)
        if turn.screen is not None:
            lane.edits[turn.screen] = turn
        if turn.twin is not None:
            lane.twins[turn.twin] = turn
        self._nudge(lane)
        self._ensure_pump()
        try:
            await turn.granted
        except asyncio.CancelledError:
            if turn.granted.done() and not turn.granted.cancelled():
                lane.busy = False  # granted, then cancelled before the call: the lane goes on
            elif turn in lane.queue:
                lane.queue.remove(turn)
                heapq.heapify(lane.queue)
            lane.forget(turn)
            self._nudge(lane)
            raise

    def _nudge(self, lane: _Lane) -> None:
        if lane.queue and not lane.busy:
            self._waiting.add(lane.chat_id)
        else:
            self._waiting.discard(lane.chat_id)
        self._wake.set()

    def _ensure_pump(self) -> None:
        if self._pump is None or self._pump.done():
            self._pump = asyncio.get_running_loop().create_task(self._run(), name="outbound")

    def _global_ready(self, turn: _Turn, now: float) -> float:
        if not turn.new_message:
            return now
        while self._second and self._second[0] <= now - 1.0:
            self._second.popleft()
        room = int(self.limits.per_second) - (self.limits.bulk_headroom if turn.priority is Priority.BULK else 0)
        room = max(room, 1)
        # Spread over the second, not bunched at its start: what leaves together arrives together.
        at = self._second[-1] + 1.0 / self.limits.per_second if self._second else now
        if len(self._second) >= room:
            at = max(at, self._second[len(self._second) - room] + 1.0)
        return max(at, now)

    def grant_next(self) -> float | None:
        """Give the best call that may go now its turn. Returns when to look again (None: nothing waits)."""
        now = self.clock()
        best: tuple[_Turn, _Lane] | None = None
        wake_at = None
        for chat_id in self._waiting:
            lane = self._lanes[chat_id]
            turn = lane.queue[0]
            at = max(lane.ready_at(turn, now, self.limits), self._global_ready(turn, now))
            if at <= now:
                if best is None or turn < best[0]:
                    best = (turn, lane)
            elif wake_at is None or at < wake_at:
                wake_at = at
        if best is None:
            return wake_at
        turn, lane = best
        heapq.heappop(lane.queue)
        lane.forget(turn)
        lane.busy = True
        lane.took(now, turn.priority is Priority.CODE)
        if turn.new_message:
            self._second.append(now)
        self._waiting.discard(lane.chat_id)
        if not turn.granted.done():
            turn.granted.set_result(None)
        self.on_granted(turn.priority, now - turn.asked)
        return now

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            again = self.grant_next()
            if again is not None and again <= self.clock():
                await asyncio.sleep(0)  # let the granted call start; then the next
                continue
            try:
                async with asyncio.timeout(None if again is None else max(again - self.clock(), 0.001)):
                    await self._wake.wait()
            except TimeoutError:
                pass

    # ------------------------------------------------------------------------------------------- questions
    def chat_ready(self, chat_id: int | str, priority: Priority = Priority.BULK) -> bool:
        """Whether a message to this chat could go now without waiting for the chat's own limits (a broadcast
        puts a chat that is not aside and comes back to it)."""
        lane = self._lanes.get(chat_id)
        if lane is None:
            return True
        if lane.queue or lane.busy:
            return False
        now = self.clock()
        return lane.ready_at(_Turn(priority, 0, True), now, self.limits) <= now

    def expect_codes(self, coming: dict[int | str, int]) -> None:
        """Groups and how many of their numbers wait for a first code (all others: none); each keeps that many
        places of its minute free for them (``_Lane.kept_for_codes``)."""
        for chat_id, lane in self._lanes.items():
            if lane.is_group:
                lane.codes_coming = coming.get(chat_id, 0)
        for chat_id, count in coming.items():
            if chat_id not in self._lanes and len(self._lanes) < self.MAX_LANES:
                self._lane(chat_id).codes_coming = count

    def expected_wait(self, chat_id: int | str, priority: Priority = Priority.REPLY) -> float:
        """About how long until the calls waiting in this chat's lane at this priority or better have all gone
        (seconds; an estimate for telling a person why their screen waits, not a promise): under the chat's rate,
        a flood wait and a group's minute."""
        lane = self._lanes.get(chat_id)
        waiting = sum(1 for turn in lane.queue if turn.priority <= priority) if lane is not None else 0
        if not waiting:
            return 0.0
        now = self.clock()
        lane.ready_at(_Turn(priority, 0, True), now, self.limits)  # refills its rate, drops sends past the window
        at = max(now, lane.blocked_until, now + (waiting - lane.tokens) / self.limits.chat_rate)
        if lane.is_group:
            room = self.limits.group_per_minute
            if priority is not Priority.CODE:
                room = max(room - lane.kept_for_codes(now, self.limits), 1)
            place = len(lane.minute) - room + waiting - 1  # the send that must leave the window before the last goes
            if place >= len(lane.minute):  # beyond the sends known: each further ``room`` takes a window
                at = max(at, now + self.limits.group_window * (1 + (place - len(lane.minute)) // room))
            elif place >= 0:
                at = max(at, lane.minute[place][0] + self.limits.group_window)
        return at - now

    async def aclose(self) -> None:
        if self._pump is not None:
            self._pump.cancel()
            try:
                await self._pump
            except asyncio.CancelledError:
                pass


def twin_of(method: TelegramMethod) -> str | None:
    """A group message's whole content (text, buttons, thread, reply), by which the same one waiting is found;
    None for any other call."""
    chat_id = getattr(method, "chat_id", None)
    if not isinstance(method, SendMessage) or not isinstance(chat_id, int) or chat_id >= 0:
        return None
    return repr(method.model_dump(exclude_none=True))


class at_priority:
    """``with at_priority(Priority.CODE): await bot.send_message(...)``: the calls inside take that priority."""

    def __init__(self, level: Priority) -> None:
        self.level = level
        self._token = None

    def __enter__(self) -> None:
        self._token = CURRENT.set(self.level)

    def __exit__(self, *exc) -> None:
        CURRENT.reset(self._token)


def paced_by(bot: Bot) -> Outbound | None:
    """The bot's pacer, if its session has one."""
    for middleware in bot.session.middleware:
        if isinstance(middleware, Outbound):
            return middleware
    return None


def outbound_of(bot: Bot) -> Outbound:
    """The bot's pacer; one is added to a session built without one (a test's, a benchmark's)."""
    if (found := paced_by(bot)) is not None:
        return found
    found = Outbound()
    bot.session.middleware(found)
    return found


class UpdatePriority:
    """Outer middleware of the dispatcher's updates: what a handler sends answers a person who waits."""

    async def __call__(self, handler, event, data):
        token = CURRENT.set(Priority.REPLY)
        try:
            return await handler(event, data)
        finally:
            CURRENT.reset(token)
