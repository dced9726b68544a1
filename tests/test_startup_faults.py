"""`python -m bot` when the world around it is wrong: a bad database, Telegram unreachable or refusing the token,
a failing menu call, a webhook left on the token. The real process runs; its output is what an operator sees."""
from __future__ import annotations

import asyncio
import itertools
import os
import re
import secrets
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from bot.runner import delays
from playground.emulator import TelegramEmulator
from playground.stack import free_port
from storage.db import Database, DatabaseError

ROOT = Path(__file__).resolve().parent.parent
T = 30.0  # generous: importing aiogram alone takes seconds on a busy machine
ALICE = 111


def fresh_token() -> str:
    return f"{secrets.randbelow(10**9) + 10**8}:{secrets.token_urlsafe(30)}"


def base_env(tmp_path: Path, **settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "SYSTEMROOT")}
    env.update(PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1", PYTHONIOENCODING="utf-8",
               DATABASE_PATH=str(tmp_path / "bot.sqlite3"))
    env.update(settings)
    return env


class BotProcess:
    """`python -m bot` in an empty folder (no `.env`), configured only by ``env``; stdout and stderr kept."""

    def __init__(self, tmp_path: Path, env: dict[str, str]) -> None:
        self.cwd = tmp_path / "cwd"
        self.cwd.mkdir(exist_ok=True)
        self.env = env
        self.lines: list[str] = []
        self.proc: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task | None = None

    async def start(self) -> BotProcess:
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", cwd=self.cwd, env=self.env, stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
        self._reader = asyncio.create_task(self._read())
        return self

    async def _read(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        while line := await self.proc.stdout.readline():
            self.lines.append(line.decode("utf-8", "replace").rstrip("\n"))

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def matching(self, text: str) -> list[str]:
        return [line for line in self.lines if text in line]

    async def wait_for_line(self, text: str, count: int = 1, timeout: float = T) -> list[str]:
        deadline = time.monotonic() + timeout
        while len(self.matching(text)) < count:
            if self.proc.returncode is not None and self._reader.done():
                raise AssertionError(f"exited with {self.proc.returncode} before {count}x {text!r}:\n{self.output}")
            if time.monotonic() > deadline:
                raise AssertionError(f"no {count}x {text!r} within {timeout} s:\n{self.output}")
            await asyncio.sleep(0.05)
        return self.matching(text)

    async def wait_exit(self, timeout: float = T) -> int:
        try:
            await asyncio.wait_for(self.proc.wait(), timeout)
        except TimeoutError:
            raise AssertionError(f"still running {timeout} s later:\n{self.output}") from None
        await self._reader
        return self.proc.returncode

    async def stop(self, timeout: float = 10.0) -> int:
        """SIGTERM, as a supervisor sends it; the exit must follow promptly."""
        self.proc.send_signal(signal.SIGTERM)
        return await self.wait_exit(timeout)

    async def kill(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()
        if self._reader is not None:
            await self._reader


@pytest.fixture
async def processes():
    started: list[BotProcess] = []

    async def start(tmp_path: Path, env: dict[str, str]) -> BotProcess:
        started.append(await BotProcess(tmp_path, env).start())
        return started[-1]

    yield start
    for proc in started:
        await proc.kill()


@pytest.fixture
async def emulator():
    async with TelegramEmulator() as emu:
        emu.add_user(ALICE, "Alice")
        yield emu


def error_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.strip()]


def run_once(tmp_path: Path, timeout: float = T, **settings: str) -> subprocess.CompletedProcess:
    """A run expected to end by itself; a hang fails the test instead of blocking it."""
    cwd = tmp_path / "cwd"
    cwd.mkdir(exist_ok=True)
    env = base_env(tmp_path, BOT_TOKEN=fresh_token(), TELEGRAM_API_URL=f"http://127.0.0.1:{free_port()}",
                   **settings)
    try:
        return subprocess.run([sys.executable, "-m", "bot"], cwd=cwd, env=env, capture_output=True, text=True,
                              timeout=timeout)
    except subprocess.TimeoutExpired as err:
        raise AssertionError(f"`python -m bot` still running after {timeout} s: {err.stderr!r}") from None


# ------------------------------------------------------------------------------------------------ 8: the database
def assert_one_line(result: subprocess.CompletedProcess, *expected: str) -> None:
    lines = error_lines(result.stderr)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert len(lines) == 1 and all(text in lines[0] for text in expected), result.stderr


def test_database_file_that_is_not_sqlite_ends_with_one_line(tmp_path):
    path = tmp_path / "notes.sqlite3"
    path.write_text("these are somebody's notes, not a database\n" * 50)
    path.chmod(0o600)  # else a line says the bot tightened it
    result = run_once(tmp_path, DATABASE_PATH=str(path))
    assert_one_line(result, str(path), "not an SQLite database")


async def test_failed_connect_closes_its_connection_and_raises_one_storage_error(tmp_path):
    path = tmp_path / "notes.sqlite3"
    path.write_text("not a database\n" * 100)
    before = set(threading.enumerate())
    with pytest.raises(DatabaseError, match=f"database {re.escape(str(path))} is not an SQLite database"):
        await Database(path).connect()
    for thread in set(threading.enumerate()) - before:
        thread.join(5)  # aiosqlite's worker ends once its connection is closed; a leaked one never does
        assert not thread.is_alive(), f"{thread.name} still runs: it would keep `python -m bot` from exiting"


def test_database_locked_by_another_process_ends_with_one_line_within_seconds(tmp_path):
    path = tmp_path / "bot.sqlite3"
    path.touch(mode=0o600)  # else a line says the bot tightened it (and the journal, which takes its mode)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("CREATE TABLE t (x)")
    holder.execute("BEGIN EXCLUSIVE")
    holder.execute("INSERT INTO t VALUES (1)")
    try:
        started = time.monotonic()
        result = run_once(tmp_path, DATABASE_PATH=str(path))
        elapsed = time.monotonic() - started
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert_one_line(result, str(path), "locked by another process")
    assert elapsed < 25, elapsed  # the 5 s busy timeout plus start-up, never a hang


def test_database_path_that_is_a_directory_ends_with_one_line(tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    result = run_once(tmp_path, DATABASE_PATH=str(folder))
    assert_one_line(result, str(folder), "is a directory")


def test_database_folder_that_is_a_file_ends_with_one_line(tmp_path):
    (tmp_path / "data").write_text("a file where the folder should be")
    result = run_once(tmp_path, DATABASE_PATH=str(tmp_path / "data" / "bot.sqlite3"))
    assert_one_line(result, "is a file, not a folder")


# ------------------------------------------------------------------------------------------------ 10: reaching Telegram
async def test_unreachable_bot_api_one_line_per_retry_and_sigterm_ends_it(tmp_path, processes):
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    bot = await processes(tmp_path, base_env(tmp_path, BOT_TOKEN=fresh_token(), TELEGRAM_API_URL=url))
    first, second = await bot.wait_for_line(f"cannot reach the Bot API at {url}: ", count=2)
    assert "retrying in 1 s" in first and "retrying in 2 s" in second  # doubling back-off
    started = time.monotonic()
    assert await bot.stop() == 0
    assert time.monotonic() - started < 5
    assert "Traceback" not in bot.output
    assert bot.matching("stopped by SIGTERM before the updates started")


async def test_bot_api_that_comes_up_later_is_used(tmp_path, processes):
    port = free_port()
    emu = TelegramEmulator(port=port)
    bot = await processes(tmp_path, base_env(tmp_path, BOT_TOKEN=emu.token,
                                             TELEGRAM_API_URL=f"http://127.0.0.1:{port}"))
    await bot.wait_for_line("cannot reach the Bot API")
    async with emu:
        emu.add_user(ALICE, "Alice")
        await emu.wait_for_call("getUpdates", timeout=T)
        emu.send_message(ALICE, ALICE, "/start")
        await emu.wait_for(chat_id=ALICE, text="Virtual numbers", timeout=T)
        assert bot.matching(f"reached the Bot API at http://127.0.0.1:{port} after ")
        assert await bot.stop() == 0
    assert "Traceback" not in bot.output


def test_back_off_doubles_from_1_s_to_60_s():
    assert list(itertools.islice(delays(), 9)) == [1, 2, 4, 8, 16, 32, 60, 60, 60]


async def test_refused_token_ends_with_one_line_and_exit_1(tmp_path, processes, emulator):
    bot = await processes(tmp_path, base_env(tmp_path, BOT_TOKEN=fresh_token(), TELEGRAM_API_URL=emulator.base_url))
    assert await bot.wait_exit() == 1
    assert bot.lines[-1] == "error: Telegram refused BOT_TOKEN (401 Unauthorized): check it with @BotFather"
    assert "Traceback" not in bot.output
    assert not emulator.calls_to("getUpdates")


# ------------------------------------------------------------------------------------------------ 9: secrets
FAULTS = {
    "url without scheme": lambda emu: "api.telegram.org",
    "url with a bad host": lambda emu: "http://bad..host",
    "host that does not resolve": lambda emu: "http://bot-api.invalid",
    "closed port": lambda emu: f"http://127.0.0.1:{free_port()}",
    "refused token": lambda emu: emu.base_url,
}


@pytest.mark.parametrize("fault", list(FAULTS))
async def test_no_secret_in_the_output_of_any_start_fault(tmp_path, processes, emulator, fault):
    keys = {"BOT_TOKEN": fresh_token(), "GOTSMS_API_KEY": f"gotsms-{secrets.token_hex(12)}",
            "GETATEXT_API_KEY": f"getatext-{secrets.token_hex(12)}",
            "GETATEXT_WEBHOOK_SECRET": secrets.token_hex(16), "TELEGRAM_WEBHOOK_SECRET": secrets.token_hex(16)}
    closed = f"http://127.0.0.1:{free_port()}"
    env = base_env(tmp_path, **keys, TELEGRAM_API_URL=FAULTS[fault](emulator), HTTP_PORT=str(free_port()),
                   HTTP_HOST="127.0.0.1", GOTSMS_BASE_URL=closed, GETATEXT_BASE_URL=closed)
    bot = await processes(tmp_path, env)
    deadline = time.monotonic() + T
    while bot.proc.returncode is None and time.monotonic() < deadline:
        if len(bot.matching("cannot reach the Bot API")) >= 2:  # it waits for Telegram: stop it as a supervisor would
            await bot.stop()
        await asyncio.sleep(0.05)
    await bot.wait_exit()
    assert bot.output.strip(), "the fault produced no output to check"
    for name, value in keys.items():
        assert value not in bot.output, f"{name} printed:\n{bot.output}"
        if name == "BOT_TOKEN":
            assert value.partition(":")[2] not in bot.output, bot.output
    assert "Traceback" not in bot.output


SCRIPT = """
import asyncio, logging, sys, warnings
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from bot.__main__ import protect, setup_logging
from bot.settings import Settings

token, gotsms, getatext, hook = sys.argv[1:5]
setup_logging()
settings = Settings(_env_file=None, bot_token=token, gotsms_api_key=gotsms, getatext_api_key=getatext,
                    getatext_webhook_secret=hook, http_port=8443)
protect(settings, token)

async def get_me():
    # aiohttp refuses the URL and quotes all of it, token included: a real library's error text
    bot = Bot(token, session=AiohttpSession(api=TelegramAPIServer.from_base("ftp://bot-api.example")))
    try:
        await bot.get_me()
    finally:
        await bot.session.close()

try:
    asyncio.run(get_me())
except Exception:
    logging.getLogger("aiogram.event").exception("logged with its traceback")
logging.getLogger("some.library").error("keys in a message: %s %s", gotsms, getatext)
warnings.warn(f"a warning quoting {hook}")
asyncio.run(get_me())  # uncaught: sys.excepthook prints it
"""


def test_secrets_masked_in_library_errors_logs_warnings_and_uncaught_tracebacks(tmp_path):
    token, keys = fresh_token(), [f"gotsms-{secrets.token_hex(8)}", f"getatext-{secrets.token_hex(8)}",
                                  secrets.token_hex(16)]
    result = subprocess.run([sys.executable, "-c", SCRIPT, token, *keys], cwd=tmp_path, capture_output=True,
                            text=True, timeout=T, env=base_env(tmp_path))
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    masked = re.findall(r"ftp://bot-api\.example/bot(?:\d+:)?\*\*\*/getMe", output)  # the id may stay
    assert len(masked) >= 4, output  # each of the two errors, logged and uncaught, in message and traceback
    assert "logged with its traceback" in output and "Traceback" in output
    assert "keys in a message: *** ***" in output and "a warning quoting ***" in output
    for secret in (token, token.partition(":")[2], *keys):
        assert secret not in output, output


# ------------------------------------------------------------------------------------------------ 14: the menu
async def test_failed_menu_call_does_not_stop_the_bot(tmp_path, processes, emulator):
    emulator.fail_next("setMyCommands", 500)
    emulator.fail_next("setMyCommands", 0)  # then a network failure: the connection ends unanswered
    bot = await processes(tmp_path, base_env(tmp_path, BOT_TOKEN=emulator.token,
                                             TELEGRAM_API_URL=emulator.base_url))
    await emulator.wait_for_call("getUpdates", timeout=T)
    emulator.send_message(ALICE, ALICE, "/start")
    await emulator.wait_for(chat_id=ALICE, text="Virtual numbers", timeout=T)
    await bot.wait_for_line("could not set the command menu", count=2)
    await bot.wait_for_line("command menu set after 3 attempts")
    assert [c["command"] for c in emulator.commands][:1] == ["start"]
    assert "Traceback" not in bot.output
    assert await bot.stop() == 0


# ------------------------------------------------------------------------------------------------ 15: the webhook
async def test_webhook_left_on_the_token_is_removed_and_the_bot_answers(tmp_path, processes, emulator):
    emulator.set_webhook("https://old-deployment.example/hook/s3cret-path")
    emulator.send_message(ALICE, ALICE, "/start")  # the old webhook is gone: Telegram keeps this pending
    bot = await processes(tmp_path, base_env(tmp_path, BOT_TOKEN=emulator.token,
                                             TELEGRAM_API_URL=emulator.base_url))
    await emulator.wait_for(chat_id=ALICE, text="Virtual numbers", timeout=T)
    assert emulator.webhook_url == ""
    (delete,) = emulator.calls_to("deleteWebhook")
    assert str(delete["params"].get("drop_pending_updates", False)).lower() == "false"  # pending updates kept
    assert not [c for c in emulator.calls_to("getUpdates") if c.get("error_code") == 409]
    (line,) = bot.matching("removed the webhook")
    assert "https://old-deployment.example/..." in line and "1 pending update(s) kept" in line
    assert "s3cret-path" not in bot.output
    assert await bot.stop() == 0


async def test_drop_pending_updates_drops_what_arrived_while_the_webhook_was_set(tmp_path, processes, emulator):
    emulator.set_webhook()
    emulator.send_message(ALICE, ALICE, "/help")  # answered if kept; dropped, it never is
    bot = await processes(tmp_path, base_env(tmp_path, BOT_TOKEN=emulator.token,
                                             TELEGRAM_API_URL=emulator.base_url, DROP_PENDING_UPDATES="true"))
    await emulator.wait_for_call("getUpdates", timeout=T)
    emulator.send_message(ALICE, ALICE, "/start")
    await emulator.wait_for(chat_id=ALICE, text="Virtual numbers", timeout=T)
    assert len(emulator.bot_messages(ALICE)) == 1  # only the /start sent after the start-up
    await bot.wait_for_line("1 pending update(s) dropped (DROP_PENDING_UPDATES)")
    assert await bot.stop() == 0


async def test_no_webhook_means_no_delete_call(tmp_path, processes, emulator):
    bot = await processes(tmp_path, base_env(tmp_path, BOT_TOKEN=emulator.token,
                                             TELEGRAM_API_URL=emulator.base_url))
    await emulator.wait_for_call("getUpdates", timeout=T)
    assert emulator.calls_to("getWebhookInfo") and not emulator.calls_to("deleteWebhook")
    assert not bot.matching("webhook")
    assert await bot.stop() == 0
