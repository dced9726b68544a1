"""/metrics series: what the running bot exposes, and that no chat, number, code or key is in a label."""
from __future__ import annotations

import asyncio
from types import SimpleNamespace

import httpx
import pytest
from pydantic import SecretStr

from bot.background import Background
from bot.outbound.pace import Limits
from playground.sandbox.gotsms import FakeGotSms
from playground.sandbox.memory import MemoryProvider
from providers.gotsms import GotSmsClient
from tests.conftest import TOKEN, credit, open_world


@pytest.fixture
async def world(settings, session):
    async with FakeGotSms(balance="1000") as fake:
        client = GotSmsClient(fake.api_key, base_url=fake.url, timeout=5, backoff=0.01)
        async with open_world(settings, {"gotsms": client}, session) as world:
            yield world.app, fake, world.person(1001, name="Alice")


async def test_metrics_expose_the_named_series_without_private_data(world, session, settings):
    app, fake, alice = world
    await alice.send("/start")
    await credit(app, 1001, 2000)
    await alice.press("Rent a number")
    await alice.press("Telegram")
    await alice.press("United States")
    await alice.press("1 day")
    await alice.press("Rent for")
    [rental], _ = await app.rentals.rentals.for_chat(1001)
    background = Background(app, alice.bot, Limits.unlimited())  # the world's bot
    fake.inject_sms(rental.provider_rental_id, "Your Telegram code is 731904")
    await background.pollers["gotsms"].tick()
    await background.deliverer.deliver_once()
    await app.metrics.refresh_gauges(app.db)
    app.metrics.job_event(SimpleNamespace(job_id="poll:gotsms", exception=None))
    app.metrics.job_event(SimpleNamespace(job_id="expire", exception=RuntimeError("boom")))
    text = app.metrics.render().decode()

    for series in ('bot_updates_total{type="message"}', 'bot_updates_total{type="callback_query"}',
                   "bot_handler_seconds_bucket", 'operation="POST /api/rents",outcome="ok",provider="gotsms"',
                   "bot_provider_call_seconds_bucket", 'bot_codes_received_total{provider="gotsms"} 1.0',
                   'bot_codes_delivered_total{provider="gotsms"} 1.0', "bot_push_seconds_bucket",
                   "bot_outbox_backlog 0.0", 'bot_ledger_total_minor_units{kind="adjustment"} 2000.0',
                   'bot_ledger_total_minor_units{kind="charge"} -110.0', 'bot_active_rentals{provider="gotsms"} 1.0',
                   'bot_job_runs_total{job="poll",outcome="ok"} 1.0',
                   'bot_job_runs_total{job="expire",outcome="error"}', "bot_telegram_flood_waits_total 0.0"):
        assert series in text, series
    private = ["1001", rental.phone.lstrip("+"), rental.provider_rental_id, "731904", fake.api_key, TOKEN]
    labels = [line for line in text.splitlines() if not line.startswith("#") and "{" in line]
    for value in (v for v in private if len(v) >= 4):  # shorter ones collide with bucket bounds
        assert not [line for line in labels if value in line.split("}")[0]], value


@pytest.fixture
async def served(settings, session):
    """The bot's HTTP server (HTTP_PORT) of a running Background, with a metrics token."""
    import secrets as pysecrets
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    configured = settings.model_copy(update={"http_host": "127.0.0.1", "http_port": port,
                                             "getatext_webhook_secret": SecretStr(pysecrets.token_urlsafe(32)),
                                             "metrics_token": SecretStr("scrape-token-123456")})
    async with open_world(configured, {"memsms": MemoryProvider()}, session) as world:
        background = Background(world.app, world.bot, Limits.unlimited())
        await background.start()
        try:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
                yield world.app, background, client
        finally:
            await background.stop()


async def test_healthz_is_200_while_running_and_503_with_the_reason_when_the_scheduler_stops(served):
    app, background, client = served
    ok = await client.get("/healthz")
    assert ok.status_code == 200 and ok.json() == {"ok": True, "reason": "ok"}
    background.scheduler.shutdown(wait=False)
    down = await client.get("/healthz")
    assert down.status_code == 503 and "scheduler" in down.json()["reason"]


async def test_healthz_names_a_job_that_stopped_running(served):
    app, background, client = served
    background.health.started -= 10_000  # as if the bot had run for hours and the expiry job never ran
    late = await client.get("/healthz")
    assert late.status_code == 503 and "has not run for" in late.json()["reason"]


async def test_metrics_over_http_need_the_bearer_token(served):
    app, background, client = served
    assert (await client.get("/metrics")).status_code == 401
    assert (await client.get("/metrics", headers={"Authorization": "Bearer wrong"})).status_code == 401
    page = await client.get("/metrics", headers={"Authorization": "Bearer scrape-token-123456"})
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/plain")
    assert "bot_outbox_backlog" in page.text and "bot_job_runs_total" in page.text


async def healthcheck(port: int) -> tuple[int, str]:
    """Docker's HEALTHCHECK command, as the image runs it (in a subprocess: the server runs on this loop)."""
    import os
    import sys
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HTTP_", "WEBHOOK_", "BOT_"))}
    env["HTTP_PORT"] = str(port)
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "bot.healthcheck", env=env,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    out, _ = await proc.communicate()
    return proc.returncode, out.decode().strip()


async def test_docker_healthcheck_command_follows_healthz(served):
    app, background, client = served
    code, out = await healthcheck(background.http.port)
    assert (code, out) == (0, "healthy: ok")
    background.scheduler.shutdown(wait=False)
    code, out = await healthcheck(background.http.port)
    assert code == 1 and out == "unhealthy: the scheduler is not running"


async def test_docker_healthcheck_command_fails_when_nothing_listens():
    import socket
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    code, out = await healthcheck(port)
    assert code == 1 and out.startswith(f"unhealthy: no answer on port {port}")
    code, out = await healthcheck(0)
    assert code == 1 and "HTTP_PORT is 0" in out


async def test_a_job_run_that_falls_due_while_the_last_still_runs_is_counted_as_skipped(app):
    """APScheduler drops a run of a job (max_instances=1) that is still running: the metric counts it, so a job that
    cannot keep up (refund_no_code at 300 people) shows in bot_job_runs_total{outcome="skipped"}."""
    import asyncio

    from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, EVENT_JOB_MAX_INSTANCES
    from apscheduler.schedulers.asyncio import AsyncIOScheduler

    scheduler = AsyncIOScheduler(job_defaults={"max_instances": 1, "coalesce": True})
    scheduler.add_listener(app.metrics.job_event, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR | EVENT_JOB_MAX_INSTANCES)

    async def slow() -> None:
        await asyncio.sleep(0.6)

    scheduler.add_job(slow, "interval", seconds=0.2, id="no_code")
    scheduler.start()
    try:
        await asyncio.sleep(1.5)
    finally:
        scheduler.shutdown(wait=False)
    text = app.metrics.render().decode()
    skipped = [line for line in text.splitlines()
               if line.startswith('bot_job_runs_total{job="no_code",outcome="skipped"}')]
    assert skipped and float(skipped[0].split()[-1]) >= 1, text
    assert 'bot_job_runs_total{job="no_code",outcome="ok"}' in text
