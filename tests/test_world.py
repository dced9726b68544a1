"""The tests' world (tests/conftest.py open_world): it checks the money invariant when it ends and closes the app
in every case, a test's own error coming first; its bot joins the recording session only when used."""
from __future__ import annotations

import pytest

from bot.outbound.pace import Outbound
from tests.conftest import open_world


async def off_its_ledger(app, chat_id: int = 1001) -> None:
    """A balance written past the ledger: what the check at the end is there to catch."""
    await app.chats.ensure(chat_id, "private", "Alice")
    await app.db.write("UPDATE chats SET balance = 5 WHERE id = ?", (chat_id,))


async def test_a_world_runs_the_production_dispatcher_on_the_recording_session(settings, provider, session):
    async with open_world(settings, {provider.name: provider}, session) as world:
        alice = world.person(1001, name="Alice")
        await alice.send("/start")
        assert "📱 Rent a number" in alice.buttons() and session.sent(1001)
    assert provider.closed


async def test_a_balance_off_its_ledger_fails_the_world_when_it_ends_and_the_app_is_closed(settings, provider):
    with pytest.raises(AssertionError, match=r"\(1001, 5, 0\)"):  # (chat, balance, ledger sum)
        async with open_world(settings, {provider.name: provider}) as world:
            await off_its_ledger(world.app)
    assert provider.closed
    with pytest.raises(RuntimeError, match="not connected"):
        world.app.db.conn


async def test_a_failing_test_keeps_its_own_error_and_the_app_is_closed(settings, provider):
    with pytest.raises(ZeroDivisionError) as raised:
        async with open_world(settings, {provider.name: provider}) as world:
            await off_its_ledger(world.app)
            1 / 0
    assert provider.closed
    [note] = raised.value.__notes__
    assert note.startswith("the money invariant is broken too")


async def test_the_bot_joins_the_session_only_when_used(settings, provider, session):
    async with open_world(settings, {provider.name: provider}, session, screens=True) as world:
        assert world.app and not [m for m in session.middleware if isinstance(m, Outbound)]
        assert world.bot is world.bot
        assert len([m for m in session.middleware if isinstance(m, Outbound)]) == 1
        assert len(session.middleware) == 2  # the pacer, and the screens' note of the message on top
