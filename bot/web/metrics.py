"""Prometheus metrics of the running bot. Labels carry kinds, names and outcomes only: never a chat, a
user, a number, a code or a secret.

One registry per App (tests build many). The pieces that count are handed this object when the app is
wired: the dispatcher middleware (updates and handler latency), each provider client's observer
(calls by provider, operation and outcome), the poller and the outbox (codes received, delivered, push latency),
the scheduler listener (job runs and failures), the poll loops (poll time, overruns); the gauges read from the
database are refreshed by a job."""
from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import TelegramObject, Update
from apscheduler.events import EVENT_JOB_MAX_INSTANCES
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from storage import Database, LedgerRepo, RentalRepo, SmsRepo
from storage.models import utcnow

CONTENT_TYPE = CONTENT_TYPE_LATEST
FAST = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
SLOW = (0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 30.0, 60.0)

class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.updates = Counter("bot_updates", "Telegram updates handled, by type", ["type"], registry=r)
        self.handler_seconds = Histogram("bot_handler_seconds", "Time to handle one update", ["type"],
                                         buckets=FAST, registry=r)
        self.provider_calls = Counter("bot_provider_calls", "Provider calls", ["provider", "operation", "outcome"],
                                      registry=r)
        self.provider_seconds = Histogram("bot_provider_call_seconds", "Provider call latency",
                                          ["provider", "operation"], buckets=SLOW, registry=r)
        self.codes_received = Counter("bot_codes_received", "SMS stored from providers", ["provider"], registry=r)
        self.codes_delivered = Counter("bot_codes_delivered", "SMS pushed into chats", ["provider"], registry=r)
        self.push_seconds = Histogram("bot_push_seconds", "From the SMS reaching us to Telegram accepting it",
                                      ["provider"], buckets=SLOW, registry=r)
        self.outbox_backlog = Gauge("bot_outbox_backlog", "SMS still to push", registry=r)
        self.telegram_429 = Counter("bot_telegram_flood_waits", "429 answers from the Bot API", registry=r)
        self.outbound_wait = Histogram("bot_outbound_wait_seconds", "How long a message or edit waited for its turn"
                                       " under Telegram's limits, by priority", ["priority"], buckets=SLOW, registry=r)
        self.ledger_total = Gauge("bot_ledger_total_minor_units", "Sum of ledger amounts, by kind", ["kind"],
                                  registry=r)
        self.active_rentals = Gauge("bot_active_rentals", "Rentals active now, by provider", ["provider"], registry=r)
        self.job_runs = Counter("bot_job_runs", "Scheduler job runs, by job and outcome", ["job", "outcome"],
                                registry=r)
        self.job_last_run = Gauge("bot_job_last_run_timestamp", "When each job last ran (Unix time)", ["job"],
                                  registry=r)
        self.poll_seconds = Histogram("bot_poll_seconds", "One SMS poll of a provider, start to end", ["provider"],
                                      buckets=SLOW, registry=r)
        self.poll_overruns = Counter("bot_poll_overruns", "SMS polls that took longer than their interval (the next "
                                     "one started at once, none skipped)", ["provider"], registry=r)

    def outbound_waited(self, priority, waited: float) -> None:
        """The pacer's hook (bot/outbound/pace.py): a call's turn came after ``waited`` seconds."""
        self.outbound_wait.labels(priority.name.lower()).observe(waited)

    def render(self) -> bytes:
        return generate_latest(self.registry)

    # -- pieces the wiring hands out --------------------------------------------------------------------

    def provider_call(self, provider: str, operation: str, outcome: str, seconds: float) -> None:
        """A provider client's observer (Provider.observe): operation is method and path with ids removed."""
        self.provider_calls.labels(provider, operation, outcome).inc()
        self.provider_seconds.labels(provider, operation).observe(seconds)

    def job_event(self, event) -> None:
        """An APScheduler listener for EVENT_JOB_EXECUTED | EVENT_JOB_ERROR | EVENT_JOB_MAX_INSTANCES: a run that fell
        due while the last one still ran is counted as skipped (its work is the next run's: every job reads what
        is due), never silently dropped."""
        job = str(event.job_id).split(":")[0]
        if getattr(event, "code", None) == EVENT_JOB_MAX_INSTANCES:
            self.job_runs.labels(job, "skipped").inc()
            return
        self.job_runs.labels(job, "error" if event.exception else "ok").inc()
        self.job_last_run.labels(job).set(time.time())

    def poll_event(self, run) -> None:
        """A poll loop's listener (bot/poll_loop.PollRun); its run and outcome are counted by ``job_event``."""
        self.poll_seconds.labels(run.provider).observe(run.seconds)
        if run.overran:
            self.poll_overruns.labels(run.provider).inc()

    def delivered(self, provider: str, received_at: datetime | None, stored_at: datetime | None) -> None:
        self.codes_delivered.labels(provider).inc()
        since = stored_at or received_at
        if since is not None:
            self.push_seconds.labels(provider).observe(max(0.0, (utcnow() - since).total_seconds()))

    async def refresh_gauges(self, db: Database) -> None:
        self.outbox_backlog.set(await SmsRepo(db).backlog())
        for kind, total in (await LedgerRepo(db).totals_by_kind()).items():
            self.ledger_total.labels(kind).set(total)
        active = await RentalRepo(db).active_per_provider()
        self.active_rentals.clear()  # a provider with none left drops out (no await between: no scrape sees it empty)
        for provider, count in active.items():
            self.active_rentals.labels(provider).set(count)


class UpdateMetricsMiddleware(BaseMiddleware):
    """Outer middleware on dp.update: every update counted and timed by its type."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    async def __call__(self, handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        kind = event.event_type if isinstance(event, Update) else type(event).__name__.lower()
        start = time.perf_counter()
        try:
            return await handler(event, data)
        finally:
            self.metrics.updates.labels(kind).inc()
            self.metrics.handler_seconds.labels(kind).observe(time.perf_counter() - start)


__all__ = ["CONTENT_TYPE", "Metrics", "UpdateMetricsMiddleware"]
