"""Push latency of SMS codes, provider load per poll tick, and delivery throughput under a burst.

    python -m benchmarks.push_latency --sizes 1,100,1000,10000 --tick 1.0 --codes 50 --burst 1000
    python -m benchmarks.push_latency --sizes '' --burst 0 --broadcast 10000 --codes 100

Everything runs in this one process against local fakes on 127.0.0.1: playground.sandbox.gotsms.FakeGotSms
(the provider) and playground.emulator.TelegramEmulator (the Bot API). The bot side is the production
wiring, unchanged: App.open() with a temporary DATABASE_PATH builds the real GotSmsClient (HTTP to the fake),
build_bot() gives an aiogram Bot on AiohttpSession(api=TelegramAPIServer.from_base(emulator URL)), and
bot.background.Background is started as in production: its APScheduler AsyncIOScheduler runs SmsPoller.tick
every --tick seconds (POLL_INTERVAL), Deliverer.run() drains the SQLite outbox through ChatSender with the real
the one outbound path (bot/outbound/pace.py, default limits). Its other jobs (expire, reconcile, ...) run too.

Setup per size: N active rentals are written straight into the fake's ``rents`` dict (the same record
_create_rent builds) and into our ``chats``/``rentals`` tables with executemany; each rental has its own private
chat, which is also added to the emulator as a user, so sendMessage succeeds.

1. Latency, per size (flood limits off): --codes codes, code k injected at k*slot + uniform(0, tick)
   (slot = tick; 2*tick for size 1 so one chat never gets two codes in one tick), each to a different
   rental while there are enough (so the per-chat 1 msg/s limit does not dominate). Latency = time.monotonic()
   when the emulator accepts the sendMessage whose text holds ``<code>CODE</code>`` (a wrapper around the
   emulator's sendMessage handler) minus time.monotonic() just before FakeGotSms.inject_sms().
   Provider requests per tick = requests logged by the fake during the run / ticks during the run (a tick
   is counted by its first unread-listing request: page 1 without mark_as_read).
   With --broadcast N (N = the size of that run): the latency run at size N twice, one after the other: as above,
   then with a broadcast to all N private chats confirmed just before the codes (through bot.services.broadcasts,
   sent by the production bot.outbound.broadcaster.Broadcaster in Background, through the same ChatSender and
   outbound path).
   Both p99 figures and their difference are printed; the broadcast's own sends during the codes are counted.
2. Burst (flood limits ON): --burst rentals in --burst private chats, one code each, all injected at once.
   Rate = (delivered - 1) / (last accepted send - first accepted send); 429s as counted by the emulator.
"""
from __future__ import annotations

import argparse
import asyncio
import itertools
import logging
import math
import random
import re
import socket
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Self

import httpx

from bot.app import App, build_bot
from bot.background import Background
from bot.services.broadcasts import parse
from bot.settings import Settings
from playground.emulator import TelegramEmulator
from playground.sandbox.gotsms import FakeGotSms

CODE_IN_TEXT = re.compile(r"<code>(\d+)</code>")
FIRST_CHAT = 10_000_000  # chat i (private, = user id) is FIRST_CHAT + i
P50_MAX, P99_MAX, BURST_MIN = 1.5, 3.0, 27.0
BROADCAST_P99_MAX_RISE = 1.0  # seconds a running broadcast may add to the code push p99


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)] if ordered else float("nan")


class EmulatorProcess:
    """The Bot API emulator in a process of its own, as Telegram would be: a pause of the bot's event loop
    (GC, a long poll tick) then delays only the bot's sends, not the emulator's clock that counts them."""

    async def start(self, flood_limits: bool) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        args = [sys.executable, "-m", "playground.emulator", "--port", str(port)]
        self.proc = await asyncio.create_subprocess_exec(
            *(args + ["--flood-limits"] if flood_limits else args), stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL, cwd=str(Path(__file__).resolve().parent.parent))
        line = (await asyncio.wait_for(self.proc.stdout.readline(), 30)).decode()
        self.base_url = re.search(r"on (http://\S+)", line).group(1)
        self.token = re.search(r"token (\S+)\)", line).group(1)
        self.http = httpx.AsyncClient(base_url=f"{self.base_url}/_control", timeout=60)

    async def add_users(self, ids: range) -> None:
        for user_id in ids:
            (await self.http.post("/users", json={"user_id": user_id, "first_name": f"User {user_id}"})
             ).raise_for_status()

    async def accepted_sends(self) -> dict[str, float]:
        """code -> wall-clock time the emulator accepted the sendMessage carrying it."""
        calls = (await self.http.get("/calls", params={"method": "sendMessage"})).json()["result"]
        found: dict[str, float] = {}
        for call in calls:
            if call.get("ok", True) and (code := CODE_IN_TEXT.search(str(call["params"].get("text", "")))):
                found.setdefault(code.group(1), call["time"])
        return found

    async def count_429(self) -> int:
        return (await self.http.get("/state")).json()["result"]["count_429"]

    async def stop(self) -> None:
        await self.http.aclose()
        self.proc.terminate()
        await self.proc.wait()


class Rig:
    """Fakes + the production bot pipeline for ``size`` active rentals, one private chat each."""

    def __init__(self, size: int, tick: float, flood_limits: bool, *, emulator_process: bool = False) -> None:
        self.size, self.tick, self.flood_limits = size, tick, flood_limits
        self.emulator_process = emulator_process
        self.delivered: dict[str, float] = {}  # code -> monotonic time the emulator accepted its message

    async def __aenter__(self) -> Self:
        started = time.monotonic()
        self.tmp = tempfile.TemporaryDirectory(prefix="push-bench-")
        self.fake = FakeGotSms(balance="1000000")
        await self.fake.start()
        if self.emulator_process:
            self.emu = EmulatorProcess()
            await self.emu.start(self.flood_limits)
        else:
            self.emu = TelegramEmulator(flood_limits=self.flood_limits)
            await self.emu.start()
            self._hook_emulator()
        self.rent_ids = self._seed_fake()
        settings = Settings(_env_file=None, bot_token=self.emu.token, telegram_api_url=self.emu.base_url,
                            database_path=Path(self.tmp.name) / "bot.sqlite3", gotsms_api_key=self.fake.api_key,
                            gotsms_base_url=self.fake.url, poll_interval=self.tick)
        self.app = await App.open(settings)
        await self._seed_db()
        if self.emulator_process:
            await self.emu.add_users(range(FIRST_CHAT, FIRST_CHAT + self.size))
        else:
            for i in range(self.size):
                self.emu.add_user(FIRST_CHAT + i, f"User {i}")
        self.bot = build_bot(self.emu.token, settings)
        self.background = Background(self.app, self.bot)  # default limits: 28 new messages/s, 0.9/s per chat
        await self.background.start()
        self.setup_seconds = time.monotonic() - started
        return self

    async def __aexit__(self, *exc) -> None:
        await self.background.stop()
        await asyncio.sleep(0.5)  # let a poll tick already under way finish before the database closes
        await self.bot.session.close()
        await self.app.close()
        await self.emu.stop()
        await self.fake.stop()
        self.tmp.cleanup()

    def _hook_emulator(self) -> None:
        send = self.emu._api["sendmessage"]

        def timed_send(params: dict) -> dict:
            message = send(params)  # raises ApiError (e.g. 429): then nothing was delivered
            now = time.monotonic()
            if found := CODE_IN_TEXT.search(str(params.get("text", ""))):
                self.delivered.setdefault(found.group(1), now)
            return message

        self.emu._api["sendmessage"] = timed_send

    def _seed_fake(self) -> list[str]:
        """Active rents written into the fake's state, as its POST /api/rents handler would."""
        plan = self.fake.plans[self.fake.find_plan("Telegram", "day")]
        now = datetime.now(UTC).replace(microsecond=0)
        ids = []
        for i in range(self.size):
            rent_id = self.fake._new_id()
            self.fake.rents[rent_id] = {
                "id": rent_id, "plan_id": plan["id"], "service_id": plan["service_id"],
                "phone": f"+1 800 555 {i:05d}", "price": plan["price"], "status": "active", "auto_renew": False,
                "active_from": now, "active_till": now + timedelta(minutes=plan["duration_in_minutes"]),
                "wake_from": None, "wake_till": None, "online_till": None, "sms_count": 0,
            }
            ids.append(rent_id)
        return ids

    async def _seed_db(self) -> None:
        now = datetime.now(UTC)
        till = (now + timedelta(days=1)).isoformat()
        async with self.app.db.transaction() as conn:
            await conn.executemany("INSERT INTO chats (id, kind, title) VALUES (?, 'private', ?)",
                                   [(FIRST_CHAT + i, f"User {i}") for i in range(self.size)])
            await conn.executemany(
                "INSERT INTO rentals (chat_id, user_id, provider, provider_rental_id, offer_id, service_name,"
                " billing, duration_label, country, phone, price_charged, provider_cost, status, active_from,"
                " active_till, request_key, duration_minutes)"
                " VALUES (?, ?, 'gotsms', ?, 'plan', 'Telegram', 'duration', '1 day', 'USA', ?, 100, '1', 'active',"
                " ?, ?, ?, 1440)",
                [(FIRST_CHAT + i, FIRST_CHAT + i, rent_id, f"+1800555{i:05d}", now.isoformat(), till,
                  f"bench:{rent_id}") for i, rent_id in enumerate(self.rent_ids)])

    def inject(self, index: int, code: str) -> float:
        at = time.monotonic()
        self.fake.inject_sms(self.rent_ids[index], f"Telegram code: {code}. Do not share it.", code=code)
        return at

    def ticks(self, requests: list) -> int:
        return sum(1 for _, path, q in requests
                   if path == "/api/messages/unread" and "mark_as_read" not in q and q.get("page") == "1")

    async def wait_delivered(self, codes, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not all(c in self.delivered for c in codes):
            await asyncio.sleep(0.02)


async def start_broadcast(rig: Rig) -> tuple[int, int]:
    """A broadcast to every private chat, confirmed as the operator's buttons would (progress message in chat 0).
    Returns (broadcast id, chats); waits until it is sending."""
    operator = FIRST_CHAT
    progress = await rig.bot.send_message(operator, "broadcast progress")
    broadcasts = rig.app.broadcasts
    draft = await broadcasts.draft(operator, operator, "en", parse("/broadcast <b>News</b>: new services are in."
                                                                   "\nOpen | https://example.com/news"))
    await broadcasts.start(draft.id, "private", progress.message_id)
    chats = (await broadcasts.counts(draft.id)).total
    deadline = time.monotonic() + 30
    while rig.background.broadcaster.sent_count < 28 and time.monotonic() < deadline:
        await asyncio.sleep(0.05)  # a second of it has gone out: running at its pace
    return draft.id, chats


async def measure_latency(size: int, args, broadcast: bool = False) -> dict:
    rng = random.Random(size)
    async with Rig(size, args.tick, flood_limits=False) as rig:
        await asyncio.sleep(args.tick * 1.5)  # the scheduler's first ticks have run: steady state
        extra = {}
        if broadcast:
            extra["broadcast_id"], extra["broadcast_chats"] = await start_broadcast(rig)
            sent_before, began = rig.background.broadcaster.sent_count, time.monotonic()
        order = rng.sample(range(size), size)
        codes = [str(c) for c in rng.sample(range(10_000_000, 100_000_000), args.codes)]
        slot = args.tick * (2 if size == 1 else 1)
        first_request, start = len(rig.fake.requests), time.monotonic()
        injected: dict[str, float] = {}
        for k, code in enumerate(codes):
            await asyncio.sleep(max(0.0, start + k * slot + rng.uniform(0, args.tick) - time.monotonic()))
            injected[code] = rig.inject(order[k % size], code)
        await rig.wait_delivered(codes, timeout=30 + 10 * args.tick)
        if broadcast:
            span = time.monotonic() - began
            extra["broadcast_sent"] = rig.background.broadcaster.sent_count - sent_before
            extra["broadcast_rate"] = extra["broadcast_sent"] / span
            counts = await rig.app.broadcasts.counts(extra["broadcast_id"])
            extra["broadcast_left"] = counts.pending
        requests = rig.fake.requests[first_request:]
        latencies = [rig.delivered[c] - t for c, t in injected.items() if c in rig.delivered]
        ticks = rig.ticks(requests)
        return {"size": size, "setup": rig.setup_seconds, "codes": len(codes), "delivered": len(latencies),
                "p50": percentile(latencies, 50), "p99": percentile(latencies, 99), "max": max(latencies, default=0),
                "ticks": ticks, "req_per_tick": len(requests) / ticks if ticks else float("nan"), **extra}


async def measure_burst(args) -> dict:
    rng = random.Random(0)
    async with Rig(args.burst, args.tick, flood_limits=True, emulator_process=True) as rig:
        await asyncio.sleep(args.tick * 1.5)
        codes = [str(c) for c in rng.sample(range(10_000_000, 100_000_000), args.burst)]
        first_request = len(rig.fake.requests)
        start = time.time()
        for i, code in enumerate(codes):
            rig.inject(i, code)
        # Wait on a cheap count in our database: reading the emulator's whole call log while the burst
        # runs would pause this (the bot's) event loop and bunch its sends.
        deadline = time.monotonic() + 60 + 3 * args.burst / BURST_MIN
        while time.monotonic() < deadline and await rig.app.sms_repo.delivered_count() < len(codes):
            await asyncio.sleep(0.5)
        accepted = await rig.emu.accepted_sends()
        sent = sorted(accepted[c] for c in codes if c in accepted)
        span = sent[-1] - sent[0] if len(sent) > 1 else float("nan")
        gaps = [b - a for a, b in itertools.pairwise(sent)]
        return {"setup": rig.setup_seconds, "codes": len(codes), "delivered": len(sent),
                "rate": (len(sent) - 1) / span if span else float("nan"), "span": span,
                "first": sent[0] - start if sent else float("nan"), "last": sent[-1] - start if sent else float("nan"),
                "gap": percentile(gaps, 50), "http_429": await rig.emu.count_429(),
                "retry_after": rig.background.outbound.flood_waits,
                "requests": len(rig.fake.requests) - first_request}


def verdict(ok: bool) -> str:
    return "ok" if ok else "MISSED"


def report_broadcast(pair: tuple[dict, dict]) -> None:
    alone, beside = pair
    rise = beside["p99"] - alone["p99"]
    good = (alone["delivered"] == alone["codes"] and beside["delivered"] == beside["codes"]
            and rise <= BROADCAST_P99_MAX_RISE and beside["broadcast_left"] > 0)
    print(f"\nCodes while a broadcast runs: {alone['size']} rentals, {alone['codes']} codes each run, the same "
          f"injection schedule; the broadcast to all {beside['broadcast_chats']} private chats (the same chats)")
    print(f"  without a broadcast: p50 {alone['p50']:.3f} s  p99 {alone['p99']:.3f} s  max {alone['max']:.3f} s  "
          f"delivered {alone['delivered']}/{alone['codes']}")
    print(f"  with the broadcast:  p50 {beside['p50']:.3f} s  p99 {beside['p99']:.3f} s  max {beside['max']:.3f} s  "
          f"delivered {beside['delivered']}/{beside['codes']}; broadcast sent {beside['broadcast_sent']} meanwhile "
          f"({beside['broadcast_rate']:.1f} msg/s), {beside['broadcast_left']} still to go at the end")
    print(f"  p99 difference {rise:+.3f} s (target <= {BROADCAST_P99_MAX_RISE:g} s; the broadcast still running)   "
          f"{verdict(good)}")


def report(rows: list[dict], burst: dict | None, args) -> None:
    if rows:
        report_sizes(rows, args)
    report_burst(burst)


def report_sizes(rows: list[dict], args) -> None:
    print(f"\nPush latency: SMS injected into FakeGotSms -> sendMessage accepted by TelegramEmulator "
          f"(tick {args.tick:g} s, APScheduler interval job from bot.background; {args.codes} codes per size)")
    print(f"{'rentals':>8} {'setup s':>8} {'codes':>6} {'deliv.':>6} {'p50 s':>7} {'p99 s':>7} {'max s':>7} "
          f"{'ticks':>6} {'req/tick':>9}  target p50<={P50_MAX:g}s p99<={P99_MAX:g}s")
    for r in rows:
        good = r["delivered"] == r["codes"] and r["p50"] <= P50_MAX and r["p99"] <= P99_MAX
        print(f"{r['size']:>8} {r['setup']:>8.1f} {r['codes']:>6} {r['delivered']:>6} {r['p50']:>7.3f} "
              f"{r['p99']:>7.3f} {r['max']:>7.3f} {r['ticks']:>6} {r['req_per_tick']:>9.2f}  {verdict(good)}")
    if len(rows) > 1:
        p50s = [r["p50"] for r in rows]
        print(f"flatness: p50 spread across sizes {max(p50s) - min(p50s):.3f} s "
              f"(p99 {min(r['p99'] for r in rows):.3f}..{max(r['p99'] for r in rows):.3f} s)")


def report_burst(burst: dict | None) -> None:
    if burst:
        b = burst
        good = b["delivered"] == b["codes"] and b["rate"] >= BURST_MIN and b["http_429"] == 0
        print(f"\nBurst: {b['codes']} codes to {b['codes']} private chats at once, "
              f"emulator (own process) flood limits ON (setup {b['setup']:.1f} s)")
        print(f"  delivered {b['delivered']}/{b['codes']}; first send {b['first']:.2f} s, last send {b['last']:.2f} s "
              f"after injection; median gap between sends {b['gap'] * 1000:.1f} ms "
              f"(33.3 at 30/s, 34.5 at 29/s); provider requests {b['requests']}")
        print(f"  rate {b['rate']:.2f} msg/s over {b['span']:.2f} s (target >= {BURST_MIN:g} = 90% of 30)   "
              f"429s {b['http_429']} (target 0; ChatSender retries {b['retry_after']})   {verdict(good)}")


async def main(args) -> None:
    rows = []
    for size in args.sizes:
        rows.append(await measure_latency(size, args))
        print(f"  size {size}: done", flush=True)
    pair = None
    if args.broadcast:
        alone = await measure_latency(args.broadcast, args)
        print(f"  size {args.broadcast} without a broadcast: done", flush=True)
        beside = await measure_latency(args.broadcast, args, broadcast=True)
        print(f"  size {args.broadcast} with a broadcast: done", flush=True)
        pair = (alone, beside)
    burst = await measure_burst(args) if args.burst else None
    report(rows, burst, args)
    if pair:
        report_broadcast(pair)


def parse_args(argv=None):
    ap = argparse.ArgumentParser(prog="python -m benchmarks.push_latency", description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1,100,1000,10000", type=lambda s: [int(x) for x in s.split(",") if x])
    ap.add_argument("--tick", default=1.0, type=float, help="poll interval in seconds (POLL_INTERVAL)")
    ap.add_argument("--codes", default=50, type=int, help="codes injected per size")
    ap.add_argument("--burst", default=1000, type=int, help="codes/chats in the burst (0: skip)")
    ap.add_argument("--broadcast", default=10000, type=int,
                    help="rentals/chats of the latency run repeated with a broadcast to all of them running (0: skip)")
    return ap.parse_args(argv)


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("bot.outbound.telegram_out").setLevel(logging.ERROR)  # one line per 429: counted instead
    asyncio.run(main(parse_args()))
