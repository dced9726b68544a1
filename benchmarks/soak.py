"""Soak: the real bot process under mixed use by many simulated people for minutes, Telegram's flood limits on.

    python -m benchmarks.soak --users 100 --groups 4 --group-size 5 --minutes 5
    python -m benchmarks.soak --users 20 --groups 2 --group-size 3 --minutes 1      # a short smoke run
    python -m benchmarks.soak ... --workdir /tmp/soak    # keep the bot's database and log there

The whole local stack of playground.stack.Stack, reused by import with its environment for the bot: the Bot API
emulator (playground.emulator.TelegramEmulator, flood limits ON, answering 429 with retry_after as Telegram
does), the sandbox providers (playground.sandbox: FakeGotSms, FakeGetAText with its 1 request/s rent limit and
its webhook to the bot, FakeCryptoPay) in this process, and the real bot, ``python -m bot`` as a subprocess,
long polling, on a temporary DATABASE_PATH. Unlike the e2e tests, the bot keeps its production defaults for
POLL_INTERVAL, USER_RATE_PER_SECOND, USER_RATE_BURST and ACTION_COOLDOWN (Stack's environment without those keys;
--poll-interval sets one). The fakes get money and stock enough for the run (their balances and GetAText's
stock are raised), so a refusal is the bot's, not the sandbox running dry.

Set-up, not measured, flood limits off (as tests/e2e does for its set-up): --users people; the first
groups x group-size of them are the members of --groups supergroups (the bot added by the first member, the
creator, who then taps Settings > "Let members rent…" > "No limit", so that every member may spend, and rents one GotSMS
number for the group, so that codes reach every group however slowly its members' own renting goes under the
group's 20 messages a minute); the others send /start in private. Operators (ADMIN_IDS; several, so that
their /credit commands stay within the bot's per-person rate) credit each private chat --credit dollars and
each group --credit x group-size. Then the flood limits go on and the clock starts.

Each person is a closed loop: wait uniform(0.5, 1.5) s, act, wait for the bot's answer (at most 30 s, after
which the action counts as unanswered), again. Group members act in their group (commands as
/cmd@botusername, privacy mode on). An action is one step of a journey, picked by weight (WEIGHTS): /start;
/balance; /numbers; renting (/rent or "Rent a number" on a menu, a service (Telegram, or WhatsApp), the country
the first time, a plan (GotSMS 1 day, or the cheapest GetAText), "Rent for"; a short balance sends the person to
top up next); Cancel & refund of a number they rented, from its card opened through /numbers (GotSMS numbers
with no SMS yet, GetAText ones after the provider's first minute); a Telegram Stars top-up (/balance or the menu's
Balance, "Top up", an amount, then the emulator's pay_invoice); and an SMS arriving on one of the
chat's active numbers, injected as the playground's "make an SMS arrive" button does (FakeGotSms.inject_sms,
FakeGetAText.inject_code; one code per GetAText activation), with a code unique to the run.

Measured on time.monotonic(), through hooks on the in-process emulator (its record of every bot send, edit and
delete; its answerCallbackQuery; its flood check), each figure for private chats and groups apart:

* taps and commands: count, answered, p50/p95/p99/max from the press/send to the first bot reaction in that
  chat: for a tap, the edit of the pressed message (or the invoice it sends); for a command, the bot's new
  message of the expected screen (or an error text of handlers/locales/en.toml). In a group, replies of one kind
  go to the oldest waiting command of that kind (FIFO). A callback answer alone is NOT an answer: a tap whose
  callback is answered with a text and no screen change within 1 s counts as "alert only" (its texts are
  tallied; an empty answer is the bot stopping the spinner while the screen waits its turn, so the screen is
  waited for); the
  callback-answer latency is reported apart. Unanswered: nothing within 30 s.
* "Something went wrong" (error-generic, English): bot messages and callback alerts carrying it.
* codes: SMS injection -> the bot's message starting "🔑 <code>" in the chat; lost (not within 60 s),
  arrived twice or more, pushed into another chat; the slowest, with the wall-clock time to find in the log.
* Stars: invoices paid (pay_invoice "paid") vs confirmed (the bot's "Payment received" in that chat, matched
  to the chat's oldest unconfirmed payment, whether or not its payer still waits), and that latency.
* the emulator's 429 counter (split by chat type), 'Traceback' in the bot's output (Stack merges its stderr
  into its stdout: all of it is searched; the distinct ones are printed, with the most common ERROR and
  WARNING records), the bot's RSS (VmRSS of /proc/<pid>/status) each minute, and the lag of this process's
  event loop (it runs the emulator and the fakes too, so its lag would add to every figure above).
* after the bot is stopped with SIGTERM: its exit code and, in its SQLite file, for every chat (storage/
  migrations.py: chats.balance, ledger.amount and balance_after, integer cents): balance == the sum of its
  ledger rows, balance == its newest row's balance_after, no negative balance, no row of an unknown chat.

The run ends within --minutes plus 2 minutes: after the measured minutes no new action starts, waiting
actions get their 30 s and codes their 60 s (cut to fit), the bot 30 s to stop (its SHUTDOWN_TIMEOUT is 20).
Ctrl-C (or SIGTERM) stops the bot and the servers. Nothing is asserted: the figures are printed, a line each
minute, the whole at the end.
"""
from __future__ import annotations

import argparse
import asyncio
import html
import importlib.util
import math
import random
import re
import signal
import sqlite3
import sys
import tempfile
import time
import tomllib
from collections import Counter, defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from playground.emulator.models import ApiError, EmulatorError
from playground.stack import Stack

# The emulator's methods the bot's pacer counts in a group's minute (bot/outbound/pace.py NEW_MESSAGES, EDITS).
GROUP_PACED = ("sendmessage", "sendinvoice", "senddocument", "editmessagetext", "editmessagereplymarkup")

ANSWER_TIMEOUT = 30.0  # an action with no answer within this counts as unanswered
CODE_TIMEOUT = 60.0  # a code not in its chat within this is lost
CALLBACK_GRACE = 1.0  # a tap's callback answered, no screen change this long after: "alert only"
THINK = (0.5, 1.5)  # seconds between an answer and a person's next action
SETUP_TIMEOUT = 60.0
STOP_BOT_TIMEOUT = 30.0  # the bot's own SHUTDOWN_TIMEOUT (20 s) for what runs, then its closing
OVERHEAD = 110.0  # start, set-up, drain and stop: within the promised 2 minutes over --minutes

FIRST_OPERATOR = 900  # ADMIN_IDS: 900, 901, ...
CREDITS_PER_OPERATOR = 6  # within an operator's burst of commands (the bot's USER_RATE_BURST is 8)
FIRST_USER = 7_100_000_001
FIRST_GROUP = -1_001_900_000_001  # supergroup ids, one down per group
GETATEXT_MIN_CANCEL = 65.0  # GetAText refuses a cancel in a rental's first minute
GOTSMS_CODES = 3  # SMS per GotSMS number a person rented (a GetAText activation gets one)

WEIGHTS = {"start": 8, "balance": 8, "numbers": 8, "rent": 28, "cancel": 8, "topup": 8, "sms": 32}
WHERE = ("private", "group")
CODE_LINE = re.compile(r"🔑 (\d+) — ")
CARD_RENTAL = re.compile(r"^c:(\d+):")
NUMBER = re.compile(r"\d{2,}")
LOG_RECORD = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ ")  # a record's first line in the bot's log


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (as benchmarks.push_latency)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)] if ordered else float("nan")


def seconds(value: float) -> str:
    return "—" if value != value else f"{value:.3f} s" if value < 10 else f"{value:.1f} s"


def spread(values: list[float]) -> str:
    return (f"p50 {seconds(percentile(values, 50))}  p95 {seconds(percentile(values, 95))}  "
            f"p99 {seconds(percentile(values, 99))}  max {seconds(max(values, default=float('nan')))}")


def megabytes(kb: int | None) -> str:
    return f"{kb / 1024:.0f} MB" if kb else "—"


# ------------------------------------------------------------------------------------------------ the bot's texts
def _plain(text: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", text))


def _prefix(text: str) -> str:
    """What a message of this locale text starts with: its first line, up to its first placeholder."""
    return _plain(text).split("\n", 1)[0].split("{", 1)[0]


class Texts:
    """The English texts the soak recognises, read from handlers/locales/en.toml rather than copied here."""

    def __init__(self) -> None:
        path = Path(importlib.util.find_spec("handlers").origin).parent / "locales" / "en.toml"
        with open(path, "rb") as f:
            raw = {k: v for k, v in tomllib.load(f).items() if isinstance(v, str)}
        self.generic = _plain(raw["error-generic"])
        self.start = (_prefix(raw["welcome"]), _prefix(raw["welcome-group"]))
        self.balance = (_prefix(raw["balance-title"]),)
        self.numbers = (_prefix(raw["numbers-title"]), _prefix(raw["numbers-title-one"]), _prefix(raw["numbers-empty"]))
        self.rent = (_prefix(raw["services-title"]), _prefix(raw["services-title-one"]))
        self.paid = _prefix(raw["topup-done"])
        self.short = _prefix(raw["confirm-short"])
        self.errors = tuple(p for k, v in raw.items() if k.startswith("error-") and len(p := _prefix(v).strip()) >= 8)
        self.button = {k: _plain(raw[k]) for k in ("menu-rent", "menu-numbers", "menu-balance", "menu-topup",
                                                   "btn-cancel")}

    def is_error(self, text: str) -> bool:
        return text.startswith(self.errors)


# ------------------------------------------------------------------------------------------------ watching the bot
class Waiter:
    """One action waiting for its first bot reaction in a chat."""

    def __init__(self, kind: str, chat_id: int, *, message_id: int | None = None, prefixes: tuple[str, ...] = (),
                 invoice: bool = False) -> None:
        self.kind, self.chat_id, self.message_id = kind, chat_id, message_id
        self.prefixes, self.invoice = prefixes, invoice
        self.future: asyncio.Future = asyncio.get_running_loop().create_future()
        self.started = time.monotonic()

    def matches(self, texts: Texts, action: str, method: str, message_id: int, text: str) -> bool:
        if self.kind == "tap":
            return ((action in ("edit", "delete") and message_id == self.message_id)
                    or (self.invoice and action == "send" and method == "sendInvoice"))
        return (action == "send" and method == "sendMessage"
                and (text.startswith(self.prefixes) or texts.is_error(text)))  # a command's reply

    def resolve(self, result: tuple) -> None:
        if not self.future.done():
            self.future.set_result(result)


@dataclass
class Code:
    chat_id: int
    group: bool
    injected: float
    wall: float  # time.time() at injection: the clock of the bot's log
    future: asyncio.Future
    arrived: float | None = None
    arrivals: int = 0


@dataclass
class Payment:
    chat_id: int
    group: bool
    paid: float
    future: asyncio.Future
    confirmed: float | None = None


class Observer:
    """Hooks on the in-process emulator: every bot send/edit/delete, callback answer and 429, as it happens."""

    def __init__(self, emu, texts: Texts) -> None:
        self.texts = texts
        self.waiters: dict[int, list[Waiter]] = defaultdict(list)
        self.by_query: dict[str, tuple[Waiter, float, str]] = {}  # callback_query_id -> (tap, pressed, where)
        self.callback_latency: dict[str, list[float]] = {w: [] for w in WHERE}
        self.codes: dict[str, Code] = {}
        self.codes_elsewhere = 0
        self.payments: dict[int, deque[Payment]] = defaultdict(deque)  # per chat, not yet confirmed, oldest first
        self.all_payments: list[Payment] = []
        self.unexpected_confirmations = 0
        self.generic_messages = 0
        self.generic_alerts = 0
        self.other_sends: Counter = Counter()
        self.flood_429: Counter = Counter()
        # Each group's sends and edits (time, is a code): how full its minute was when a code waited (the report).
        self.group_sends: defaultdict[int, list[tuple[float, bool]]] = defaultdict(list)
        # Each group's calls the emulator refused (time, why): not in group_sends, but in the pacer's minute.
        self.group_refusals: defaultdict[int, list[tuple[float, str]]] = defaultdict(list)
        self.recording = False
        record, answer, flood = emu._record, emu._api["answercallbackquery"], emu._flood_check

        def on_record(action, method, chat_id, message_id, params, message) -> None:
            record(action, method, chat_id, message_id, params, message)
            self._event(action, method, int(chat_id), int(message_id), emu._events[-1]["message"])

        def on_answer(params: dict) -> Any:
            result = answer(params)
            self._callback_answer(str(params.get("callback_query_id") or ""), str(params.get("text") or ""))
            return result

        def on_flood(chat, *args, **kwargs) -> None:
            try:
                flood(chat, *args, **kwargs)
            except ApiError:
                self.flood_429[chat.type] += 1
                raise

        # Instance attributes in front of the emulator's own methods (as benchmarks.webhook_latency wraps one).
        emu._record, emu._flood_check = on_record, on_flood
        emu._api["answercallbackquery"] = on_answer
        for name in GROUP_PACED:  # a group's calls the emulator refused: the bot's pacer counts them in its minute
            emu._api[name] = self._noting_refusals(emu._api[name])

    def _noting_refusals(self, call: Callable[[dict], Any]) -> Callable[[dict], Any]:
        def noted(params: dict) -> Any:
            try:
                return call(params)
            except ApiError as err:
                chat_id = params.get("chat_id")
                if isinstance(chat_id, (int, str)) and str(chat_id).lstrip("-").isdigit() and int(chat_id) < 0:
                    self.group_refusals[int(chat_id)].append((time.monotonic(), str(err)[:60]))
                raise
        return noted

    def add(self, waiter: Waiter) -> Waiter:
        self.waiters[waiter.chat_id].append(waiter)
        return waiter

    def drop(self, waiter: Waiter) -> None:
        pending = self.waiters.get(waiter.chat_id, [])
        if waiter in pending:
            pending.remove(waiter)

    def expect_code(self, code: str, chat_id: int, group: bool) -> Code:
        entry = Code(chat_id, group, time.monotonic(), time.time(), asyncio.get_running_loop().create_future())
        self.codes[code] = entry
        return entry

    def expect_payment(self, chat_id: int, group: bool) -> Payment:
        entry = Payment(chat_id, group, time.monotonic(), asyncio.get_running_loop().create_future())
        self.payments[chat_id].append(entry)
        self.all_payments.append(entry)
        return entry

    def forget_payment(self, entry: Payment) -> None:
        """Not paid after all (declined, or no pre-checkout answer in time)."""
        if entry in self.payments[entry.chat_id]:
            self.payments[entry.chat_id].remove(entry)
        self.all_payments.remove(entry)

    def _event(self, action: str, method: str, chat_id: int, message_id: int, message: dict | None) -> None:
        now = time.monotonic()
        text = (message or {}).get("text") or (message or {}).get("caption") or ""
        if self.texts.generic in text and self.recording:
            self.generic_messages += 1
        if chat_id < 0 and action in ("send", "edit"):
            self.group_sends[chat_id].append((now, action == "send" and bool(CODE_LINE.match(text))))
        if action == "send" and (hit := CODE_LINE.match(text)):
            code = self.codes.get(hit.group(1))
            if code is not None and code.chat_id != chat_id:
                self.codes_elsewhere += 1
            elif code is not None:
                code.arrivals += 1
                if code.arrived is None:
                    code.arrived = now
                    code.future.set_result(now)
            return
        if action == "send" and text.startswith(self.texts.paid):
            if self.payments[chat_id]:
                paid = self.payments[chat_id].popleft()
                paid.confirmed = now
                paid.future.set_result(now)
            else:
                self.unexpected_confirmations += 1
            return
        for waiter in self.waiters.get(chat_id, []):
            if waiter.matches(self.texts, action, method, message_id, text):
                self.waiters[chat_id].remove(waiter)
                waiter.resolve(("screen", now, message))
                return
        if action == "send" and self.recording:  # not waited for: a notice, or an answer after its 30 s
            self.other_sends[(text or method).split("\n", 1)[0][:60]] += 1

    def _callback_answer(self, query_id: str, text: str) -> None:
        now = time.monotonic()
        if self.texts.generic in text and self.recording:
            self.generic_alerts += 1
        found = self.by_query.pop(query_id, None)
        if found is None:
            return
        waiter, pressed, where = found
        self.callback_latency[where].append(now - pressed)
        # No screen change yet: a second more for it, then "alert only". An empty answer is the bot stopping the
        # spinner while the screen waits its turn (handlers/common.TimelyCallbackAnswer): the screen is waited for.
        if not waiter.future.done() and text:
            asyncio.get_running_loop().call_later(CALLBACK_GRACE, self._alert_only, waiter, now, text)

    def _alert_only(self, waiter: Waiter, answered: float, text: str) -> None:
        if not waiter.future.done():
            self.drop(waiter)
            waiter.resolve(("alert", answered, text))


def find_button(screen: dict | None, *, label: str | None = None, data: str | None = None, pick=None) -> dict | None:
    """A callback button of ``screen``: its label contains ``label`` and its callback_data starts with ``data``, or
    the one ``pick(buttons)`` chooses."""
    if screen is None:
        return None
    buttons = [b for row in (screen.get("reply_markup") or {}).get("inline_keyboard", []) for b in row
               if "callback_data" in b]
    if pick is not None:
        return pick(buttons)
    return next((b for b in buttons if (label is None or label in b["text"])
                 and (data is None or b["callback_data"].startswith(data))), None)


def offer_of(provider: str):
    """On a plan list: the first (cheapest) plan of ``provider``, else the first plan."""
    def pick(buttons: list[dict]) -> dict | None:
        offers = [b for b in buttons if b["callback_data"].startswith("o:")]
        return ([b for b in offers if provider in b["text"]] or offers or [None])[0]
    return pick


def card_rental(screen: dict) -> int | None:
    """The bot's rental id on a number card (its buttons carry it)."""
    for row in (screen.get("reply_markup") or {}).get("inline_keyboard", []):
        for b in row:
            if hit := CARD_RENTAL.match(b.get("callback_data", "")):
                return int(hit.group(1))
    return None


# ------------------------------------------------------------------------------------------------ the stack
class SoakStack(Stack):
    """Stack's bot, with the production defaults for the limits the e2e tests lift for scripted users."""

    def __init__(self, *args, poll: float | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.poll = poll

    def bot_env(self) -> dict[str, str]:
        env = super().bot_env()
        for key in ("USER_RATE_PER_SECOND", "USER_RATE_BURST", "ACTION_COOLDOWN", "POLL_INTERVAL"):
            env.pop(key, None)
        if self.poll is not None:
            env["POLL_INTERVAL"] = str(self.poll)
        return env


def rss_kb(pid: int | None) -> int | None:
    if pid is None:
        return None
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def read_db(path: Path, sql: str, params: tuple = ()) -> list[tuple]:
    """Read-only, from the bot's SQLite file (WAL: reading beside the running bot is safe)."""
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=10)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


# ------------------------------------------------------------------------------------------------ people
@dataclass
class Rental:
    id: int  # the bot's rental id (from its card's buttons)
    chat_id: int
    provider: str
    rented: float
    codes: int = 0
    busy: bool = False  # being cancelled, or a code on its way to it
    closed: bool = False
    max_codes: int = 0  # SMS it may receive in the run (0: GOTSMS_CODES at GotSMS, one for a GetAText activation)

    def __post_init__(self) -> None:
        self.max_codes = self.max_codes or (GOTSMS_CODES if self.provider == "gotsms" else 1)


@dataclass
class Person:
    id: int
    chat_id: int
    group: bool
    rng: random.Random
    screen: dict | None = None  # their newest screen (a bot message), to tap on
    needs_topup: bool = False
    rentals: list[Rental] = field(default_factory=list)

    @property
    def where(self) -> str:
        return WHERE[self.group]


class Stop(Exception):
    """The measured minutes are over: no new action."""


@dataclass
class Tally:
    """Taps or commands, in private chats or in groups."""
    sent: int = 0
    answered: list[tuple[float, float]] = field(default_factory=list)  # (started after t0, latency)
    alert_only: int = 0
    unanswered: int = 0

    def latencies(self, lo: float = 0.0, hi: float = float("inf")) -> list[float]:
        return [lat for start, lat in self.answered if lo <= start < hi]


@dataclass
class Stats:
    tally: dict[tuple[str, str], Tally] = field(
        default_factory=lambda: {(k, w): Tally() for k in ("tap", "command") for w in WHERE})
    alert_texts: Counter = field(default_factory=Counter)
    unanswered_what: Counter = field(default_factory=Counter)
    stale: int = 0  # the button to press was gone (the screen changed meanwhile)
    rent_outcomes: Counter = field(default_factory=Counter)
    cancel_outcomes: Counter = field(default_factory=Counter)
    invoices: int = 0
    pay_status: Counter = field(default_factory=Counter)
    sms_failed: Counter = field(default_factory=Counter)
    script_errors: Counter = field(default_factory=Counter)


class Soak:
    def __init__(self, stack: SoakStack, args) -> None:
        self.stack, self.args = stack, args
        self.emu = stack.emulator
        self.texts = Texts()
        self.obs = Observer(self.emu, self.texts)
        self.stats = Stats()
        self.bot_name = self.emu.bot_user["username"]
        self.rng = random.Random(args.seed)
        self.people: list[Person] = []
        self.groups: dict[int, list[Person]] = {}
        self.chat_rentals: dict[int, list[Rental]] = defaultdict(list)
        self.used_codes: set[str] = set()
        self.stopping = False
        self.t0 = 0.0
        self.base_429 = 0
        self.rss: list[tuple[int, int | None]] = []
        self.lag: list[float] = []

    # ------------------------------------------------------------------------------------------ acting
    def _command_text(self, person: Person, text: str) -> str:
        if not person.group:
            return text
        head, _, rest = text.partition(" ")
        return f"{head}@{self.bot_name} {rest}".rstrip()

    async def _think(self, person: Person) -> None:
        await asyncio.sleep(person.rng.uniform(*THINK))
        if self.stopping:
            raise Stop

    async def _outcome(self, waiter: Waiter) -> tuple:
        try:
            return await asyncio.wait_for(asyncio.shield(waiter.future), ANSWER_TIMEOUT)
        except TimeoutError:
            self.obs.drop(waiter)
            return ("none", time.monotonic(), None)

    async def _counted(self, waiter: Waiter, kind: str, where: str, what: str) -> tuple:
        """(its tally, its outcome): the action counted as sent, and unanswered (with ``what`` was sent or pressed)
        when nothing came in time."""
        tally = self.stats.tally[kind, where]
        tally.sent += 1
        outcome = await self._outcome(waiter)
        if outcome[0] == "none":
            tally.unanswered += 1
            self.stats.unanswered_what[f"{where}: {what}"] += 1
        return tally, outcome

    async def command(self, person: Person, text: str, prefixes: tuple[str, ...]) -> dict | None:
        """Write a command; return the bot's reply (None: unanswered, or an error text)."""
        await self._think(person)
        waiter = self.obs.add(Waiter("command", person.chat_id, prefixes=prefixes))
        try:
            self.emu.send_message(person.chat_id, person.id, self._command_text(person, text))
        except EmulatorError:
            self.obs.drop(waiter)
            return None
        tally, (kind, at, message) = await self._counted(waiter, "command", person.where, text.split()[0])
        if kind == "none":
            person.screen = None
            return None
        tally.answered.append((waiter.started - self.t0, at - waiter.started))
        if not message.get("text", "").startswith(prefixes):
            return None  # an error text
        person.screen = message
        return message

    async def tap(self, person: Person, screen: dict | None, *, label: str | None = None, data: str | None = None,
                  pick=None, invoice: bool = False) -> dict | None:
        """Press a button of ``screen`` (see find_button); return the screen after it (an edit of it, or the
        invoice it sent); None when there is no such button or no screen came."""
        button = find_button(screen, label=label, data=data, pick=pick)
        if button is None:
            return None
        await self._think(person)
        waiter = self.obs.add(Waiter("tap", person.chat_id, message_id=screen["message_id"], invoice=invoice))
        try:
            query_id = self.emu.press_button(person.chat_id, person.id, screen["message_id"],
                                             callback_data=button["callback_data"])
        except EmulatorError:  # the message is gone, or no longer has that button
            self.obs.drop(waiter)
            self.stats.stale += 1
            return None
        self.obs.by_query[query_id] = (waiter, waiter.started, person.where)  # its answer is timed by the Observer
        tally, (kind, at, result) = await self._counted(waiter, "tap", person.where, button["text"][:30])
        if kind == "none":
            return None
        if kind == "alert":
            tally.alert_only += 1
            self.stats.alert_texts[(result or "(no text)")[:70]] += 1
            return None
        tally.answered.append((waiter.started - self.t0, at - waiter.started))
        if result is None or "invoice" in result:  # deleted, or the invoice: the screen stays as it was
            return result
        person.screen = result
        return result

    # ------------------------------------------------------------------------------------------ journeys
    async def open_screen(self, person: Person, button: str, command: str, prefixes: tuple[str, ...]):
        """Open a screen with its menu button when the person's screen has one (half the time), else by command."""
        label = self.texts.button[button]
        screen = person.screen
        has = screen is not None and any(label == b["text"] for row in (screen.get("reply_markup") or {})
                                         .get("inline_keyboard", []) for b in row)
        if has and person.rng.random() < 0.5:
            return await self.tap(person, screen, label=label)
        return await self.command(person, command, prefixes)

    async def do_rent(self, person: Person) -> None:
        screen = await self.open_screen(person, "menu-rent", "/rent", self.texts.rent)
        service = "whatsapp" if person.rng.random() < 0.3 else "telegram"
        screen = await self.tap(person, screen, data=f"s:{service}")
        if screen is not None and "pick a country" in screen.get("text", ""):
            screen = await self.tap(person, screen, label="United States")
        provider = "GetAText" if person.rng.random() < 0.35 else "GotSMS"
        screen = await self.tap(person, screen, pick=offer_of(provider))
        if screen is None:
            return
        if screen.get("text", "").startswith(self.texts.short):
            person.needs_topup = True
            self.stats.rent_outcomes["not enough balance"] += 1
            return
        screen = await self.tap(person, screen, data="r:")
        if screen is None:
            return
        text = screen.get("text", "")
        if "🟢 active" in text.split("\n", 1)[0] and (rental_id := card_rental(screen)) is not None:
            rental = Rental(rental_id, person.chat_id, "getatext" if "GetAText" in text else "gotsms",
                            time.monotonic())
            person.rentals.append(rental)
            self.chat_rentals[person.chat_id].append(rental)
            self.stats.rent_outcomes["active"] += 1
        else:
            self.stats.rent_outcomes[text.split("\n", 1)[0][:60]] += 1

    def _cancellable(self, rental: Rental) -> bool:
        return (not rental.closed and not rental.busy and rental.codes == 0
                and (rental.provider == "gotsms" or time.monotonic() - rental.rented > GETATEXT_MIN_CANCEL))

    async def do_cancel(self, person: Person) -> None:
        candidates = [r for r in person.rentals if self._cancellable(r)]
        if not candidates:
            await self.command(person, "/numbers", self.texts.numbers)
            return
        rental = person.rng.choice(candidates)
        rental.busy = True
        try:
            screen = await self.open_screen(person, "menu-numbers", "/numbers", self.texts.numbers)
            if screen is not None and find_button(screen, data=f"c:{rental.id}:") is None:
                self.stats.cancel_outcomes["(its number not on the first page of /numbers)"] += 1
                return
            screen = await self.tap(person, screen, data=f"c:{rental.id}:")
            screen = await self.tap(person, screen, label=self.texts.button["btn-cancel"])
            screen = await self.tap(person, screen, data=f"c:{rental.id}:cancel:ok")  # asked first: confirmed
            if screen is None:
                return
            first = screen.get("text", "").split("\n", 1)[0]
            self.stats.cancel_outcomes[first[:60]] += 1
            if "cancelled" in first:
                rental.closed = True
        finally:
            rental.busy = False

    async def do_topup(self, person: Person) -> None:
        screen = await self.open_screen(person, "menu-balance", "/balance", self.texts.balance)
        screen = await self.tap(person, screen, label=self.texts.button["menu-topup"])
        stars = person.rng.choice(["100", "250", "500", "1000"])
        invoice = await self.tap(person, screen, invoice=True,
                                 pick=lambda buttons: next((b for b in buttons if b["callback_data"] == f"u:{stars}"),
                                                           None))
        if invoice is None or "invoice" not in invoice:
            return
        self.stats.invoices += 1
        person.needs_topup = False
        await self._think(person)
        entry = self.obs.expect_payment(person.chat_id, person.group)  # before: the confirmation may be quick
        try:
            paid = await asyncio.wait_for(
                self.emu.pay_invoice(person.chat_id, person.id, invoice["message_id"], timeout=10.0), 15)
        except (EmulatorError, TimeoutError):
            paid = {"status": "error"}
        self.stats.pay_status[paid["status"]] += 1
        if paid["status"] != "paid":
            self.obs.forget_payment(entry)
            return
        entry.paid = time.monotonic()
        await asyncio.wait([entry.future], timeout=ANSWER_TIMEOUT)  # the payer waits; the count waits longer

    def _new_code(self, rng: random.Random) -> str:
        while (code := str(rng.randint(100000, 999999))) in self.used_codes:
            pass
        self.used_codes.add(code)
        return code

    async def do_sms(self, person: Person) -> bool:
        """An SMS with a fresh code arrives on one of the chat's active numbers; False: none to send it to."""
        candidates = [r for r in self.chat_rentals[person.chat_id] if not r.closed and not r.busy
                      and r.codes < r.max_codes]
        if not candidates:
            return False
        rental = person.rng.choice(candidates)
        rental.busy = True
        try:
            rows = await asyncio.to_thread(read_db, self.stack.database_path,
                                           "SELECT provider, provider_rental_id, status, service_name FROM rentals"
                                           " WHERE id = ?", (rental.id,))
            if not rows or rows[0][2] != "active" or rows[0][1] is None:
                rental.closed = True
                return True
            provider, provider_id, _, service = rows[0]
            await self._think(person)
            code = self._new_code(person.rng)
            body = f"{service} code: {code}. Do not give this code to anyone, even if they say they are from {service}!"
            entry = self.obs.expect_code(code, person.chat_id, person.group)
            rental.codes += 1
            if provider == "gotsms":
                self.stack.gotsms.inject_sms(provider_id, body, code)
            else:
                await asyncio.wait_for(self.stack.getatext.inject_code(int(provider_id), code, body), ANSWER_TIMEOUT)
            await asyncio.wait([entry.future], timeout=ANSWER_TIMEOUT)  # the person waits; the count waits longer
        except (KeyError, OSError, TimeoutError, sqlite3.Error) as err:
            self.stats.sms_failed[f"{type(err).__name__}: {err}"[:80]] += 1
        finally:
            rental.busy = False
        return True

    async def act(self, person: Person) -> None:
        if person.needs_topup:
            await self.do_topup(person)
            return
        action = person.rng.choices(list(WEIGHTS), weights=list(WEIGHTS.values()))[0]
        if action == "start":
            await self.command(person, "/start", self.texts.start)
        elif action == "balance":
            await self.command(person, "/balance", self.texts.balance)
        elif action == "numbers":
            await self.command(person, "/numbers", self.texts.numbers)
        elif action == "rent":
            await self.do_rent(person)
        elif action == "cancel":
            await self.do_cancel(person)
        elif action == "topup":
            await self.do_topup(person)
        elif not await self.do_sms(person):
            await self.do_rent(person)

    async def live(self, person: Person) -> None:
        while not self.stopping:
            try:
                await self.act(person)
            except Stop:
                return
            except Exception as err:  # a screen this script did not expect: counted, and the person goes on
                self.stats.script_errors[f"{type(err).__name__}: {err}"[:100]] += 1
                person.screen = None
                await asyncio.sleep(1)

    # ------------------------------------------------------------------------------------------ set-up
    async def _setup_reply(self, chat_id: int, user_id: int, text: str, prefixes: tuple[str, ...]) -> dict:
        waiter = self.obs.add(Waiter("command", chat_id, prefixes=prefixes))
        self.emu.send_message(chat_id, user_id, text)
        _, _, message = await asyncio.wait_for(waiter.future, SETUP_TIMEOUT)
        if not (message.get("text") or "").startswith(prefixes):
            raise RuntimeError(f"set-up: {text!r} in chat {chat_id} answered {message.get('text')!r}")
        return message

    async def _setup_tap(self, chat_id: int, user_id: int, screen: dict, **which) -> dict:
        button = find_button(screen, **which)
        if button is None:
            raise RuntimeError(f"set-up: no button {which} on {screen.get('text')!r} in chat {chat_id}")
        waiter = self.obs.add(Waiter("tap", chat_id, message_id=screen["message_id"]))
        self.emu.press_button(chat_id, user_id, screen["message_id"], callback_data=button["callback_data"])
        _, _, result = await asyncio.wait_for(waiter.future, SETUP_TIMEOUT)
        return result or {}

    async def _setup_group(self, index: int, members: list[Person]) -> None:
        """The group, the bot in it, spending open to all members."""
        gid, creator = members[0].chat_id, members[0].id
        hello = self.obs.add(Waiter("command", gid, prefixes=("",)))  # the bot's first message there: its hello
        self.emu.create_group(gid, f"Soak team {index + 1}",
                              {p.id: "creator" if i == 0 else "member" for i, p in enumerate(members)},
                              supergroup=True, added_by=creator)
        await asyncio.wait_for(hello.future, SETUP_TIMEOUT)
        settings = await self._setup_reply(gid, creator, f"/settings@{self.bot_name}", ("Settings",))
        asked = await self._setup_tap(gid, creator, settings, data="g:1:-1")  # "Let members rent…": how much each
        opened = await self._setup_tap(gid, creator, asked, data="g:1:0")  # ... no limit
        if "every member" not in opened.get("text", ""):
            raise RuntimeError(f"set-up: group {gid} not opened to all members: {opened}")

    async def _setup_group_number(self, members: list[Person]) -> None:
        """One GotSMS number the creator rents for the group (once it has money): the group gets codes even when
        its members' own renting is slowed by its 20 messages a minute."""
        gid, creator = members[0].chat_id, members[0].id
        screen = await self._setup_reply(gid, creator, f"/rent@{self.bot_name}", self.texts.rent)
        screen = await self._setup_tap(gid, creator, screen, data="s:telegram")
        if "pick a country" in screen.get("text", ""):
            screen = await self._setup_tap(gid, creator, screen, label="United States")
        screen = await self._setup_tap(gid, creator, screen, pick=offer_of("GotSMS"))
        card = await self._setup_tap(gid, creator, screen, data="r:")
        rental_id = card_rental(card)
        if rental_id is None or "🟢 active" not in card.get("text", ""):
            raise RuntimeError(f"set-up: group {gid} rented no number: {card.get('text')!r}")
        self.chat_rentals[gid].append(Rental(rental_id, gid, "gotsms", time.monotonic(), max_codes=1_000_000))

    async def setup(self) -> None:
        args, emu = self.args, self.emu
        emu.set_flood_limits(False)
        in_groups = args.groups * args.group_size
        for i in range(args.users):
            uid = FIRST_USER + i
            emu.add_user(uid, f"User {i + 1}", username=f"soak_user_{i + 1}")
            group = i < in_groups
            chat = FIRST_GROUP - i // args.group_size if group else uid
            self.people.append(Person(uid, chat, group, random.Random(self.rng.random())))
        for g in range(args.groups):
            self.groups[FIRST_GROUP - g] = self.people[g * args.group_size:(g + 1) * args.group_size]
        private = [p for p in self.people if not p.group]
        await asyncio.gather(*(self._setup_reply(p.id, p.id, "/start", self.texts.start) for p in private),
                             *(self._setup_group(g, members) for g, members in enumerate(self.groups.values())))
        credits = [(p.chat_id, args.credit) for p in private]
        credits += [(gid, args.credit * args.group_size) for gid in self.groups]
        for op in self.stack.admin_ids:
            emu.add_user(op, f"Operator {op}")
        ops = [self.stack.admin_ids[i // CREDITS_PER_OPERATOR] for i in range(len(credits))]
        await asyncio.gather(*(self._setup_reply(op, op, f"/credit {chat} {amount} soak", (f"Chat {chat}: ",))
                               for op, (chat, amount) in zip(ops, credits, strict=True)))
        await asyncio.gather(*(self._setup_group_number(members) for members in self.groups.values()))
        emu.set_flood_limits(True)
        self.base_429 = emu.flood_429_count

    # ------------------------------------------------------------------------------------------ watching
    async def watch_lag(self) -> None:
        while True:
            before = time.monotonic()
            await asyncio.sleep(0.1)
            self.lag.append(time.monotonic() - before - 0.1)

    def minute_line(self, minute: int) -> str:
        lo, hi = (minute - 1) * 60.0, minute * 60.0
        parts = []
        for kind in ("tap", "command"):
            lat = [x for w in WHERE for x in self.stats.tally[kind, w].latencies(lo, hi)]
            parts.append(f"{kind}s answered {len(lat)} (p95 {seconds(percentile(lat, 95))})")
        unanswered = sum(t.unanswered for t in self.stats.tally.values())
        codes = [c for c in self.obs.codes.values() if lo <= c.injected - self.t0 < hi]
        code_lat = [c.arrived - c.injected for c in codes if c.arrived is not None]
        rss = rss_kb(self.stack.bot_pid)
        self.rss.append((minute, rss))
        return (f"  minute {minute}: {', '.join(parts)}, unanswered so far {unanswered}; codes {len(code_lat)}/"
                f"{len(codes)} arrived (p95 {seconds(percentile(code_lat, 95))}); 429s so far "
                f"{self.emu.flood_429_count - self.base_429}; tracebacks {self.stack.bot_log().count('Traceback')}; "
                f"bot RSS {megabytes(rss)}")

    async def measure_minutes(self) -> None:
        """The measured minutes, a line at the end of each (and of a last partial one)."""
        end, minute = self.t0 + self.args.minutes * 60, 0
        while time.monotonic() < end - 0.5:
            minute += 1
            await asyncio.sleep(max(0.0, min(self.t0 + minute * 60, end) - time.monotonic()))
            print(self.minute_line(minute), flush=True)

    # ------------------------------------------------------------------------------------------ the run
    async def run(self, hard_deadline: float) -> dict:
        started = time.monotonic()
        await self.setup()
        setup_seconds = time.monotonic() - started
        rss_start = rss_kb(self.stack.bot_pid)
        print(f"set-up done in {setup_seconds:.1f} s (bot RSS {megabytes(rss_start)}); flood limits on; "
              f"measuring {self.args.minutes:g} min", flush=True)
        self.obs.recording = True
        self.t0 = time.monotonic()
        lag = asyncio.create_task(self.watch_lag())
        lives = [asyncio.create_task(self.live(p)) for p in self.people]
        try:
            await self.measure_minutes()
            self.stopping = True
            measured = time.monotonic() - self.t0
            # Actions under way get their 30 s; then codes their 60 s and payments their 30 s, within the end.
            await asyncio.wait(lives, timeout=ANSWER_TIMEOUT + 2)
            drain_end = min(max([c.injected + CODE_TIMEOUT for c in self.obs.codes.values()]
                                + [p.paid + ANSWER_TIMEOUT for p in self.obs.all_payments], default=0),
                            hard_deadline - STOP_BOT_TIMEOUT - 10)
            while time.monotonic() < drain_end and (any(c.arrived is None for c in self.obs.codes.values())
                                                    or any(self.obs.payments.values())):
                await asyncio.sleep(0.2)
        finally:
            for task in (*lives, lag):
                task.cancel()
            await asyncio.gather(*lives, lag, return_exceptions=True)
        rss_end = rss_kb(self.stack.bot_pid)
        await self.stack.stop_bot(timeout=STOP_BOT_TIMEOUT)
        self.obs.recording = False
        return {"setup": setup_seconds, "measured": measured, "rss_start": rss_start, "rss_end": rss_end,
                "returncode": self.stack.bot_returncode, "ledger": await asyncio.to_thread(self.ledger)}

    def ledger(self) -> dict:
        db = self.stack.database_path
        rows = read_db(db, "SELECT c.id, c.balance,"
                           " (SELECT COALESCE(SUM(amount), 0) FROM ledger l WHERE l.chat_id = c.id),"
                           " (SELECT balance_after FROM ledger l WHERE l.chat_id = c.id ORDER BY l.id DESC LIMIT 1)"
                           " FROM chats c")
        kinds = dict(read_db(db, "SELECT kind, COUNT(*) FROM ledger GROUP BY kind"))
        orphans = read_db(db, "SELECT COUNT(*) FROM ledger WHERE chat_id NOT IN (SELECT id FROM chats)")[0][0]
        return {"chats": len(rows), "sum_mismatch": [r for r in rows if r[1] != r[2]],
                "after_mismatch": [r for r in rows if r[3] is not None and r[1] != r[3]],
                "negative": [r for r in rows if r[1] < 0], "kinds": kinds, "orphans": orphans,
                "total": sum(r[1] for r in rows)}

    # ------------------------------------------------------------------------------------------ the report
    def distinct_tracebacks(self, lines: list[str]) -> Counter:
        """Each 'Traceback' by the log record that printed it and the exception it ends with (numbers as N)."""
        found: Counter = Counter()
        for i, line in enumerate(lines):
            if line.strip() != "Traceback (most recent call last):":
                continue
            record = next((x for x in reversed(lines[max(0, i - 400):i]) if LOG_RECORD.match(x)), "")
            error = next((x for x in lines[i + 1:i + 400] if x and not x.startswith((" ", "Traceback", "During",
                                                                                   "The above", "^", "~"))), "?")
            found[NUMBER.sub("N", f"{LOG_RECORD.sub('', record)[:100]} | {error[:150]}")] += 1
        return found

    def print_report(self, result: dict) -> None:
        s, obs, args = self.stats, self.obs, self.args
        measured = result["measured"]
        in_groups = args.groups * args.group_size
        print(f"\nSoak: {args.users} people ({in_groups} in {args.groups} groups of {args.group_size}, "
              f"{args.users - in_groups} in private chats), {measured / 60:.1f} min measured, flood limits on; "
              f"set-up {result['setup']:.1f} s")
        sent = sum(t.sent for t in s.tally.values())
        print(f"  {sent} actions ({sent / measured:.1f}/s); latency to the first reaction in the chat:")
        for kind, what in (("tap", "taps"), ("command", "commands")):
            for where in WHERE:
                t = s.tally[kind, where]
                lat = t.latencies()
                alert = f", alert only {t.alert_only}" if kind == "tap" else ""
                print(f"  {what:<8} {where:<7} {t.sent:>6} sent, {len(lat):>6} answered{alert}, unanswered in "
                      f"{ANSWER_TIMEOUT:g} s {t.unanswered}   {spread(lat)}")
        for where in WHERE:
            print(f"  callback answers, {where:<7} {len(obs.callback_latency[where]):>6}   "
                  f"{spread(obs.callback_latency[where])}")
        print(f"  callbacks never answered {len(obs.by_query)}; button gone before the press {s.stale}")
        if s.unanswered_what:
            print(f"  unanswered, by what was sent or pressed: {dict(s.unanswered_what.most_common(8))}")
        if s.alert_texts:
            print(f"  alert-only answers: {dict(s.alert_texts.most_common(6))}")
        print(f"  'Something went wrong' (error-generic): {obs.generic_messages} bot messages, "
              f"{obs.generic_alerts} callback alerts")
        print(f"  'Rent' taps answered: {dict(s.rent_outcomes.most_common(6))}")
        print(f"  'Cancel & refund': {dict(s.cancel_outcomes.most_common(4))}")
        for where in WHERE:
            codes = [c for c in obs.codes.values() if c.group == (where == "group")]
            on_time = [c.arrived - c.injected for c in codes
                       if c.arrived is not None and c.arrived - c.injected <= CODE_TIMEOUT]
            late = sum(1 for c in codes if c.arrived is not None and c.arrived - c.injected > CODE_TIMEOUT)
            never = sum(1 for c in codes if c.arrived is None)
            print(f"  codes, {where:<7} {len(codes):>5} injected, {len(on_time):>5} arrived within {CODE_TIMEOUT:g} s"
                  f"   {spread(on_time)}")
            print(f"                 lost {late + never} ({late} late, {never} never); arrived twice or more "
                  f"{sum(1 for c in codes if c.arrivals > 1)}")
            slow = sorted((c for c in codes if c.arrived is None or c.arrived - c.injected > 5),
                          key=lambda c: -(c.arrived - c.injected if c.arrived else 1e9))[:3]
            if slow:
                print("                 slowest: " + "; ".join(
                    f"chat {c.chat_id} injected {time.strftime('%H:%M:%S', time.localtime(c.wall))}: "
                    + (seconds(c.arrived - c.injected) if c.arrived else "never") for c in slow))
            for c in (c for c in slow if c.group and c.arrived is not None):
                # Why a group's code waited: how many sends and edits (codes among them) that group had in the
                # minute before the code arrived (Telegram allows 20), and during its wait.
                sends = obs.group_sends.get(c.chat_id, [])
                minute = [is_code for at, is_code in sends if c.arrived - 60 <= at < c.arrived]
                waited = [is_code for at, is_code in sends if c.injected <= at < c.arrived]
                refused = Counter(why for at, why in obs.group_refusals.get(c.chat_id, [])
                                  if c.arrived - 60 <= at < c.arrived)
                print(f"                 chat {c.chat_id}: {len(minute)} sends and edits in the minute before it "
                      f"({sum(minute)} codes), {len(waited)} while it waited ({sum(waited)} codes); refused in that "
                      f"minute: {dict(refused) or 'none'}")
        if obs.codes_elsewhere:
            print(f"  codes pushed into another chat than their number's: {obs.codes_elsewhere}")
        if s.sms_failed:
            print(f"  SMS not injected: {dict(s.sms_failed)}")
        if s.script_errors:
            print(f"  errors of this script (not the bot's): {dict(s.script_errors.most_common(5))}")
        for where in WHERE:
            paid = [p for p in obs.all_payments if p.group == (where == "group")]
            lat = [p.confirmed - p.paid for p in paid if p.confirmed is not None]
            print(f"  Stars, {where:<7} {len(paid):>4} paid, {len(lat):>4} confirmed 'Payment received'   "
                  f"{spread(lat)}")
        print(f"  Stars invoices {s.invoices}, pay_invoice answers {dict(s.pay_status)}; 'Payment received' with no "
              f"payment waiting for it {obs.unexpected_confirmations}")
        log = self.stack.bot_log()
        lines = log.splitlines()
        records = [LOG_RECORD.sub("", x) for x in lines if LOG_RECORD.match(x)]
        getatext_rents = sum(1 for _, path, _ in self.stack.getatext.requests if path == "/api/v1/rent-a-number")
        print(f"  429s from the emulator: {self.emu.flood_429_count - self.base_429} (by chat type "
              f"{dict(obs.flood_429)}); bot log records that mention a flood limit "
              f"{sum(1 for x in records if 'flood' in x.lower())}; GetAText answered "
              f"{self.stack.getatext.rate_limited_count} of {getatext_rents} rent calls 429 (its 1 request/s limit)")
        if obs.other_sends:
            print(f"  other bot messages (notices, or answers after their 30 s): {sum(obs.other_sends.values())}: "
                  f"{dict(obs.other_sends.most_common(5))}")
        rss = "  ".join(f"min {m}: {megabytes(kb)}" for m, kb in self.rss)
        print(f"  bot RSS: start {megabytes(result['rss_start'])}  {rss}  end {megabytes(result['rss_end'])}")
        print(f"  this process's event loop (emulator, fakes, people) lag: p99 {seconds(percentile(self.lag, 99))}, "
              f"max {seconds(max(self.lag, default=float('nan')))}")
        print(f"  tracebacks in the bot's output: {log.count('Traceback')}, by the record that printed them:")
        for text, n in self.distinct_tracebacks(lines).most_common(6):
            print(f"    {n} x {text}")
        for level in ("ERROR", "WARNING"):
            found = Counter(NUMBER.sub("N", x)[:130] for x in records if x.startswith(level))
            if found:
                print(f"  {level} records in the bot's log: {sum(found.values())}, most common:")
                for text, n in found.most_common(5):
                    print(f"    {n} x {text}")
        led = result["ledger"]
        ok = not (led["sum_mismatch"] or led["after_mismatch"] or led["negative"] or led["orphans"])
        print(f"  after SIGTERM: exit code {result['returncode']}; ledger of {led['chats']} chats (rows "
              f"{dict(led['kinds'])}, balances ${led['total'] / 100:,.2f} in all): balance != sum of its ledger "
              f"{len(led['sum_mismatch'])}, != newest balance_after {len(led['after_mismatch'])}, negative "
              f"{len(led['negative'])}, rows of unknown chats {led['orphans']}   {'ok' if ok else 'BROKEN'}")
        for chat, balance, total, after in (led["sum_mismatch"] + led["after_mismatch"] + led["negative"])[:5]:
            print(f"    chat {chat}: balance {balance}, ledger sum {total}, newest balance_after {after}")


async def main(args) -> int:
    if args.groups * args.group_size > args.users:
        raise SystemExit("--groups x --group-size must not exceed --users")
    hard_deadline = time.monotonic() + args.minutes * 60 + OVERHEAD
    task = asyncio.current_task()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)  # as Ctrl-C: clean up
    with tempfile.TemporaryDirectory(prefix="soak-") as tmp:
        workdir = Path(args.workdir or tmp).resolve()
        workdir.mkdir(parents=True, exist_ok=True, mode=0o700)
        chats = args.users - args.groups * args.group_size + args.groups
        operators = tuple(range(FIRST_OPERATOR, FIRST_OPERATOR + math.ceil(chats / CREDITS_PER_OPERATOR)))
        with open(workdir / "bot.log", "w", encoding="utf-8") as log_file:
            stack = SoakStack(workdir, flood_limits=True, poll=args.poll_interval, admin_ids=operators,
                              bot_stdout=lambda line: log_file.write(line + "\n"))
            for fake in (stack.gotsms, stack.getatext):
                fake.balance = Decimal("1000000")  # the operator's account at the provider: never the limit here
            for service in stack.getatext.services.values():
                if service.stock:
                    service.stock = 1_000_000
            try:
                await stack.start()
                soak = Soak(stack, args)
                print(f"bot pid {stack.bot_pid}; emulator {stack.emulator.base_url}; database "
                      f"{stack.database_path}", flush=True)
                result = await asyncio.wait_for(soak.run(hard_deadline), hard_deadline - time.monotonic())
                soak.print_report(result)
                if args.workdir:
                    print(f"  kept: {workdir / 'bot.log'}, {stack.database_path}")
            finally:
                await stack.stop()
    return 0


def parse_args(argv=None):
    ap = argparse.ArgumentParser(prog="python -m benchmarks.soak", description=__doc__.splitlines()[0])
    ap.add_argument("--users", type=int, default=100, help="people in all, group members included")
    ap.add_argument("--groups", type=int, default=4, help="group chats with the bot")
    ap.add_argument("--group-size", type=int, default=5, help="members of each group (all of them act there)")
    ap.add_argument("--minutes", type=float, default=5, help="measured minutes")
    ap.add_argument("--credit", type=int, default=25,
                    help="dollars credited to each private chat at set-up (a group: this x --group-size)")
    ap.add_argument("--poll-interval", type=float, default=None,
                    help="POLL_INTERVAL of the bot (default: the bot's own default)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--workdir", default=None,
                    help="keep the bot's database and log (bot.log) here (default: a temporary folder, removed)")
    return ap.parse_args(argv)


if __name__ == "__main__":
    try:
        sys.exit(asyncio.run(main(parse_args())))
    except (KeyboardInterrupt, asyncio.CancelledError):
        print("soak: interrupted; the bot and the servers were stopped", file=sys.stderr)
        sys.exit(130)
