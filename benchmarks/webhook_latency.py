"""Push latency on the GetAText webhook path: from the webhook request leaving the provider to Telegram
accepting the message.

    python -m benchmarks.webhook_latency --codes 100

Everything local, in this one process: playground.sandbox.getatext.FakeGetAText (the provider, which POSTs
its documented webhook, the code as a JSON integer) and playground.emulator.TelegramEmulator (the
Bot API). The bot side is the production wiring: App.open() builds the real GetATextClient, and
bot.background.Background runs the webhook receiver (which reads rental-status once to restore a code's
leading zeros), the SQLite outbox and paced delivery through aiogram. Rentals are made through the client
against the fake (its 1/s rent limit off) and recorded as active in our database, one private chat each,
so the per-chat pace does not dominate. Latency = the emulator accepting the sendMessage with the code,
minus the moment just before the fake POSTs the webhook. Codes are sent one after another.
Targets: p50 <= 100 ms, p99 <= 300 ms.
"""
from __future__ import annotations

import argparse
import asyncio
import random
import re
import secrets
import socket
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.app import App, build_bot
from bot.background import Background
from bot.settings import Settings
from playground.emulator import TelegramEmulator
from playground.sandbox.getatext import FakeGetAText

from .push_latency import percentile

CODE_IN_TEXT = re.compile(r"<code>(\d+)</code>")
FIRST_CHAT = 20_000_000
P50_MAX, P99_MAX = 0.100, 0.300


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def measure(codes: int, chats: int) -> list[float]:
    delivered: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="webhook-bench-") as tmp:
        fake = FakeGetAText(balance="100000")
        fake.enforce_rate_limit = False
        fake.webhook_int_codes = True  # as documented
        await fake.start()
        emu = TelegramEmulator()
        await emu.start()
        send = emu._api["sendmessage"]

        def timed_send(params: dict) -> dict:
            message = send(params)
            if found := CODE_IN_TEXT.search(str(params.get("text", ""))):
                delivered.setdefault(found.group(1), time.monotonic())
            return message

        emu._api["sendmessage"] = timed_send
        port, secret = free_port(), secrets.token_urlsafe(32)
        settings = Settings(_env_file=None, bot_token=emu.token, telegram_api_url=emu.base_url,
                            database_path=Path(tmp) / "bot.sqlite3", getatext_api_key=fake.api_key,
                            getatext_base_url=fake.url, poll_interval=30, http_host="127.0.0.1",
                            http_port=port, getatext_webhook_secret=secret, backup_dir=Path(tmp) / "backups")
        app = await App.open(settings)
        client = app.providers["getatext"]
        client._rent_pacer.interval = 0  # the fake's limit is off: make the rentals quickly
        made = [(await client.rent_a_number("telegram")).rental for _ in range(chats)]
        now = datetime.now(UTC)
        async with app.db.transaction() as conn:
            await conn.executemany("INSERT INTO chats (id, kind, title) VALUES (?, 'private', 'U')",
                                   [(FIRST_CHAT + i,) for i in range(chats)])
            await conn.executemany(
                "INSERT INTO rentals (chat_id, user_id, provider, provider_rental_id, offer_id, service_name,"
                " billing, phone, price_charged, provider_cost, status, active_from, active_till, request_key)"
                " VALUES (?, ?, 'getatext', ?, 'telegram', 'Telegram', 'sms', ?, 60, '0.45', 'active', ?, ?, ?)",
                [(FIRST_CHAT + i, FIRST_CHAT + i, r.id, r.phone, now.isoformat(),
                  (now + timedelta(hours=1)).isoformat(), f"bench:{r.id}") for i, r in enumerate(made)])
        for i in range(chats):
            emu.add_user(FIRST_CHAT + i, f"User {i}")
        bot = build_bot(emu.token, settings)
        background = Background(app, bot)
        await background.start()
        fake.webhook_url = f"http://127.0.0.1:{port}/getatext/{secret}"
        latencies = []
        try:
            for k in range(codes):
                code = f"{random.randrange(0, 1_000_000):06d}"
                while code in delivered:
                    code = f"{random.randrange(0, 1_000_000):06d}"
                started = time.monotonic()
                await fake.inject_code(made[k % chats].id, code)
                deadline = started + 10
                while code not in delivered and time.monotonic() < deadline:
                    await asyncio.sleep(0.001)
                if code in delivered:
                    latencies.append(delivered[code] - started)
                await asyncio.sleep(1.2 / chats)  # each chat's last message is 1.2 s old: its 1/s pace never waits
        finally:
            await background.stop()
            await bot.session.close()
            await app.close()
            await emu.stop()
            await fake.stop()
    return latencies


async def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--codes", type=int, default=100)
    parser.add_argument("--chats", type=int, default=8)  # the fake stocks 10 Telegram numbers
    args = parser.parse_args()
    latencies = await measure(args.codes, args.chats)
    p50, p99 = percentile(latencies, 50), percentile(latencies, 99)
    ok = len(latencies) == args.codes and p50 <= P50_MAX and p99 <= P99_MAX
    print(f"{len(latencies)}/{args.codes} codes pushed; webhook to Telegram: p50 {p50 * 1000:.0f} ms, "
          f"p99 {p99 * 1000:.0f} ms (targets {P50_MAX * 1000:.0f} / {P99_MAX * 1000:.0f} ms: "
          f"{'met' if ok else 'NOT met'})")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
