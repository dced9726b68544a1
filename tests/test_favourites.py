"""Favourites: a chat stars services from their plan list; starred ones come first on its service list."""
from __future__ import annotations

from storage import FavouriteRepo
from storage.favourites import MAX_PER_CHAT


async def service_buttons(alice) -> list[str]:
    await alice.send("/rent")
    return alice.buttons()


async def test_a_starred_service_comes_first_and_can_be_unstarred(app, alice):
    await alice.send("/start")
    before = await service_buttons(alice)
    assert before[0] == "Telegram" and "Google" in before
    await alice.press("Google")
    answer = await alice.press("☆ Favourite")
    assert answer.text == "Google is in your favourites: first on the list."
    assert "★ Favourite" in alice.buttons()  # the plan list is drawn again, starred

    assert (await service_buttons(alice))[0] == "★ Google"
    await alice.press("★ Google")
    answer = await alice.press("★ Favourite")
    assert answer.text == "Google is no longer a favourite."
    assert (await service_buttons(alice)) == before


async def test_a_forged_service_key_is_a_stale_button_and_stores_nothing(app, alice):
    await alice.send("/start")
    answer = await alice.press_data("fv:no-such-service")
    assert "out of date" in answer.text
    assert await FavouriteRepo(app.db).keys(1001) == set()


async def test_favourites_are_bounded_per_chat(app):
    repo = FavouriteRepo(app.db)
    await app.chats.ensure(1001, "private", "Alice")
    for n in range(MAX_PER_CHAT):
        assert await repo.toggle(1001, f"s{n}") is True
    assert await repo.toggle(1001, "one-more") is None
    assert len(await repo.keys(1001)) == MAX_PER_CHAT
    assert await repo.toggle(1001, "s0") is False  # removing still works


async def test_a_group_that_becomes_a_supergroup_keeps_its_favourites(app):
    repo = FavouriteRepo(app.db)
    await app.chats.ensure(-100, "group", "Team")
    await app.chats.ensure(-1001, "supergroup", "Team")  # a stray update from the supergroup came first
    await repo.toggle(-100, "telegram")
    await repo.toggle(-100, "google")
    await repo.toggle(-1001, "google")
    await app.chats.migrate(-100, -1001)
    assert await repo.keys(-1001) == {"telegram", "google"} and await repo.keys(-100) == set()


async def test_the_star_button_in_russian(app, telegram, session):
    from playground.recording import Person

    dp, bot = telegram
    boris = Person(dp, bot, session, 1002, name="Boris", language="ru")
    await boris.send("/start")
    await boris.send("/rent")
    await boris.press("Telegram")
    assert "☆ В избранное" in boris.buttons()
