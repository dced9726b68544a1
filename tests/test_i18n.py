"""Locales: every key in every language, every key the code asks for exists, every screen renders in en and ru."""
from __future__ import annotations

import ast
import logging
import re
import string
import tomllib
from datetime import UTC, datetime
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path

import pytest
from aiogram.methods import AnswerPreCheckoutQuery, EditMessageText, SendDocument, SendInvoice, SetMyCommands
from aiogram.types import (
    Chat,
    ChatMemberLeft,
    ChatMemberMember,
    ChatMemberUpdated,
    Message,
    PreCheckoutQuery,
    SuccessfulPayment,
    Update,
)
from babel.numbers import list_currencies

from bot.app import COMMANDS, register_commands
from bot.background import Background
from bot.outbound.pace import Limits
from bot.services import choosing
from handlers import views
from handlers.callbacks import CardCb
from handlers.i18n import LOCALES_DIR, Texts, catalog
from handlers.settings import LANGUAGE_NAMES
from playground.recording import BOT_USER, Person, next_update_id
from playground.sandbox.memory import MemoryProvider
from providers import BillingType, Choice, Offer, errors
from storage import ledger, notes
from tests.conftest import ADMIN_ID, credit, open_world
from tests.test_money_news import tell
from tests.widths import too_wide

ROOT = Path(__file__).resolve().parent.parent
LANGS = ["en", "ru"]
CYRILLIC = re.compile("[А-Яа-яЁё]")
# Latin words a Russian screen may show: names, never English. The texts' own: SMS, UTC (a zone's offset),
# Telegram (its Stars are "звёзды"), and each language named in itself in the language picker ("English")...
TEXT_NAMES = {"SMS", "UTC", "Telegram", "CSV", *LANGUAGE_NAMES.values()}
# ... and those of the data the tests give the bot: services, the provider, carriers, people, a group.
DATA_NAMES = {"WhatsApp", "Whatsapp", "Instagram", "GetAText", "Google", "MemSMS", "AT&T", "Verizon", "Alice", "Ann",
              "Max", "Op", "Team"}
# Tags Telegram accepts in HTML parse mode.
TELEGRAM_TAGS = {"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "span", "tg-spoiler", "a", "code",
                 "pre", "blockquote", "tg-emoji"}

# Values an f-string key like t(f"status-{rental.status}") can take.
RENTAL_STATUSES = {"pending", "active", "finished", "cancelled", "expired", "failed"}
LEDGER_KINDS = set(ledger.KINDS)


def load(language: str) -> dict[str, str]:
    with (LOCALES_DIR / f"{language}.toml").open("rb") as file:
        return tomllib.load(file)


def placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}


# -- the catalogues themselves ------------------------------------------------------------------------------


def test_ru_and_en_have_the_same_keys_and_placeholders():
    en, ru = load("en"), load("ru")
    assert sorted(set(en) - set(ru)) == [], "keys missing in ru.toml"
    assert sorted(set(ru) - set(en)) == [], "keys in ru.toml that en.toml does not have"
    differing = {key: (sorted(placeholders(en[key])), sorted(placeholders(ru[key])))
                 for key in en if placeholders(en[key]) != placeholders(ru[key])}
    assert differing == {}, "placeholders differ (en, ru)"


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.opened: list[str] = []
        self.seen: list[str] = []
        self.problems: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag not in TELEGRAM_TAGS:
            self.problems.append(f"unsupported tag <{tag}>")
        self.opened.append(tag)
        self.seen.append(tag)

    def handle_endtag(self, tag):
        if not self.opened or self.opened.pop() != tag:
            self.problems.append(f"unbalanced </{tag}>")


@pytest.mark.parametrize("language", LANGS)
def test_every_text_is_valid_telegram_html_with_the_same_tags_as_english(language):
    en, texts = load("en"), load(language)
    for key, template in texts.items():
        parser = _Tags()
        parser.feed(template)
        parser.close()
        assert parser.problems == [] and parser.opened == [], f"{language}:{key}: {parser.problems or parser.opened}"
        reference = _Tags()
        reference.feed(en[key])
        assert sorted(parser.seen) == sorted(reference.seen), f"{language}:{key}: HTML tags differ from en"
        filled = template.format_map({name: "X" for name in placeholders(template)})
        assert "{" not in filled and "}" not in filled, f"{language}:{key}: stray brace"
        assert filled.strip(), f"{language}:{key}: empty"


def latin_words(text: str, names: set[str] = frozenset()) -> list[str]:
    """Latin words in a Russian text that are not names: English, on a Russian screen.

    Not prose, so taken out first: what is in <code>, <pre> and <blockquote> (codes, numbers, an SMS as the
    service sent it), tags and entities, commands and usernames, and «quoted» words, which are someone else's
    (the user's search, an operator's note, a provider's or Telegram's reply, marked as theirs)."""
    text = re.sub(r"<(code|pre|blockquote)>.*?</\1>", " ", text, flags=re.S)
    text = re.sub(r"<[^>]+>|&[a-z]+;|«[^»]*»", " ", text)
    text = re.sub(r"[/@][A-Za-z0-9_@{}]+", " ", text)
    words = re.findall(r"[A-Za-z]+(?:[&'’-][A-Za-z]+)*", text)
    return [word for word in words if word not in TEXT_NAMES | names and word not in CURRENCY_CODES]


# ISO 4217 codes ("XTR" for Stars, "EUR" on a card top-up) are codes, not English: from CLDR via Babel.
CURRENCY_CODES = frozenset(list_currencies()) | {"XTR"}


def test_every_russian_text_is_translated():
    en, ru = load("en"), load("ru")
    fixed = re.compile(r"\{[a-z_]+\}|<[^>]+>|&[a-z]+;|/[a-z_@{}]+|SMS|UTC|Telegram")
    for key, template in ru.items():
        # Texts made of placeholders, numbers and emoji only need no translation.
        if re.search(r"[A-Za-z]{2,}", fixed.sub("", en[key])):
            assert CYRILLIC.search(fixed.sub("", template)), f"ru:{key} looks untranslated: {template!r}"
        # Every Russian text, shown or not in the walks below: no Latin word but the texts' own names.
        assert latin_words(re.sub(r"\{[a-z_]+\}", "", template)) == [], f"ru:{key} has English: {template!r}"


def test_the_latin_word_rule_tells_english_from_names():
    assert latin_words("аренда Telegram · 1 month") == ["month"]
    assert latin_words("Сигнал пробуждения отправлен: Wake up request sent.") == ["Wake", "up", "request", "sent"]
    assert latin_words("корректировка adjustment", DATA_NAMES) == ["adjustment"]
    assert latin_words("Оператор: <b>AT&T</b>", DATA_NAMES) == []
    assert latin_words("<code>+1 555 0100</code> · /rent@rent_test_bot · @alice · «tele» · UTC+03:00") == []
    assert latin_words("<blockquote>Your Telegram code: 55123</blockquote> Получено") == []


# -- every key the code asks for exists ---------------------------------------------------------------------


def _source_files() -> list[Path]:
    return sorted((ROOT / "handlers").glob("*.py")) + sorted((ROOT / "bot").rglob("*.py"))


def _dynamic_values() -> dict[str, set[str]]:
    statuses = RENTAL_STATUSES | set(views.STATUS_ICONS)
    migrations = (ROOT / "storage" / "migrations.py").read_text(encoding="utf-8")
    found = re.search(r"kind IN \(('topup'[^)]*)\)", migrations)
    kinds = LEDGER_KINDS | (set(re.findall(r"'([a-z_]+)'", found.group(1))) if found else set())
    groups = {name for name, _ in choosing.GROUPS}
    return {"status-": statuses, "ledger-": kinds, "cmd-": set(COMMANDS), "group-": groups, "note-": set(notes.WHY)}


def _keys_of(node: ast.expr, where: str, dynamic: dict[str, set[str]]) -> set[str]:
    """The keys a key expression can evaluate to; names and attributes are left to the literal sweep."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return {node.value}
    if isinstance(node, ast.IfExp):
        return _keys_of(node.body, where, dynamic) | _keys_of(node.orelse, where, dynamic)
    if isinstance(node, ast.JoinedStr):
        parts = node.values
        assert (len(parts) == 2 and isinstance(parts[0], ast.Constant) and isinstance(parts[1], ast.FormattedValue)), \
            f"{where}: unsupported f-string key {ast.unparse(node)}"
        prefix = parts[0].value
        assert prefix in dynamic, f"{where}: f-string key {ast.unparse(node)} with values this test does not know"
        return {prefix + value for value in dynamic[prefix]}
    return set()


def _callee(node: ast.Call) -> str:
    func = node.func
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    if isinstance(func, ast.Call) and isinstance(func.func, ast.Name):
        return func.func.id + "()"  # Texts(language)("key")
    return ""


def used_keys() -> dict[str, set[str]]:
    """key -> places in the code asking for it."""
    dynamic = _dynamic_values()
    en_prefixes = {key.split("-")[0] for key in load("en") if "-" in key}
    kebab = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)+$")
    used: dict[str, set[str]] = {}
    plurals: set[str] = set()  # t.plural("key", n): the texts are key-one, key-few, ..., key-other

    def add(keys: set[str], where: str) -> None:
        for key in keys:
            used.setdefault(key, set()).add(where)

    for path in _source_files():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        rel = path.relative_to(ROOT)
        for node in ast.walk(tree):
            where = f"{rel}:{getattr(node, 'lineno', '?')}"
            if isinstance(node, ast.Call):
                name = _callee(node)
                if name in ("t", "Texts()") and node.args:
                    add(_keys_of(node.args[0], where, dynamic), where)
                elif name == "_tell" and len(node.args) > 1:  # bot/jobs.py: self._tell(rental, "notify-...")
                    add(_keys_of(node.args[1], where, dynamic), where)
                elif name == "plural" and node.args:
                    plurals.update(_keys_of(node.args[0], where, dynamic))
            elif isinstance(node, ast.ClassDef):  # UserFacingError subclasses: key = "error-..."
                for statement in node.body:
                    if (isinstance(statement, ast.Assign) and len(statement.targets) == 1
                            and isinstance(statement.targets[0], ast.Name) and statement.targets[0].id == "key"):
                        add(_keys_of(statement.value, f"{rel}:{statement.lineno}", dynamic),
                            f"{rel}:{statement.lineno}")
            elif (isinstance(node, ast.Constant) and isinstance(node.value, str) and kebab.match(node.value)
                  and node.value.split("-")[0] in en_prefixes and node.value not in notes.WHY):
                # (a ledger note's reason, notes.make("switch-failed"), is not a key: its text is "note-<why>")
                # Keys passed around in variables: CARD_BUTTONS, `key = "btn-..." if ... else "btn-..."`.
                add({node.value}, where)
    for base in plurals:  # every language has the "other" form; the rest are the language's own
        used[f"{base}-other"] = used.pop(base, set())
    return used


def test_the_key_scan_finds_the_keys_it_should():
    used = used_keys()
    for expected in ("welcome", "home", "error-stale", "error-only-admins", "error-stars-refund", "status-failed",
                     "ledger-adjustment", "cmd-settings", "btn-history", "notify-expired", "admin-panel"):
        assert expected in used, expected


@pytest.mark.parametrize("language", LANGS)
def test_every_key_used_in_code_exists(language):
    texts = load(language)
    missing = {key: sorted(places) for key, places in used_keys().items() if key not in texts}
    assert missing == {}, f"keys used in code but missing in {language}.toml"


# -- every screen through the production Dispatcher ----------------------------------------------------------


def literal_part(template: str) -> str:
    """The longest fixed piece of a template: present in any text rendered from it."""
    pieces = [literal for literal, _, _, _ in string.Formatter().parse(template)]
    return max((p.strip() for p in pieces), key=len)


class Screens:
    """Checks every text a user sees in one language."""

    def __init__(self, language: str, caplog: pytest.LogCaptureFixture) -> None:
        self.language = language
        self.t = Texts(language)
        self.caplog = caplog
        self.seen: list[str] = []

    def no_crash(self, where: str) -> None:
        """FeedbackMiddleware turns a crash (a KeyError for a missing text too) into error-generic: fail loudly."""
        crashes = [r for r in self.caplog.records if r.name == "handlers.common" and r.levelno >= logging.ERROR]
        assert crashes == [], f"[{self.language}] {where}: a handler crashed:\n" + "\n".join(
            f"{r.getMessage()}\n{r.exc_text}" for r in crashes)

    def label(self, key: str, **params) -> str:
        return self.t(key, **params)

    def text(self, where: str, text: str | None, *, key: str | None = None) -> str:
        tag = f"[{self.language}] {where}"
        self.no_crash(where)
        assert text and text.strip(), f"{tag}: empty text"
        assert "{" not in text and "}" not in text, f"{tag}: unreplaced placeholder in {text!r}"
        assert text != self.t("error-generic"), f"{tag}: the handler crashed (error-generic shown)"
        if key is not None:
            assert literal_part(self.t(key)) in text, f"{tag}: expected the {key!r} text, got {text!r}"
        if self.language == "ru":
            assert CYRILLIC.search(text), f"{tag}: no Cyrillic in {text!r}"
            assert latin_words(text, DATA_NAMES) == [], f"{tag}: English in {text!r}"
        self.seen.append(where)
        return text

    def screen(self, where: str, person: Person, message: Message | None = None, *, key: str | None = None) -> str:
        message = message or person.screen()
        self.text(where, message.text, key=key)
        for label in person.buttons(message):
            assert label and "{" not in label, f"[{self.language}] {where}: bad button {label!r}"
            if self.language == "ru":
                assert latin_words(label, DATA_NAMES) == [], f"[ru] {where}: English button {label!r}"
        self.keyboard(where, message.reply_markup)
        return message.text

    def keyboard(self, where: str, markup) -> None:
        """Every button fits its row at phone width (tests/widths.py)."""
        assert too_wide(markup) == [], f"[{self.language}] {where}: labels too wide at 400 px"

    def has_buttons(self, where: str, person: Person, *keys: str) -> None:
        labels = person.buttons()
        for key in keys:
            assert self.t(key) in labels, f"[{self.language}] {where}: no {self.t(key)!r} button in {labels}"

    def answer(self, where: str, answer, *, key: str) -> None:
        assert answer is not None and answer.text, f"[{self.language}] {where}: no notice"
        self.text(where + " (notice)", answer.text, key=key)


@pytest.fixture
def screens(caplog):
    """Screens(language), failing on any handler crash, also one no screen check saw."""
    caplog.set_level(logging.ERROR, logger="handlers.common")
    made: list[Screens] = []

    def make(language: str) -> Screens:
        made.append(Screens(language, caplog))
        return made[-1]

    yield make
    for checker in made:
        checker.no_crash("end of test")


async def pre_checkout(dp, bot, person: Person, payload: str, stars: int, charge_id: str) -> None:
    query = PreCheckoutQuery(id=f"pcq-{charge_id}", from_user=person.user, currency="XTR", total_amount=stars,
                             invoice_payload=payload)
    await dp.feed_update(bot, Update(update_id=next_update_id(), pre_checkout_query=query))


async def pay(dp, bot, person: Person, payload: str, stars: int, charge_id: str) -> None:
    """Telegram's side of paying an invoice: pre-checkout, then the successful payment message."""
    await pre_checkout(dp, bot, person, payload, stars, charge_id)
    payment = SuccessfulPayment(currency="XTR", total_amount=stars, invoice_payload=payload,
                                telegram_payment_charge_id=charge_id, provider_payment_charge_id="")
    message = Message(message_id=30_000_000, date=datetime.now(UTC), chat=person.chat, from_user=person.user,
                      successful_payment=payment)
    await dp.feed_update(bot, Update(update_id=next_update_id(), message=message))


@pytest.mark.parametrize("lang", LANGS)
async def test_every_private_screen_in_language(lang, app, telegram, session, provider, screens):
    dp, bot = telegram
    s = screens(lang)
    user = Person(dp, bot, session, 1001, name="Alice", language=lang)

    # /start: a new chat takes the user's Telegram language.
    await user.send("/start")
    s.screen("/start", user, key="welcome")
    assert (await app.chats.get(user.chat_id)).language == lang
    s.has_buttons("main menu", user, "menu-rent", "menu-numbers", "menu-balance", "menu-help", "menu-settings")

    # Each main menu button, and back to the menu.
    await user.press(s.label("menu-numbers"))
    s.screen("my numbers (empty)", user, key="numbers-empty")
    s.has_buttons("my numbers (empty)", user, "menu-rent", "menu-balance")  # the empty list offers the menu
    await user.press(s.label("menu-balance"))
    s.screen("balance (empty)", user, key="balance-empty-ledger")
    s.has_buttons("balance", user, "menu-topup", "home")
    await user.press(s.label("home"))
    await user.press(s.label("menu-help"))
    s.screen("help", user, key="help")
    await user.press(s.label("home"))
    await user.press(s.label("menu-settings"))
    s.screen("settings", user, key="settings-title")
    assert s.label("btn-lang", name=LANGUAGE_NAMES["en"]) in user.buttons()
    assert s.label("btn-lang", name=LANGUAGE_NAMES["ru"]) in user.buttons()
    await user.press(s.label("btn-time-zone"))
    s.screen("time zone picker", user, key="time-zone-title")
    s.answer("time zone set", await user.press("Москва" if lang == "ru" else "Moscow"), key="time-zone-set")
    assert "UTC+03:00" in s.screen("settings, zone set", user, key="settings-time-zone")
    await user.press(s.label("home"))

    # Rent: services, a service, offers, confirm without money.
    await user.press(s.label("menu-rent"))
    s.screen("services", user, key="services-title-one")
    await user.press("Telegram")
    s.screen("offers", user, key="offers-title-country")  # one country: on the title, not on each plan
    await user.press("$1.10")
    s.screen("confirm, balance short", user, key="confirm-short")
    assert provider.rent_calls == 0

    # Top up from the short-of-money screen: the Stars amounts, then an invoice.
    await user.press(s.label("menu-topup"))
    topup = s.screen("top-up", user, key="topup-title")
    topup_message = user.screen()
    assert "⭐" in topup and len(user.buttons()) == len(app.topups.amounts) + 1
    await user.press("100 ⭐")
    [invoice] = [c for c in session.calls if isinstance(c, SendInvoice)]
    assert invoice.currency == "XTR" and invoice.chat_id == user.chat_id and invoice.prices[0].amount == 100
    s.text("invoice title", invoice.title, key="invoice-title")
    # a private chat: "your balance"
    s.text("invoice description", invoice.description, key="invoice-description-private")
    s.text("invoice price label", invoice.prices[0].label, key="invoice-label")
    await pay(dp, bot, user, invoice.payload, 100, "charge-1")
    [accepted] = [c for c in session.calls if isinstance(c, AnswerPreCheckoutQuery)]
    assert accepted.ok
    assert await tell(app, bot) == 1  # money news: sent by its own loop, in the chat's language
    s.text("payment received", session.last(user.chat_id).text, key="topup-done")
    await pre_checkout(dp, bot, user, "topup:1001:7", 7, "charge-2")  # an amount the bot does not offer
    refused = [c for c in session.calls if isinstance(c, AnswerPreCheckoutQuery)][-1]
    assert not refused.ok
    s.text("pre-checkout refused", refused.error_message, key="precheckout-refused")
    await credit(app, user.chat_id, 500)
    await user.press(s.label("back"), topup_message)
    edited = session.messages[user.chat_id][topup_message.message_id]
    assert literal_part(s.label("ledger-topup")) in s.screen("balance with ledger", user, edited, key="balance-recent")
    await user.press(s.label("home"), edited)
    s.screen("menu from the balance", user, session.messages[user.chat_id][topup_message.message_id], key="welcome")

    # Confirm with money, rent, the number card.
    await user.send("/start")  # a fresh menu below the payment message
    await user.press(s.label("menu-rent"))
    await user.press("Telegram")
    await user.press("$1.10")
    s.screen("confirm", user, key="confirm-title")
    await user.press(s.label("confirm-rent", price="$1.10"))
    card = s.screen("number card", user, key="card-phone")
    assert s.label("status-active") in card and "+1 555" in card
    s.has_buttons("card", user, "btn-refresh", "btn-cancel", "btn-finish", "btn-history", "btn-auto-on")

    # Each card action the in-memory provider supports.
    s.answer("refresh", await user.press(s.label("btn-refresh")), key="card-refreshed")
    s.screen("card after refresh", user, key="card-no-codes")
    await user.press(s.label("btn-history"))
    s.screen("SMS history (empty)", user, key="history-empty")
    await user.press(s.label("btn-card"))
    [rental], _ = await app.rentals.rentals.for_chat(user.chat_id)
    provider.inject_sms(rental.provider_rental_id, "Your Telegram code: 55123")
    background = Background(app, bot, Limits.unlimited())
    await background.pollers[provider.name].tick()
    await background.deliverer.deliver_once()
    [pushed] = [m for m in session.sent(user.chat_id) if "55123" in m.text]
    s.text("pushed code", pushed.text, key="code-received")
    s.keyboard("pushed code", pushed.reply_markup)
    await user.press(s.label("btn-open-number"))  # on the pushed code: it becomes the card
    s.screen("card with codes", user, key="card-codes")
    await user.press(s.label("btn-history"))
    s.screen("SMS history", user, key="history-title")
    await user.press(s.label("btn-card"))
    s.screen("card from history", user, key="card-phone")
    await user.press(s.label("btn-auto-on"))
    s.screen("auto-renew confirm", user, key="auto-renew-confirm")
    s.answer("auto-renew on", await user.press(s.label("btn-auto-confirm", price="$1.10")), key="auto-renew-set-on")
    s.screen("card, auto-renew on", user, key="card-auto-renew-on")
    s.answer("auto-renew off", await user.press(s.label("btn-auto-off")), key="auto-renew-set-off")
    await user.press(s.label("btn-finish"))
    s.screen("finish asked first", user, key="finish-confirm")
    s.answer("finish", await user.press(s.label("btn-finish-confirm")), key="finished")
    assert s.label("status-finished") in s.screen("finished card", user, key="card-phone")
    s.answer("rent again", await user.press(s.label("btn-renew", price="$1.10")), key="renewed")  # today's price
    assert s.label("status-active") in s.screen("renewed card", user, key="card-phone")
    await user.press(s.label("btn-cancel"))
    s.screen("cancel asked first", user, key="cancel-confirm")
    s.answer("cancel", await user.press(s.label("btn-cancel-confirm", price="$1.10")), key="cancelled")
    assert s.label("status-cancelled") in s.screen("cancelled card", user, key="card-phone")
    s.screen("cancelled card says the money came back", user, key="card-refunded")

    # My numbers, balance with every kind of entry, top-up screen from the balance.
    await user.press(s.label("menu-numbers"))
    s.screen("my numbers", user, key="numbers-title-one")
    await user.press("Telegram")
    s.screen("card from my numbers", user, key="card-phone")
    await user.send("/numbers")
    s.screen("/numbers", user, key="numbers-title-one")
    await user.send("/balance")
    balance = s.screen("/balance", user, key="balance-title")
    for kind in ("adjustment", "charge", "refund"):
        assert literal_part(s.label(f"ledger-{kind}")) in balance
    await user.press(s.label("btn-history-all"))
    s.screen("money history", user, key="money-history-title")
    await user.press(s.label("btn-history-csv"))
    s.text("money history file", session.calls_of(SendDocument)[-1].caption, key="history-csv-caption")
    await user.press(s.label("menu-balance"))
    await user.press(s.label("menu-topup"))
    s.screen("top-up from balance", user, key="topup-title")

    # Commands and typed searches.
    await user.send("/rent")
    s.screen("/rent", user, key="services-title-one")
    await user.send("/rent tele")
    s.screen("/rent tele", user, key="services-search-one")
    await user.send("zzzz")
    s.screen("search, nothing found", user, key="services-none")
    await user.send("/help")
    s.screen("/help", user, key="help")
    await user.send("/settings")
    s.screen("/settings", user, key="settings-title")
    await user.send("/frobnicate")
    s.screen("unknown command", user, key="error-unknown-command")
    await user.send("/admin")
    s.screen("/admin, not an operator", user, key="error-not-allowed")
    answer = await user.press_data("c:99999:cancel:x")
    s.answer("out-of-date button", answer, key="error-stale")

    # The operator panel.
    admin = Person(dp, bot, session, ADMIN_ID, name="Op", language=lang)
    await admin.send("/admin")
    s.screen("/admin", admin, key="admin-panel")
    await admin.press(s.label("btn-days", days=30))
    s.screen("admin panel, 30 days", admin, key="admin-panel")
    await admin.send(f"/ledger {user.chat_id}")
    s.screen("/ledger", admin, key="admin-ledger-title")
    await admin.send("/ledger")
    s.screen("/ledger usage", admin, key="admin-ledger-usage")
    await admin.send("/credit nonsense")
    s.screen("/credit usage", admin, key="admin-usage")
    await admin.send(f"/credit {user.chat_id} 1")
    s.screen("/credit", admin, key="admin-adjusted")
    await admin.send("/markup lots")
    s.screen("/markup usage", admin, key="admin-markup-usage")
    await admin.send("/markup 10")
    s.screen("/markup", admin, key="admin-markup-set")
    await admin.send("/refund_stars")
    s.screen("/refund_stars usage", admin, key="admin-refund-usage")
    await admin.send("/refund_stars no-such-charge")
    s.screen("/refund_stars refused", admin, key="error-stars-refund")
    await admin.send("/ledger 424242")
    s.screen("/ledger unknown chat", admin, key="error-unknown-chat")


@pytest.mark.parametrize("lang", LANGS)
async def test_command_descriptions_in_language(lang, telegram, session, screens):
    _, bot = telegram
    s = screens(lang)
    await register_commands(bot)
    [registered] = [c for c in session.calls if isinstance(c, SetMyCommands)
                    and c.language_code == (None if lang == "en" else lang)]
    assert [c.command for c in registered.commands] == list(COMMANDS)
    for command in registered.commands:
        s.text(f"/{command.command} description", command.description, key=f"cmd-{command.command}")


@pytest.mark.parametrize("lang", LANGS)
async def test_every_group_screen_in_language(lang, app, telegram, session, provider, screens):
    dp, bot = telegram
    s = screens(lang)
    group = -100555
    ann = Person(dp, bot, session, 2001, chat_id=group, name="Ann", language=lang)
    max_ = Person(dp, bot, session, 2002, chat_id=group, name="Max", language=lang)
    session.admins.add((group, ann.user.id))

    joined = ChatMemberUpdated(chat=Chat(id=group, type="supergroup", title="Team"), from_user=ann.user,
                               date=datetime.now(UTC), old_chat_member=ChatMemberLeft(user=BOT_USER),
                               new_chat_member=ChatMemberMember(user=BOT_USER))
    await dp.feed_update(bot, Update(update_id=next_update_id(), my_chat_member=joined))
    s.text("group welcome", session.last(group).text, key="group-welcome")
    assert (await app.chats.get(group)).language == lang

    await ann.send("/start@rent_test_bot")
    s.screen("group /start", ann, key="welcome-group")
    await credit(app, group, 500)
    await max_.send("/rent@rent_test_bot telegram")
    s.screen("group /rent, member may not spend", max_, key="rent-not-yours")
    await ann.send("/rent@rent_test_bot telegram")
    s.screen("group /rent telegram", ann, key="services-search-one")
    await ann.press("Telegram")
    await ann.press("$1.10")
    s.screen("group confirm", ann, key="confirm-title")
    s.answer("member may not spend", await max_.press(s.label("confirm-rent", price="$1.10"), ann.screen()),
             key="error-only-admins")

    await ann.send("/settings@rent_test_bot")
    s.screen("group settings", ann, key="settings-group-rent")
    assert s.label("settings-who-admins") in ann.screen().text
    await ann.press(s.label("btn-members-can-rent"))
    s.screen("letting members rent: their limit asked", ann, key="members-rent-question")
    await ann.press(s.label("btn-open-no-limit"))
    s.screen("group settings, all may rent", ann, key="settings-group-rent")
    assert s.label("settings-who-all") in ann.screen().text
    s.has_buttons("group settings", ann, "btn-only-admins-rent")
    await ann.press(s.label("btn-time-zone"))
    s.screen("group time zone picker", ann, key="time-zone-title")
    await ann.press(s.label("back"))
    s.screen("group settings from the picker", ann, key="settings-time-zone")

    await max_.send("/rent@rent_test_bot telegram")
    await max_.press("Telegram")
    await max_.press("$1.10")
    await max_.press(s.label("confirm-rent", price="$1.10"))
    card = s.screen("group card", max_, key="card-rented-by")
    assert "@max" in card

    # Groups as teams: a limit, a cap, members' top-ups; a request, approved and declined; the ledger; a balance.
    await ann.send("/settings@rent_test_bot")
    await ann.press(s.label("btn-limit-none"))
    s.screen("team settings, a limit", ann, key="settings-requests")
    assert s.label("settings-who-limited", limit="$1.00", period=s.label("period-day")) in ann.screen().text
    await ann.press(s.label("btn-per-day"))
    s.screen("team settings, a week", ann, key="settings-cap-none")
    await ann.press(s.label("btn-member-cap-none"))
    s.screen("team settings, a cap", ann, key="settings-cap", )
    await ann.press(s.label("btn-top-up-members-yes"))
    s.screen("team settings, members' top-ups off", ann, key="settings-top-up-no")
    s.has_buttons("team settings", ann, "btn-per-week", "btn-top-up-members-no")
    await max_.send("/balance@rent_test_bot")
    s.screen("group balance of a member with a limit", max_, key="balance-member-limit")
    s.answer("member's top-up refused", await max_.press(s.label("menu-topup")), key="error-only-admins-top-up")
    await max_.send("/rent@rent_test_bot telegram")
    await max_.press("Telegram")
    await max_.press("$1.10")
    s.has_buttons("group confirm with a request", max_, "btn-request")
    s.screen("group confirm of a member over the limit", max_, key="confirm-over-limit")
    s.answer("request sent", await max_.press(s.label("btn-request")), key="request-sent")
    s.screen("a member's request", max_, key="request-until")
    await ann.press(s.label("btn-approve", price="$1.10"))
    s.screen("a request approved", ann, key="request-approved")
    await max_.send("/rent@rent_test_bot telegram")
    await max_.press("Telegram")
    await max_.press("$1.10")
    await max_.press(s.label("btn-request"))
    s.answer("a member may not decide", await max_.press(s.label("btn-decline")), key="error-only-admins-decide")
    await ann.press(s.label("btn-decline"))
    s.screen("a request declined", ann, key="request-declined")
    await ann.send("/ledger@rent_test_bot")
    ledger = s.screen("group ledger", ann, key="team-ledger-title")
    assert "@max" in ledger and "@ann" in ledger
    await ann.send("/balance@rent_test_bot")
    s.screen("group balance of an admin", ann, key="balance-member-limit")

    # Codes that hide themselves: under a spoiler, deleted after N minutes, the card's hidden codes sent privately.
    await ann.send("/settings@rent_test_bot")
    await ann.press(s.label("btn-spoiler-off"))
    s.screen("group settings, codes under a spoiler", ann, key="settings-spoiler-on")
    await ann.press(s.label("btn-delete-never"))
    s.screen("group settings, codes deleted", ann, key="settings-delete-after")
    s.has_buttons("code settings", ann, "btn-spoiler-on")
    rental = next(r for r in (await app.rentals.rentals.for_chat(group))[0] if r.status == "active")
    background = Background(app, bot, Limits.unlimited())
    provider.inject_sms(rental.provider_rental_id, "Telegram code: 31337")
    await background.pollers[provider.name].tick()
    await background.deliverer.deliver_once()
    pushed = session.last(group)
    s.screen("a code under a spoiler", ann, pushed, key="code-first-line-spoiler")
    await ann.press_data(CardCb(id=rental.id).pack())
    s.screen("a card with a code under a spoiler", ann, key="card-code-line-spoiler")
    async with app.db.transaction() as conn:
        await conn.execute("UPDATE sms SET delivered_at = '2000-01-01T00:00:00.000+00:00'")
    assert await background.hider.run_once() == 1
    await ann.press_data(CardCb(id=rental.id).pack())
    s.screen("a card with a hidden code", ann, key="card-code-line-hidden")
    s.has_buttons("a card with a hidden code", ann, "btn-show-hidden")
    await ann.press(s.label("btn-history"))
    s.screen("SMS history with a hidden code", ann, key="card-sms-line-hidden")
    await ann.press_data(CardCb(id=rental.id).pack())
    s.answer("hidden codes sent privately", await ann.press(s.label("btn-show-hidden")), key="private-codes-sent")
    s.text("hidden codes in a private message", session.sent(2001)[-1].text, key="private-codes-title")
    zoe = Person(dp, bot, session, 2009, chat_id=group, name="Zoe", language=lang)
    s.answer("hidden codes refused to a member", await zoe.press(s.label("btn-show-hidden"), ann.screen()),
             key="error-only-renter-or-admins")
    session.blocked.add(2001)
    s.answer("hidden codes: no private chat", await ann.press(s.label("btn-show-hidden")),
             key="error-private-refused")

    # A topic per number: switched on in a group that is no forum, said at the tap and on the screen.
    await ann.send("/settings@rent_test_bot")
    s.screen("group settings, no topic per number", ann, key="settings-topics-off")
    s.answer("a topic per number in no forum", await ann.press(s.label("btn-topics-off")),
             key="settings-topics-not-forum")
    s.screen("group settings, a topic per number", ann, key="settings-topics-on")
    s.screen("group settings, topics off in the group", ann, key="settings-topics-not-forum")
    s.has_buttons("topic settings", ann, "btn-topics-on")


async def test_switching_language_in_settings_changes_the_following_screens(app, alice, screens):
    en, ru = screens("en"), screens("ru")
    await alice.send("/start")
    english_home = en.screen("/start", alice, key="welcome")
    await alice.press(en.label("menu-help"))
    english_help = en.screen("help", alice, key="help")
    await alice.press(en.label("home"))
    await alice.press(en.label("menu-settings"))
    en.screen("settings", alice, key="settings-title")

    await alice.press(en.label("btn-lang", name=LANGUAGE_NAMES["ru"]))
    assert (await app.chats.get(alice.chat_id)).language == "ru"
    ru.screen("settings after switching", alice, key="settings-title")
    assert LANGUAGE_NAMES["ru"] in alice.screen().text
    await alice.press(ru.label("home"))
    russian_home = ru.screen("menu after switching", alice, key="welcome")
    assert russian_home != english_home
    ru.has_buttons("menu after switching", alice, "menu-rent", "menu-numbers", "menu-balance", "menu-help")
    await alice.press(ru.label("menu-help"))
    assert ru.screen("help after switching", alice, key="help") != english_help
    await alice.send("/balance")
    ru.screen("/balance after switching", alice, key="balance-title")
    await alice.send("/rent")
    ru.screen("/rent after switching", alice, key="services-title-one")

    # And back: the next screens are English again.
    await alice.send("/settings")
    await alice.press(ru.label("btn-lang", name=LANGUAGE_NAMES["en"]))
    assert (await app.chats.get(alice.chat_id)).language == "en"
    await alice.send("/start")
    assert en.screen("/start after switching back", alice, key="welcome") == english_home


def test_language_names_cover_every_locale():
    assert set(LANGUAGE_NAMES) >= {path.stem for path in LOCALES_DIR.glob("*.toml")}
    assert catalog("ru") == load("ru")


class WorldwideProvider(MemoryProvider):
    """Sells Telegram in two countries, ten lengths in one of them, and takes every wish a rent may carry."""

    LENGTHS = (20, 60, 1440, 3 * 1440, 10080, 2 * 10080, 43200, 3 * 43200, 6 * 43200, 525600)

    def __init__(self) -> None:
        super().__init__(rent_choices=list(Choice), carriers=("at&t", "verizon"))

    async def list_offers(self, service):
        offers = [Offer(self.name, f"{service.id}-us-{m}", service.id, service.name, Decimal(m) / 1000 + 1,
                        BillingType.DURATION, m, "", "USA") for m in self.LENGTHS]
        offers.append(Offer(self.name, f"{service.id}-ca", service.id, service.name, Decimal("1.20"),
                            BillingType.DURATION, 1440, "", "Canada"))
        return offers


@pytest.mark.parametrize("lang", LANGS)
async def test_every_choosing_screen_in_language(lang, settings, session, screens):
    async with open_world(settings, {"memsms": WorldwideProvider()}, session) as world:
        app = world.app
        s = screens(lang)
        user = world.person(1001, name="Alice", language=lang)
        await user.send("/start")
        await credit(app, user.chat_id, 50_000)
        await user.press(s.label("menu-rent"))
        await user.press("Telegram")
        s.screen("country picker", user, key="countries-title")
        await user.send("кан" if lang == "ru" else "can")
        s.screen("country search", user, key="countries-search")
        await user.press("🇨🇦")
        s.screen("plans of a country", user, key="offers-title-country")
        await user.press("🌍")
        await user.press("🇺🇸")
        s.screen("duration groups", user, key="groups-hint")
        await user.press(s.label("group-days"))
        s.screen("plans of a group", user, key="offers-title-country")
        await user.press(user.buttons()[0])
        s.screen("confirm with wishes", user, key="confirm-area-any")
        await user.press(s.label("btn-area"))
        s.screen("area prompt", user, key="area-ask")
        await user.send("123")
        s.screen("area refused", user, key="error-bad-area-code")
        await user.send("212")
        s.screen("confirm, area set", user, key="confirm-area")
        await user.press(s.label("btn-carrier"))
        s.screen("carrier picker", user, key="carrier-title")
        await user.press("Verizon")
        s.screen("confirm, carrier set", user, key="confirm-carrier")
        await user.press(s.label("btn-cap"))
        s.screen("cap picker", user, key="cap-title")
        await user.press(user.buttons()[1])
        text = s.screen("confirm, cap set", user, key="confirm-cap")
        assert literal_part(s.label("confirm-carrier")) in text and "212" in text


@pytest.mark.parametrize("lang", LANGS)
async def test_every_phone_screen_in_language(lang, app, telegram, session, provider, screens, settings):
    """Help with its refund rule and support contact, an old Rent button, a plan sold out at the last tap."""
    dp, bot = telegram
    s = screens(lang)
    settings.support_contact = "@shop_support"
    user = Person(dp, bot, session, 1001, name="Alice", language=lang)
    await user.send("/start")
    await credit(app, user.chat_id, 5000)
    await user.press(s.label("menu-help"))
    assert "@shop_support" in s.screen("help with support", user, key="help-refunds")
    await user.press(s.label("home"))
    await user.press(s.label("menu-rent"))
    await user.press("Telegram")
    await user.press("$1.10")
    confirm = user.screen()
    rent = user.data_of(s.label("confirm-rent", price="$1.10"))
    await user.press_data(rent, confirm)
    s.screen("card with its refund rule", user, key="card-phone")
    await user.press_data(rent, confirm)  # the same Rent button again
    s.screen("pressed before", user, key="rent-pressed-before")
    await user.send("/rent telegram")
    await user.press("Telegram")
    await user.press("$1.10")
    provider.fail_rent = errors.NothingAvailableError("none", provider=provider.name)
    await user.press(s.label("confirm-rent", price="$1.10"))
    s.screen("sold out, fresh plans", user, key="plan-sold-out")
    await user.send("/frobnicate")
    s.screen("unknown command", user, key="error-unknown-command")
    s.has_buttons("unknown command", user, "home")


@pytest.mark.parametrize("lang", LANGS)
async def test_every_set_screen_in_language(lang, settings, session, screens):
    """One number for several services: the picker, a set picked, its confirm, its card, a refused set."""
    from playground.sandbox.getatext import FakeGetAText
    from providers.getatext import GetATextClient

    async with FakeGetAText(api_key="k", rate_limit_interval=0.0) as fake:
        fake.enforce_rate_limit = False
        fake.apart = {frozenset({"telegram", "instagram"})}
        client = GetATextClient("k", base_url=fake.url, timeout=2, backoff=0.01, rent_interval=0.0, poll_interval=0.0)
        async with open_world(settings, {"getatext": client}, session) as world:
            app = world.app
            s = screens(lang)
            user = world.person(1001, name="Alice", language=lang)
            await user.send("/start")
            await credit(app, user.chat_id, 5000)
            await user.press(s.label("menu-rent"))
            await user.press("Telegram")
            await user.press(s.label("btn-set-start"))
            s.screen("set picker", user, key="set-title")
            await user.press("Whatsapp")
            s.screen("set picked", user, key="set-picked")
            await user.press(s.label("btn-set-continue", price="$1.11"))
            s.screen("set confirm", user, key="set-confirm-line")
            await user.press(s.label("btn-set-rent", price="$1.11"))
            s.screen("set card", user, key="set-state-waiting")
            await user.send("/numbers")
            s.screen("numbers with a set", user, key="numbers-title-one")
            await user.send("/rent telegram")
            await user.press("Telegram")
            await user.press(s.label("btn-set-start"))
            await user.press("Instagram")
            await user.press(s.label("btn-set-continue", price="$1.05"))
            answer = await user.press(s.label("btn-set-rent", price="$1.05"))
            s.answer("set refused", answer, key="error-set-refused")
            text = s.screen("set confirm, refused", user, key="set-confirm-line")
            assert "«" in text or "“" in text  # the provider's words, quoted as its own
            await user.press(s.label("btn-set-change"))
            s.screen("set picker, refused", user, key="set-title")


@pytest.mark.parametrize("lang", LANGS)
async def test_every_business_screen_in_language(lang, app, telegram, session, settings, screens, tmp_path):
    """Transfers, a ban said once then short, /paysupport, /terms (the shipped file and none), the exports."""
    dp, bot = telegram
    s = screens(lang)
    settings.support_contact = "@shop_support"
    group = -100555
    ann_private = Person(dp, bot, session, 2001, name="Ann", language=lang)
    ann = Person(dp, bot, session, 2001, chat_id=group, name="Ann", language=lang)
    op = Person(dp, bot, session, ADMIN_ID, name="Op", language=lang)
    session.admins.add((group, 2001))
    await ann_private.send("/start")
    await op.send("/start")
    await ann.send("/start@rent_test_bot")
    await credit(app, 2001, 2000)
    await ann.send("/transfer 5")
    s.screen("transfer confirm in a group", ann, key="transfer-confirm-group")
    await ann.press(s.label("btn-transfer", amount="$5.00"))
    s.screen("transfer done in a group", ann, key="transfer-done-group")
    await ann.send("/transfer 100")
    s.screen("transfer over the own balance in a group", ann, key="error-transfer-short-group")
    await ann_private.send(f"/transfer 5 {ADMIN_ID}")
    s.screen("transfer confirm", ann_private, key="transfer-confirm")
    await ann_private.press(s.label("btn-transfer", amount="$5.00"))
    s.screen("transfer done", ann_private, key="transfer-done")
    await ann.send("/transfer")
    s.screen("transfer usage", ann, key="error-bad-arguments")
    await ann_private.send("/balance")
    s.screen("balance with the id for transfers", ann_private, key="balance-your-id")
    await ann_private.send("/paysupport")
    s.screen("paysupport", ann_private, key="paysupport")
    s.has_buttons("paysupport", ann_private, "btn-support")
    await ann_private.send("/terms")
    s.screen("terms, shipped", ann_private)
    settings.terms_dir = str(tmp_path / "none")
    await ann_private.send("/terms")
    s.screen("terms, none", ann_private, key="terms-missing")
    settings.support_contact = ""  # no contact: a message to the operator through the bot
    await ann_private.send("/paysupport")
    s.screen("paysupport, no contact", ann_private, key="paysupport-no-contact")
    await ann_private.press(s.label("btn-write-operator"))
    s.screen("a message to the operator asked", ann_private, key="support-ask")
    await ann_private.send("Где моё пополнение?")
    s.screen("a message to the operator sent", ann_private, key="support-sent")
    await op.send("/reply 2001 Уже в пути")
    s.screen("the operator's answer sent", op, key="support-reply-sent")
    s.text("the operator's answer", session.sent(2001)[-1].text, key="support-answer")
    await op.send("/ban 2001 fraud")
    s.screen("ban done", op, key="banned")
    await ann_private.send("/balance")
    answer = await ann_private.press(s.label("menu-topup"))
    s.answer("banned, told why", answer, key="error-banned")
    answer = await ann_private.press(s.label("menu-topup"))
    s.answer("banned, again", answer, key="error-banned-again")
    await op.send("/unban 2001")
    s.screen("unban done", op, key="unbanned")
    await op.send("/ban")
    s.screen("ban usage", op, key="error-bad-arguments")
    await op.send("/export 2001")
    s.text("export caption", session.calls_of(SendDocument)[-1].caption, key="export-ledger")
    await op.send("/revenue 7")
    s.text("revenue caption", session.calls_of(SendDocument)[-1].caption, key="export-revenue")


@pytest.mark.parametrize("lang", LANGS)
async def test_every_alert_screen_in_language(lang, app, telegram, session, provider, screens):
    """🔔 from a plan list: the choice, saved, the limit, /alerts, cancelled, the fired message, its Rent."""
    from bot.jobs import Jobs
    from bot.outbound.telegram_out import ChatSender

    dp, bot = telegram
    s = screens(lang)
    app.alerts.per_chat = 2
    user = Person(dp, bot, session, 1001, name="Alice", language=lang)
    provider.set_stock("tg", 0)
    await user.send("/start")
    await credit(app, user.chat_id, 5000)
    await user.press(s.label("menu-rent"))
    await user.press("Telegram")
    s.has_buttons("plans with the bell", user, "btn-alert")
    await user.press(s.label("btn-alert"))
    s.screen("alert choice", user, key="alert-choice")
    plan = views.duration_text(s.t, "duration", "1 day", 1440)
    await user.press(s.label("btn-alert-back", plan=plan))
    s.screen("alert saved", user, key="alert-saved")
    await user.press(s.label("back"))
    for price in ("$0.99", "$0.88"):
        await user.press(s.label("btn-alert"))
        await user.press(s.label("btn-alert-under", price=price))
        if price == "$0.99":
            await user.press(s.label("back"))
    s.screen("alerts full", user, key="alerts-full")
    await user.send("/alerts")
    s.screen("alerts list", user, key="alerts-title")
    await user.press(s.label("btn-alert-cancel", alert=s.t("alert-label-under", service="Telegram", price="$0.99")))
    s.screen("alert cancelled", user, key="alerts-title")
    await user.press(s.label("btn-alert-cancel", alert=s.t("alert-label-back", service="Telegram", plan=plan)))
    s.screen("no alerts", user, key="alerts-none")
    await user.send("/rent telegram")
    await user.press("Telegram")
    await user.press(s.label("btn-alert"))
    await user.press(s.label("btn-alert-back", plan=plan))
    provider.set_stock("tg", 5)
    async with app.db.transaction() as conn:
        await conn.execute("UPDATE catalogue_cache SET expires_at = expires_at - 61")
    app.catalogue.cache.forget()  # what the bot read before is read again, as it is now
    jobs = Jobs(app.db, app.rentals, app.chats, app.sms_repo, ChatSender(bot, app.chats),
                app.renderer, alerts=app.alerts)
    assert await jobs.check_alerts() == 1
    s.screen("alert fired", user, key="alert-fired-back")
    await user.press(s.label("confirm-rent", price="$1.10"))
    s.screen("rented from an alert", user, key="card-phone")

    async def unlisted(service):  # the service named, no plan of it listed
        return []

    provider.list_offers = unlisted
    async with app.db.transaction() as conn:
        await conn.execute("UPDATE catalogue_cache SET expires_at = expires_at - 61")
    app.catalogue.cache.forget()  # what the bot read before is read again, as it is now
    await user.send("/rent telegram")
    await user.press("Telegram")
    s.screen("a service without plans", user, key="offers-none")
    await user.press(s.label("btn-alert-any"))
    s.screen("alert on a service saved", user, key="alert-saved")
    assert s.t("alert-label-any", service="Telegram") in user.screen().text


@pytest.mark.parametrize("lang", LANGS)
async def test_every_fallback_chain_screen_in_language(lang, settings, session, screens):
    """The confirm screen's "if no code, try the next plan", the chain's card running, stopped, out of plans and
    done (bot/services/fallback_chain.py), against the GetAText sandbox."""
    from datetime import timedelta

    from playground.sandbox.getatext import FakeGetAText
    from providers.getatext import GetATextClient
    from storage.models import db_time, utcnow

    async with FakeGetAText(api_key="k", cancel_after_seconds=0, rate_limit_interval=0.0) as fake:
        fake.enforce_rate_limit = False
        fake.set_delivery("telegram", "never")
        client = GetATextClient("k", base_url=fake.url, timeout=5, backoff=0.01, rent_interval=0.0, poll_interval=0.0)
        client.min_age_to_cancel = 0
        async with open_world(settings, {"getatext": client}, session) as world:
            app = world.app
            background = Background(app, world.bot, Limits.unlimited())
            s = screens(lang)
            user = world.person(1001, name="Alice", language=lang)
            await user.send("/start")
            await credit(app, user.chat_id, 5000)

            async def to_confirm():
                await user.send("/rent")
                await user.press("Telegram")
                await user.press("$0.50")

            await to_confirm()
            s.has_buttons("confirm of an activation", user, "btn-fallback-on")
            await user.press(s.label("btn-fallback-on"))
            s.screen("confirm with the fallback chain", user, key="confirm-fallback")
            s.screen("confirm with the fallback chain, kept on", user, key="fallback-remembered")
            await user.press(s.label("btn-fallback-countries-off"))
            s.screen("confirm, other countries too", user, key="fallback-where-any")
            await user.press(user.buttons()[0])  # Rent
            s.screen("chain card, running", user, key="chain-current")
            s.screen("chain card, running (title)", user, key="chain-title")
            client.min_age_to_cancel = 60  # the provider does not cancel it yet: stopping first
            s.answer("chain stopping", await user.press(s.label("btn-chain-stop")), key="chain-stopping-answer")
            card = user.screen()
            s.screen("chain card, stopping", user, key="chain-stopping")
            s.screen("chain card, stopping (title)", user, key="chain-title-stopping")
            client.min_age_to_cancel = 0
            await background.step_chains()
            card = session.messages[user.chat_id][card.message_id]
            s.screen("chain card, stopped", user, card, key="chain-stopped")
            s.screen("chain card, stopped (title)", user, card, key="chain-title-stopped")

            await to_confirm()
            s.screen("confirm, the fallback chain on from before", user, key="fallback-remembered")
            await user.press(user.buttons()[0])
            card = user.screen()
            [attempt] = await app.chains.repo.attempts(2)
            async with app.db.transaction() as conn:
                await conn.execute("UPDATE rentals SET active_from = ?, active_till = ? WHERE id = ?",
                                   (db_time(utcnow() - timedelta(minutes=9)), db_time(utcnow() + timedelta(seconds=30)),
                                    attempt.id))
            await background.step_chains()
            s.screen("chain card, no plan left", user, session.messages[user.chat_id][card.message_id],
                     key="chain-exhausted-none")
            s.screen("chain card, no plan left (title)", user, session.messages[user.chat_id][card.message_id],
                     key="chain-title-exhausted")

            fake.set_delivery("telegram", None)
            await to_confirm()
            await user.press(user.buttons()[0])
            card = user.screen()
            [attempt] = await app.chains.repo.attempts(3)
            await fake.inject_code(attempt.provider_rental_id, "52817")
            await background.pollers["getatext"].tick()
            await background.step_chains()
            s.screen("chain card, done", user, session.messages[user.chat_id][card.message_id], key="chain-done")
            s.screen("chain card, done (title)", user, session.messages[user.chat_id][card.message_id],
                     key="chain-title-done")


@pytest.mark.parametrize("lang", LANGS)
async def test_every_forwarding_screen_in_language(lang, app, telegram, session, provider, screens):
    """📤 Forward codes (issue 18): the card's button and line, the screen, its prompts, refusals and notices."""
    from storage.models import db_time, utcnow
    dp, bot = telegram
    s = screens(lang)
    user = Person(dp, bot, session, 1001, name="Alice", language=lang)
    await user.send("/start")
    await credit(app, user.chat_id, 500)
    await user.press(s.label("menu-rent"))
    await user.press("Telegram")
    await user.press("$1.10")
    await user.press(s.label("confirm-rent", price="$1.10"))
    s.has_buttons("card", user, "btn-forward")

    async def forward_screen() -> None:
        await user.send("/numbers")
        await user.press("Telegram")
        await user.press(s.label("btn-forward"))

    await user.press(s.label("btn-forward"))
    s.screen("forward screen", user, key="forward-title")
    s.has_buttons("forward screen", user, "btn-forward-chat", "btn-forward-url", "btn-forward-rotate", "btn-card")
    await user.press(s.label("btn-forward-secret"))
    s.screen("forward screen, the secret", user, key="forward-secret")
    s.answer("new secret", await user.press(s.label("btn-forward-rotate")), key="forward-secret-rotated")
    for url, key in (("https://10.0.0.1/hook", "error-forward-url-private"),
                     ("http://10.0.0.1/x", "error-forward-url-scheme"),
                     ("ftp://x", "error-forward-url-invalid")):
        await forward_screen()
        await user.press(s.label("btn-forward-url"))
        s.screen("forward URL asked", user, key="forward-ask-url")
        await user.send(url)
        s.screen(f"forward URL refused ({key})", user, key=key)
    session.admins.add((-100777, 1001))
    for typed, key in (("x", "error-forward-chat-invalid"), ("2002", "error-forward-chat-not-yours"),
                       ("me", "error-forward-chat-same"), ("-100778", "error-forward-chat-not-admin")):
        await forward_screen()
        await user.press(s.label("btn-forward-chat"))
        s.text("forward chat asked", session.calls_of(EditMessageText)[-1].text, key="forward-ask-chat")
        s.screen("the chat picker", user, key="forward-picker-placeholder")
        await user.send(typed)
        s.screen(f"forward chat refused ({key})", user, key=key)
    session.unknown_chats.add(-100666)
    session.admins.add((-100666, 1001))
    await forward_screen()
    await user.press(s.label("btn-forward-chat"))
    await user.send("-100666")
    s.screen("forward chat unreachable", user, key="error-forward-chat-unreachable")
    session.left.add((-100778, BOT_USER.id))
    session.admins.add((-100778, 1001))
    await forward_screen()
    await user.press(s.label("btn-forward-chat"))
    await user.send("-100778")
    s.screen("forward chat, the bot may not post", user, key="error-forward-chat-cannot-post")
    await forward_screen()
    await user.press(s.label("btn-forward-chat"))
    await user.send("-100777")
    s.text("forward chat set", session.sent(user.chat_id)[-2].text, key="forward-set-chat")
    s.screen("forward screen after the chat set", user, key="forward-help")
    await user.send("/numbers")
    await user.press("Telegram")
    s.screen("card, forwarding", user, key="card-forwarding-chat")

    [rental], _ = await app.rentals.rentals.for_chat(user.chat_id)
    provider.inject_sms(rental.provider_rental_id, "Your Telegram code: 55123")
    background = Background(app, bot)
    await background.pollers[provider.name].tick()
    assert await background.forwarder.forward_once() == 1
    s.text("forwarded code", session.last(-100777).text, key="forward-from")
    s.text("forwarding switched off", app.renderer.notice(lang, "forward-switched-off", service="Telegram",
                                                          phone="+15550000001", target="-100777"),
           key="forward-switched-off")
    async with app.db.transaction() as conn:
        await conn.execute("UPDATE rental_forwards SET disabled_at = ?", (db_time(utcnow()),))
    await user.send("/numbers")
    await user.press("Telegram")
    s.screen("card, forwarding off", user, key="card-forwarding-off")
    await user.press(s.label("btn-forward"))
    s.answer("forwarding stopped", await user.press(s.label("btn-forward-stop")), key="forward-stopped")
    s.screen("forward screen, none", user, key="forward-state-none")
    await user.press(s.label("btn-forward-url"))
    await user.press(s.label("back"))
    s.screen("forward screen from the prompt", user, key="forward-title")

    # A group: the prompt's reply, the secret privately, a member refused.
    group = -100555
    ann = Person(dp, bot, session, 2001, chat_id=group, name="Ann", language=lang)
    max_ = Person(dp, bot, session, 2002, chat_id=group, name="Max", language=lang)
    session.admins.add((group, ann.user.id))
    await ann.send("/start@rent_test_bot")
    await credit(app, group, 500)
    await ann.send("/rent@rent_test_bot telegram")
    await ann.press("Telegram")
    await ann.press("$1.10")
    await ann.press(s.label("confirm-rent", price="$1.10"))
    card = ann.screen()
    s.answer("a member may not forward", await max_.press(s.label("btn-forward"), card),
             key="error-forward-not-allowed")
    await ann.press(s.label("btn-forward"), card)
    s.screen("group forward screen", ann, key="forward-title")
    s.answer("secret privately", await ann.press(s.label("btn-forward-secret-private")), key="forward-secret-sent")
    s.text("the secret in private", session.last(2001).text, key="forward-secret-private")
    await ann.press(s.label("btn-forward-chat"), session.messages[group][card.message_id])
    s.text("group forward prompt", session.last(group).text, key="forward-reply-here")
    await ann.send("me", reply_to=session.last(group))
    s.screen("group forward set", ann, key="forward-set-chat")
    await ann.press(s.label("btn-forward-url"))
    await ann.send("https://10.0.0.1/x", reply_to=session.last(group))
    s.screen("group forward URL refused", ann, key="error-forward-url-private")


@pytest.mark.parametrize("count", [1, 2, 5, 11, 21, 22, 25, 101, 111])
def test_every_russian_plural_form_comes_from_the_locale_rules(count):
    """Counts with nouns take the form CLDR's Russian rules pick (Babel): 1 and 21 one, 2 and 22 few, 5, 11, 25
    and 111 many; durations ("1 минута", "5 минут") through Babel's units, counted nouns through Texts.plural."""
    from bot.services.localize import counted

    ru = Texts("ru")
    expected = {"one": "аренда", "few": "аренды", "many": "аренд"}
    form = "one" if count % 10 == 1 and count % 100 != 11 else \
        "few" if 2 <= count % 10 <= 4 and not 12 <= count % 100 <= 14 else "many"
    assert ru.plural("admin-plans-rentals", count) == f"{count} {expected[form]}"
    minutes = {"one": "минута", "few": "минуты", "many": "минут"}[form]
    assert counted(count, "minute", "ru") == f"{count} {minutes}"
    assert Texts("en").plural("admin-plans-rentals", count) == f"{count} rental" + ("" if count == 1 else "s")
