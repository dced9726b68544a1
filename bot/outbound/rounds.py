"""The loop the delivery, money news and forwarding tasks share: a round now, then the next when woken or after a
pause; and the per-chat tasks a round starts and does not wait for."""
from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)


async def run_rounds(one_round: Callable[[], Awaitable[object]], wake: asyncio.Event, idle: float,
                     what: str) -> None:
    """Until cancelled: ``one_round``, then wait for ``wake`` (set by whoever stored new work) or ``idle``
    seconds. A round that fails is logged and the next one tries again; a cancel always ends the loop."""
    while True:
        try:
            await one_round()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("%s round failed; retrying", what)
        try:
            # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancel that lands with wake()
            async with asyncio.timeout(idle):
                await wake.wait()
        except TimeoutError:
            pass
        wake.clear()


class ChatTasks:
    """At most one task per chat, sending that chat's items in order; the round that starts it does not wait for it,
    so a chat under a flood wait, or a slow send, never holds back another chat (bot/outbound/pace.py paces each chat).
    A task that sent all it was given wakes the loop: what came for its chat meanwhile goes now."""

    def __init__(self, what: str, wake: asyncio.Event) -> None:
        self.what = what
        self.wake = wake
        self._serving: dict[int, asyncio.Task] = {}

    def busy(self) -> frozenset[int]:
        """The chats with a task now. Taken *before* a round reads its pending items: a task that ends while the
        round reads (an await) has its chat in here, so an item it has just sent, read as pending a moment before
        it was marked, is not started again (a code sent twice, seen in the soak benchmark)."""
        return frozenset(self._serving)

    def start(self, chat_id: int, work: Awaitable[int], given: int) -> asyncio.Task:
        """``work`` returns how many of its ``given`` items it sent."""
        task = asyncio.ensure_future(work)
        self._serving[chat_id] = task
        task.add_done_callback(functools.partial(self._done, chat_id, given))
        return task

    def _done(self, chat_id: int, given: int, task: asyncio.Task) -> None:
        if self._serving.get(chat_id) is task:
            del self._serving[chat_id]
        if task.cancelled():
            return
        if (error := task.exception()) is not None:
            log.error("%s to chat %s failed; retried next round", self.what, chat_id, exc_info=error)
        elif task.result() == given:
            self.wake.set()

    async def cancel_all(self) -> None:
        serving = list(self._serving.values())
        for task in serving:
            task.cancel()
        await asyncio.gather(*serving, return_exceptions=True)


async def wait_for_all(tasks: list[asyncio.Task]) -> int:
    """A round waited for to the end (tests, benchmarks): how many items its tasks sent."""
    results = await asyncio.gather(*tasks, return_exceptions=True)
    for result in results:
        if isinstance(result, asyncio.CancelledError):
            raise result
    return sum(r for r in results if isinstance(r, int))
