"""Issue 29's walk at phone width, in a real browser (see tests/test_playground_browser.py for the stack and the
checks): the screens that ask before they spend or say what happened to money, and the ones that used to end in a
wall. In English and, switched in Settings, in Russian, at 400 px: no label cut, no English word on a Russian screen
(the playground's own words included). Each step is a person's tap or command on the page; only the operator's
small credits that fill the history to a second page are typed into the emulator directly."""
from __future__ import annotations

import re

from bot.services.localize import country_label
from handlers.i18n import Texts
from handlers.settings import LANGUAGE_NAMES
from playground.server import ADMIN_ID
from tests.test_playground_browser import (
    PhoneWalk,
    _shots,
    expect,
    latin_names,
    line_of,
    needs_chromium,
    needs_playwright,
    phone_page,
    playground,
)

__all__ = ["playground"]  # the fixture, used here by name


async def typed(walk: PhoneWalk, text: str, then: str):
    """A command typed in the message box; the newest bot message that contains ``then``."""
    await walk.page.locator("#input").fill(text)
    await walk.page.locator("#send").click()
    return await walk.pin(then)


def button(text: str) -> re.Pattern:
    return re.compile("^" + re.escape(text))


async def to_plans(walk: PhoneWalk, t: Texts, language: str, country: str):
    """/rent → Telegram → ``country``'s plans: its country picked the first time, changed when another was."""
    menu = await typed(walk, "/rent", line_of(t, "services-title-one"))
    plans, countries = line_of(t, "offers-title-country"), line_of(t, "countries-title")
    await walk.press(menu, "Telegram", re.compile(f"{re.escape(plans)}|{re.escape(countries)}"))
    wanted = country_label(country, language)
    if countries not in await menu.inner_text() and wanted not in await menu.inner_text():
        await walk.press(menu, re.compile(re.escape(line_of(t, "btn-country"))), countries)
    if countries in await menu.inner_text():
        await walk.press(menu, re.compile(re.escape(wanted)), plans)
    return menu


async def walk_money_screens(walk: PhoneWalk, pg, language: str) -> None:
    t = Texts(language)
    page = walk.page
    pg.emulator.send_message(ADMIN_ID, ADMIN_ID, f"/credit {pg.me.id} 20 demo money")  # a week's hold, each walk
    # Codes stop coming: a number without a code can still be cancelled with its money back.
    codes = page.locator("#codes-button")
    if await codes.get_attribute("aria-pressed") == "true":
        await codes.click()
        await expect(codes).to_have_attribute("aria-pressed", "false")

    # Cancel & refund asks first, then the card of the closed number says where the money went.
    menu = await to_plans(walk, t, language, "USA")
    await walk.press(menu, re.compile(r"GotSMS · "), line_of(t, "confirm-title"))
    await walk.check("confirm", menu, language)
    await walk.press(menu, button(line_of(t, "confirm-rent")), line_of(t, "card-price"))
    await walk.check("number card", menu, language)
    await walk.press(menu, t("btn-cancel"), line_of(t, "cancel-confirm", 1))
    await walk.check("cancel asked first", menu, language)
    await walk.press(menu, button(line_of(t, "btn-cancel-confirm")), line_of(t, "card-refunded"))
    await walk.check("cancelled card", menu, language)
    assert not await menu.locator(".kb-btn", has_text=re.compile(r"📋 \+?\d")).count()  # no copy buttons: a dead number

    # A week-long number: Renew now asks first, with what it buys and the balance after.
    menu = await to_plans(walk, t, language, "USA")
    await walk.check("plans with long numbers marked", menu, language)
    await walk.press(menu, re.compile(r"^🌐 .* · GetAText · "), line_of(t, "confirm-title"))
    await walk.press(menu, button(line_of(t, "confirm-rent-cap")), line_of(t, "card-rule-kept"))
    await walk.check("long number card", menu, language)
    await walk.press(menu, button(line_of(t, "btn-renew-now")), line_of(t, "btn-renew-now-confirm"))
    await walk.check("renew now asked first", menu, language)
    await walk.press(menu, t("btn-card"), line_of(t, "card-rule-kept"))

    # The whole money history: paged, and downloaded as a file the page offers.
    for _ in range(10):
        pg.emulator.send_message(ADMIN_ID, ADMIN_ID, f"/credit {pg.me.id} 0.01 demo money")
    balance = await typed(walk, "/balance", line_of(t, "balance-how-topup"))
    await walk.press(balance, t("btn-history-all"), line_of(t, "money-history-page"))
    await walk.check("money history", balance, language)
    second = (re.escape(t("money-history-page", page=2, pages=888, rows=999))
              .replace("888", r"\d+").replace("999", r"\d+"))
    await walk.press(balance, t("next-page"), re.compile(second))
    await walk.check("money history, page 2", balance, language)
    files = walk.messages.locator(".row.in", has=page.locator(".document", has_text="history.csv"))
    before = await files.count()
    await balance.get_by_role("button", name=button(t("btn-history-csv"))).click()
    await expect(files).to_have_count(before + 1, timeout=15_000)
    caption = files.last
    await walk.check("money history file", caption, language)

    # Terms and payment support answer with words and a way to a person, never a wall.
    title = {"en": "Terms of use", "ru": "Условия использования"}[language]  # the sample terms (terms/*.html)
    terms = await typed(walk, "/terms", title)
    await walk.check("terms", terms, language)
    support = await typed(walk, "/paysupport", line_of(t, "paysupport"))
    await expect(support.get_by_role("button", name=t("btn-write-operator"))).to_be_visible()  # no SUPPORT_CONTACT
    await walk.check("payment support", support, language)


@needs_playwright
@needs_chromium
async def test_money_screens_ask_first_and_say_what_happened_at_phone_width(playground, tmp_path):
    stack, pg, url = playground
    async with phone_page(url) as (page, problems):
        await page.locator("#start-button").click()
        walk = PhoneWalk(page, latin_names(stack) | {"CSV"}, _shots(tmp_path))  # a file format's name
        await walk.pin(line_of(Texts("en"), "welcome"))
        await walk_money_screens(walk, pg, "en")

        # The operator's /revenue is a document on the page, not an apology about charges.
        await page.locator("#tab-operator").click()
        await page.locator("#input").fill("/revenue 7")
        await page.locator("#send").click()
        report = walk.messages.locator(".row.in .document", has_text="revenue-7d.csv")
        await expect(report).to_be_visible(timeout=15_000)
        await page.locator("#tab-private").click()

        # Settings -> Русский, then the same walk in Russian.
        settings = await typed(walk, "/start", line_of(Texts("en"), "welcome"))
        en, ru = Texts("en"), Texts("ru")
        await walk.press(settings, en("menu-settings"), line_of(en, "settings-title", 1))
        await walk.press(settings, ru("btn-lang", name=LANGUAGE_NAMES["ru"]), line_of(ru, "settings-title", 1))
        await walk_money_screens(walk, pg, "ru")
    assert len(walk.checked) == 2 * 12, walk.checked
    assert problems == []


async def walk_chain_and_limits(walk: PhoneWalk, pg, language: str) -> None:
    t = Texts(language)
    page = walk.page
    codes = page.locator("#codes-button")

    # "If no code, try the next plan": the chain's card says how it ended — here, the code on attempt 1.
    if await codes.get_attribute("aria-pressed") != "true":
        await codes.click()
        await expect(codes).to_have_attribute("aria-pressed", "true")
    menu = await to_plans(walk, t, language, "United Kingdom")
    await walk.press(menu, re.compile(r"GotSMS · 20 "), line_of(t, "confirm-title"))
    if t("btn-fallback-on") in await menu.inner_text():  # on, unless this chat chose it before
        await walk.press(menu, t("btn-fallback-on"), line_of(t, "btn-fallback-off"))
    await walk.check("confirm with the chain", menu, language)
    await walk.press(menu, button(line_of(t, "confirm-rent")), line_of(t, "chain-title"))
    await walk.check("chain card, trying", menu, language)
    await expect(menu).to_contain_text(line_of(t, "chain-title-done"), timeout=30_000)
    await walk.check("chain card, the code came", menu, language)

    # ... and stopped: no code comes, Stop trying, and the card says it stopped (its number refunded).
    await codes.click()
    await expect(codes).to_have_attribute("aria-pressed", "false")
    menu = await to_plans(walk, t, language, "United Kingdom")
    await walk.press(menu, re.compile(r"GotSMS · 20 "), line_of(t, "confirm-title"))
    await expect(menu).to_contain_text(line_of(t, "btn-fallback-off"))  # the chat's last choice is kept
    await walk.press(menu, button(line_of(t, "confirm-rent")), line_of(t, "chain-title"))
    await menu.get_by_role("button", name=t("btn-chain-stop")).click()
    await expect(menu).to_contain_text(line_of(t, "chain-title-stopped"), timeout=30_000)
    await expect(menu.get_by_role("button", name=t("btn-chain-stop"))).to_have_count(0)
    await walk.check("chain card, stopped", menu, language)

    # The demo group: its admin lets members rent up to $1.00 a day; a member over it is shown the limit and
    # "Request this number", not a Rent button that cannot work.
    await page.locator("#tab-group").click()
    await page.locator(".as-option").first.click()  # the admin (you)
    settings = await typed(walk, "/settings", line_of(t, "settings-title", 1))
    if t("btn-members-can-rent") in await settings.inner_text():
        await walk.press(settings, t("btn-members-can-rent"), line_of(t, "members-rent-question", 1))
        await walk.check("members rent, asked first", settings, language)
        await settings.get_by_role("button", name=re.compile(re.escape("$1.00"))).click()
        await expect(settings).to_contain_text("$1.00", timeout=15_000)
    await walk.check("group settings with the limit", settings, language)
    await page.locator(".as-option", has_text="Sam").click()
    menu = await to_plans(walk, t, language, "USA")
    await walk.press(menu, re.compile(r"GotSMS · "), line_of(t, "confirm-over-limit"))
    await expect(menu.get_by_role("button", name=t("btn-request"))).to_be_visible()
    assert not await menu.get_by_role("button", name=button(line_of(t, "confirm-rent"))).count()
    await walk.check("member over the limit", menu, language)
    await page.locator(".as-option").first.click()
    await page.locator("#tab-private").click()


@needs_playwright
@needs_chromium
async def test_chain_card_and_a_member_over_the_limit_at_phone_width(playground, tmp_path):
    stack, pg, url = playground
    async with phone_page(url) as (page, problems):
        await page.locator("#start-button").click()
        walk = PhoneWalk(page, latin_names(stack), _shots(tmp_path))
        await walk.pin(line_of(Texts("en"), "welcome"))
        await walk_chain_and_limits(walk, pg, "en")

        # Both chats in Russian (each chat's own Settings), and the same walk.
        en, ru = Texts("en"), Texts("ru")
        for tab in ("#tab-group", "#tab-private"):
            await page.locator(tab).click()
            settings = await typed(walk, "/settings", line_of(en, "settings-title", 1))
            await walk.press(settings, ru("btn-lang", name=LANGUAGE_NAMES["ru"]), line_of(ru, "settings-title", 1))
        await walk_chain_and_limits(walk, pg, "ru")
    # In Russian the members' limit is set already: its question is not asked again.
    assert len(walk.checked) == 7 + 6, walk.checked
    assert problems == []
