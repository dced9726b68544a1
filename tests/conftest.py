from __future__ import annotations

from decimal import Decimal

import pytest

from bot.app import App, build_bot, build_dispatcher
from bot.settings import Settings
from playground.recording import Person, RecordingSession
from playground.sandbox.memory import MemoryProvider

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
async def app(settings, provider):
    app = await App.open(settings, providers={provider.name: provider})
    yield app
    # The money invariant holds after every test: each balance equals the sum of its ledger.
    assert await app.ledger_repo.totals_mismatch() == []
    row = await app.db.fetchone("SELECT COUNT(*) FROM chats WHERE balance < 0")
    assert row[0] == 0
    await app.close()


@pytest.fixture
def session() -> RecordingSession:
    return RecordingSession()


@pytest.fixture
async def telegram(app, session, settings):
    """(dispatcher, bot) built by the production factory, talking to the recording session."""
    bot = build_bot(TOKEN, settings, session=session)
    dp = build_dispatcher(app)
    yield dp, bot


@pytest.fixture
def alice(telegram, session) -> Person:
    dp, bot = telegram
    return Person(dp, bot, session, 1001, name="Alice")


async def credit(app: App, chat_id: int, minor: int) -> None:
    await app.wallet.adjust(ADMIN_ID, chat_id, minor, "test top-up")


async def to_confirm(person: Person, app: App, plan: str = "1 day", balance: int = 2000) -> None:
    """/start, the chat credited, then Rent a number → Telegram → ``plan``: the confirm screen."""
    await person.send("/start")
    await credit(app, person.chat_id, balance)
    for label in ("Rent a number", "Telegram", plan):
        await person.press(label)
