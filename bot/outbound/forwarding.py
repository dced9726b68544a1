"""Forwarding codes per number: the forward outbox (storage/forwarding.py) sent to its targets, apart from the push.

A row is queued in the transaction that stores its SMS and marked sent once the target took it, so a kill and a
restart forward each SMS once (a kill inside the one send may repeat it: a URL receiver dedupes on
X-Idempotency-Key, the SMS id). A chat target gets a spare slot of the codes' sender (never one a code wants); a
URL gets a POST with a short timeout, no redirects followed, its address checked again first. Failures are
retried after 30 s, doubling up to 30 min; a target failing without a break for 24 h is switched off and the
number's chat told once. None of it runs in the delivery loop: a slow target never delays a chat's own code."""
from __future__ import annotations

import asyncio
import collections
import json
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from urllib.parse import urlsplit

import httpx

from bot.outbound.rendering import Renderer
from bot.outbound.rounds import run_rounds
from bot.outbound.telegram_out import ChatSender, Outcome
from bot.services.errors import UserFacingError
from bot.services.forwarding import Forwarding, sign
from storage import ChatRepo, RentalRepo
from storage.forwarding import Forward, ForwardRepo
from storage.models import db_time, utcnow

log = logging.getLogger(__name__)

FIRST_PAUSE = timedelta(seconds=30)
MAX_PAUSE = timedelta(minutes=30)
GIVE_UP = timedelta(hours=24)  # a target failing without a break this long is switched off


def pause_after(attempts: int) -> timedelta:
    """The wait after the ``attempts``-th failure in a row: 30 s, 1 min, 2 min, ... up to 30 min."""
    return min(FIRST_PAUSE * 2 ** min(max(attempts - 1, 0), 10), MAX_PAUSE)  # 2**10 x 30 s is past the cap


def payload(forward: Forward, rental) -> bytes:
    """The JSON a URL target receives, as signed (the raw body)."""
    sms = forward.sms
    return json.dumps({"rental_id": forward.rental_id, "number": rental.phone or "", "service": rental.service_name,
                       "text": sms.body, "code": sms.code, "received_at": db_time(sms.received_at)},
                      ensure_ascii=False, separators=(",", ":")).encode()


class Forwarder:
    def __init__(self, repo: ForwardRepo, forwarding: Forwarding, rentals: RentalRepo, chats: ChatRepo,
                 sender: ChatSender, renderer: Renderer, *, timeout: float = 5.0,
                 clock: Callable[[], datetime] = utcnow, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.repo = repo
        self.forwarding = forwarding
        self.rentals = rentals
        self.chats = chats
        self.sender = sender
        self.renderer = renderer
        self.clock = clock
        self.timeout = timeout
        self.transport = transport
        self._client: httpx.AsyncClient | None = None  # made at the first POST (most bots forward to no URL)
        self._wake = asyncio.Event()

    def wake(self) -> None:
        self._wake.set()

    @property
    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(follow_redirects=False, timeout=self.timeout, transport=self.transport)
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def run(self, idle: float = 2.0) -> None:
        await run_rounds(self.forward_once, self._wake, idle, "forwarding")

    async def forward_once(self) -> int:
        """One pass over what is due; each target served in order, targets concurrently. Returns rows sent."""
        due = await self.repo.due(self.clock())
        by_target: dict[str, list[Forward]] = collections.defaultdict(list)
        for forward in due:
            by_target[forward.target].append(forward)
        results = await asyncio.gather(*(self._target(rows) for rows in by_target.values()), return_exceptions=True)
        for result in results:
            if isinstance(result, asyncio.CancelledError):
                raise result
            if isinstance(result, BaseException):
                log.error("forwarding failed; retried next round", exc_info=result)
        return sum(r for r in results if isinstance(r, int))

    async def _target(self, rows: list[Forward]) -> int:
        sent = 0
        for forward in rows:
            if not await self._one(forward):
                break  # the rest of this target waits for its retry: in order, and no hammering
            sent += 1
        return sent

    async def _one(self, forward: Forward) -> bool:
        rental = await self.rentals.get(forward.rental_id)
        await self.repo.mark_attempt(forward.id)  # before the send: a repeat needs a kill inside that one call
        message_id = None  # a chat's message: the target group's deletion rule applies to it
        if forward.kind == "url":
            error = await self._post(forward, rental)
        else:
            error, message_id = await self._send_chat(forward, rental)
        if error is None:
            await self.repo.mark_sent(forward, self.clock(), message_id)
            return True
        log.info("forward %d of rental %d to %s failed: %s", forward.id, forward.rental_id,
                 "the chat" if forward.kind == "notice" else forward.kind, error)
        await self._failed(forward, error)
        return False

    async def _failed(self, forward: Forward, error: str) -> None:
        now = self.clock()
        since = await self.repo.retry_later(forward, error, now + pause_after(forward.attempts + 1), now)
        if forward.kind != "notice" and now - since >= GIVE_UP:
            if await self.repo.switch_off(forward, now, error):
                log.warning("forwarding of rental %d switched off: failing since %s (%s)", forward.rental_id,
                            since, error)
                self.wake()  # the notice goes out now

    async def _post(self, forward: Forward, rental) -> str | None:
        try:
            pinned = await self.forwarding.pin(forward.target)
        except UserFacingError as err:
            return f"refused: {err.key} {err.params}"
        body = payload(forward, rental)
        secret = await self.forwarding.secret(forward.chat_id)
        headers = {"Content-Type": "application/json", "X-Signature": sign(secret, body),
                   "X-Idempotency-Key": str(forward.sms.id)}
        try:
            response = await self.client.post(pinned.url, content=body, headers={**headers, **pinned.headers},
                                              extensions=pinned.extensions)
        except httpx.HTTPError as err:
            return f"{type(err).__name__}: {err}"[:200]
        if 200 <= response.status_code < 300:
            return None
        return f"HTTP {response.status_code}"

    async def _send_chat(self, forward: Forward, rental) -> tuple[str | None, int | None]:
        """(None, the message's id) once the chat took it; else (why, None)."""
        chat = await self.chats.get(forward.chat_id)
        language = chat.language if chat else "en"
        if forward.kind == "notice":
            target = await self.repo.target(forward.rental_id)
            shown = ("" if target is None else (target.title or target.target) if target.kind == "chat"
                     else urlsplit(target.target).netloc)
            text = self.renderer.notice(language, "forward-switched-off", service=rental.service_name,
                                        phone=rental.phone or "", target=shown)
            to = forward.chat_id
            markup = None
        else:  # in the target chat's language and under its spoiler rule, laid out as a pushed code
            to = int(forward.target)
            text, markup = self.renderer.forwarded_code(await self.chats.get(to), chat, forward.sms, rental)
        outcome, sent = await self.sender.send(to, text, markup, spare=True)  # after codes, replies and notices
        if outcome is Outcome.SENT:
            return None, sent.message_id if sent is not None else None
        if outcome is Outcome.GONE and forward.kind == "notice":
            await self.repo.mark_failed(forward.id, "chat unreachable")  # nobody left to tell
        return f"telegram: {outcome.value}", None
