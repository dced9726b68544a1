"""Russian that reads as Russian: services found by the names people type, nouns in the form their numbers ask
for, provider replies quoted only where they tell something, ledgers written as data and shown in Russian."""
from __future__ import annotations

import tomllib
from datetime import timedelta
from decimal import Decimal

import pytest

from bot.services.catalogue import service_key
from bot.services.localize import counted
from bot.services.search import aliases, fold
from handlers import views
from handlers.i18n import Texts
from playground.recording import Person
from playground.sandbox.gotsms import FakeGotSms
from playground.sandbox.memory import MemoryProvider
from providers import Service
from providers.gotsms import GotSmsClient
from storage import ledger, notes
from storage.models import utcnow
from tests.conftest import ADMIN_ID, credit, open_world
from tests.test_i18n import DATA_NAMES, ROOT, latin_words

RU = Texts("ru")
SERVICE_NAMES = {"Telegram", "WhatsApp", "Google", "Instagram", "Facebook"}


@pytest.fixture
def provider() -> MemoryProvider:
    """MemSMS with Instagram and Facebook too, so a search has more to miss."""
    memory = MemoryProvider()
    memory.services += [Service("ig", "Instagram"), Service("fb", "Facebook")]
    memory.prices |= {"ig": Decimal("0.80"), "fb": Decimal("0.90")}
    return memory


@pytest.fixture
def olga(telegram, session) -> Person:
    dp, bot = telegram
    return Person(dp, bot, session, 1002, name="Olga", language="ru")


# -- search by the names people type -------------------------------------------------------------------------

@pytest.mark.parametrize(("typed", "found"), [
    ("гугл", "Google"), ("телеграм", "Telegram"), ("ватсап", "WhatsApp"), ("вотсап", "WhatsApp"),
    ("инста", "Instagram"), ("Телеграм", "Telegram"), ("гуг", "Google"), ("фейсбук", "Facebook"),
])
async def test_a_name_typed_in_cyrillic_lists_its_service_and_only_it(app, olga, typed, found):
    await olga.send("/start")
    await olga.send(typed)  # typed in a private chat: the search handler
    screen = olga.screen()
    assert RU("services-search-one", query=typed) in screen.text
    assert SERVICE_NAMES & set(olga.buttons()) == {found}
    await olga.press(found)  # and it is the service: its plans follow
    assert olga.screen().text.startswith(f"<b>{found}</b>")  # its plans (the title names the country too)


@pytest.mark.parametrize("typed", ["ъъъ", "!!!", "зебра"])
async def test_a_search_that_names_nothing_finds_nothing(app, olga, typed):
    """Before, a Cyrillic search folded to nothing and matched every service (or, as "x", none)."""
    await olga.send("/start")
    await olga.send(typed)
    assert olga.screen().text == RU("services-none", query=typed)
    assert SERVICE_NAMES.isdisjoint(olga.buttons())


def test_cyrillic_service_names_keep_their_own_keys():
    assert service_key("ВКонтакте") == "vkontakte" and service_key("Одноклассники") == "odnoklassniki"
    assert service_key("WhatsApp") == "whatsapp"  # Latin names keep the keys they had (favourites, buttons)
    assert fold("Телеграм") == fold("telegram") == "telegram"


def test_the_nicknames_file_is_small_clean_data_that_ships():
    table = aliases()
    assert 0 < len(table) <= 30 and {"google", "whatsapp"} <= set(table)
    for key, names in table.items():
        assert key == service_key(key), f"{key}: not a service key"
        assert len(set(names)) == len(names), f"{key}: two spellings fold alike"
        for name in names:
            # One that transliterates into the name finds the service without an entry.
            assert name not in key, f"{key}: {name!r} needs no entry"
    package_data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    assert "aliases.toml" in package_data["bot.services"]


# -- plural forms from CLDR -----------------------------------------------------------------------------------

@pytest.mark.parametrize(("count", "days", "minutes"), [
    (1, "1 день", "1 минута"), (2, "2 дня", "2 минуты"), (5, "5 дней", "5 минут"), (21, "21 день", "21 минута"),
])
def test_russian_nouns_take_the_form_their_number_asks_for(count, days, minutes):
    assert counted(count, "day", "ru") == days
    assert counted(count, "minute", "ru") == minutes


def test_time_left_in_words_of_each_language():
    now = utcnow()
    assert views.time_left(RU, now + timedelta(days=2, hours=5, seconds=30), now) == "2 дня 5 часов"
    assert views.time_left(RU, now + timedelta(days=21, hours=1, seconds=30), now) == "21 день 1 час"
    assert views.time_left(RU, now + timedelta(hours=3, minutes=22, seconds=30), now) == "3 часа 22 минуты"
    assert views.time_left(RU, now + timedelta(minutes=21, seconds=30), now) == "21 минута"
    assert views.time_left(Texts("en"), now + timedelta(days=1, hours=1, seconds=30), now) == "1 day 1 hour"


async def test_the_operator_panel_counts_its_days_in_russian(app, telegram, session):
    dp, bot = telegram
    operator = Person(dp, bot, session, ADMIN_ID, name="Op", language="ru")
    await operator.send("/admin")
    assert "за 7 дней" in operator.screen().text
    await operator.press(RU("btn-days", days=1))
    assert "за 1 день" in operator.screen().text


# -- a number at GotSMS, in Russian ---------------------------------------------------------------------------

@pytest.fixture
async def gotsms_ru(settings, session):
    async with FakeGotSms(balance="1000") as fake:
        client = GotSmsClient(fake.api_key, base_url=fake.url, timeout=5, backoff=0.01)
        async with open_world(settings, {"gotsms": client}, session) as world:
            yield world.app, fake, world.person(1001, name="Olga", language="ru"), world.dp, world.bot


async def _rent_a_day(app, olga: Person) -> None:
    await olga.send("/start")
    await credit(app, olga.chat_id, 2000)
    await olga.press(RU("menu-rent"))
    await olga.press("Telegram")
    await olga.press("🇺🇸")
    await olga.press("1 день")
    await olga.press(RU("confirm-rent", price="$1.10"))
    assert RU("status-active") in olga.screen().text


async def test_the_russian_wake_up_toast_has_no_english(gotsms_ru):
    app, fake, olga, _, _ = gotsms_ru
    await _rent_a_day(app, olga)
    answer = await olga.press(RU("btn-wake"))
    # GotSMS answers "Wake up request sent.": it says nothing the toast does not, so it is not repeated.
    assert answer.text == RU("woken") == "Сигнал пробуждения отправлен."
    assert latin_words(answer.text) == []


async def test_a_provider_refusal_is_quoted_as_the_providers(gotsms_ru):
    app, fake, olga, _, _ = gotsms_ru
    await _rent_a_day(app, olga)
    [rental], _ = await app.rentals.rentals.for_chat(olga.chat_id)
    fake.inject_sms(rental.provider_rental_id, "Your Telegram code is 55123")
    await olga.press(RU("btn-refresh"))
    await olga.press(RU("btn-cancel"))  # asked first
    answer = await olga.press("Отменить, вернуть")  # GotSMS refuses a refund once an SMS arrived, and says why
    assert answer.text.startswith("Провайдер отказал. Его ответ: «") and "Refund not available" in answer.text
    assert latin_words(answer.text) == []  # the English is inside the provider's quotes only


async def test_the_russian_ledger_names_the_plan_in_russian(gotsms_ru):
    app, fake, olga, dp, bot = gotsms_ru
    await _rent_a_day(app, olga)
    await olga.press(RU("btn-switch"))
    await olga.press("$5.49")
    await olga.press(RU("switch-confirm-button", price="$5.49"))
    assert "GotSMS · 1 месяц" in olga.screen().text

    [switch_charge, *_] = await app.ledger_repo.recent(olga.chat_id)
    assert notes.read(switch_charge.note, "charge").fields == {"service": "Telegram", "minutes": 43200,
                                                               "label": "1 month"}  # data, not prose
    await olga.send("/balance")
    balance = olga.screen().text
    assert "-$5.49 · +1 800 555 0001 · аренда Telegram · 1 месяц" in balance  # the number it was for, too
    assert "month" not in balance and latin_words(balance, DATA_NAMES | {"GotSMS", "Olga"}) == []

    operator = Person(dp, bot, olga.session, ADMIN_ID, name="Op", language="ru")
    await operator.send(f"/ledger {olga.chat_id}")
    ledger_screen = operator.screen().text
    assert "аренда Telegram · 1 месяц" in ledger_screen and "корректировка оператора: «test top-up»" in ledger_screen
    assert "adjustment" not in ledger_screen and "month" not in ledger_screen


# -- ledger notes: data written, words shown ------------------------------------------------------------------

async def test_old_english_notes_read_in_russian_and_operators_words_stay_theirs(app, olga):
    await olga.send("/start")
    await credit(app, olga.chat_id, 1000)
    rows = [(-100, "charge", "Telegram renewal"), (100, "refund", "Telegram renewal not made"),
            (-50, "charge", "Telegram · 1 month"), (50, "refund", "plan switch failed"),
            (-10, "adjustment", "Stars refund requested"), (10, "adjustment", "moved from the group"),
            (-1, "adjustment", "plan switch failed")]  # an operator's note that looks like the bot's
    async with app.db.transaction() as conn:
        for minor, kind, note in rows:
            await ledger.post(conn, olga.chat_id, minor, kind, "legacy", note=note)
    entries = list(reversed(await app.ledger_repo.recent(olga.chat_id, limit=len(rows))))
    shown = [views.ledger_line(RU, e).split(" · ", 1)[1] for e in entries]
    assert shown == ["продление Telegram", "возврат Telegram: продление не состоялось",
                     "аренда Telegram · 1 month",  # an old switch row kept no length: the label as it was
                     "возврат: смена тарифа не удалась", "корректировка: запрошен возврат звёзд",
                     "корректировка: баланс перенесён из группы", "корректировка оператора: «plan switch failed»"]


def test_notes_are_made_only_of_known_reasons():
    note = notes.make("renewal", service="Телеграм", minutes=None)
    assert note == '{"why":"renewal","service":"Телеграм"}'  # names kept as they are; empty fields left out
    assert notes.read(note, "charge") == notes.Note("renewal", fields={"service": "Телеграм"})
    assert notes.read(note, "adjustment").why is None  # a reason read only on the kind it belongs to
    assert notes.read("WhatsApp", "charge") == notes.Note(None, text="WhatsApp")
    with pytest.raises(ValueError):
        notes.make("renewed")
    assert set(notes.WHY) == {key.removeprefix("note-") for key in RU._own if key.startswith("note-")}
