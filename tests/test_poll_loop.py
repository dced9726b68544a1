"""Polling keeps up: a provider's poll that takes longer than its interval is counted and logged, and the next poll
starts at once; none is skipped (APScheduler's max_instances=1 skipped them, at 300 users on GotSMS)."""
from __future__ import annotations

import asyncio
import logging
import time

from bot.app import build_bot
from bot.background import Background
from bot.poll_loop import PollLoop, PollRun
from tests.conftest import TOKEN
from tests.test_push import rented


async def until(predicate, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.01)


class Ticks:
    """A poll whose length is scripted per run; records when each started and ended."""

    def __init__(self, *seconds: float) -> None:
        self.lengths = list(seconds)
        self.spans: list[tuple[float, float]] = []

    async def __call__(self) -> None:
        start = time.monotonic()
        length = self.lengths.pop(0) if self.lengths else 0.0
        if length < 0:
            raise RuntimeError("provider unreachable")
        await asyncio.sleep(length)
        self.spans.append((start, time.monotonic()))


async def run_until(loop: PollLoop, ticks: Ticks, polls: int) -> None:
    task = asyncio.create_task(loop.run())
    await until(lambda: len(ticks.spans) >= polls)
    loop.stop()
    await asyncio.wait_for(task, 2.0)


async def test_a_poll_that_overruns_is_counted_and_the_next_starts_at_once(caplog):
    ticks = Ticks(0.25, 0.25, 0.25, 0.01)
    runs: list[PollRun] = []
    loop = PollLoop("gotsms", ticks, 0.1, listeners=[runs.append])
    with caplog.at_level(logging.INFO, logger="bot.poll_loop"):
        await run_until(loop, ticks, 4)

    assert [run.overran for run in runs[:4]] == [True, True, True, False]
    assert all(run.job_id == "poll:gotsms" and run.exception is None for run in runs)
    for (_, ended), (started, _) in zip(ticks.spans[:3], ticks.spans[1:4]):
        assert started - ended < 0.05  # not skipped to a later interval: at once
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "over its 0.10 s interval" in warnings[0].getMessage()  # logged once, not 3 times
    assert "keep up again after 3 overrun(s)" in caplog.text


async def test_a_poll_within_its_interval_waits_for_the_rest_of_it():
    ticks = Ticks(0.05, 0.05, 0.05)
    loop = PollLoop("gotsms", ticks, 0.2)
    await run_until(loop, ticks, 3)
    starts = [start for start, _ in ticks.spans]
    assert all(0.18 <= b - a < 0.35 for a, b in zip(starts, starts[1:])), starts  # one interval, start to start


async def test_a_failed_poll_is_told_and_the_next_one_runs(caplog):
    ticks = Ticks(-1, 0.0)
    runs: list[PollRun] = []
    loop = PollLoop("getatext", ticks, 0.05, listeners=[runs.append])
    await run_until(loop, ticks, 1)
    assert isinstance(runs[0].exception, RuntimeError) and runs[1].exception is None
    assert "poll of getatext failed; the next one runs as usual" in caplog.text


async def test_a_slow_providers_overruns_are_in_the_metrics_and_its_polls_go_on(app, provider, session, settings):
    app.settings = settings.model_copy(update={"poll_interval": 0.1})
    await rented(app)
    polls = []
    original = provider.fetch_new_sms

    async def slow_fetch(rental_ids):  # a provider that takes 2.5 intervals to answer
        polls.append(time.monotonic())
        await asyncio.sleep(0.25)
        return await original(rental_ids)

    provider.fetch_new_sms = slow_fetch
    background = Background(app, build_bot(TOKEN, settings, session=session))
    await background.start()
    try:
        await until(lambda: len(polls) >= 3)
    finally:
        await background.stop()

    text = app.metrics.render().decode()
    overruns = app.metrics.poll_overruns.labels(provider.name)._value.get()
    assert overruns >= 2 and f'bot_poll_overruns_total{{provider="{provider.name}"}}' in text
    assert f'bot_poll_seconds_count{{provider="{provider.name}"}}' in text
    assert 'bot_job_runs_total{job="poll",outcome="ok"}' in text  # counted as the scheduler's job was
    assert min(b - a for a, b in zip(polls, polls[1:])) < 0.3  # the next poll at once: no interval skipped
    assert background.health.last_run.get(f"poll:{provider.name}") is not None  # /healthz sees the polls run


async def test_healthz_names_a_poll_loop_that_stopped_polling(app, provider, session, settings):
    background = Background(app, build_bot(TOKEN, settings, session=session))
    background.scheduler.start(paused=True)
    try:
        assert await background.health.check() == (True, "ok")
        background.health.started -= 10_000  # as if the bot had run for hours and no poll ever ended
        ok, reason = await background.health.check()
        assert not ok and reason.startswith(f"job poll:{provider.name} has not run for")
    finally:
        background.scheduler.shutdown(wait=False)
