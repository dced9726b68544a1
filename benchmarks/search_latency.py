"""Cost of a typed search with a long rental history: it must not grow with the history.

    python -m benchmarks.search_latency --history 0,100000 --searches 300

For each history size: a fresh SQLite file gets that many past rentals (spread over 40 services, written
with executemany, the popularity summary filled by the same migration step that backfills it), then a user
types service searches into the production Dispatcher (built by bot.app.build_dispatcher, with the
in-memory provider and a recording Telegram session, so only the bot's own work is timed). Latency per
search is the time dp.feed_update takes; the figure is the median and p95, and the ratio of the medians
(largest history / none). Target: ratio <= 1.2.
"""
from __future__ import annotations

import argparse
import asyncio
import itertools
import statistics
import tempfile
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from aiogram.types import Chat, Message, Update, User

from bot.app import App, build_bot, build_dispatcher
from bot.settings import Settings
from playground.recording import RecordingSession
from playground.sandbox.memory import MemoryProvider

TOKEN = "123456:BENCH-token-for-recording-session-only"
RATIO_MAX = 1.2
QUERIES = ("tele", "whats", "goo", "tel", "wha")


async def fill_history(app: App, size: int) -> None:
    await app.chats.ensure(1, "private", "History")
    rows = [(1, 1, "memsms", f"p{i}", f"offer{i % 40}", f"Service {i % 40}", "duration", 100, "1.00", "finished",
             f"bench:{i}") for i in range(size)]
    async with app.db.transaction() as conn:
        await conn.executemany(
            "INSERT INTO rentals (chat_id, user_id, provider, provider_rental_id, offer_id, service_name, billing,"
            " price_charged, provider_cost, status, request_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
        await conn.execute("DELETE FROM service_popularity")
        await conn.execute("INSERT INTO service_popularity (name, rentals) SELECT lower(service_name), COUNT(*)"
                           " FROM rentals GROUP BY lower(service_name)")


async def measure(size: int, searches: int) -> list[float]:
    with tempfile.TemporaryDirectory(prefix="search-bench-") as tmp:
        settings = Settings(_env_file=None, bot_token=TOKEN, database_path=Path(tmp) / "bot.sqlite3",
                            markup_percent=Decimal("10"), user_rate_per_second=1e6, user_rate_burst=1_000_000)
        app = await App.open(settings, providers={"memsms": MemoryProvider()})
        try:
            await fill_history(app, size)
            dp, bot = build_dispatcher(app), build_bot(TOKEN, settings, session=RecordingSession())
            user = User(id=1001, is_bot=False, first_name="Alice", language_code="en")
            chat = Chat(id=1001, type="private", first_name="Alice")
            ids = itertools.count(1)
            timings = []
            for i in range(searches + 20):
                message = Message(message_id=next(ids), date=datetime.now(UTC), chat=chat, from_user=user,
                                  text=QUERIES[i % len(QUERIES)])
                update = Update(update_id=next(ids), message=message)
                start = time.perf_counter()
                await dp.feed_update(bot, update)
                if i >= 20:  # the first ones warm the catalogue cache
                    timings.append(time.perf_counter() - start)
            return timings
        finally:
            await app.close()


async def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--history", default="0,100000")
    parser.add_argument("--searches", type=int, default=300)
    args = parser.parse_args()
    sizes = [int(s) for s in args.history.split(",")]
    medians = {}
    print(f"{'past rentals':>12} {'p50 ms':>8} {'p95 ms':>8}")
    for size in sizes:
        timings = await measure(size, args.searches)
        medians[size] = statistics.median(timings)
        p95 = sorted(timings)[int(0.95 * len(timings)) - 1]
        print(f"{size:>12,} {medians[size] * 1000:>8.2f} {p95 * 1000:>8.2f}")
    ratio = medians[max(sizes)] / medians[min(sizes)]
    verdict = "met" if ratio <= RATIO_MAX else "NOT met"
    print(f"ratio p50 {max(sizes):,} / {min(sizes):,}: {ratio:.2f} (target <= {RATIO_MAX}: {verdict})")
    return 0 if ratio <= RATIO_MAX else 1


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
