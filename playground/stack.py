"""A whole local stack: the Telegram Bot API emulator, both fake providers, a fake Crypto Pay and the real bot process.

    stack = Stack(tmp_path)
    await stack.start()                      # emulator + fakes in this process, then `python -m bot`
    stack.emulator.add_user(111, "Alice")
    stack.emulator.send_message(111, 111, "/start")
    await stack.emulator.wait_for(chat_id=111, text="Virtual numbers")
    await stack.kill_bot(); await stack.start_bot()   # SIGKILL and restart on the same database
    await stack.stop()

or ``async with Stack(tmp_path) as stack: ...``.

The emulator and the fakes run on this process's event loop (127.0.0.1, free ports), so their Python control
APIs (``emulator.press_button``, ``gotsms.inject_sms``, ``getatext.inject_code``, ``set_mode``, ...) act on the
live servers. The bot is a subprocess, ``sys.executable -m bot``, configured only through environment variables
built here (see ``bot_env()``): it runs in an empty directory of its own with ``PYTHONPATH`` = the folder this
process imports ``bot`` from (the checkout's root, or site-packages when installed), so no ``.env`` file
(pydantic-settings reads ``.env`` relative to the current directory) and nothing from this process's environment
leaks into its settings.

Stable API (also used by the playground page):

* ``Stack(workdir, *, flood_limits=False, sandbox_code_after=None, admin_ids=(900,), poll_interval=0.5,
  extra_env=None, bot_stdout=None, telegram_webhook=False)``

  - ``workdir``: created if missing; holds the database (``bot.sqlite3``) and the bot's working directory.
  - ``flood_limits``: the emulator answers 429 like Telegram (1 msg/s per private chat, 20/min per group,
    30/s overall).
  - ``sandbox_code_after``: each new rental at either fake receives a realistic code that many seconds later.
  - ``admin_ids``: the operators (``ADMIN_IDS``); add them as emulator users to let them send ``/credit``.
  - ``poll_interval``: ``POLL_INTERVAL`` in seconds.
  - ``extra_env``: more settings for the bot, applied last (e.g. ``{"MARKUP_PERCENT": "20"}``).
  - ``bot_stdout``: also receives every output line of the bot (a callable taking one str, or an object with
    ``write``); the output is kept for ``bot_log()`` either way.
  - ``telegram_webhook``: webhook mode (``PUBLIC_URL`` = the bot's HTTP server): the bot sets its webhook and
    the emulator POSTs every update to it with the secret header, instead of the bot polling.

* attributes, valid after ``start()``: ``emulator`` (TelegramEmulator), ``gotsms`` (FakeGotSms), ``getatext``
  (FakeGetAText), ``cryptopay`` (FakeCryptoPay: its invoices' pay buttons open its own page with a "Pay" button,
  which posts the signed webhook to the bot), ``database_path``, ``webhook_port``, ``webhook_secret``,
  ``webhook_url``; ``bot_pid`` and ``bot_running`` while the bot runs; ``starts`` (how many times the bot was
  started); ``kill_times`` (``time.time()`` of each SIGKILL, the clock the emulator stamps its calls and events
  with).
* ``await start()`` / ``await stop()`` (idempotent; ``stop`` ends the bot gently, then the servers).
* ``await start_bot()``: starts the bot and returns once it polls Telegram (first ``getUpdates``), or in webhook
  mode once it set its webhook — by then its background jobs and its HTTP server are up. Raises
  ``BotStartError`` (with the log) if it exits.
* ``await kill_bot()``: SIGKILL and wait. ``await stop_bot()``: SIGTERM (aiogram stops polling and the bot
  shuts down cleanly), SIGKILL after ``timeout``.
* ``bot_log()``: everything the bot printed so far, over all its runs (stdout and stderr, interleaved).
* ``bot_env()``: the environment the bot is started with.
"""
from __future__ import annotations

import asyncio
import importlib.util
import os
import secrets
import signal
import socket
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Self

from playground.emulator import TelegramEmulator
from playground.sandbox.cryptopay import FakeCryptoPay
from playground.sandbox.getatext import LONG_PLANS, FakeGetAText
from playground.sandbox.gotsms import FakeGotSms

# `bot` is a namespace package (no __init__.py, so no bot.__file__): its __main__ module, the one `python -m bot`
# runs, says which sys.path entry holds the bot here.
BOT_IMPORT_ROOT = Path(importlib.util.find_spec("bot.__main__").origin).resolve().parent.parent
# The sample terms beside the code: the checkout the playground runs from (pip installs the code elsewhere).
SAMPLE_TERMS = next((p for p in (Path.cwd() / "terms", BOT_IMPORT_ROOT / "terms") if p.is_dir()), Path("terms"))
GOTSMS_KEY = "e2e-gotsms-key"
GETATEXT_KEY = "e2e-getatext-key"
CRYPTOPAY_TOKEN = "e2e-cryptopay-app-token"
MARKUP_PERCENT = "10"
START_TIMEOUT = 30.0


class BotStartError(RuntimeError):
    """The bot process exited, or did not poll Telegram, in time."""


def free_port(host: str = "127.0.0.1") -> int:
    """A port that was free a moment ago (the bot binds it for the webhook)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


class Stack:
    def __init__(self, workdir: Path, *, flood_limits: bool = False, sandbox_code_after: float | None = None,
                 admin_ids: tuple[int, ...] = (900,), poll_interval: float = 0.5, extra_env: dict | None = None,
                 bot_stdout: Callable[[str], Any] | Any | None = None, telegram_webhook: bool = False) -> None:
        self.workdir = Path(workdir).resolve()  # the bot runs in a subfolder: relative paths would point elsewhere
        self.flood_limits = flood_limits
        self.sandbox_code_after = sandbox_code_after
        self.admin_ids = tuple(admin_ids)
        self.poll_interval = poll_interval
        self.extra_env = dict(extra_env or {})
        self.bot_stdout = bot_stdout
        self.telegram_webhook = telegram_webhook
        self.database_path = self.workdir / "bot.sqlite3"
        self.bot_cwd = self.workdir / "bot-cwd"
        self.webhook_secret = secrets.token_hex(16)
        self.webhook_port = 0
        self.webhook_url = ""
        self.emulator = TelegramEmulator(flood_limits=flood_limits)
        self.gotsms = FakeGotSms(GOTSMS_KEY, auto_code_after=sandbox_code_after)
        self.getatext = FakeGetAText(GETATEXT_KEY, auto_code_after=sandbox_code_after)
        # One number for several services: this pair is one no sandbox number has, to show a refused set.
        self.getatext.apart = {frozenset({"telegram", "instagram"})}
        self.cryptopay = FakeCryptoPay(CRYPTOPAY_TOKEN)
        self.starts = 0
        self.kill_times: list[float] = []  # time.time() of each SIGKILL, taken just before the signal
        self._proc: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task | None = None
        self._log: list[str] = []
        self._started = False

    # ------------------------------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        """Emulator and both fakes on free 127.0.0.1 ports, then the bot."""
        if self._started:
            return
        self.workdir.mkdir(parents=True, exist_ok=True, mode=0o700)  # it holds the database: the bot's alone
        self.bot_cwd.mkdir(exist_ok=True)
        if (self.bot_cwd / ".env").exists():
            raise RuntimeError(f"{self.bot_cwd / '.env'} exists: the bot must get its settings from bot_env() only")
        self._started = True
        try:
            await self.emulator.start()
            await self.gotsms.start()
            await self.getatext.start()
            await self.cryptopay.start()
            self.webhook_port = free_port()
            self.webhook_url = f"http://127.0.0.1:{self.webhook_port}/getatext/{self.webhook_secret}"
            self.getatext.webhook_url = self.webhook_url
            self.cryptopay.webhook_url = f"http://127.0.0.1:{self.webhook_port}/cryptopay"
            await self.start_bot()
        except BaseException:
            await self.stop()
            raise

    async def stop(self) -> None:
        """Stop the bot (SIGTERM, then SIGKILL), then the fakes and the emulator. Safe to call twice."""
        try:
            if self.bot_running:
                await self.stop_bot()
            else:
                await self._reap()
        finally:
            await self.cryptopay.stop()
            await self.getatext.stop()
            await self.gotsms.stop()
            await self.emulator.stop()
            self._started = False

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # ------------------------------------------------------------------------------------------ the bot process
    def bot_env(self) -> dict[str, str]:
        """Every setting of the bot; nothing is inherited but PATH (and the locale, for UTF-8 output)."""
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LANG": "C.UTF-8",
            "PYTHONPATH": str(BOT_IMPORT_ROOT),
            "PYTHONUNBUFFERED": "1",
            "PYTHONIOENCODING": "utf-8",
            "HOME": str(self.bot_cwd),
            "BOT_TOKEN": self.emulator.token,
            "TELEGRAM_API_URL": self.emulator.base_url or "",
            "DATABASE_PATH": str(self.database_path),
            "ADMIN_IDS": ",".join(str(i) for i in self.admin_ids),
            "GOTSMS_API_KEY": GOTSMS_KEY,
            "GOTSMS_BASE_URL": self.gotsms.url,
            "GETATEXT_API_KEY": GETATEXT_KEY,
            "GETATEXT_BASE_URL": self.getatext.url,
            # Long-term numbers offered from the first screen: the sandbox's own prices as the expected ones.
            "GETATEXT_LONG_PRICES": ",".join(f"{code}={price}" for code, (price, _, _) in LONG_PLANS.items()),
            "POLL_INTERVAL": str(self.poll_interval),
            "MARKUP_PERCENT": MARKUP_PERCENT,
            "HTTP_HOST": "127.0.0.1",
            "HTTP_PORT": str(self.webhook_port),
            "GETATEXT_WEBHOOK_SECRET": self.webhook_secret,
            # Card payments in sandbox form: the emulator takes any provider token, as Telegram's test mode does.
            "PAYMENTS_PROVIDER_TOKEN": "playground:TEST:sandbox",
            "CARD_CURRENCY": "EUR",
            # /terms: the repository's sample terms (the bot runs in its own directory); no SUPPORT_CONTACT, so
            # Support is a message to the operator, which the page shows in the operator's chat.
            "TERMS_DIR": str(SAMPLE_TERMS),
            "CARD_RATE": "1.08",
            # Crypto payments in sandbox form: the fake's pay page stands in for @CryptoBot; its signed webhook
            # reaches the bot's HTTP server, and the poll finds what a dropped webhook missed.
            "CRYPTOPAY_TOKEN": CRYPTOPAY_TOKEN,
            "CRYPTOPAY_API_URL": self.cryptopay.api_url,
            "CRYPTOPAY_WEBHOOK_PATH": "/cryptopay",
            "CRYPTOPAY_POLL_INTERVAL": "5",
            # Scripted users tap at machine speed: the per-user budget and cooldowns have their own tests.
            "USER_RATE_PER_SECOND": "1000",
            "USER_RATE_BURST": "1000",
            "ACTION_COOLDOWN": "0",
        }
        if self.telegram_webhook:  # Telegram posts to the bot's HTTP server; its secret_token is the bot's choice
            env["PUBLIC_URL"] = f"http://127.0.0.1:{self.webhook_port}"
        env.update({k: str(v) for k, v in self.extra_env.items()})
        return env

    def _ready_calls(self) -> int:
        """Polling: getUpdates calls. Webhook mode: setWebhook calls that set a URL (the server listens by then)."""
        if self.telegram_webhook:
            return len([c for c in self.emulator.calls_to("setWebhook") if c.get("ok") and c["params"].get("url")])
        return len(self.emulator.calls_to("getUpdates"))

    @property
    def bot_running(self) -> bool:
        return self._proc is not None and self._proc.returncode is None

    @property
    def bot_pid(self) -> int | None:
        return self._proc.pid if self.bot_running else None

    async def start_bot(self) -> None:
        """Start `python -m bot`; return once it has called getUpdates, or set its webhook (it is then ready)."""
        if self.bot_running:
            raise RuntimeError("the bot is already running")
        await self._reap()
        ready_before = self._ready_calls()
        self.starts += 1
        self._emit(f"----- bot start #{self.starts} -----")
        self._proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", cwd=self.bot_cwd, env=self.bot_env(),
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,  # a Ctrl-C in the terminal is for the test runner, not the bot
        )
        self._reader = asyncio.create_task(self._read_output(self._proc), name="bot-output")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + START_TIMEOUT
        while self._ready_calls() <= ready_before:
            if self._proc.returncode is not None:
                await self._reap()
                raise BotStartError(f"the bot exited with code {self._proc.returncode} before polling:\n"
                                    f"{self.bot_log()[-4000:]}")
            if loop.time() > deadline:
                await self.kill_bot()
                raise BotStartError(f"the bot did not poll Telegram within {START_TIMEOUT} s:\n"
                                    f"{self.bot_log()[-4000:]}")
            await asyncio.sleep(0.02)

    async def kill_bot(self) -> None:
        """SIGKILL: no shutdown code runs, like a crash or an OOM kill."""
        if self.bot_running:
            self._emit("----- SIGKILL -----")
            self.kill_times.append(time.time())
            self._proc.send_signal(signal.SIGKILL)
        await self._reap()

    async def stop_bot(self, timeout: float = 20.0) -> None:
        """SIGTERM (aiogram's handler stops polling, the bot closes cleanly); SIGKILL after ``timeout``."""
        if self.bot_running:
            self._emit("----- SIGTERM -----")
            self._proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self._proc.wait(), timeout)
            except TimeoutError:
                self._emit(f"----- no exit {timeout} s after SIGTERM: SIGKILL -----")
                self._proc.send_signal(signal.SIGKILL)
        await self._reap()

    @property
    def bot_returncode(self) -> int | None:
        return self._proc.returncode if self._proc is not None else None

    async def _reap(self) -> None:
        if self._proc is not None:
            await self._proc.wait()
        if self._reader is not None:
            await self._reader  # EOF once the process is gone: the pipe transport is closed
            self._reader = None

    async def _read_output(self, proc: asyncio.subprocess.Process) -> None:
        assert proc.stdout is not None
        while line := await proc.stdout.readline():
            self._emit(line.decode("utf-8", "replace").rstrip("\n"))

    def _emit(self, line: str) -> None:
        self._log.append(line)
        sink = self.bot_stdout
        if sink is None:
            return
        if callable(sink):
            sink(line)
        else:
            sink.write(line + "\n")

    def bot_log(self) -> str:
        """Everything the bot printed so far (all runs, stdout and stderr interleaved)."""
        return "\n".join(self._log)


async def wait_until(predicate: Callable[[], bool], timeout: float, what: str = "condition",
                     interval: float = 0.05) -> None:
    """Poll a cheap synchronous predicate (state of the in-process fakes) until it holds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not reached within {timeout} s")
        await asyncio.sleep(interval)
