"""Choosing precisely, through the production Dispatcher against the fake providers: a country first, an area
code typed (accepted, refused, empty and refunded), a carrier and a price cap sent to GetAText and the hold
settled, duration groups, and the same screens in Russian."""
from __future__ import annotations

from decimal import Decimal

import pytest
from aiogram.methods import SendMessage
from aiogram.types import ForceReply

from bot.app import App
from bot.services.choosing import Wishes
from bot.services.rentals import RentRequest
from playground.recording import Person
from playground.sandbox.getatext import FakeGetAText
from playground.sandbox.gotsms import FakeGotSms
from playground.sandbox.memory import MemoryProvider
from providers import Choice
from providers import errors as perr
from providers.getatext import GetATextClient
from providers.gotsms import GotSmsClient
from tests.conftest import credit, open_world


@pytest.fixture
async def gotsms_world(settings, session):
    async with FakeGotSms(balance="1000") as fake:
        client = GotSmsClient(fake.api_key, base_url=fake.url, timeout=5, backoff=0.01)
        async with open_world(settings, {"gotsms": client}, session) as world:
            yield world.app, fake, world.dp, world.bot


@pytest.fixture
async def getatext_world(settings, session):
    async with FakeGetAText(api_key="choose-key", rate_limit_interval=0.0) as fake:
        fake.enforce_rate_limit = False
        client = GetATextClient("choose-key", base_url=fake.url, timeout=5, backoff=0.01, rent_interval=0.0,
                                poll_interval=0.0)
        async with open_world(settings, {"getatext": client}, session) as world:
            yield world.app, fake, world.person(1001, name="Alice")


def person(world, session, user_id: int = 1001, **kw) -> Person:
    app, fake, dp, bot = world
    return Person(dp, bot, session, user_id, **kw)


async def balance(app: App, chat_id: int = 1001) -> int:
    return (await app.chats.get(chat_id)).balance


async def test_a_country_first_then_its_plans_and_next_time_straight_to_them(gotsms_world, session):
    app, fake, _, _ = gotsms_world
    alice = person(gotsms_world, session)
    await alice.send("/start")
    await alice.press("Rent a number")
    await alice.press("Telegram")
    assert "pick a country" in alice.screen().text
    assert alice.buttons()[:3] == ["🇬🇧 United Kingdom · from $0.55", "🇺🇸 United States · from $1.10",
                                   "🇨🇦 Canada · from $1.32"]
    await alice.send("can")  # typing searches the countries while the picker is open
    assert alice.buttons()[0] == "🇨🇦 Canada · from $1.32" and len(alice.buttons()) == 2  # Canada and Back
    await alice.press("Canada")
    screen = alice.screen()
    assert "<b>Telegram</b> · 🇨🇦 Canada: pick a plan" in screen.text
    plans = [b for b in alice.buttons() if b.startswith("$")]
    assert plans == ["$1.32 · GotSMS · 1 day"]  # Canada's; the country is on the title, not on each plan
    assert "🌍 🇨🇦 Canada · change" in alice.buttons()

    await alice.send("/rent")  # the country is remembered for this chat and service
    await alice.press("Telegram")
    assert "🌍 🇨🇦 Canada · change" in alice.buttons()
    await alice.press("change")
    assert alice.buttons()[0] == "🇨🇦 Canada · from $1.32"  # the last choice on top
    await alice.send("whatsapp")  # no country matches: an ordinary service search
    assert "WhatsApp" in alice.buttons()


async def test_russian_screens_name_countries_and_plans_in_russian(gotsms_world, session):
    ivan = person(gotsms_world, session, 1002, name="Ivan", language="ru")
    await ivan.send("/start")
    await ivan.press("Арендовать номер")
    await ivan.press("Telegram")
    assert "выберите страну" in ivan.screen().text
    assert "🇺🇸 Соединенные Штаты · от $1.10" in ivan.buttons()
    await ivan.press("Соединенные Штаты")
    assert any("1 день" in b for b in ivan.buttons())


async def to_area_prompt(app: App, alice: Person) -> None:
    await alice.send("/start")
    await credit(app, alice.chat_id, 2000)
    for label in ("Rent a number", "Telegram", "United States", "1 day"):
        await alice.press(label)
    assert "Area code: any" in alice.screen().text
    assert "works until the first SMS comes" in alice.screen().text  # GotSMS's refund rule, before paying
    await alice.press("Area code")
    assert "for example <b>201</b>" in alice.screen().text


async def test_an_area_code_typed_is_checked_sent_and_carried_by_the_number(gotsms_world, session):
    app, fake, _, _ = gotsms_world
    alice = person(gotsms_world, session)
    await to_area_prompt(app, alice)
    await alice.send("123")  # no US area code starts with 1
    assert "“123” is not an area code in 🇺🇸 United States" in alice.screen().text
    await alice.send("212")
    assert "Area code: <b>212</b>" in alice.screen().text
    await alice.press("Rent for $1.10")
    assert fake.last_rent_body["area_code"] == "212"
    [rental], _ = await app.rentals.rentals.for_chat(alice.chat_id)
    assert rental.status == "active" and rental.area_code == "212" and rental.phone.replace(" ", "").startswith("+1212")
    assert await balance(app) == 2000 - 110


async def test_an_area_without_numbers_is_refunded_at_once_and_any_area_is_one_tap(gotsms_world, session):
    app, fake, _, _ = gotsms_world
    alice = person(gotsms_world, session)
    await to_area_prompt(app, alice)
    await alice.send("907")  # a real area code the fake has no numbers in
    await alice.press("Rent for $1.10")
    assert "No numbers in area <b>907</b>" in alice.screen().text
    assert await balance(app) == 2000  # charged and refunded in the same tap
    kinds = [e.kind for e in await app.ledger_repo.recent(alice.chat_id)]
    assert kinds[:2] == ["refund", "charge"]
    assert {"« Back", "« Menu"} <= set(alice.buttons())  # not only the two area choices: a way back too
    await alice.press("Any area")
    assert "Area code: any" in alice.screen().text
    await alice.press("Rent for $1.10")
    assert "area_code" not in fake.last_rent_body
    assert await balance(app) == 2000 - 110


async def test_in_a_group_the_area_code_is_the_askers_reply(gotsms_world, session):
    app, fake, _, _ = gotsms_world
    group = -100500
    admin = person(gotsms_world, session, 1001, chat_id=group, name="Ann")
    session.admins.add((group, 1001))
    other = person(gotsms_world, session, 1002, chat_id=group, name="Bob")
    await admin.send("/rent")
    await credit(app, group, 2000)
    for label in ("Telegram", "United States", "1 day", "Area code"):
        await admin.press(label)
    ask = [c for c in session.calls_of(SendMessage) if isinstance(c.reply_markup, ForceReply)]
    assert ask and ask[-1].reply_markup.selective
    prompt_message = session.last(group)
    await admin.send("415")  # not a reply: the group's chatter is not an answer
    await other.send("212", reply_to=prompt_message)  # someone else's reply is not the asker's answer
    assert session.last(group).message_id == prompt_message.message_id
    await admin.send("212", reply_to=prompt_message)
    assert "Area code: <b>212</b>" in admin.screen().text


async def test_carrier_and_cap_go_to_getatext_and_the_hold_settles_to_its_price(getatext_world):
    app, fake, alice = getatext_world
    await alice.send("/start")
    await credit(app, alice.chat_id, 1000)
    for label in ("Rent a number", "Telegram", "$0.50"):
        await alice.press(label)
    text = alice.screen().text
    assert "Carrier: any" in text and "Price cap: the listed price, $0.50" in text
    assert "Area code" not in text  # GetAText takes no area code: no such line, no such button
    await alice.press("Carrier")
    await alice.press("Verizon")
    assert "Carrier: <b>Verizon</b>" in alice.screen().text
    await alice.press("Rent for $0.50")  # Verizon's numbers cost more than the listed price: refused, refunded
    assert fake.last_rent_body == {"service": "telegram", "max_price": 0.45, "carrier": "verizon"}
    assert await balance(app) == 1000
    assert "No number meets these choices right now" in alice.screen().text  # still on the confirm screen

    await alice.press("Price cap")
    assert alice.buttons()[:4] == ["Listed price ($0.50)", "Up to $0.65", "Up to $0.75", "Up to $1.00"]
    await alice.press("Up to $0.65")
    assert "<b>up to $0.65</b>" in alice.screen().text and "Carrier: <b>Verizon</b>" in alice.screen().text
    await alice.press("Rent, up to $0.65")
    # $0.65 less the 10 % markup, converted back: the highest provider price whose price here stays within it.
    assert fake.last_rent_body == {"service": "telegram", "max_price": 0.59, "carrier": "verizon"}
    rows, _ = await app.rentals.rentals.for_chat(alice.chat_id)
    [rental] = [r for r in rows if r.status == "active"]
    assert [r.status for r in await app.rentals.rentals.with_status("failed")] == ["failed"]  # the refused one
    assert rental.status == "active" and rental.carrier == "verizon" and rental.price_held == 65
    assert rental.price_charged == 61 and rental.provider_cost == "0.55"  # 0.45 + 0.10, plus 10 %, rounded up
    assert await balance(app) == 1000 - 61
    entries = await app.ledger_repo.recent(alice.chat_id)
    assert [(e.kind, e.amount) for e in entries[:2]] == [("refund", 4), ("charge", -65)]

    # The card says the carrier, and renting again says what it will cost: the same number, so Verizon's
    # premium again ($0.61 as paid, not the listed $0.50) — the same price the pushed code's "Another code" says.
    card = alice.screen()
    assert "Carrier: Verizon" in card.text and "Paid: $0.61" in card.text, card.text
    assert "🔁 Rent again · $0.61" in alice.buttons() and rental.renewal_price == 61
    # ✅ Finish is explained on the card and asks first: no more codes, nothing back (before a code, Cancel would).
    assert "✅ Finish: done with the number" in card.text
    await alice.press("✅ Finish")
    question = alice.screen().text
    assert "stops receiving codes and stays paid ($0.61)" in question and "gives the $0.61 back instead" in question
    assert fake.rentals[int(rental.provider_rental_id)].status == "active"  # nothing done yet
    await alice.press("Finish, no more codes")
    assert (await app.rentals.rentals.get(rental.id)).status == "finished"
    assert await balance(app) == 1000 - 61  # finishing gives nothing back, and charges nothing more
    await alice.press("Rent again · $0.61")
    again = [r for r in (await app.rentals.rentals.for_chat(alice.chat_id))[0] if r.status == "active"]
    assert [(r.phone, r.price_charged) for r in again] == [(rental.phone, 61)], again
    assert await balance(app) == 1000 - 2 * 61


async def test_keep_carrier_is_sent_as_the_provider_documents_it(getatext_world):
    app, fake, alice = getatext_world
    await alice.send("/start")
    await credit(app, alice.chat_id, 1000)
    for label in ("Rent a number", "Telegram", "$0.50", "Carrier", "Same as my current number"):
        await alice.press(label)
    assert "<b>the same as your current number</b>" in alice.screen().text
    await alice.press("Rent for $0.50")
    assert fake.last_rent_body["keep_carrier"] is True and "carrier" not in fake.last_rent_body


async def test_a_forged_wish_is_refused_before_any_charge(getatext_world):
    app, fake, alice = getatext_world
    await alice.send("/start")
    await credit(app, alice.chat_id, 1000)
    for label in ("Rent a number", "Telegram", "$0.50"):
        await alice.press(label)
    parts = alice.data_of("Rent for").split(":")  # r:snap:index:nonce:area:carrier:cap
    for area, carrier, cap in (("212", "0", "0"), ("", "7", "0"), ("", "0", "40")):
        # an area code to a provider that takes none, a carrier it does not list, a cap below the listed price
        answer = await alice.press_data(":".join([*parts[:4], area, carrier, cap]))
        assert "button is out of date" in answer.text or "no longer valid" in answer.text, answer.text
    assert await balance(app) == 1000 and fake.last_rent_body is None


async def test_many_plans_are_grouped_by_length(gotsms_world, session):
    app, fake, _, _ = gotsms_world
    for months, price in ((6, "24.99"), (12, "44.99")):
        fake.add_plan("Telegram", "USA", "duration", "month", months, price)
    for days in (3, 7):
        fake.add_plan("Telegram", "USA", "duration", "day", days, str(days))
    fake.add_plan("Telegram", "USA", "duration", "week", 2, "9.5")
    fake.add_plan("Telegram", "USA", "duration", "year", 1, "79")
    alice = person(gotsms_world, session)
    await alice.send("/start")
    for label in ("Rent a number", "Telegram", "United States"):
        await alice.press(label)
    assert "Pick a length" in alice.screen().text
    groups = alice.buttons()
    assert [g.split(" · ")[0] for g in groups[:4]] == ["📅 Days", "🗓 Weeks", "📆 Months", "🗄 Years"]
    await alice.press("Months")
    plans = [b for b in alice.buttons() if b.startswith("$")]
    prices = [Decimal(p.split(" ")[0][1:]) for p in plans]
    assert prices == sorted(prices) and all("month" in p for p in plans)
    await alice.press("Back")
    assert "Pick a length" in alice.screen().text


async def test_a_capped_rent_whose_answer_is_lost_keeps_the_hold_until_the_provider_shows_its_rental(settings):
    """Every outcome decided: the reply of a capped rent is lost. The whole cap stays held (pending, not
    settled on a guess, not refunded early); when the reconciler finds the provider's rental, its price
    settles the hold in the same transaction that links it."""
    provider = MemoryProvider(rent_choices=[Choice.MAX_PRICE])
    async with open_world(settings, {"memsms": provider}) as world:
        app = world.app
        await app.chats.ensure(1001, "private", "Alice")
        await credit(app, 1001, 1000)
        day = (await provider.list_offers(provider.services[0]))[0]  # $1.00 at the provider, $1.10 here
        snap = await app.rentals.snapshot(1001, "telegram", "Telegram", [day])
        real_rent = provider.rent

        async def rent_then_lose_reply(offer, choice=None):
            await real_rent(offer, choice)
            raise perr.OutcomeUnknownError("timed out", provider="memsms")

        provider.rent = rent_then_lose_reply
        rental = await app.rentals.rent(RentRequest.from_plan(1001, 1001, "Alice", snap, 0, "n1", Wishes(cap=150)))
        assert (rental.status, rental.price_charged, rental.price_held) == ("pending", 150, 150)
        assert provider.last_choice.max_price == Decimal("1.36")  # $1.50 less the 10 % markup, rounded down
        assert await balance(app) == 850
        assert await app.rentals.reconcile_pending() == []  # too young to decide anything
        assert await balance(app) == 850

        await app.db.conn.execute("UPDATE rentals SET created_at = datetime('now', '-1 minute')")
        [linked] = await app.rentals.reconcile_pending()
        assert (linked.status, linked.price_charged, linked.provider_cost) == ("active", 110, "1.00")
        assert await balance(app) == 1000 - 110
        entries = await app.ledger_repo.recent(1001)
        assert [(e.kind, e.amount) for e in entries[:2]] == [("refund", 40), ("charge", -150)]
        assert await app.rentals.reconcile_pending() == [] and await balance(app) == 890  # settled once

