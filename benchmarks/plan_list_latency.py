"""Cost of a plan list with a long outcome history (issue 17's delivery record): it must not grow with it.

    python -m benchmarks.plan_list_latency --history 0,100000 --lists 300

For each history size: a fresh SQLite file gets that many past rentals (ended, 85 % with a code, spread over
the last 60 days and 40 services, a quarter of them Telegram, the service listed), their SMS rows, and the
delivery record's day rows (storage.outcomes' tables, filled as its incremental updates leave them). Then a
user opens Telegram's plan list through the production Dispatcher (in-memory provider, recording Telegram
session: only the bot's own work is timed), which reads the record, shows it and ranks by it. The figure is
the median and p95 per list, and the ratio of the medians (largest history / none). Target: ratio <= 1.2.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

from bot.app import App, build_bot, build_dispatcher
from bot.settings import Settings
from playground.recording import Person, RecordingSession
from playground.sandbox.memory import MemoryProvider
from storage import outcomes
from storage.models import db_time, utcnow

TOKEN = "123456:BENCH-token-for-recording-session-only"
RATIO_MAX = 1.2


async def fill_history(app: App, size: int) -> None:
    await app.chats.ensure(1, "private", "History")
    now = utcnow()
    rentals, sms, days = [], [], {}
    for i in range(size):
        service = "Telegram" if i % 4 == 0 else f"Service {i % 40}"
        start = now - timedelta(minutes=(i * 863) % (60 * 24 * 60))
        coded = i % 20 >= 3
        rentals.append((i + 1, 1, 1, "memsms", f"p{i}", "tg-day", service, "duration", 100, "1.00", "finished",
                        f"bench:{i}", "+15550001", "USA", db_time(start)))
        key = ("memsms", service, "USA", int(start.timestamp() // 86400))
        entry = days.setdefault(key, [0, 0, [0] * (len(outcomes.EDGES) + 1)])
        entry[0] += 1
        if coded:
            seconds = 10 + (i * 7) % 120
            sms.append(("memsms", f"m{i}", i + 1, "code 1234", "1234", db_time(start + timedelta(seconds=seconds))))
            entry[1] += 1
            entry[2][outcomes._bucket(seconds)] += 1
    async with app.db.transaction() as conn:
        await conn.executemany(
            "INSERT INTO rentals (id, chat_id, user_id, provider, provider_rental_id, offer_id, service_name, billing,"
            " price_charged, provider_cost, status, request_key, phone, country, active_from)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rentals)
        await conn.executemany("INSERT INTO sms (provider, provider_message_id, rental_id, body, code, received_at)"
                               " VALUES (?, ?, ?, ?, ?, ?)", sms)
        await conn.executemany("INSERT INTO outcome_marks (rental_id, delivered) VALUES (?, 1)",
                               [(r[0],) for r in rentals])
        await conn.executemany(
            "INSERT INTO plan_outcomes (provider, service, country, day, rentals, delivered, hist)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)", [(*k, n, d, json.dumps(h)) for k, (n, d, h) in days.items()])


async def measure(size: int, lists: int) -> tuple[list[float], str]:
    with tempfile.TemporaryDirectory(prefix="plans-bench-") as tmp:
        settings = Settings(_env_file=None, bot_token=TOKEN, database_path=Path(tmp) / "bot.sqlite3",
                            markup_percent=Decimal("10"), user_rate_per_second=1e6, user_rate_burst=1_000_000)
        app = await App.open(settings, providers={"memsms": MemoryProvider()})
        try:
            await fill_history(app, size)
            session = RecordingSession()
            alice = Person(build_dispatcher(app), build_bot(TOKEN, settings, session=session), session, 1001,
                           name="Alice")
            await alice.send("/start")
            await alice.press("Rent a number")
            await alice.press("Telegram")
            data = alice.data_of("Back")  # the plan list's Back goes to the services; Telegram again from there
            timings = []
            for i in range(lists + 20):
                await alice.press_data(data)
                start = time.perf_counter()
                await alice.press("Telegram")
                if i >= 20:  # the first ones warm the catalogue cache
                    timings.append(time.perf_counter() - start)
            return timings, alice.screen().text.splitlines()[1] if size else ""
        finally:
            await app.close()


async def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--history", default="0,100000")
    parser.add_argument("--lists", type=int, default=300)
    args = parser.parse_args()
    sizes = [int(s) for s in args.history.split(",")]
    medians = {}
    print(f"{'past rentals':>12} {'p50 ms':>8} {'p95 ms':>8}  record shown")
    for size in sizes:
        timings, shown = await measure(size, args.lists)
        medians[size] = statistics.median(timings)
        p95 = sorted(timings)[int(0.95 * len(timings)) - 1]
        print(f"{size:>12,} {medians[size] * 1000:>8.2f} {p95 * 1000:>8.2f}  {shown}")
    ratio = medians[max(sizes)] / medians[min(sizes)]
    verdict = "met" if ratio <= RATIO_MAX else "NOT met"
    print(f"ratio p50 {max(sizes):,} / {min(sizes):,}: {ratio:.2f} (target <= {RATIO_MAX}: {verdict})")
    return 0 if ratio <= RATIO_MAX else 1


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
