"""`python -m playground [--port 8080] [--data DIR]`

With a BOT_TOKEN (environment or ./.env) this is simply the real bot, against Telegram and the providers whose keys
are set: exactly `python -m bot`.

Without one it starts a sandbox on 127.0.0.1: the Telegram Bot API emulator, the fake GotSMS and GetAText (each
rented number receives a code a few seconds later), the real bot process on its SQLite default (a fresh
``DIR/bot.sqlite3``, DIR = data/playground), demo chats with demo money, and a web page that works like a Telegram
chat. It prints one line with the page's address; Ctrl+C stops everything.
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from pathlib import Path

DEFAULT_DATA = Path("data/playground")
SANDBOX_CODE_AFTER = 3.0


class PortUnavailable(Exception):
    pass


def _has_token() -> bool:
    """True when BOT_TOKEN is set (environment or .env): then the real bot runs. A settings file the bot cannot
    read also goes to the real bot, which explains in one line what to fix."""
    from pydantic import ValidationError

    from bot.settings import Settings

    try:
        return bool(Settings().bot_token.get_secret_value().strip())
    except ValidationError:
        return True


def _fresh(data: Path) -> None:
    """The emulator and the fake providers keep no state between runs, so neither does the sandbox's database."""
    for name in ("bot.sqlite3", "bot.sqlite3-wal", "bot.sqlite3-shm", "bot.sqlite3-journal"):
        with contextlib.suppress(FileNotFoundError):
            (data / name).unlink()


async def run_sandbox(host: str, port: int, data: Path) -> None:
    from .server import Playground, serve
    from .stack import Stack

    data.mkdir(parents=True, exist_ok=True, mode=0o700)  # the sandbox's database and log: yours alone
    _fresh(data)
    log_path = data / "bot.log"
    with open(log_path, "w", encoding="utf-8") as bot_log:
        def write(line: str) -> None:
            bot_log.write(line + "\n")
            bot_log.flush()

        stack = Stack(data, sandbox_code_after=SANDBOX_CODE_AFTER, bot_stdout=write)
        pg = Playground(stack, stack.database_path)
        try:  # the page's port first: a busy port fails before anything else is started
            runner, url = await serve(pg, host, port)
        except OSError as err:
            raise PortUnavailable(f"cannot serve the page on {host}:{port} ({err.strerror or err}); "
                                  "try --port 0 or another port") from None
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGHUP):  # like Ctrl+C: stop the bot and the servers, leave no orphan
            loop.add_signal_handler(sig, stop.set)
        try:
            await stack.start()
            await pg.seed()
            print(f"Playground: open {url} (sandbox: fake Telegram and providers, demo money; "
                  f"bot log {log_path}; Ctrl+C stops)", flush=True)
            await stop.wait()
        finally:
            await runner.cleanup()
            await stack.stop()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m playground", description=__doc__.split("\n\n")[1])
    ap.add_argument("--port", type=int, default=8080, help="port of the web page (default 8080; 0 = any free)")
    ap.add_argument("--host", default="127.0.0.1", help="address of the web page (default 127.0.0.1)")
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA,
                    help=f"sandbox folder: the bot's SQLite file and log (default {DEFAULT_DATA}; "
                         "its database is reset at each start)")
    args = ap.parse_args(argv)

    if _has_token():
        from bot.__main__ import main as bot_main
        return bot_main()

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    from .stack import BotStartError

    try:
        asyncio.run(run_sandbox(args.host, args.port, args.data))
    except KeyboardInterrupt:
        pass
    except PortUnavailable as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except BotStartError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print("Playground stopped.", flush=True)
    return 0

if __name__ == "__main__":
    sys.exit(main())
