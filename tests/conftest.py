from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from functools import cached_property

import pytest
from aiogram import Bot, Dispatcher

from bot.app import App, build_bot, build_dispatcher
from bot.settings import Settings
from playground.recording import Person, RecordingSession
from playground.sandbox.memory import MemoryProvider
from providers import Provider

ADMIN_ID = 900
TOKEN = "123456:TEST-token-for-recording-session-only"


# Flows tap at machine speed: the pace of what the bot sends is tested on its own (test_outbound.py), as are the
# per-user budget and the cooldowns (test_faults.py).
UNPACED = dict(telegram_messages_per_second=1e6, telegram_chat_rate=1e6, telegram_chat_burst=1_000_000,
               telegram_group_per_minute=1_000_000)


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(_env_file=None, bot_token=TOKEN, database_path=tmp_path / "bot.sqlite3",
                    markup_percent=Decimal("10"), admin_ids=frozenset({ADMIN_ID}),
                    user_rate_per_second=1e6, user_rate_burst=1_000_000, action_cooldown=0,
                    backup_dir=tmp_path / "backups", **UNPACED)


@pytest.fixture
def provider() -> MemoryProvider:
    return MemoryProvider()


@pytest.fixture
def session() -> RecordingSession:
    return RecordingSession()


# -- the world: one running bot as the flow tests drive it ------------------------------------------------------


class World:
    """The App on its providers, the production Dispatcher and a Bot talking to a recording session.

    The dispatcher and the bot are built when first used: a test that needs only the app, or builds a bot of its
    own on the session, gets no second pacer on that session."""

    def __init__(self, app: App, settings: Settings, session: RecordingSession, *, screens: bool = False,
                 **bot_options) -> None:
        self.app, self.settings, self.session = app, settings, session
        self._screens, self._bot_options = screens, bot_options

    @cached_property
    def dp(self) -> Dispatcher:
        return build_dispatcher(self.app)

    @cached_property
    def bot(self) -> Bot:
        screens = self.app.screens if self._screens else None
        return build_bot(TOKEN, self.settings, session=self.session, screens=screens, **self._bot_options)

    def person(self, user_id: int, **kwargs) -> Person:
        """A user of this bot (``chat_id``, ``name``, ``language``: as Person takes them)."""
        return Person(self.dp, self.bot, self.session, user_id, **kwargs)


async def check_money(app: App) -> None:
    """The money invariant: each balance equals the sum of its ledger, and none is below zero."""
    assert await app.ledger_repo.totals_mismatch() == []
    row = await app.db.fetchone("SELECT COUNT(*) FROM chats WHERE balance < 0")
    assert row[0] == 0


@asynccontextmanager
async def open_world(settings: Settings, providers: dict[str, Provider] | None = None,
                     session: RecordingSession | None = None, *, screens: bool = False,
                     **bot_options) -> AsyncIterator[World]:
    """The world on ``settings`` and ``providers`` (None: the providers the settings configure, as App.open builds
    them), its bot on ``session`` (a new RecordingSession if None). ``screens=True``: the bot notes which message is
    on top of each chat, as the production bot does (build_bot(screens=app.screens)); other keyword arguments go to
    build_bot (``outbound=``...). On exit the money invariant is checked and the app closed; if the body raised,
    the app is closed all the same and that error is the one raised (a broken invariant or a failed close is
    added to it as a note)."""
    app = await App.open(settings, providers=providers)
    world = World(app, settings, session if session is not None else RecordingSession(), screens=screens,
                  **bot_options)
    try:
        yield world
    except BaseException as failed:
        for step, what in ((lambda: check_money(app), "the money invariant is broken too"),
                           (app.close, "closing the app failed too")):
            try:
                await step()
            except Exception as also:
                failed.add_note(f"{what}: {also!r}")
        raise
    try:
        await check_money(app)
    finally:
        await app.close()


@pytest.fixture
def bot_options() -> dict:
    """open_world's options for the world of the fixtures below; a test module overrides this fixture to change
    them (``{"screens": True}``)."""
    return {}


@pytest.fixture
async def memory_world(settings, provider, session, bot_options) -> AsyncIterator[World]:
    """The world on the MemoryProvider and the recording session: what ``app``, ``telegram`` and ``alice`` are
    parts of. The money invariant holds after every test."""
    async with open_world(settings, {provider.name: provider}, session, **bot_options) as world:
        yield world


@pytest.fixture
def app(memory_world) -> App:
    return memory_world.app


@pytest.fixture
def telegram(memory_world) -> tuple[Dispatcher, Bot]:
    """(dispatcher, bot) built by the production factory, talking to the recording session."""
    return memory_world.dp, memory_world.bot


@pytest.fixture
def alice(memory_world) -> Person:
    return memory_world.person(1001, name="Alice")


async def credit(app: App, chat_id: int, minor: int) -> None:
    await app.wallet.adjust(ADMIN_ID, chat_id, minor, "test top-up")


async def to_confirm(person: Person, app: App, plan: str = "1 day", balance: int = 2000) -> None:
    """/start, the chat credited, then Rent a number → Telegram → ``plan``: the confirm screen."""
    await person.send("/start")
    await credit(app, person.chat_id, balance)
    for label in ("Rent a number", "Telegram", plan):
        await person.press(label)
