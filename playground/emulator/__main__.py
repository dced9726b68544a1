"""``python -m playground.emulator [--port 8081] [--token ...] [--flood-limits] [--no-privacy]``: the emulator on
its own; it prints its base URL, the bot token and where the control API is. Ctrl+C stops it.
"""
from __future__ import annotations

import argparse
import asyncio
import logging

from .core import DEFAULT_TOKEN, TelegramEmulator


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="Local Telegram Bot API emulator")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8081)
    ap.add_argument("--token", default=DEFAULT_TOKEN)
    ap.add_argument("--bot-username", default="rentsms_test_bot")
    ap.add_argument("--flood-limits", action="store_true")
    ap.add_argument("--no-privacy", action="store_true", help="the bot sees every group message")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    async def run() -> None:
        emu = TelegramEmulator(args.token, bot_username=args.bot_username, host=args.host, port=args.port,
                               flood_limits=args.flood_limits, privacy_mode=not args.no_privacy)
        url = await emu.start()
        print(f"Telegram Bot API emulator on {url} (token {emu.token}); control API under {url}/_control/",
              flush=True)
        try:
            await asyncio.Event().wait()
        finally:
            await emu.stop()

    try:
        asyncio.run(run())
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
