"""Rent again shows and charges today's price, not the price of the first rental; a price that changed after
the button was drawn charges nothing and shows the new one."""
from __future__ import annotations

from decimal import Decimal

from tests.conftest import to_confirm


async def forget_prices(app) -> None:
    """The provider's prices changed: the catalogue's cached offers are dropped, as at their TTL's end."""
    async with app.db.transaction() as conn:
        await conn.execute("DELETE FROM catalogue_cache WHERE key LIKE 'offers:%'")
    app.catalogue.cache.forget()  # what the bot read before is read again, as it is now


async def rent_day(alice, app) -> None:
    await to_confirm(alice, app)
    await alice.press("Rent for $1.10")


async def balance(app) -> int:
    return (await app.chats.get(1001)).balance


async def test_rent_again_says_and_charges_todays_price(app, provider, alice):
    await rent_day(alice, app)
    assert "🔁 Rent again · $1.10" in alice.buttons()
    provider.prices["tg"] = Decimal("2.00")  # $2.20 with the 10 % markup
    await forget_prices(app)
    await alice.press("Refresh")
    assert "🔁 Rent again · $2.20" in alice.buttons()
    before = await balance(app)
    answer = await alice.press("Rent again · $2.20")
    assert answer.text == "Rented again for $2.20."
    assert await balance(app) == before - 220


async def test_a_price_changed_after_the_button_was_drawn_charges_nothing(app, provider, alice):
    await rent_day(alice, app)
    card = alice.screen()
    provider.prices["tg"] = Decimal("3.00")
    await forget_prices(app)
    before = await balance(app)
    answer = await alice.press("Rent again · $1.10", card)
    assert answer.text == "The price is now $3.30. Nothing was charged: press Rent again to rent at that price."
    assert await balance(app) == before and provider.rent_calls == 1
    assert "🔁 Rent again · $3.30" in alice.buttons()  # the card came back with today's price
    await alice.press("Rent again · $3.30")
    assert await balance(app) == before - 330


async def test_an_older_button_without_a_price_shows_todays_first(app, provider, alice):
    await rent_day(alice, app)
    [rental], _ = await app.rentals.rentals.for_chat(1001)
    before = await balance(app)
    answer = await alice.press_data(f"c:{rental.id}:renew:a1b2c3")  # drawn before buttons carried a price
    assert "The price is now $1.10" in answer.text
    assert await balance(app) == before


async def test_a_forged_lower_price_charges_nothing(app, provider, alice):
    await rent_day(alice, app)
    [rental], _ = await app.rentals.rentals.for_chat(1001)
    before = await balance(app)
    answer = await alice.press_data(f"c:{rental.id}:renew:a1b2c3p1")
    assert "The price is now $1.10" in answer.text and await balance(app) == before


async def test_no_rent_again_while_the_plan_is_not_on_sale(app, provider, alice):
    await rent_day(alice, app)
    provider.services = [s for s in provider.services if s.id != "tg"]
    async with app.db.transaction() as conn:
        await conn.execute("DELETE FROM catalogue_cache")
    app.catalogue.cache.forget()
    await alice.press("Refresh")
    assert not [b for b in alice.buttons() if "Rent again" in b]


async def pushed_code(app, provider, session, settings):
    from bot.app import build_bot
    from bot.background import Background
    from bot.outbound.pace import Limits
    from tests.conftest import TOKEN

    [rental], _ = await app.rentals.rentals.for_chat(1001)
    background = Background(app, build_bot(TOKEN, settings, session=session), Limits.unlimited())
    provider.inject_sms(rental.provider_rental_id, "Telegram code: 31415")
    await background.pollers[provider.name].tick()
    await background.deliverer.deliver_once()
    message = session.last(1001)  # the pushed code, as Telegram stored it
    assert "31415" in message.text
    return message


async def test_another_code_under_a_pushed_code_rents_at_the_price_it_says(app, provider, session, settings, alice):
    await rent_day(alice, app)
    message = await pushed_code(app, provider, session, settings)
    before = await balance(app)
    answer = await alice.press("Another code · $1.10", message)
    assert answer.text == "Rented again for $1.10." and await balance(app) == before - 110


async def test_another_code_at_a_changed_price_charges_nothing_and_shows_todays(app, provider, session, settings,
                                                                                alice):
    await rent_day(alice, app)
    message = await pushed_code(app, provider, session, settings)
    provider.prices["tg"] = Decimal("2.00")
    await forget_prices(app)
    before = await balance(app)
    answer = await alice.press("Another code · $1.10", message)
    assert "The price is now $2.20" in answer.text and await balance(app) == before
    assert "🔁 Rent again · $2.20" in alice.buttons()  # the card, as a new message under the pushed code
