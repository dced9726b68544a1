"""Webhook mode on the bot's HTTP server: POST /telegram with the secret header feeds the production
dispatcher; without it, or once the bot is stopping, the update is refused (Telegram keeps it)."""
from __future__ import annotations

import asyncio
import socket
from datetime import UTC, datetime

import httpx
import pytest
from aiogram.types import Chat, Message, MessageEntity, Update, User

from bot.app import build_bot, build_dispatcher
from bot.background import Background
from bot.outbound.pace import Limits
from bot.web.inbound import TELEGRAM_PATH, TelegramUpdates
from tests.conftest import TOKEN

SECRET = "telegram-secret_token-0123456789"


def start_update(update_id: int, user_id: int = 1001) -> str:
    user = User(id=user_id, is_bot=False, first_name="Alice", language_code="en")
    message = Message(message_id=update_id, date=datetime.now(UTC), chat=Chat(id=user_id, type="private"),
                      from_user=user, text="/start", entities=[MessageEntity(type="bot_command", offset=0, length=6)])
    return Update(update_id=update_id, message=message).model_dump_json(exclude_none=True, by_alias=True)


@pytest.fixture
async def served(app, session, settings):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    app.settings = settings.model_copy(update={"http_host": "127.0.0.1", "http_port": port,
                                               "public_url": "https://bot.example.com"})
    bot = build_bot(TOKEN, app.settings, session=session)
    telegram = TelegramUpdates(build_dispatcher(app), bot, SECRET)
    background = Background(app, bot, Limits.unlimited(), telegram=telegram)
    await background.start()
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            yield background, client
    finally:
        await background.stop()


async def until_sent(session, chat_id: int, count: int = 1, timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while len(session.sent(chat_id)) < count:
            await asyncio.sleep(0.01)


async def test_an_update_with_the_secret_header_is_handled(served, session):
    background, client = served
    reply = await client.post(TELEGRAM_PATH, content=start_update(1),
                              headers={"X-Telegram-Bot-Api-Secret-Token": SECRET, "Content-Type": "application/json"})
    assert reply.status_code == 200
    await until_sent(session, 1001)
    assert "Virtual numbers" in session.sent(1001)[0].text


@pytest.mark.parametrize("header", [None, "", "wrong-secret", SECRET + "x"])
async def test_an_update_without_the_right_secret_is_refused_and_not_handled(served, session, header):
    background, client = served
    headers = {"Content-Type": "application/json"}
    if header is not None:
        headers["X-Telegram-Bot-Api-Secret-Token"] = header
    reply = await client.post(TELEGRAM_PATH, content=start_update(2), headers=headers)
    assert reply.status_code == 401
    await asyncio.sleep(0.2)
    assert session.sent(1001) == []


async def test_updates_are_refused_with_503_once_the_bot_is_stopping(served, session):
    background, client = served
    background.telegram.close()  # what Background.stop does first
    reply = await client.post(TELEGRAM_PATH, content=start_update(3),
                              headers={"X-Telegram-Bot-Api-Secret-Token": SECRET, "Content-Type": "application/json"})
    assert reply.status_code == 503  # Telegram retries it later: the next start answers it
    assert session.sent(1001) == []


async def test_health_and_metrics_share_the_server_with_the_webhook(served):
    background, client = served
    assert (await client.get("/healthz")).status_code == 200
    assert (await client.get("/metrics")).status_code == 200
    assert "/telegram (Telegram's updates)" in background.served()


async def test_an_update_telegram_sends_again_is_handled_once_even_after_a_restart(served, session, app, settings):
    """Telegram re-sends an update it believes undelivered (a late answer, a timeout): the same update_id posted
    three times is answered once; the ids taken are kept in the database, so a restart does not answer it again."""
    background, client = served
    headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET, "Content-Type": "application/json"}
    for _ in range(3):
        assert (await client.post(TELEGRAM_PATH, content=start_update(5005), headers=headers)).status_code == 200
    await until_sent(session, 1001)
    await asyncio.sleep(0.3)
    assert len(session.sent(1001)) == 1
    # A new dispatcher on the same database (what a restart builds): still a repeat.
    again = build_dispatcher(app)
    await again.feed_update(build_bot(TOKEN, app.settings, session=session),
                            Update.model_validate_json(start_update(5005)))
    assert len(session.sent(1001)) == 1
    await again.feed_update(build_bot(TOKEN, app.settings, session=session),
                            Update.model_validate_json(start_update(5006)))
    assert len(session.sent(1001)) == 2  # a new update is answered
