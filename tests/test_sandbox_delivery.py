"""The sandbox providers can be told, per plan, that its codes never come or come late (issue 17: what a
fallback chain and the no-code refund are watched against), and the playground turns codes off by tapping."""
from __future__ import annotations

import asyncio
from types import SimpleNamespace

import httpx
import pytest

from playground.sandbox.getatext import FakeGetAText
from playground.sandbox.gotsms import FakeGotSms
from playground.server import Playground

SOON = 0.05


async def rent_gotsms(fake: FakeGotSms, plan: str) -> str:
    async with httpx.AsyncClient(base_url=fake.url, headers={"Authorization": f"Bearer {fake.api_key}"}) as client:
        reply = await client.post("/api/rents", json={"plan_id": plan})
    assert reply.status_code == 201, reply.text
    return reply.json()["data"]["id"]


async def rent_getatext(fake: FakeGetAText, service: str) -> int:
    async with httpx.AsyncClient(base_url=fake.url, headers={"Auth": fake.api_key}) as client:
        reply = await client.post("/api/v1/rent-a-number", json={"service": service})
    assert reply.status_code == 201, reply.text
    return reply.json()["id"]


async def settle(seconds: float = SOON * 6) -> None:
    await asyncio.sleep(seconds)


async def test_gotsms_plan_that_never_delivers_and_one_that_delivers_late():
    async with FakeGotSms(auto_code_after=SOON) as fake:
        uk = next(p["id"] for p in fake.plans.values() if p["billing_type"] == "sms"
                  and fake.countries[p["country_id"]]["name"] == "United Kingdom")
        discord = next(p["id"] for p in fake.plans.values() if p["billing_type"] == "sms" and p["id"] != uk)
        fake.set_delivery(uk, "never")
        silent, usual = await rent_gotsms(fake, uk), await rent_gotsms(fake, discord)
        await settle()
        coded = {rent for rent, _ in fake.auto_codes}
        assert usual in coded and silent not in coded
        assert fake.rents[silent]["sms_count"] == 0

        fake.set_delivery(uk, 0.4)  # late: nothing at the usual delay, the code after 0.4 s
        late = await rent_gotsms(fake, uk)
        await settle()
        assert late not in {rent for rent, _ in fake.auto_codes}
        await settle(0.5)
        assert late in {rent for rent, _ in fake.auto_codes}

        fake.set_delivery(uk, None)  # back to the fake's default
        again = await rent_gotsms(fake, uk)
        await settle()
        assert again in {rent for rent, _ in fake.auto_codes}


async def test_getatext_service_that_never_delivers_even_without_auto_codes_one_can_be_made_to():
    async with FakeGetAText(rate_limit_interval=0.0) as fake:  # no auto codes by default
        fake.enforce_rate_limit = False
        fake.set_delivery("whatsapp", SOON)
        fake.set_delivery("telegram", "never")
        whatsapp, telegram = await rent_getatext(fake, "whatsapp"), await rent_getatext(fake, "telegram")
        await settle()
        assert fake.rentals[whatsapp].code is not None
        assert fake.rentals[telegram].code is None


async def test_every_plan_at_once_and_bad_delays_refused():
    async with FakeGetAText(rate_limit_interval=0.0, auto_code_after=SOON) as fake:
        fake.enforce_rate_limit = False
        fake.set_delivery("*", "never")
        assert fake.code_delay("telegram") is None and fake.code_delay("whatsapp") is None
        fake.set_delivery("whatsapp", 2)  # a plan's own setting wins over "*"
        assert fake.code_delay("whatsapp") == 2.0
        fake.set_delivery("*", None)
        assert fake.code_delay("telegram") == SOON
        with pytest.raises(ValueError):
            fake.set_delivery("telegram", -1)
        with pytest.raises(ValueError):
            fake.set_delivery("telegram", "sometimes")


async def test_playground_turns_codes_off_and_on_at_both_providers():
    async with FakeGotSms(auto_code_after=SOON) as gotsms, FakeGetAText(auto_code_after=SOON) as getatext:
        pg = SimpleNamespace(stack=SimpleNamespace(gotsms=gotsms, getatext=getatext))
        assert Playground.set_codes_arrive(pg, False) == {"ok": True, "arrive": False}
        assert gotsms.code_delay("any plan") is None and getatext.code_delay("telegram") is None
        assert Playground.set_codes_arrive(pg, True) == {"ok": True, "arrive": True}
        assert gotsms.code_delay("any plan") == SOON and getatext.code_delay("telegram") == SOON
