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

import os
import re
import shutil
from decimal import Decimal
from pathlib import Path

import pytest

from handlers import phones
from playground.server import Playground, render_entities, serve
from playground.stack import Stack

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
    async_playwright is None and not IN_CI, reason="playwright is not installed (pip install playwright; its browsers are not needed)")
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
    await expect(page.locator("#toast")).to_contain_text(f"SMS sent to {rental['phone']}")  # the playground names it as stored
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
    await expect(refused.locator(".kb-btn", has_text="My numbers")).to_be_visible()
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
    await page.get_by_role("button", name="⭐ Top up with Stars").click()
    await page.get_by_role("button", name=re.compile(r"^50 ⭐")).click()
    invoice = messages.locator(".row.in", has_text="Balance top-up")
    await expect(invoice.locator(".invoice-amount")).to_have_text("⭐ 50")
    await invoice.get_by_role("button", name="Pay ⭐ 50").click()
    await expect(messages.locator(".service", has_text="You paid ⭐ 50")).to_be_visible(timeout=10_000)
    await expect(messages.locator(".row.in", has_text="Payment received")).to_be_visible(timeout=10_000)
    await page.screenshot(path=str(shots / "playground-topup.png"))
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
