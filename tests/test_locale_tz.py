"""Plan durations, country names and dates in the chat's language; times in the time zone it picks in Settings."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import available_timezones

import pytest

from bot.background import Background
from bot.outbound.pace import Limits
from bot.services.localize import duration_name, format_moment, utc_offset, valid_zone, zone_label
from handlers.callbacks import TimeZoneCb
from handlers.i18n import Texts
from playground.recording import Person
from tests.conftest import credit
from tests.test_card_gotsms import (
    _age_switches,
    _lose_reply,
    _to_switch_confirm,
    gotsms_world,  # noqa: F401 - the fake GotSMS world, for the plan switch
)

EN, RU = Texts("en"), Texts("ru")
MOSCOW = "Europe/Moscow"  # UTC+03:00 all year: no summer time to make the expected hour depend on the date


# -- the localize functions ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("minutes", "en", "ru"), [
    (20, "20 minutes", "20 минут"),
    (60, "1 hour", "1 час"),
    (90, "90 minutes", "90 минут"),  # not rounded to "2 hours" or "1.5 hours"
    (1500, "25 hours", "25 часов"),  # not "1 day"
    (1440, "1 day", "1 день"),
    (2880, "2 days", "2 дня"),
    (7200, "5 days", "5 дней"),
    (10080, "1 week", "1 неделя"),
    (20160, "2 weeks", "2 недели"),
    (43200, "1 month", "1 месяц"),
    (129600, "3 months", "3 месяца"),
    (525600, "1 year", "1 год"),
])
def test_duration_name_is_the_largest_unit_that_divides_the_plan_exactly(minutes, en, ru):
    assert duration_name(minutes, "en") == en
    assert duration_name(minutes, "ru") == ru


def test_duration_name_is_none_when_the_length_is_unknown():
    assert duration_name(None, "ru") is None
    assert duration_name(0, "en") is None
    assert duration_name(1440, "xx") == "1 day"  # an unknown language reads English


def test_format_moment_in_the_chat_language_and_zone():
    moment = datetime(2025, 12, 2, 8, 48, tzinfo=UTC)
    assert format_moment(moment, "en", "UTC") == "Dec 2, 08:48"
    assert format_moment(moment, "ru", "UTC") == "2 дек., 08:48"
    assert format_moment(moment, "ru", MOSCOW) == "2 дек., 11:48"
    assert format_moment(moment, "en", "America/New_York") == "Dec 2, 03:48"
    assert format_moment(datetime(2025, 12, 2, 20, 0, tzinfo=UTC), "en", "Asia/Tokyo") == "Dec 3, 05:00"  # next day
    assert format_moment(moment.replace(tzinfo=None), "en", MOSCOW) == "Dec 2, 11:48"  # naive: stored UTC
    assert format_moment(moment.astimezone(datetime.now().astimezone().tzinfo), "en", "UTC") == "Dec 2, 08:48"


def test_format_moment_without_a_moment_or_with_an_unknown_zone():
    moment = datetime(2025, 12, 2, 8, 48, tzinfo=UTC)
    assert format_moment(None, "ru", MOSCOW) == "—"
    assert format_moment(moment, "en", "Mars/Olympus") == "Dec 2, 08:48"  # falls back to UTC
    assert format_moment(moment, "en", "") == "Dec 2, 08:48"


def test_zone_labels_name_the_offset_now_and_the_city_in_the_language():
    assert zone_label(MOSCOW, "en") == "UTC+03:00 Moscow"
    assert zone_label(MOSCOW, "ru") == "UTC+03:00 Москва"
    assert zone_label("Asia/Kolkata", "en") == "UTC+05:30 Kolkata"
    assert zone_label("UTC", "ru") == "UTC"
    assert zone_label("Mars/Olympus", "en") == "UTC"  # what format_moment falls back to
    winter, summer = datetime(2025, 1, 15, tzinfo=UTC), datetime(2025, 7, 15, tzinfo=UTC)
    assert utc_offset("America/New_York", winter) == "UTC-05:00"
    assert utc_offset("America/New_York", summer) == "UTC-04:00"  # the offset of the moment shown
    assert utc_offset("UTC", summer) == "UTC"


@pytest.mark.parametrize("name", ["Europe/Berlin", "UTC", "America/Argentina/Buenos_Aires", "Asia/Kolkata"])
def test_valid_zone_knows_iana_names(name):
    assert valid_zone(name)


@pytest.mark.parametrize("name", ["", "Mars/Olympus", "../../etc/passwd", "/etc/localtime", "Europe", "europe/berlin",
                                  "Factory", "Europe/Berlin "])
def test_valid_zone_refuses_anything_else(name):
    assert not valid_zone(name)


# -- the screens ---------------------------------------------------------------------------------------------


async def test_russian_plan_list_and_confirm_show_russian_durations_and_country(app, telegram, session):
    dp, bot = telegram
    ivan = Person(dp, bot, session, 1002, name="Ivan", language="ru")
    await ivan.send("/start")
    await credit(app, ivan.chat_id, 2000)
    await ivan.press(RU("menu-rent"))
    await ivan.press("Telegram")
    plans = ivan.buttons()
    assert "<b>Telegram</b> · 🇺🇸 Соединенные Штаты: выберите тариф" in ivan.screen().text  # the one country
    assert "$1.10 · MemSMS · 1 день" in plans
    assert "$11.00 · MemSMS · 1 месяц" in plans
    assert not any("1 day" in label or "USA" in label for label in plans)
    await ivan.press("1 день")
    confirm = ivan.screen().text
    assert "Тариф: 1 день · 🇺🇸 Соединенные Штаты" in confirm
    await ivan.press(RU("confirm-rent", price="$1.10"))
    assert "MemSMS · 1 день" in ivan.screen().text  # the number card too


async def test_english_plan_list_shows_the_country_name_and_flag(app, alice):
    """On the title, once: a plan's label has no room left for it at phone width (tests/widths.py)."""
    await alice.send("/start")
    await alice.press("Rent a number")
    await alice.press("Telegram")
    assert "<b>Telegram</b> · 🇺🇸 United States: pick a plan" in alice.screen().text
    assert "$1.10 · MemSMS · 1 day" in alice.buttons()


async def test_a_chat_picks_a_zone_and_its_screens_show_times_in_it(app, alice, provider, session, settings):
    await alice.send("/start")
    await alice.press("Settings")
    assert "Time zone: UTC" in alice.screen().text
    await alice.press("Time zone")
    picker = alice.screen()
    assert "shown in it. Now: <b>UTC</b>" in picker.text
    rows = picker.reply_markup.inline_keyboard
    zones = [button.text for row in rows[:-1] for button in row]
    assert len(zones) == 16 and all(len(row) == 1 for row in rows[:-1])  # one a row, then « Back
    assert "✓ UTC" in zones and "UTC+03:00 Moscow" in zones and "UTC+05:30 Kolkata" in zones
    assert zones.index("UTC+03:00 Moscow") < zones.index("UTC+05:30 Kolkata")  # west to east
    answer = await alice.press("Moscow")
    assert answer.text == "Time zone: UTC+03:00 Moscow."
    assert "Time zone: UTC+03:00 Moscow" in alice.screen().text  # back on Settings
    assert (await app.chats.get(alice.chat_id)).time_zone == MOSCOW

    # A code pushed to the chat, then the card and the balance: every time in Moscow's.
    await credit(app, alice.chat_id, 2000)
    for label in ("Menu", "Rent a number", "Telegram", "1 day", "Rent for $1.10"):
        await alice.press(label)
    [rental], _ = await app.rentals.rentals.for_chat(alice.chat_id)
    provider.inject_sms(rental.provider_rental_id, "Your Telegram code: 55123")
    background = Background(app, alice.bot, Limits.unlimited())
    await background.pollers[provider.name].tick()
    await background.deliverer.deliver_once()
    [sms] = await app.sms_repo.for_rental(rental.id, limit=3)
    in_moscow, in_utc = format_moment(sms.received_at, "en", MOSCOW), format_moment(sms.received_at, "en", "UTC")
    assert in_moscow != in_utc
    [pushed] = [m for m in session.sent(alice.chat_id) if "55123" in m.text]
    assert f"Received: {in_moscow} UTC+03:00" in pushed.text

    await alice.press("Number")  # on the pushed code
    card = alice.screen().text
    assert f"<code>55123</code> · {in_moscow}" in card and in_utc not in card

    await alice.send("/balance")
    balance = alice.screen().text
    entries = await app.ledger_repo.recent(alice.chat_id)
    assert entries and all(format_moment(e.created_at, "en", MOSCOW) in balance for e in entries)
    assert format_moment(entries[0].created_at, "en", "UTC") not in balance

    await alice.send("/settings")
    await alice.press("Time zone")
    assert "✓ UTC+03:00 Moscow" in alice.buttons()  # the chat's own zone is marked


async def test_the_plan_switch_states_its_end_in_the_chat_zone_and_language(gotsms_world):  # noqa: F811
    app, _, alice = gotsms_world
    await app.chats.ensure(alice.chat_id, "private", "Alice")
    await app.chats.set_language(alice.chat_id, "ru")
    await app.chats.set_time_zone(alice.chat_id, MOSCOW)
    await credit(app, alice.chat_id, 2000)
    await alice.send("/start")
    for label in (RU("menu-rent"), "Telegram", "Соединенные Штаты", "1 день", RU("confirm-rent", price="$1.10"),
                  RU("btn-switch"), "$5.49"):
        await alice.press(label)
    [rental], _ = await app.rentals.rentals.for_chat(alice.chat_id)
    ends = format_moment(rental.active_from + timedelta(days=30), "ru", MOSCOW)
    confirm = alice.screen().text
    assert "Новый тариф: 1 месяц" in confirm
    assert f"Закончится примерно: {ends} UTC+03:00" in confirm
    answer = await alice.press(RU("switch-confirm-button", price="$5.49"))
    assert answer.text == RU("switched", duration="1 месяц")


async def test_the_settled_switch_notice_names_the_plan_in_the_chat_language(gotsms_world, session):  # noqa: F811
    app, _, alice = gotsms_world
    await _to_switch_confirm(app, alice)
    _lose_reply(app.providers["gotsms"], after_acting=True)  # settled later, by the reconcile job
    await alice.press("Switch for $5.49")
    await app.chats.set_language(alice.chat_id, "ru")
    await _age_switches(app)
    await Background(app, alice.bot, Limits.unlimited()).jobs.reconcile()
    notice = session.last(alice.chat_id).text
    assert "теперь на тарифе 1 месяц" in notice and "1 month" not in notice


async def test_a_forged_zone_is_refused_and_changes_nothing(app, alice):
    await alice.send("/settings")
    for forged in ("Mars/Olympus", "../../etc/passwd", "Factory", ""):
        answer = await alice.press_data(TimeZoneCb(zone=forged).pack())
        assert answer.text == EN("error-not-allowed"), forged
    answer = await alice.press_data("z:" + "A" * 61)  # longer than any zone: does not even unpack
    assert answer.text == EN("error-stale")
    assert (await app.chats.get(alice.chat_id)).time_zone == "UTC"
    assert "Time zone: UTC" in alice.screen().text


async def test_in_a_group_only_admins_change_the_time_zone(app, telegram, session):
    dp, bot = telegram
    group = -100777
    ann = Person(dp, bot, session, 2001, chat_id=group, name="Ann")
    max_ = Person(dp, bot, session, 2002, chat_id=group, name="Max")
    session.admins.add((group, ann.user.id))

    await max_.send("/settings@rent_test_bot")
    answer = await max_.press("Time zone")
    assert answer.text == EN("error-not-allowed")
    answer = await max_.press_data(TimeZoneCb(zone="Europe/Berlin").pack())  # the picker's button, pressed anyway
    assert answer.text == EN("error-not-allowed")
    assert (await app.chats.get(group)).time_zone == "UTC"

    await ann.send("/settings@rent_test_bot")
    await ann.press("Time zone")
    await ann.press("Berlin")
    assert (await app.chats.get(group)).time_zone == "Europe/Berlin"
    assert "Time zone: UTC+0" in ann.screen().text and "Berlin" in ann.screen().text  # +01:00 or +02:00 in summer


def test_the_zone_callback_fits_telegram_for_every_zone():
    longest = max(available_timezones(), key=len)
    assert len(TimeZoneCb(zone=longest).pack().encode()) <= 64
