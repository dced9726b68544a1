"""Each provider's SMS poll as its own loop, not a scheduler interval job: a poll that overruns is counted, never
skipped.

APScheduler's interval job with max_instances=1 drops a run that falls due while the last one still runs
("maximum number of running instances reached"): at 300 users a GotSMS poll took longer than its 0.5 s interval
and every other poll was dropped, so codes waited a whole interval more, with nothing counted. Here the next poll
starts one interval after the last one started, or at once after one that overran; each overrun is counted
(``bot_poll_overruns_total``) and logged once per run of them."""
from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PollRun:
    """One poll that ended, told to the listeners. ``job_id`` and ``exception`` as in an APScheduler job event,
    so the scheduler's listeners (job runs in the metrics, /healthz) take it unchanged."""

    job_id: str
    provider: str
    seconds: float
    overran: bool
    exception: BaseException | None = None


class PollLoop:
    def __init__(self, provider: str, tick: Callable[[], Awaitable[object]], interval: float,
                 listeners: Sequence[Callable[[PollRun], None]] = (), clock=time.monotonic) -> None:
        self.provider = provider
        self.job_id = f"poll:{provider}"
        self.tick = tick
        self.interval = interval
        self.listeners = listeners
        self.clock = clock
        self.overruns = 0  # in a row: the first is logged, the rest only counted until a poll keeps up
        self._stopping = asyncio.Event()

    async def run(self) -> None:
        """Polls until ``stop``: the first one interval after the start (as the scheduler's was), then each one
        interval after the last one started, at once when that one overran. A failed poll is logged and the
        next one runs as usual."""
        delay = self.interval
        while not await self._stopped_within(delay):
            started = self.clock()
            failure = None
            try:
                await self.tick()
            except Exception as err:  # noqa: BLE001 - one poll's failure must not end the polling
                failure = err
                log.exception("poll of %s failed; the next one runs as usual", self.provider)
            elapsed = self.clock() - started
            self._count(elapsed)
            run = PollRun(self.job_id, self.provider, elapsed, elapsed > self.interval, failure)
            for listener in self.listeners:
                listener(run)
            delay = max(0.0, self.interval - elapsed)

    def stop(self) -> None:
        """No poll starts from now on; one that runs is finished (a SIGTERM waits for it: app.inflight)."""
        self._stopping.set()

    def _count(self, elapsed: float) -> None:
        if elapsed > self.interval:
            self.overruns += 1
            if self.overruns == 1:
                log.warning("poll of %s took %.2f s, over its %.2f s interval: the next starts at once (each such "
                            "poll counted in bot_poll_overruns_total; logged again after polls keep up)",
                            self.provider, elapsed, self.interval)
        elif self.overruns:
            log.info("polls of %s keep up again after %d overrun(s)", self.provider, self.overruns)
            self.overruns = 0

    async def _stopped_within(self, seconds: float) -> bool:
        """Waits ``seconds`` (yielding to the loop even at 0); True as soon as the loop is stopped."""
        try:
            async with asyncio.timeout(seconds):
                await self._stopping.wait()
        except TimeoutError:
            return False
        return True
