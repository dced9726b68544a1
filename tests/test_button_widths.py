"""Every button of every keyboard fits its row at phone width (400 px), in every language, with worst-case values.

The measure and the budgets, and how they were measured, are in tests/widths.py. Here every keyboard is built
directly with the longest values the bot meets (the longest service name, country, provider title, plan length and
carrier the providers list, prices like $123.45, a UK number with both copy buttons) and in every state of the
number card and the pushed code. test_i18n.py checks the same on every screen it walks through the production
Dispatcher, and tests/test_playground_browser.py in Chromium, in pixels.
"""
from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import product

import pytest
from aiogram.types import InlineKeyboardMarkup

from bot.services import choosing, localize
from bot.services.choosing import KEEP_CARRIER, Wishes
from bot.services.number_card import NumberCard
from bot.services.offers import PricedOffer
from bot.services.pricing import format_money
from handlers import keyboards, views
from handlers.callbacks import TransferCb
from handlers.i18n import Texts, available_languages
from handlers.settings import COMMON_ZONES, LANGUAGE_NAMES, settings_view, time_zones_view
from playground.sandbox.getatext import CARRIER_PREMIUMS, FakeGetAText
from playground.sandbox.gotsms import FakeGotSms
from playground.sandbox.memory import MemoryProvider
from providers import BillingType, Capability, Choice, Offer
from providers.getatext.client import GetATextClient
from providers.gotsms.client import GotSmsClient
from storage import Chat, RentalRecord, StoredSms
from tests.widths import BUDGET, budget, display_width, too_wide

LANGS = available_languages()
PRICE = 12345  # $123.45
MONEY = format_money(PRICE)
UK_PHONE = "+447700900123"  # international +447700900123, national 07700900123: two copy buttons
CODE = "12345678"
ALL_ACTIONS = set(Capability)
# Plan lengths the providers sell (their fakes' plans and the flow tests'), in minutes
LENGTHS = (15, 20, 60, 1440, 3 * 1440, 10080, 2 * 10080, 43200, 3 * 43200, 6 * 43200, 11 * 43200, 525600)


def _longest(values) -> str:
    return max(values, key=display_width)


def service_names() -> list[str]:
    """Every service the sandbox's providers list (what the playground and the flow tests show)."""
    names = [s["name"] for s in FakeGotSms().services.values()]
    names += [s.service_name for s in FakeGetAText().services.values()]
    names += [s.name for s in MemoryProvider().services]
    return names


SERVICE = _longest(service_names())
PROVIDER = _longest([GotSmsClient.title, GetATextClient.title, MemoryProvider().title])
COUNTRIES = [c["name"] for c in FakeGotSms().countries.values()] + ["USA"]
CARRIER = _longest(views.carrier_name(name) for name in CARRIER_PREMIUMS)


def country(language: str) -> str:
    return _longest(localize.country_label(name, language) for name in COUNTRIES)


def duration(language: str) -> str:
    return _longest(localize.duration_name(minutes, language) for minutes in LENGTHS)


def offer_labels(t: Texts) -> list[str]:
    """Plan labels at their longest: the cheapest mark, the longest provider title, length and country."""
    labels = []
    for name, minutes, billing in ((c, m, b) for c in COUNTRIES for m in LENGTHS
                                   for b in (BillingType.DURATION, BillingType.SMS)):
        # "🌐 $123.45": GetAText's long-term numbers, paid for time, for 1w, 2w, 1m or 1y (rental_time)
        for upto in (False, billing is BillingType.DURATION and minutes in (10080, 2 * 10080, 43200, 525600)):
            offer = Offer("p", "id", "s", SERVICE, Decimal("100"), billing, minutes, "", name, price_upto=upto)
            labels.append(views.offer_label(t, PricedOffer(offer, PRICE), PROVIDER, cheapest=True))
    return sorted(set(labels), key=display_width, reverse=True)[:keyboards.OFFERS_SHOWN]


def rental(status: str = "active", *, auto_renew: bool = False, phone: str | None = UK_PHONE) -> RentalRecord:
    now = datetime.now(UTC)
    return RentalRecord(
        id=123456, chat_id=1001, user_id=1001, user_name="Alexandra Konstantinopolskaya", provider="gotsms",
        provider_rental_id="r-1", offer_id="o-1", service_name=SERVICE, billing=BillingType.DURATION,
        duration_label="", country="United Kingdom", phone=phone, price_charged=PRICE, provider_cost="100",
        status=status, active_from=now, active_till=now + timedelta(days=30), auto_renew=auto_renew, failure="",
        created_at=now, duration_minutes=43200, period_price=PRICE)


def chat(*, group: bool = False, members_can_rent: bool = False, language: str = "en",
         zone: str = "UTC", **team) -> Chat:
    return Chat(id=-100123 if group else 1001, kind="supergroup" if group else "private", title="Demo group",
                language=language, balance=PRICE, members_can_rent=members_can_rent, active=True, time_zone=zone,
                **team)


# -- every keyboard, each in every state that changes its buttons ------------------------------------------
Keyboards = Iterator[tuple[str, InlineKeyboardMarkup]]


def main_menu(t: Texts) -> Keyboards:
    yield "main menu", keyboards.main_menu(t)


def balance(t: Texts) -> Keyboards:
    yield "balance", keyboards.balance(t)
    yield "balance of a group", keyboards.balance(t, private=False)


def invite(t: Texts) -> Keyboards:
    yield "invite link", keyboards.invite(t, "https://t.me/rent_test_bot?start=cmVmOjEyMzQ1Njc4OTAxMjM0NTY")


def promo_prompt(t: Texts) -> Keyboards:
    yield "promo code asked", keyboards.promo_prompt(t)


def back_home(t: Texts) -> Keyboards:
    yield "back home", keyboards.back_home(t)


def services(t: Texts) -> Keyboards:
    names = [(f"s{i}", ("★ " if i % 2 else "") + name) for i, name in enumerate(sorted(service_names(),
                                                                                      key=display_width))]
    page = sorted(names, key=lambda item: display_width(item[1]), reverse=True)[:keyboards.SERVICES_PER_PAGE]
    yield "services, a middle page", keyboards.services(t, page, 1, 3, "inst")
    yield "services, the longest starred", keyboards.services(t, [("s", "★ " + SERVICE)] * 12, 0, 2)


def offers(t: Texts) -> Keyboards:
    switch = keyboards.country_switch(t, "instagram", country(t.language))
    for starred in (False, True):
        yield f"plans, starred={starred}", keyboards.offers(t, 99, offer_labels(t), "instagram", starred,
                                                            keyboards.OffersExtras(switch=switch))
    of_a_group = keyboards.OffersExtras(switch=switch, back=keyboards.CountryCb(key="instagram", c="GB"))
    yield "plans of a group", keyboards.offers(t, 99, offer_labels(t), "instagram", False, of_a_group)
    yield "plans with more services on one number", keyboards.offers(t, 99, offer_labels(t), "instagram", True,
                                                                     keyboards.OffersExtras(set_from=0, switch=switch))
    yield "plans with the alert bell", keyboards.offers(t, 99, offer_labels(t), "instagram", True,
                                                        keyboards.OffersExtras(set_from=0, alert=True, switch=switch))


def set_picker(t: Texts) -> Keyboards:
    """The longest service names with a price, picked and not, a middle page, the way on with a total."""
    items = [(i, t("set-pick", service=SERVICE, price=MONEY)) for i in range(1, keyboards.SET_PICKS_PER_PAGE + 1)]
    for total in (None, MONEY):
        yield f"set picker, total={total}", keyboards.set_picker(t, 99, 0b1010101, items, 1, 3, "instagram", total)


def with_support(t: Texts) -> Keyboards:
    for home in (True, False):
        yield f"support, home={home}", keyboards.with_support(t, "https://t.me/shop_support", home)


def transfer_confirm(t: Texts) -> Keyboards:
    data = TransferCb(to=-1001234567890, c=10**6, u=123456789, n="abcdef")
    yield "transfer confirm", keyboards.transfer_confirm(t, data, MONEY)


def set_confirm(t: Texts) -> Keyboards:
    for refused in (False, True):
        yield f"set confirm, refused={refused}", keyboards.set_confirm(t, 99, 0b11, MONEY, "telegram", refused=refused)


def countries(t: Texts) -> Keyboards:
    items = [(f"c{i}", t("country-button", country=country(t.language), price=MONEY))
             for i in range(keyboards.COUNTRIES_PER_PAGE)]
    yield "countries, a middle page", keyboards.countries(t, "instagram", items, 1, 3)


def duration_groups(t: Texts) -> Keyboards:
    items = [(name, t("group-button", group=t(f"group-{name}"), plans=keyboards.OFFERS_SHOWN, price=MONEY))
             for name, _ in choosing.GROUPS]
    switch = keyboards.country_switch(t, "instagram", country(t.language))
    yield "duration groups", keyboards.duration_groups(t, "instagram", "GB", items, switch)


def confirm(t: Texts) -> Keyboards:
    for choices, cap, renew, ask in product((frozenset(), frozenset(Choice)), (0, PRICE * 2), (False, True),
                                            (False, True)):
        wishes = Wishes(area="212", carrier=KEEP_CARRIER, cap=cap, renew=renew)
        yield (f"confirm, choices={sorted(choices)}, cap={cap}, renew={renew}, ask={ask}",
               keyboards.confirm(t, 99, 9, "instagram", format_money(cap or PRICE),
                                 keyboards.ConfirmOptions(choices, wishes, upto=renew, ask=ask)))
    # An activation's "if no code, try the next plan": off, and on with the widest wait and budget.
    wait = _longest(views.fallback_wait(t, w, 20) for w in (0, 10, 5, 3, 1))
    for enabled, countries in product((False, True), (False, True)):
        choice = keyboards.FallbackChoice(enabled, PRICE * 5, wait, countries)
        yield (f"confirm with the fallback chain, on={enabled}, other countries={countries}",
               keyboards.confirm(t, 99, 9, "instagram", MONEY,
                                 keyboards.ConfirmOptions(frozenset(Choice), Wishes(cap=PRICE * 2), ask=True,
                                                          fallback=choice)))


def chain_card(t: Texts) -> Keyboards:
    for running, current in product((False, True), (None, 123456)):
        yield (f"fallback chain, running={running}, current={current}",
               keyboards.chain_card(t, 123456, current, UK_PHONE, running))


def any_area(t: Texts) -> Keyboards:
    yield "no number in the area", keyboards.any_area(t, 99, 9, Wishes(area="212"), "telegram")


def area_choice(t: Texts) -> Keyboards:
    yield "area prompt", keyboards.area_choice(t, 99, 9, Wishes())


def carrier_choice(t: Texts) -> Keyboards:
    names = [views.carrier_name(name) for name in CARRIER_PREMIUMS] + [CARRIER] * 3
    yield "carrier picker", keyboards.carrier_choice(t, 99, 9, Wishes(), names)


def cap_choice(t: Texts) -> Keyboards:
    caps = [(cap, format_money(max(cap, PRICE + 1))) for cap in choosing.cap_choices(PRICE)]
    yield "cap picker", keyboards.cap_choice(t, 99, 9, Wishes(), MONEY, caps)


def short_of_money(t: Texts) -> Keyboards:
    yield "short of money", keyboards.short_of_money(t, "instagram")


def card(t: Texts) -> Keyboards:
    """Every state: open or closed, auto-renew on or off, Rent again with a price or not, copy buttons or none,
    and every subset of the actions that make buttons long."""
    for open_, auto, closed_renew, price, phone, kept, hidden, actions in product(
            (True, False), (False, True), (False, True), (PRICE, None), (UK_PHONE, None), (False, True),
            (False, True),
            (ALL_ACTIONS, ALL_ACTIONS - {Capability.AUTO_RENEW}, {Capability.CANCEL, Capability.RENEW},
             {Capability.TRANSITION, Capability.HISTORY, Capability.WAKE_UP})):
        yield (f"card open={open_} auto-renew={auto} renew-closed={closed_renew} price={price} phone={phone} "
               f"kept={kept} show-hidden={hidden} actions={sorted(actions)}",
               keyboards.card(t, keyboards.CardButtons(
                   123456, actions, open_=open_, auto_renew=auto, can_renew_closed=closed_renew, renew_price=price,
                   phone=phone, kept=kept, show_hidden=hidden)))


def numbers(t: Texts) -> Keyboards:
    labels = [(i, views.number_label(t, rental(status))) for i, status in
              enumerate(("active", "pending", "finished", "cancelled", "expired", "failed"), 1)]
    yield "my numbers, a middle page", keyboards.numbers(t, labels, 1, 3)
    shared = [(i, views.number_label(t, rental(status), [SERVICE] * 5)) for i, status in enumerate(("active",), 1)]
    yield "my numbers, a number shared by five services", keyboards.numbers(t, shared, 0, 1)


def switch_plans(t: Texts) -> Keyboards:
    yield "switch to a monthly plan", keyboards.switch_plans(t, 123456, 99, offer_labels(t))


def switch_confirm(t: Texts) -> Keyboards:
    yield "switch confirm", keyboards.switch_confirm(t, 123456, 99, 9, MONEY)


def to_card(t: Texts) -> Keyboards:
    yield "back to the number", keyboards.to_card(t, 123456)


def auto_renew_confirm(t: Texts) -> Keyboards:
    yield "auto-renew confirm", keyboards.auto_renew_confirm(t, 123456, MONEY)


def end_confirm(t: Texts) -> Keyboards:
    yield "end a long-term number", keyboards.end_confirm(t, 123456)


def ledger_history(t: Texts) -> Keyboards:
    yield "money history, a middle page", keyboards.ledger_history(t, 3, 9, has_rows=True)


def renew_short(t: Texts) -> Keyboards:
    yield "renew now, balance short", keyboards.renew_short(t, 123456)


def finish_confirm(t: Texts) -> Keyboards:
    yield "finish a number, asked first", keyboards.finish_confirm(t, 123456)


def cancel_confirm(t: Texts) -> Keyboards:
    yield "cancel a number, asked first", keyboards.cancel_confirm(t, 123456, MONEY)


def request_only(t: Texts) -> Keyboards:
    yield "a member over the limit: ask", keyboards.request_only(t, 99, 9, Wishes(), "telegram")


def after_topup(t: Texts) -> Keyboards:
    yield "payment received, the way on", keyboards.after_topup(t)


def renew_now_confirm(t: Texts) -> Keyboards:
    yield "renew a long number now, asked first", keyboards.renew_now_confirm(t, 123456, PRICE)


def not_allowed_to_rent(t: Texts) -> Keyboards:
    yield "a member who may not rent", keyboards.not_allowed_to_rent(t)


BIG_COUNT = 1_234_567  # active chats of an audience, at their longest


def broadcast_audience(t: Texts) -> Keyboards:
    yield "broadcast audience", keyboards.broadcast_audience(t, 123456, dict.fromkeys(("all", "private", "groups"),
                                                                                      BIG_COUNT))


def broadcast_confirm(t: Texts) -> Keyboards:
    for audience in ("all", "private", "groups"):
        yield f"broadcast confirm {audience}", keyboards.broadcast_confirm(t, 123456, audience, BIG_COUNT)


def broadcast_running(t: Texts) -> Keyboards:
    yield "broadcast progress", keyboards.broadcast_running(t, 123456)


def broadcast_link(t: Texts) -> Keyboards:
    """The operator's own button: its label as long as /broadcast accepts, of wide characters."""
    from bot.services.broadcasts import LABEL_MAX
    for label in ("W" * LABEL_MAX, "😀" * (LABEL_MAX // 2), "Ш" * LABEL_MAX):
        yield f"broadcast's URL button {label[0]}", keyboards.broadcast_link(label, "https://example.com")


def request_decision(t: Texts) -> Keyboards:
    yield "a member's request", keyboards.request_decision(t, 123456, MONEY)
    yield "a member's request, asked again at a higher price", keyboards.request_decision(t, 123456, MONEY, PRICE)


def alert_choice(t: Texts) -> Keyboards:
    plans = [(i, duration(t.language)) for i in range(3)]
    under = [(PRICE, MONEY)] * 3
    yield "alert choice, sold-out plans and prices", keyboards.alert_choice(t, 99, "instagram", plans, under)
    yield "alert choice, prices only", keyboards.alert_choice(t, 99, "instagram", [], under)


def alert_saved(t: Texts) -> Keyboards:
    yield "alert saved", keyboards.alert_saved(t, "instagram")


def offers_none(t: Texts) -> Keyboards:
    yield "a service without plans, with the bell", keyboards.offers_none(t, "instagram", True)
    yield "a service without plans, alerts off", keyboards.offers_none(t, "instagram", False)


def alerts(t: Texts) -> Keyboards:
    from storage.alerts import Alert
    items = []
    for kind in ("stock", "price"):
        alert = Alert(1, 1, "s", SERVICE, "", kind, "p", "id", duration(t.language), PRICE, "open",
                      datetime.now(UTC), None, None)
        items.append((len(items) + 1, views.alert_label(t, alert)))
    yield "alerts, the longest labels", keyboards.alerts(t, items)
    yield "alerts, none", keyboards.alerts(t, [])


def alert_fired(t: Texts) -> Keyboards:
    yield "alert fired", keyboards.alert_fired(t, 123456, MONEY)


KEYBOARDS: dict[str, Callable[[Texts], Keyboards]] = {
    f.__name__: f for f in (main_menu, balance, back_home, services, offers, countries, duration_groups, confirm,
                            any_area, area_choice, carrier_choice, cap_choice, short_of_money, card, numbers,
                            switch_plans, switch_confirm, to_card, auto_renew_confirm, end_confirm, finish_confirm,
                            ledger_history, renew_short, cancel_confirm, renew_now_confirm, after_topup, request_only,
                            not_allowed_to_rent, request_decision, set_picker, set_confirm,
                            with_support, transfer_confirm, invite, promo_prompt, broadcast_audience,
                            broadcast_confirm, broadcast_running, broadcast_link, alert_choice, alert_saved,
                            offers_none, alerts, alert_fired, chain_card)}



# Forwarding a number's codes (issue 18): the card's button, the forward screen in each state, the prompt.
def forward_menu(t: Texts) -> Keyboards:
    for on, group, shown in product((False, True), (False, True), (False, True)):
        yield (f"forward screen on={on} group={group} secret-shown={shown}",
               keyboards.forward_menu(t, 2**63 - 1, on=on, group=group, secret_shown=shown))


def forward_prompt(t: Texts) -> Keyboards:
    yield "forward target asked", keyboards.forward_prompt(t, 2**63 - 1)


def forward_card(t: Texts) -> Keyboards:
    for hidden in (False, True):
        yield (f"card with forwarding, show-hidden={hidden}",
               keyboards.card(t, keyboards.CardButtons(123456, ALL_ACTIONS, open_=True, renew_price=PRICE,
                                                       phone=UK_PHONE, show_hidden=hidden, forward=True)))


KEYBOARDS.update({f.__name__: f for f in (forward_menu, forward_prompt)})


def test_forward_callback_data_fits_64_bytes_with_the_largest_id():
    for builder in (forward_menu, forward_prompt, forward_card):
        for where, markup in builder(Texts("en")):
            for row in markup.inline_keyboard:
                for button in row:
                    assert button.callback_data is None or len(button.callback_data.encode()) <= 64, where

# -- keyboards built outside handlers/keyboards.py ---------------------------------------------------------
def card_views(t: Texts) -> Keyboards:
    for status, auto in product(("active", "pending", "finished", "cancelled", "expired", "failed"), (False, True)):
        facts = NumberCard(rental=rental(status, auto_renew=auto), codes=[], actions=frozenset(ALL_ACTIONS),
                           provider_title=PROVIDER, kept=False, can_renew_closed=status != "active",
                           renew_price=PRICE, refund_until_sms=False, refunded=True, has_hidden=False, forward=None,
                           can_forward=False)
        _, markup = views.card(t, facts, is_group=True)
        yield f"card view {status} auto-renew={auto}", markup


def code_messages(t: Texts) -> Keyboards:
    """The pushed SMS: with a code or without, every action, the number open or closed."""
    for code, actions, status, spoiler in product((CODE, None), (ALL_ACTIONS, set(), {Capability.RENEW}),
                                                  ("active", "finished"), (False, True)):
        sms = StoredSms(1, "gotsms", "m-1", 123456, f"Your code: {code or 'none'}", code, "Instagram",
                        datetime.now(UTC), None)
        _, markup = views.code_message(t, sms, rental(status), actions, is_group=True, spoiler=spoiler)
        yield f"code message code={code} actions={sorted(actions)} {status} spoiler={spoiler}", markup


def settings_screens(t: Texts) -> Keyboards:
    for group, members in ((False, False), (True, False), (True, True)):
        _, markup = settings_view(t, chat(group=group, members_can_rent=members, language=t.language))
        yield f"settings group={group} members={members}", markup
    # The group's team settings at their longest: the largest limit and cap, a week, members' top-ups off.
    for limit, cap, period, top_up in product((0, max(keyboards.LIMIT_STEPS)), (0, max(keyboards.CAP_STEPS)),
                                              ("day", "week"), (True, False)):
        _, markup = settings_view(t, chat(group=True, members_can_rent=True, language=t.language, member_limit=limit,
                                          member_cap=cap, limit_period=period, members_top_up=top_up))
        yield f"team settings limit={limit} cap={cap} {period} top-up={top_up}", markup
    # Codes that hide themselves: the spoiler on and off, each deletion delay (the longest number last).
    for members, spoiler, minutes in product((False, True), (False, True), keyboards.DELETE_STEPS):
        _, markup = settings_view(t, chat(group=True, members_can_rent=members, language=t.language,
                                          code_spoiler=spoiler, code_delete_minutes=minutes))
        yield f"code settings members={members} spoiler={spoiler} delete={minutes}", markup
    for zone in COMMON_ZONES:  # the chat's own zone carries a ✓
        _, markup = time_zones_view(t, chat(zone=zone, language=t.language))
        yield f"time zone picker, {zone} chosen", markup


def texts_in_rows(t: Texts) -> Keyboards:
    """Buttons made in handlers whose keyboards need a database or a provider to build (top-up, operator panel):
    their labels at their longest, in the rows those handlers put them in (test_i18n.py walks the screens)."""
    from aiogram.types import InlineKeyboardButton

    def row(*labels: str) -> InlineKeyboardMarkup:
        return InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(text=label, callback_data="x")
                                                      for label in labels]])

    yield "top-up amount", row(t("topup-button", stars=10_000, amount=format_money(1_234_567)))
    yield "top-up methods", row(t("btn-topup-crypto"))
    # Crypto amounts at their longest (CRYPTOPAY_AMOUNTS up to 25000, in whole cents) and the invoice's pay button.
    yield "crypto amount", row(t("topup-crypto-button", paid="24999.99 USD", amount=format_money(2_499_999)))
    yield "crypto pay button", row(t("btn-crypto-pay", paid="24999.99 USD"))
    from handlers.admin import PERIODS
    yield "operator panel periods", row(*(t("btn-days", days=days) for days in PERIODS))
    yield "language buttons", row(*(t("btn-lang", name=name) for name in LANGUAGE_NAMES.values()))


BUILT_ELSEWHERE = (card_views, code_messages, settings_screens, texts_in_rows, forward_card)


def test_the_measure_counts_emoji_and_wide_characters_as_two():
    assert display_width("Rent") == 4 and display_width("Аренда") == 6
    assert display_width("🔁") == 2 and display_width("🇬🇧") == 2 and display_width("↩️") == 2
    assert display_width("🗓") == 2 and display_width("⏱ x") == 4  # drawn as emoji even without U+FE0F
    assert display_width("日本") == 4 and display_width("★ ·«»‹›→") == 8 and display_width("0123#*©") == 7
    assert BUDGET[1] > BUDGET[2] > BUDGET[3] > BUDGET[4] > 0 and budget(5) == 0


def test_the_worst_case_values_are_the_longest():
    assert MONEY == "$123.45" and len(service_names()) >= 8
    assert display_width(SERVICE) >= max(map(display_width, service_names()))
    assert keyboards.copy_number(Texts("en"), UK_PHONE)[1].text.endswith("07700900123")


def test_every_keyboard_function_is_checked():
    built = {name for name, f in inspect.getmembers(keyboards, inspect.isfunction)
             if f.__module__ == keyboards.__name__ and not name.startswith("_")
             and inspect.signature(f).return_annotation in ("InlineKeyboardMarkup", InlineKeyboardMarkup)}
    assert built - set(KEYBOARDS) == set(), "keyboards without a width check here"


@pytest.mark.parametrize("language", LANGS)
@pytest.mark.parametrize("builder", [*KEYBOARDS.values(), *BUILT_ELSEWHERE], ids=lambda f: f.__name__)
def test_every_button_fits_its_row_at_phone_width(language, builder):
    t = Texts(language)
    problems = {where: found for where, markup in builder(t) if (found := too_wide(markup))}
    assert problems == {}, f"[{language}] labels too wide at 400 px"


# -- a topic per number (forum groups) ---------------------------------------------------------------------------
def topic_link(t: Texts) -> Keyboards:
    yield "the card is in its topic, with a link", keyboards.topic_link(t, "https://t.me/c/1234567890/123456")
    yield "the card is in its topic, no link", keyboards.topic_link(t, None)


def topic_settings(t: Texts) -> Keyboards:
    for members, on in product((False, True), (False, True)):
        _, markup = settings_view(t, chat(group=True, members_can_rent=members, language=t.language,
                                          topic_per_number=on))
        yield f"topic settings members={members} on={on}", markup


KEYBOARDS[topic_link.__name__] = topic_link


def members_rent_question(t: Texts) -> Keyboards:
    for period in ("period-day", "period-week"):
        yield f"letting members rent, per {period}", keyboards.members_rent_question(t, t(period))


KEYBOARDS[members_rent_question.__name__] = members_rent_question


@pytest.mark.parametrize("language", LANGS)
@pytest.mark.parametrize("builder", [topic_link, topic_settings, members_rent_question], ids=lambda f: f.__name__)
def test_topic_buttons_fit_their_rows(language, builder):
    t = Texts(language)
    problems = {where: found for where, markup in builder(t) if (found := too_wide(markup))}
    assert problems == {}, f"[{language}] labels too wide at 400 px"
