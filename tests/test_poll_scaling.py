"""GotSMS: one unread-messages request per page per tick, whatever the number of active rentals."""
from __future__ import annotations

import asyncio

import pytest

from bot.poller import SmsPoller
from playground.sandbox.gotsms import FakeGotSms
from providers.gotsms import GotSmsClient
from storage import JobState


async def requests_per_tick(app, rentals: int) -> tuple[int, int]:
    async with FakeGotSms(balance="100000") as fake:
        client = GotSmsClient(fake.api_key, base_url=fake.url, timeout=5)
        try:
            plan = fake.find_plan("Telegram")
            created = []
            for start in range(0, rentals, 25):  # a few connections at a time, as a real client would
                batch = min(25, rentals - start)
                created += await asyncio.gather(*(client.api_create_rent(plan) for _ in range(batch)))
            await app.chats.ensure(1, "private", "load")
            async with app.db.transaction() as conn:
                await conn.executemany(
                    "INSERT INTO rentals (chat_id, user_id, provider, provider_rental_id, offer_id, service_name,"
                    " billing, phone, price_charged, provider_cost, status, request_key)"
                    " VALUES (1, 1, 'gotsms', ?, ?, 'Telegram', 'duration', ?, 0, '1', 'active', ?)",
                    [(r.id, plan, r.phone, f"load:{r.id}") for r in created])
            for rental in created[:3]:
                fake.inject_sms(rental.id, "Your code is 123456")
            poller = SmsPoller(client, app.rentals.rentals, app.sms_repo, JobState(app.db))
            before = len(fake.requests)
            new = await poller.tick()
            tick_requests = len(fake.requests) - before
            assert await poller.tick() == 0  # acknowledged: nothing new next time
            return tick_requests, new
        finally:
            await client.aclose()


@pytest.mark.parametrize("rentals", [1, 1000])
async def test_requests_per_tick_do_not_grow_with_rentals(app, rentals):
    tick_requests, new = await requests_per_tick(app, rentals)
    assert new == min(3, rentals)
    # one unread fetch (no mark) + one acknowledgement, independent of how many rentals are active
    assert tick_requests == 2
