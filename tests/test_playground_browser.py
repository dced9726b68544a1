"""The playground page in a real headless browser (Debian's chromium driven by Playwright).

The whole sandbox runs here: the Telegram emulator and both fake providers in-process (codes arrive 3 s after each
rent), the real `python -m bot` process, the demo chats with demo money, and the page's server, all on free ports
in a temporary folder. The browser then does what a person would: /start, tap through to a rented number, see the
pushed code, make another SMS arrive, and in the demo group see a member's tap on a rent button refused.

Needs `pip install playwright` (the Python package only: no `playwright install`) and `apt-get install chromium`;
skipped, with the reason, when either is missing. Screenshots go to the test's tmp folder, or to
$PLAYGROUND_SCREENSHOT_DIR when set.
"""
from __future__ import annotations

import contextlib
import os
import re
import shutil
import string
from decimal import Decimal
from pathlib import Path

import pytest

from bot.services.localize import country_label
from handlers import phones
from handlers.i18n import Texts
from handlers.settings import LANGUAGE_NAMES
from playground.sandbox.memory import MemoryProvider
from playground.server import Playground, render_entities, serve
from playground.stack import Stack
from providers.getatext.client import GetATextClient
from providers.gotsms.client import GotSmsClient
from tests.widths import BUDGET, LABEL_PX, PX_PER_UNIT, STACK_PX

try:
    from playwright.async_api import async_playwright, expect
except ImportError:  # pragma: no cover - depends on the machine
    async_playwright = expect = None

CHROMIUM = os.environ.get("PLAYGROUND_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--no-first-run"]

# CI installs both (.ci/run), so there a missing browser is a failure, not a skip.
IN_CI = bool(os.environ.get("CI"))
needs_playwright = pytest.mark.skipif(
    async_playwright is None and not IN_CI,
    reason="playwright is not installed (pip install playwright; its browsers are not needed)")
needs_chromium = pytest.mark.skipif(
    not Path(CHROMIUM).exists() and not IN_CI, reason=f"chromium not found at {CHROMIUM} (apt-get install -y chromium)")


# ------------------------------------------------------------------------------------------ rendering (no browser)
def test_render_entities_escapes_everything_and_applies_only_known_entities():
    text = "<script>alert(1)</script> 🔑 123456 & /start"
    # UTF-16 offsets: the key emoji is two code units.
    start = len("<script>alert(1)</script> 🔑 ".encode("utf-16-le")) // 2
    entities = [{"type": "code", "offset": start, "length": 6},
                {"type": "bold", "offset": 0, "length": 8},
                {"type": "text_link", "offset": 9, "length": 5, "url": "javascript:alert(1)"},
                {"type": "custom_emoji", "offset": 0, "length": 2, "custom_emoji_id": "x"}]
    out = render_entities(text, entities)
    assert "<script>" not in out and "javascript:" not in out
    assert out.startswith("<b>&lt;script&gt;</b>")
    assert '<code class="tg-code" title="Tap to copy">123456</code>' in out
    assert out.endswith(" &amp; /start")


def test_render_entities_keeps_overlapping_entities_well_nested():
    out = render_entities("abcdef", [{"type": "bold", "offset": 0, "length": 4},
                                     {"type": "italic", "offset": 2, "length": 4}])
    assert out == "<b>ab<i>cd</i></b><i>ef</i>"
    quote = render_entities("code\nbody <b>", [{"type": "blockquote", "offset": 5, "length": 8},
                                               {"type": "url", "offset": 0, "length": 4}])
    assert quote == 'code\n<blockquote class="tg-quote">body &lt;b&gt;</blockquote>'


def test_the_lines_the_playground_writes_follow_the_chats_language():
    """Service lines and the server's own answers: English or Russian as the chat's language is (English for any
    other), "You"/"Вы" when the person using the page did it; every Russian line without an English word."""
    from types import SimpleNamespace

    from playground.server import LINES, ME, MEMBER

    emu = SimpleNamespace(bot_user={"first_name": "Rent Bot"}, chats={}, topics={})
    pg = Playground(SimpleNamespace(emulator=emu), "/nonexistent/bot.sqlite3")
    you, sam = {"id": ME[0], "first_name": ME[1]}, {"id": MEMBER[0], "first_name": MEMBER[1]}
    paid = {"message_id": 1, "chat": {"id": ME[0]}, "from": you,
            "successful_payment": {"currency": "XTR", "total_amount": 50}}
    assert pg.render_message(ME[0], paid)["service"] == "You paid ⭐ 50 to Rent Bot"
    assert pg.render_message(ME[0], paid, "ru")["service"] == "Вы заплатили ⭐ 50 боту Rent Bot"
    assert pg.render_message(ME[0], paid, "de")["service"] == "You paid ⭐ 50 to Rent Bot"
    added = {"message_id": 2, "chat": {"id": -1}, "from": sam,
             "new_chat_members": [you, {"id": 7, "first_name": "Rent Bot", "is_bot": True}]}
    assert pg.render_message(-1, added)["service"] == "Sam added you, Rent Bot"
    assert pg.render_message(-1, added, "ru")["service"] == "Sam добавил(а) вас, Rent Bot"
    left = {"message_id": 3, "chat": {"id": -1}, "from": {}, "left_chat_member": {"id": 5}}
    assert pg.render_message(-1, left, "ru")["service"] == "Кто-то покинул(а) группу"
    closed = {"message_id": 4, "chat": {"id": -1}, "from": sam, "message_thread_id": 9, "forum_topic_closed": {}}
    assert pg.render_message(-1, closed, "ru")["service"] == "Sam закрыл(а) тему «удалённая тема»"
    for key, (english, russian) in LINES.items():
        fields = lambda text: sorted(re.findall(r"\{(\w+)\}", text))  # noqa: E731
        assert fields(english) == fields(russian), key
        assert not LATIN_WORD.search(re.sub(r"\{\w+\}", "", russian)), key


# ------------------------------------------------------------------------------------------ the page
@pytest.fixture
async def playground(tmp_path):
    stack = Stack(tmp_path / "sandbox", sandbox_code_after=3)
    await stack.start()
    runner = None
    try:
        pg = Playground(stack, stack.database_path)
        await pg.seed()
        runner, url = await serve(pg, "127.0.0.1", 0)
        yield stack, pg, url
    finally:
        if runner is not None:
            await runner.cleanup()
        await stack.stop()


@pytest.fixture
async def browser_page():
    problems: list[str] = []
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = await browser.new_context(viewport={"width": 860, "height": 980}, locale="en-US")
            page = await context.new_page()
            page.on("pageerror", lambda err: problems.append(f"page error: {err}"))
            page.on("console", lambda msg: msg.type == "error" and problems.append(f"console: {msg.text}"))
            yield page, problems
        finally:
            await browser.close()


def _money(label: str) -> Decimal:
    return Decimal(re.search(r"\$(\d+\.\d\d)", label).group(1))


def _shots(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("PLAYGROUND_SCREENSHOT_DIR") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@needs_playwright
@needs_chromium
async def test_page_rents_a_number_shows_the_pushed_code_and_refuses_a_group_member(playground, browser_page,
                                                                                    tmp_path):
    stack, pg, url = playground
    page, problems = browser_page
    shots = _shots(tmp_path)
    messages = page.locator("#messages")

    await page.goto(url)
    await expect(page.locator("#chat-title")).to_have_text("RentSMS Test Bot")
    await expect(page.locator("#start-button")).to_be_visible()  # an empty private chat, as on Telegram

    # /start -> the menu with the demo money credited at start
    await page.locator(".chip[data-cmd='/start']").click()
    menu = messages.locator(".row.in", has_text="Virtual numbers for SMS codes")
    await expect(menu).to_contain_text("$20.00")
    await expect(messages.locator(".row.out", has_text="/start")).to_be_visible()

    # Rent a number -> Telegram -> its country (the first time) -> the cheapest offer -> Rent for … : one message
    # edited in place
    await page.get_by_role("button", name="📱 Rent a number").click()
    await expect(menu).to_have_count(0)
    await expect(messages.locator(".row.in", has_text="Pick a service")).to_be_visible()
    await page.get_by_role("button", name="Telegram", exact=True).click()
    await expect(messages.locator(".row.in", has_text="pick a country")).to_be_visible(timeout=10_000)
    await page.get_by_role("button", name=re.compile("United States")).click()
    offers = messages.locator(".row.in", has_text="pick a plan (cheapest first)")
    await expect(offers).to_be_visible(timeout=10_000)
    labels = [t for t in await offers.locator(".kb-btn").all_inner_texts() if "$" in t]
    assert len(labels) >= 2, labels
    assert _money(labels[0]) == min(_money(t) for t in labels), labels
    await offers.locator(".kb-btn").first.click()
    await expect(messages.locator(".row.in", has_text="Confirm rental")).to_be_visible()
    await page.get_by_role("button", name=re.compile(r"Rent for \$")).click()

    card = messages.locator(".row.in", has_text="Number:").filter(has_text="Paid:")
    await expect(card).to_be_visible(timeout=15_000)
    await expect(card.locator(".meta .edited")).to_be_visible()  # the confirm screen became the card
    phone = (await card.locator(".tg-code").first.inner_text()).strip()
    assert re.search(r"\d{6,}", phone.replace(" ", "")), phone
    rental = pg.latest_active_rental(pg.me.id)
    assert rental and phones.display(rental["phone"]) == phone  # shown international and grouped

    # The sandbox provider sends a code ~3 s after the rent; the bot pushes it into the chat.
    pushed = messages.locator(".row.in", has_text="🔑")
    await expect(pushed).to_have_count(1, timeout=30_000)
    code = (await pushed.locator(".tg-code").first.inner_text()).strip()
    assert re.fullmatch(r"\d{4,8}", code), code
    fake = stack.gotsms if rental["provider"] == "gotsms" else stack.getatext
    assert code in [c for _, c in fake.auto_codes]
    await expect(pushed).to_contain_text(phone)

    # Tap-to-copy on the code
    await pushed.locator(".tg-code").first.click()
    await expect(page.locator("#toast")).to_have_text(f"Copied {code}")

    # 📩 Make an SMS arrive: a second code is pushed
    await page.locator("#sms-button").click()
    # the playground names it as stored
    await expect(page.locator("#toast")).to_contain_text(f"SMS sent to {rental['phone']}")
    await expect(pushed).to_have_count(2, timeout=30_000)
    second = (await pushed.nth(1).locator(".tg-code").first.inner_text()).strip()
    assert re.fullmatch(r"\d{4,8}", second) and second != code
    await page.screenshot(path=str(shots / "playground-private.png"))

    # The demo group: Sam (a member) is told at the first step that only admins rent with the group's money.
    await page.locator("#tab-group").click()
    await expect(page.locator("#chat-title")).to_have_text("Demo group")
    await expect(messages.locator(".row.in", has_text="Hello, Demo group")).to_be_visible()
    await expect(messages.locator(".service", has_text="You added RentSMS Test Bot")).to_be_visible()
    await page.locator(".as-option", has_text="Sam (member)").click()
    await expect(page.locator("#input")).to_have_attribute("placeholder", "Message as Sam")
    await page.locator(".chip[data-cmd='/rent']").click()
    sent = messages.locator(".row.in", has_text="/rent").filter(has=page.locator(".sender", has_text="Sam"))
    await expect(sent).to_be_visible()
    refused = messages.locator(".row.in", has_text="only the admins rent numbers")
    await expect(refused).to_be_visible(timeout=10_000)
    # ... above the services, which a member may still browse to ask the admins for a number.
    await expect(refused.locator(".kb-btn", has_text="Telegram")).to_be_visible()
    await page.screenshot(path=str(shots / "playground-group-refused.png"))
    assert pg.latest_active_rental(pg.group_id) is None
    alert = page.locator("#alert")

    # 📩 with no number in the group says so instead of failing
    await page.locator("#sms-button").click()
    await expect(alert.locator("#alert-text")).to_have_text("No active number in this chat yet: rent one first.")
    await page.locator("#alert-ok").click()

    # Back in the private chat, everything is still there; top up with Stars through the invoice's Pay button.
    await page.locator("#tab-private").click()
    await expect(pushed).to_have_count(2)
    await page.locator(".chip[data-cmd='/balance']").click()
    await page.get_by_role("button", name="➕ Top up").click()
    await page.get_by_role("button", name=re.compile(r"^50 ⭐")).click()
    invoice = messages.locator(".row.in", has_text="Balance top-up")
    await expect(invoice.locator(".invoice-amount")).to_have_text("⭐ 50")
    await invoice.get_by_role("button", name="Pay ⭐ 50").click()
    await expect(messages.locator(".service", has_text="You paid ⭐ 50")).to_be_visible(timeout=10_000)
    await expect(messages.locator(".row.in", has_text="Payment received")).to_be_visible(timeout=10_000)
    await page.screenshot(path=str(shots / "playground-topup.png"))
    assert problems == []



async def _open_plans(page, messages, *, wanted: re.Pattern, group: str) -> None:
    """/rent → Telegram → its plans (the country was picked before); into ``group`` when the list is grouped."""
    await page.locator(".chip[data-cmd='/rent']").click()
    await page.get_by_role("button", name="Telegram", exact=True).last.click()
    plans = messages.locator(".row.in", has_text="pick a plan").last
    await expect(plans).to_be_visible(timeout=10_000)
    if not await plans.get_by_role("button", name=wanted).count():
        await plans.get_by_role("button", name=re.compile(group)).click()
    await expect(messages.get_by_role("button", name=wanted).last).to_be_visible(timeout=10_000)


async def _type(page, text: str) -> None:
    await page.locator("#input").fill(text)
    await page.locator("#send").click()


@needs_playwright
@needs_chromium
async def test_page_rents_a_long_term_number_and_a_number_for_two_services_and_the_operator_bids(
        playground, browser_page, tmp_path):
    """GetAText's whole catalogue by tapping: a week-long number (held, then settled), one number for Telegram and
    WhatsApp (one charge, a code for each), and the operator's auction bid from its own chat."""
    stack, pg, url = playground
    page, problems = browser_page
    shots = _shots(tmp_path)
    messages = page.locator("#messages")
    await page.goto(url)
    await page.locator(".chip[data-cmd='/start']").click()
    await page.get_by_role("button", name="📱 Rent a number").click()
    await page.get_by_role("button", name="Telegram", exact=True).click()
    await page.get_by_role("button", name=re.compile("United States")).click()
    await expect(messages.locator(".row.in", has_text="pick a")).to_be_visible(timeout=10_000)

    # A long-term number: 🌐 (priced at most) on the plan list, the hold said before paying, auto-renew asked there.
    week = re.compile(r"^🌐 \$\d+\.\d\d · GetAText · 1 week$")
    plans = messages.locator(".row.in", has_text="pick a plan").last
    await expect(plans.get_by_role("button", name=week)).to_be_visible(timeout=15_000)  # once both providers answered
    await plans.get_by_role("button", name=week).click()
    confirm = messages.locator(".row.in", has_text="Confirm rental").last
    await expect(confirm).to_contain_text("Ending it early gives nothing back")
    # Auto-renew is on only while the balance covers the next period: $20 - $13.93 does not, and it says so.
    await confirm.get_by_role("button", name=re.compile("Auto-renew")).click()
    await expect(messages.locator(".row.in", has_text="Top up first to have it on").last).to_be_visible()
    await messages.get_by_role("button", name=re.compile(r"Rent, up to \$")).last.click()
    card = messages.locator(".row.in", has_text="A number for any service").last
    await expect(card).to_be_visible(timeout=15_000)
    await expect(card.get_by_role("button", name="⏹ End this number")).to_be_visible()
    [long_rental] = stack.getatext.long_rentals.values()
    assert long_rental.auto_renew is False and long_rental.period == "1 Week"
    pushed = messages.locator(".row.in", has_text="🔑")
    await expect(pushed).to_have_count(1, timeout=30_000)  # the sandbox's code, through the long-rental poll
    await page.screenshot(path=str(shots / "playground-long-term.png"))

    # One number for two services: the combined price while picking, one charge, one card, a code for each.
    more = re.compile("Same number, more services")
    await _open_plans(page, messages, wanted=more, group="Under a day")
    await messages.get_by_role("button", name=more).last.click()
    picker = messages.locator(".row.in", has_text="on one number").last
    await picker.get_by_role("button", name=re.compile(r"^▫️ WhatsApp")).click()
    await expect(messages.locator(".row.in", has_text="Telegram + WhatsApp").last).to_be_visible()
    await messages.get_by_role("button", name=re.compile(r"^Continue · \$")).last.click()
    await messages.get_by_role("button", name=re.compile(r"^✅ Rent all for \$")).last.click()
    shared = messages.locator(".row.in", has_text="• WhatsApp:").last  # spelt as the plan lists spell it
    await expect(shared).to_contain_text("Telegram + WhatsApp", timeout=15_000)
    await expect(pushed).to_have_count(3, timeout=30_000)
    assert {r.service.api_name for r in stack.getatext.rentals.values()} == {"telegram", "whatsapp"}
    assert len({r.number for r in stack.getatext.rentals.values()}) == 1
    await page.screenshot(path=str(shots / "playground-one-number-two-services.png"))

    # The operator's chat: the panel, the auctions, a bid confirmed with its total and placed.
    await page.locator("#tab-operator").click()
    await _type(page, "/admin")
    await page.get_by_role("button", name="🔨 Auctions").click()
    await expect(messages.locator(".row.in", has_text="Provider auctions")).to_be_visible(timeout=10_000)
    await _type(page, "/bid 1 0.60")
    await expect(messages.locator(".row.in", has_text="Bid on auction #1")).to_be_visible(timeout=10_000)
    await messages.get_by_role("button", name=re.compile(r"^✅ Bid · \$60\.00")).last.click()
    await expect(messages.locator(".row.in", has_text="Current bid: $0.60")).to_be_visible(timeout=10_000)
    assert stack.getatext.auctions[1].current_bid == Decimal("0.60")
    await page.screenshot(path=str(shots / "playground-operator-bid.png"))
    assert problems == []

# ------------------------------------------------------------------------------------------ at phone width
PHONE = {"width": 400, "height": 860}
# Every button of every bot message: cut (the label's ellipsis shows) when its text is wider than its box. And for
# each message with a keyboard, its width and each row's buttons and label width (tests/widths.py's measurements).
_CUT_LABELS = """() => [...document.querySelectorAll('#messages .kb-btn')]
    .filter((b) => b.scrollWidth > b.clientWidth).map((b) => b.textContent)"""
_ROW_WIDTHS = """() => [...document.querySelectorAll('#messages .stack')].filter((s) => s.querySelector('.keyboard'))
    .map((s) => [s.clientWidth, [...s.querySelectorAll('.kb-row')].map((r) => {
        const b = r.children[0], cs = getComputedStyle(b);
        return [r.children.length, b.clientWidth - parseFloat(cs.paddingLeft) - parseFloat(cs.paddingRight)];
    })])"""
# What a person reads in one message: its text without the time and "edited" the page adds, and its buttons.
_READ = """(row) => { const text = row.querySelector('.text'); const copy = text ? text.cloneNode(true) : null;
    if (copy) copy.querySelectorAll('.meta').forEach((m) => m.remove());
    return [copy ? copy.textContent : '', [...row.querySelectorAll('.kb-btn')].map((b) => b.textContent)]; }"""
LATIN_WORD = re.compile(r"[A-Za-z]{2,}")
COMMAND = re.compile(r"(?<![\w/])/[a-z_]+(@\w+)?|@\w+")  # /rent, /start@bot, @user: typed as they are


def latin_names(stack: Stack) -> set[str]:
    """Words a Russian screen may carry in Latin letters: names, not texts to translate. The sandbox's services and
    providers, SMS, UTC, Telegram, Stars, the English language's own name on its button, and the operator's note
    on the demo money (typed in /credit: data, not a text of the bot)."""
    services = [s["name"] for s in stack.gotsms.services.values()]
    services += [s.service_name for s in stack.getatext.services.values()]
    providers = (GotSmsClient.title, GetATextClient.title, MemoryProvider().title)
    words = {"SMS", "UTC", "Telegram", "Stars", LANGUAGE_NAMES["en"], "demo", "money"}
    return words | {w for name in (*services, *providers) for w in LATIN_WORD.findall(name)}


def line_of(t: Texts, key: str, line: int = 0) -> str:
    """The longest fixed piece of one line of a text, tags left out: a rendered message of that text contains it."""
    plain = re.sub(r"<[^>]+>", "", t(key)).split("\n")[line]
    return max((literal.strip() for literal, *_ in string.Formatter().parse(plain)), key=len)


class PhoneWalk:
    """Checks each screen as a person at 400 px would see it: no label cut, and in Russian no English word."""

    def __init__(self, page, names: set[str], shots: Path) -> None:
        self.page, self.names, self.shots = page, names, shots
        self.messages = page.locator("#messages")
        self.checked: list[str] = []
        self.rows_at_full_width: set[int] = set()  # buttons a row seen in a message as wide as it can be

    def newest(self, text: str):
        """The newest bot message containing ``text``, pinned by its id (an edit keeps it)."""
        return self.messages.locator(".row.in", has_text=text).last

    async def pin(self, text: str, timeout: float = 15_000):
        row = self.newest(text)
        await expect(row).to_be_visible(timeout=timeout)
        return self.messages.locator(f'.row.in[data-message-id="{await row.get_attribute("data-message-id")}"]')

    async def check(self, where: str, row, language: str) -> None:
        tag = f"[{language}] {where}"
        cut = await self.page.evaluate(_CUT_LABELS)
        assert cut == [], f"{tag}: labels cut at 400 px: {cut}"
        for width, rows in await self.page.evaluate(_ROW_WIDTHS):
            if width < STACK_PX:
                continue  # a narrow message: its labels are short (checked above as not cut)
            assert width == STACK_PX, f"{tag}: a message {width} px wide; tests/widths.py measured {STACK_PX}"
            for in_row, label_px in rows:
                # tests/widths.py's budget, at its px a unit, fits the label box measured there
                assert abs(label_px - LABEL_PX[in_row]) < 1 and label_px >= BUDGET[in_row] * PX_PER_UNIT, \
                    f"{tag}: {in_row} a row leave {label_px} px, tests/widths.py measured {LABEL_PX[in_row]}"
                self.rows_at_full_width.add(in_row)
        if language == "ru":
            text, labels = await row.evaluate(_READ)
            words = [w for piece in (text, *labels) for w in LATIN_WORD.findall(COMMAND.sub(" ", piece))]
            english = sorted(set(words) - self.names)
            assert english == [], f"{tag}: English words {english} in {text!r} {labels}"
        await self.page.screenshot(path=str(self.shots / f"phone-{language}-{len(self.checked):02d}.png"))
        self.checked.append(f"{tag}")

    async def press(self, row, label: str | re.Pattern, then: str, timeout: float = 15_000) -> None:
        """Tap a button of ``row``; the bot edits that message into the screen that contains ``then``."""
        await row.get_by_role("button", name=label, exact=isinstance(label, str)).first.click()
        await expect(row).to_contain_text(then, timeout=timeout)

    async def command(self, command: str, then: str):
        await self.page.locator(f".chip[data-cmd='{command}']").click()
        return await self.pin(then)


async def walk_at_phone_width(walk: PhoneWalk, language: str) -> None:
    """The main screens: menu, services, a service's countries and plans, confirm, the number card after renting,
    the pushed code, balance, settings and the time zone picker."""
    t = Texts(language)
    menu = await walk.command("/start", line_of(t, "welcome"))
    await walk.check("menu", menu, language)
    await walk.press(menu, t("menu-rent"), line_of(t, "services-title-one"))
    await walk.check("services", menu, language)
    plans, countries = line_of(t, "offers-title-country"), line_of(t, "countries-title")
    await walk.press(menu, "Telegram", re.compile(f"{re.escape(plans)}|{re.escape(countries)}"))
    if plans in await menu.inner_text():  # the country picked before: its plans, with a button to change it
        await walk.check("plans of the country picked before", menu, language)
        await walk.press(menu, re.compile(re.escape(line_of(t, "btn-country"))), countries)
    await walk.check("countries", menu, language)
    await walk.press(menu, re.compile(re.escape(country_label("USA", language))), plans)
    await walk.check("plans", menu, language)
    await menu.locator(".kb-btn").first.click()  # the cheapest plan
    await expect(menu).to_contain_text(line_of(t, "confirm-title"))
    await walk.check("confirm", menu, language)
    codes = walk.messages.locator(".row.in", has_text=line_of(t, "code-received"))
    before = await codes.count()
    await walk.press(menu, re.compile("^" + re.escape(line_of(t, "confirm-rent"))), line_of(t, "card-price"))
    await walk.check("number card", menu, language)
    await expect(codes).to_have_count(before + 1, timeout=30_000)  # the sandbox sends a code 3 s after renting
    await walk.check("pushed code", codes.last, language)

    balance = await walk.command("/balance", line_of(t, "balance-how-topup"))
    await walk.check("balance", balance, language)
    settings = await walk.command("/start", line_of(t, "welcome"))
    await walk.press(settings, t("menu-settings"), line_of(t, "settings-title", 1))
    await walk.check("settings", settings, language)
    await walk.press(settings, t("btn-time-zone"), line_of(t, "time-zone-title", 1))
    await walk.check("time zone picker", settings, language)
    await walk.press(settings, t("back"), line_of(t, "settings-title", 1))


@contextlib.asynccontextmanager
async def phone_page(url: str):
    """The page at a phone's 400 px, opened at ``url``: (page, problems), the page errors and console errors seen."""
    problems: list[str] = []
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = await (await browser.new_context(viewport=PHONE, locale="en-US")).new_page()
            page.on("pageerror", lambda err: problems.append(f"page error: {err}"))
            page.on("console", lambda msg: msg.type == "error" and problems.append(f"console: {msg.text}"))
            await page.goto(url)
            yield page, problems
        finally:
            await browser.close()


@needs_playwright
@needs_chromium
async def test_main_screens_fit_a_phone_in_english_and_russian(playground, tmp_path):
    """At 400 px every label of every keyboard is whole (the page cuts a label too long for its button with an
    ellipsis, style.css .kb-btn), in English and then, switched in Settings, in Russian, where no English word
    shows but names."""
    stack, pg, url = playground
    async with phone_page(url) as (page, problems):
        pill = await page.locator(".sandbox").bounding_box()
        assert pill["x"] + pill["width"] <= PHONE["width"] - 6, pill  # clear of the screen's edge, not touching it
        await page.locator("#start-button").click()
        walk = PhoneWalk(page, latin_names(stack), _shots(tmp_path))
        await walk_at_phone_width(walk, "en")

        # Settings -> Русский: the same message becomes the Russian settings screen, and every next one is Russian
        settings = await walk.pin(line_of(Texts("en"), "settings-title", 1))
        ru = Texts("ru")
        await walk.press(settings, ru("btn-lang", name=LANGUAGE_NAMES["ru"]), line_of(ru, "settings-title", 1))
        await walk.check("settings after switching", settings, "ru")
        # The page's own words follow the chat's language too: no "edited", "Message" or English chips.
        await expect(page.locator("#sms-button")).to_have_text("📩 Прислать СМС")
        await expect(page.locator("#input")).to_have_attribute("placeholder", "Сообщение")
        await expect(page.locator(".edited", has_text="edited")).to_have_count(0)
        await expect(page.locator(".edited").first).to_have_text("изменено")
        await walk_at_phone_width(walk, "ru")
    # 10 screens in English; in Russian the settings switched, the plans of the country picked before and the 10
    assert len(walk.checked) == 10 + 1 + 11, walk.checked
    assert walk.rows_at_full_width >= {1, 2}, "no message as wide as tests/widths.py measured it"
    assert problems == []


# ------------------------------------------------------------------------------------------ forwarding, 📩, Russian
_REPLY_KB_CUT = """() => [...document.querySelectorAll('#reply-kb .rk-btn')]
    .filter((b) => b.scrollWidth > b.clientWidth).map((b) => b.textContent)"""
_POST = """([path, body]) => fetch(path, {method: 'POST', headers: {'Content-Type': 'application/json'},
    body: JSON.stringify(body)}).then((r) => r.json())"""


async def _rent_cheapest(page, messages, t: Texts):
    """From the plan list on screen: a plan with a price, confirmed; returns the number's card, pinned by its id."""
    plans = messages.locator(".row.in", has_text=line_of(t, "offers-title-country")).last
    plan = plans.get_by_role("button", name=re.compile(r"\$\d+\.\d\d")).first
    await expect(plan).to_be_visible(timeout=15_000)  # once both providers answered
    await plan.click()
    confirm = messages.locator(".row.in", has_text=line_of(t, "confirm-title")).last
    await expect(confirm).to_be_visible(timeout=10_000)
    mid = await confirm.get_attribute("data-message-id")
    await confirm.get_by_role("button", name=re.compile("^" + re.escape(line_of(t, "confirm-rent")))).click()
    card = messages.locator(f'.row.in[data-message-id="{mid}"]')
    await expect(card).to_contain_text(line_of(t, "card-price"), timeout=15_000)  # the confirm screen became the card
    return card


@needs_playwright
@needs_chromium
async def test_at_phone_width_codes_forward_to_a_group_picked_on_the_reply_keyboard_and_sms_choose_their_number(
        playground, browser_page, tmp_path):
    """At 400 px: a number's codes forwarded to the demo group picked with the bot's reply keyboard (its
    request_chat button opens the picker of the chats the emulator offers; the keyboard goes once used), a code
    then arriving forwarded there; with two active numbers 📩 asks which; and in Russian the lines the playground
    writes itself are Russian."""
    from handlers.keyboards import FORWARD_PICK_REQUEST

    stack, pg, url = playground
    page, problems = browser_page
    await page.set_viewport_size(PHONE)
    shots = _shots(tmp_path)
    messages = page.locator("#messages")
    en, ru = Texts("en"), Texts("ru")
    reply_kb, sheet, toast = page.locator("#reply-kb"), page.locator("#sheet"), page.locator("#toast")
    pushed = messages.locator(".row.in", has_text=line_of(en, "code-received"))

    await page.goto(url)
    await page.locator("#start-button").click()
    await expect(messages.locator(".row.in", has_text=line_of(en, "welcome"))).to_be_visible(timeout=10_000)

    # Any reply keyboard the bot sends (here through the Bot API, as the bot would): its rows above the message
    # box, a row's buttons sharing its width; a plain button sends its label, and a one-time keyboard then goes.
    import httpx

    emu = stack.emulator
    async with httpx.AsyncClient() as http:
        sent = await http.post(f"{emu.base_url}/bot{emu.token}/sendMessage", json={
            "chat_id": pg.me.id, "text": "Sure?", "reply_markup": {
                "keyboard": [[{"text": "Yes"}, {"text": "No"}], [{"text": "Share my phone", "request_contact": True}]],
                "one_time_keyboard": True, "resize_keyboard": True, "input_field_placeholder": "Yes or no"}})
        assert sent.json()["ok"], sent.text
    await expect(reply_kb.locator(".rk-row")).to_have_count(2)
    yes, no = reply_kb.get_by_role("button", name="Yes"), reply_kb.get_by_role("button", name="No")
    assert (await yes.bounding_box())["width"] == (await no.bounding_box())["width"]
    await expect(reply_kb.get_by_role("button", name="Share my phone")).to_be_disabled()  # not in the playground
    await expect(page.locator("#input")).to_have_attribute("placeholder", "Yes or no")
    await no.click()
    await expect(messages.locator(".row.out", has_text="No")).to_be_visible()
    await expect(reply_kb).to_be_hidden()
    await expect(page.locator("#input")).to_have_attribute("placeholder", "Message")

    # The demo group hides its codes (its admin, in its Settings): a code forwarded there must follow that rule.
    await page.locator("#tab-group").click()
    await page.locator("#input").fill("/settings")
    await page.locator("#send").click()
    group_settings = await PhoneWalk(page, set(), shots).pin(line_of(en, "settings-title", 1))
    await group_settings.get_by_role("button", name=en("btn-spoiler-off"), exact=True).click()
    await expect(group_settings.get_by_role("button", name=en("btn-spoiler-on"), exact=True)).to_be_visible()
    await page.locator("#tab-private").click()

    await page.locator(".chip[data-cmd='/start']").click()
    menu = await PhoneWalk(page, set(), shots).pin(line_of(en, "welcome"))
    await menu.get_by_role("button", name=en("menu-rent")).click()
    await page.get_by_role("button", name="Telegram", exact=True).click()
    await page.get_by_role("button", name=re.compile("United States")).click()
    card = await _rent_cheapest(page, messages, en)
    await expect(pushed).to_have_count(1, timeout=30_000)  # the sandbox's own code, 3 s after renting
    [first] = pg.active_rentals(pg.me.id)

    # The card's 📤 → To a chat: the bot asks with a reply keyboard, shown above the message box with its hint.
    await card.get_by_role("button", name=en("btn-forward"), exact=True).click()
    await expect(card).to_contain_text(en("forward-state-none"))
    await expect(reply_kb).to_be_hidden()
    await card.get_by_role("button", name=en("btn-forward-chat"), exact=True).click()
    await expect(card).to_contain_text(line_of(en, "forward-ask-chat"))
    pick = reply_kb.get_by_role("button", name=en("btn-forward-pick-group"), exact=True)
    await expect(pick).to_be_visible(timeout=10_000)
    await expect(page.locator("#input")).to_have_attribute("placeholder", en("forward-picker-placeholder"))
    kb_box, composer_box = await reply_kb.bounding_box(), await page.locator("#composer").bounding_box()
    assert kb_box["y"] + kb_box["height"] <= composer_box["y"], (kb_box, composer_box)  # above the message box
    assert kb_box["x"] >= 0 and kb_box["x"] + kb_box["width"] <= PHONE["width"], kb_box
    assert await page.evaluate(_REPLY_KB_CUT) == []
    await page.screenshot(path=str(shots / "phone-forward-reply-keyboard.png"))

    # Its request_chat button: the picker lists the chats the emulator offers for it, by title; one is picked.
    await pick.click()
    await expect(sheet).to_be_visible()
    offered = [c["title"] for c in stack.emulator.shareable_chats(pg.me.id, FORWARD_PICK_REQUEST)]
    assert pg.group_title in offered
    await expect(sheet.locator(".sheet-option")).to_have_text(offered)
    await page.screenshot(path=str(shots / "phone-forward-chat-picker.png"))
    await sheet.get_by_role("button", name=pg.group_title, exact=True).click()
    await expect(sheet).to_be_hidden()
    await expect(messages.locator(".service", has_text=f"You shared the chat “{pg.group_title}”")).to_be_visible()
    told = en("forward-set-chat", target=pg.group_title)
    await expect(messages.locator(".row.in", has_text=re.sub(r"<[^>]+>", "", told))).to_be_visible(timeout=10_000)
    await expect(reply_kb).to_be_hidden()  # one-time, and removed by the bot
    await expect(page.locator("#input")).to_have_attribute("placeholder", "Message")  # the keyboard's hint gone too

    # 📩 with one active number: at once, as before; the code comes here and, forwarded, into the group.
    await page.locator("#sms-button").click()
    await expect(toast).to_contain_text(f"SMS sent to {first['phone']}")
    await expect(pushed).to_have_count(2, timeout=30_000)
    await page.locator("#tab-group").click()
    forwarded = messages.locator(".row.in", has_text=line_of(en, "forward-from"))
    await expect(forwarded).to_have_count(1, timeout=30_000)
    # Under the group's spoiler, with a copy button that does not show the code; revealed by a tap.
    await page.locator("#tab-private").click()
    sms_code = (await pushed.last.locator(".tg-code").first.inner_text()).strip()
    assert re.fullmatch(r"\d{4,8}", sms_code), sms_code
    await page.locator("#tab-group").click()
    hidden = forwarded.locator(".tg-spoiler", has_text=sms_code)
    await expect(hidden.first).to_be_visible()
    await expect(forwarded.get_by_role("button", name=en("btn-copy-code"), exact=True)).to_be_visible()
    await expect(forwarded.get_by_role("button", name=re.compile(re.escape(sms_code)))).to_have_count(0)
    await hidden.first.click()
    await expect(hidden.first).to_have_class(re.compile("shown"))
    await page.screenshot(path=str(shots / "phone-forwarded-in-group.png"))

    # A second number: 📩 now asks which of the two, each named by its number and service.
    await page.locator("#tab-private").click()
    await page.locator(".chip[data-cmd='/rent']").click()
    await messages.get_by_role("button", name="Telegram", exact=True).last.click()
    await _rent_cheapest(page, messages, en)
    await expect(pushed).to_have_count(3, timeout=30_000)
    active = pg.active_rentals(pg.me.id)
    assert len(active) == 2 and active[1]["id"] == first["id"]
    await page.locator("#sms-button").click()
    await expect(sheet.locator("#sheet-title")).to_have_text("Which number gets the SMS?")
    await expect(sheet.locator(".sheet-option")).to_have_text(
        [f"{phones.display(r['phone'])} · {r['service_name']}" for r in active])
    await page.screenshot(path=str(shots / "phone-sms-chooser.png"))
    assert await page.evaluate(_REPLY_KB_CUT) == []
    # The first number (the forwarded one): its code here and in the group.
    await sheet.get_by_role("button", name=re.compile(re.escape(phones.display(first["phone"])))).click()
    await expect(toast).to_contain_text(f"SMS sent to {first['phone']}")
    await expect(pushed).to_have_count(4, timeout=30_000)
    await expect(pushed.last).to_contain_text(phones.display(first["phone"]))
    # Only a rental of this chat that is active: another chat's number is refused, nothing sent.
    refused = await page.evaluate(_POST, ["/api/sms", {"chat_id": pg.group_id, "rental_id": first["id"]}])
    assert refused == {"ok": False, "error": "That number is no longer active in this chat."}
    await page.locator("#tab-group").click()
    await expect(forwarded).to_have_count(2, timeout=30_000)

    # In Russian (Settings → Русский): the playground's own lines too, no English word but names.
    await page.locator("#tab-private").click()
    await page.locator(".chip[data-cmd='/start']").click()
    menu = await PhoneWalk(page, set(), shots).pin(line_of(en, "welcome"))
    await menu.get_by_role("button", name=en("menu-settings")).click()
    await expect(menu).to_contain_text(line_of(en, "settings-title", 1))
    await menu.get_by_role("button", name=ru("btn-lang", name=LANGUAGE_NAMES["ru"])).click()
    await expect(menu).to_contain_text(line_of(ru, "settings-title", 1), timeout=10_000)
    await expect(page.locator("#sms-button")).to_have_text("📩 Прислать СМС")
    shared = messages.locator(".service", has_text=f"Вы поделились чатом «{pg.group_title}»")
    await expect(shared).to_be_visible(timeout=10_000)
    await expect(messages.locator(".service", has_text="shared")).to_have_count(0)
    titles = (pg.group_title, pg.forum_title, stack.emulator.bot_user["first_name"])  # the chats' names
    names = {w for name in titles for w in LATIN_WORD.findall(name)}
    for service_line in await messages.locator(".service").all_inner_texts():
        assert set(LATIN_WORD.findall(service_line)) <= names, service_line
    # ... and the page around the chat: its tabs, the header (its avatar's initials aside), the chips (commands as
    # typed), the message box.
    chrome = await page.evaluate("""() => [...document.querySelectorAll('.switch, .chat-title-block, .chips, .sandbox')]
        .map((el) => el.innerText + ' ' + (el.title || '')).join(' ') + ' '
        + document.querySelector('#input').placeholder""")
    assert set(LATIN_WORD.findall(COMMAND.sub(" ", chrome))) <= names | latin_names(stack), chrome
    pill = await page.locator(".sandbox").bounding_box()
    assert pill["x"] + pill["width"] <= PHONE["width"] - 6, pill  # the longer Russian word still clear of the edge
    await page.locator("#sms-button").click()
    await expect(sheet.locator("#sheet-title")).to_have_text("На какой номер прислать СМС?")
    await expect(sheet.locator("#sheet-cancel")).to_have_text("Отмена")
    await page.screenshot(path=str(shots / "phone-ru-sms-chooser.png"))
    for text in await sheet.locator(".sheet-option").all_inner_texts():
        assert set(LATIN_WORD.findall(text)) <= latin_names(stack), text
    await sheet.locator("#sheet-cancel").click()
    await expect(sheet).to_be_hidden()
    await shared.scroll_into_view_if_needed()
    await page.screenshot(path=str(shots / "phone-ru-shared-line.png"))
    assert problems == []


# ------------------------------------------------------------------------------------------ DNS rebinding
async def test_playground_serves_loopback_hosts_and_same_origin_only():
    import httpx

    runner, url = await serve(None, "127.0.0.1", 0)  # the guard runs before any handler needs the sandbox
    port = url.rsplit(":", 1)[1]
    try:
        async with httpx.AsyncClient(base_url=url) as client:
            assert (await client.get("/")).status_code == 200
            assert (await client.get("/", headers={"Host": f"localhost:{port}"})).status_code == 200
            rebound = await client.get("/", headers={"Host": f"evil.example:{port}"})
            assert rebound.status_code == 421
            cross = await client.post("/api/send", json={}, headers={"Origin": "http://evil.example"})
            assert cross.status_code == 403
            same = await client.post("/api/sms", content=b"x", headers={"Origin": url})
            assert same.status_code == 415  # past the guard: refused by the handler for not being JSON
    finally:
        await runner.cleanup()
