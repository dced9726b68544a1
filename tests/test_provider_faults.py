"""Provider faults from the issue: a 5xx on a call that spends money, leading zeros lost by
GetAText's webhook, GotSMS history pages whose cursor does not move. Against the fakes."""
from __future__ import annotations

import logging
from decimal import Decimal
from typing import Self

import httpx
import pytest

from bot.web.webhook import WebhookServer, webhook_app
from playground.sandbox.getatext import FakeGetAText
from playground.sandbox.gotsms import FakeGotSms
from providers import errors
from providers import getatext as gat
from providers.getatext import GetATextClient, parse_webhook
from providers.gotsms import GotSmsClient
from providers.http import HttpCore
from providers.models import Sms

KEY = "sk_faults_test_key_0042"


@pytest.fixture
async def gotsms():
    async with FakeGotSms(api_key=KEY) as fake, GotSmsClient(KEY, base_url=fake.url, timeout=2.0,
                                                              backoff=0.001) as client:
        yield fake, client


@pytest.fixture
async def getatext():
    async with FakeGetAText(api_key=KEY, rate_limit_interval=0.001) as fake:
        fake.retry_after = 0
        async with GetATextClient(KEY, base_url=fake.url, timeout=2.0, backoff=0.001, rent_interval=0.01,
                                  poll_interval=0.0) as client:
            yield fake, client


def posts(fake, path: str) -> int:
    return sum(1 for method, p, _ in fake.requests if (method, p) == ("POST", path))


# ---------------------------------------------------------------- 1. a 5xx on a call that spends money


@pytest.mark.parametrize("status", [500, 502, 503, 504])
async def test_gotsms_5xx_on_create_rent_is_outcome_unknown_sent_once(gotsms, status):
    fake, client = gotsms
    plan = fake.find_plan("Telegram")
    fake.fail_next(status, {"message": "Server Error"}, count=3)
    with pytest.raises(errors.OutcomeUnknownError) as caught:
        await client.api_create_rent(plan)
    assert caught.value.status == status and caught.value.provider == "gotsms"
    assert posts(fake, "/api/rents") == 1 and len(fake.requests) == 1


async def test_gotsms_500_on_transition_is_outcome_unknown_sent_once(gotsms):
    fake, client = gotsms
    daily = await client.api_create_rent(fake.find_plan("Telegram"))
    fake.requests.clear()
    fake.fail_next(500, {"message": "Server Error"}, count=3)
    with pytest.raises(errors.OutcomeUnknownError) as caught:
        await client.api_transition_rent(daily.id, fake.find_plan("Telegram", "month"))
    assert caught.value.status == 500 and len(fake.requests) == 1


async def _rental_id(fake: FakeGetAText, client: GetATextClient) -> str:
    return (await client.rent_a_number("whatsapp")).rental.id


async def _long_rental_id(fake: FakeGetAText, client: GetATextClient) -> str:
    return (await client.create_long_rental("1w", False)).id


SPENDING_CALLS = {
    "rent-a-number": (None, lambda c, _: c.rent_a_number("whatsapp")),
    "re-rent": (_rental_id, lambda c, rid: c.re_rent(rid)),
    "rent-multiple-services": (None, lambda c, _: c.rent_multiple_services(["whatsapp", "telegram"])),
    "long-rentals create": (None, lambda c, _: c.create_long_rental("1w", False)),
    "long-rentals renew": (_long_rental_id, lambda c, rid: c.update_long_rental(rid, "renew")),
    "bid": (None, lambda c, _: c.bid(1, Decimal("0.60"))),
    "handler getNumber": (None, lambda c, _: c.handler_get_number("whatsapp")),
}


@pytest.mark.parametrize("status", [500, 503])
@pytest.mark.parametrize("name", list(SPENDING_CALLS))
async def test_getatext_5xx_on_every_spending_call_is_outcome_unknown_sent_once(getatext, name, status):
    fake, client = getatext
    setup, call = SPENDING_CALLS[name]
    rental_id = await setup(fake, client) if setup else None
    fake.requests.clear()
    balance = fake.balance
    fake.fail_next(status, count=3)
    with pytest.raises(errors.OutcomeUnknownError) as caught:
        await call(client, rental_id)
    assert caught.value.status == status and caught.value.provider == "getatext"
    assert len(fake.requests) == 1 and fake.balance == balance


async def test_getatext_error_sql_on_get_number_is_outcome_unknown(getatext):
    fake, client = getatext
    fake.fail_next(200, "ERROR_SQL")
    with pytest.raises(errors.OutcomeUnknownError):
        await client.handler_get_number("whatsapp")
    fake.fail_next(200, "ERROR_SQL", count=3)
    with pytest.raises(errors.ServerError):  # a read keeps its plain server error (after its retries)
        await client.handler_get_code(1)


async def test_a_timeout_and_a_500_on_rent_are_told_apart_by_status(getatext):
    fake, client = getatext
    fake.fail_next(500)
    with pytest.raises(errors.OutcomeUnknownError) as server_error:
        await client.rent_a_number("whatsapp")
    fake.set_mode("slow")
    fake.slow_seconds = 0.5
    async with GetATextClient(KEY, base_url=fake.url, timeout=0.1, rent_interval=0.01) as slow_client:
        with pytest.raises(errors.OutcomeUnknownError) as timed_out:
            await slow_client.rent_a_number("whatsapp")
    assert server_error.value.status == 500 and timed_out.value.status is None


async def test_500_on_a_spending_call_is_a_server_error_for_a_provider_that_opts_out():
    seen: list[str] = []

    def reply(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.path)
        status = int(request.url.path.rsplit("/", 1)[1])
        return httpx.Response(status, json={"message": "Server Error"})

    core = HttpCore(provider="promising", base_url="http://provider.test", headers={},
                    transport=httpx.MockTransport(reply), backoff=0.001, spent_5xx_unknown=False)
    try:
        with pytest.raises(errors.ServerError) as refused:
            await core.request("POST", "/rent/500", spends_money=True)
        assert not isinstance(refused.value, errors.OutcomeUnknownError)
        for gateway in (502, 504):  # a gateway may have lost a good reply, whatever the provider promises
            with pytest.raises(errors.OutcomeUnknownError):
                await core.request("POST", f"/rent/{gateway}", spends_money=True)
    finally:
        await core.aclose()
    assert seen == ["/rent/500", "/rent/502", "/rent/504"]  # each sent once


# ---------------------------------------------------------------- 2. GetAText leading zeros


class WebhookReceiver:
    """bot/web/webhook.py's app, parsing with the client's webhook_sms, collecting what it stores."""

    def __init__(self, client: GetATextClient) -> None:
        self.stored: list[Sms] = []
        self.server = WebhookServer(webhook_app("hook-secret", frozenset(), self.store, parse=client.webhook_sms),
                                    "127.0.0.1", 0)
        self.url = ""

    async def store(self, sms: Sms) -> None:
        self.stored.append(sms)

    async def __aenter__(self) -> Self:
        port = await self.server.start()
        self.url = f"http://127.0.0.1:{port}/getatext/hook-secret"
        return self

    async def __aexit__(self, *exc) -> None:
        await self.server.stop()


async def test_webhook_integer_code_gets_its_leading_zero_from_rental_status(getatext):
    fake, client = getatext
    fake.webhook_int_codes = True  # as documented: the code is a JSON integer
    rental = (await client.rent_a_number("whatsapp")).rental
    async with WebhookReceiver(client) as receiver:
        fake.webhook_url = receiver.url
        payload = await fake.inject_code(rental.id, "012345")
    assert payload["code"] == 12345  # the zero is gone on the wire
    [sms] = receiver.stored
    assert (sms.rental_id, sms.code, sms.body) == (rental.id, "012345", "012345")
    assert sms.service_name == "Whatsapp" and sms.phone == rental.phone


async def test_webhook_and_polling_give_one_sms_id_for_a_code_with_leading_zeros(getatext):
    fake, client = getatext
    fake.webhook_int_codes = True
    rental = (await client.rent_a_number("whatsapp")).rental
    async with WebhookReceiver(client) as receiver:
        fake.webhook_url = receiver.url
        payload = await fake.inject_code(rental.id, "012345")
    [pushed] = receiver.stored
    [polled] = await client.fetch_new_sms([rental.id])
    assert pushed.id == polled.id == parse_webhook(payload).id
    assert pushed.code == polled.code == "012345"
    assert len({pushed.id, polled.id}) == 1  # the store keeps one, so the chat gets one push


@pytest.mark.parametrize("failure", ["server error", "not found", "slow"])
async def test_webhook_sms_keeps_the_sms_when_rental_status_fails(getatext, monkeypatch, caplog, failure):
    fake, client = getatext
    rental = (await client.rent_a_number("whatsapp")).rental
    await fake.inject_code(rental.id, "012345")
    payload = {"id": int(rental.id), "code": 12345, "received_at": "2025-07-06 15:43:37",
               "number": rental.phone, "service_name": "Whatsapp", "status": "active", "cost": "0.55"}
    if failure == "server error":
        fake.fail_next(500, count=3)  # every retry of the read fails
    elif failure == "not found":
        payload["id"] = 999
    else:
        monkeypatch.setattr(gat.client, "WEBHOOK_STATUS_SECONDS", 0.1)
        fake.set_mode("slow")
        fake.slow_seconds = 0.5
    caplog.set_level(logging.WARNING)
    sms = await client.webhook_sms(payload)
    assert (sms.code, sms.body, sms.id) == ("12345", "12345", f"{payload['id']}:12345")
    assert sms.service_name == "Whatsapp"
    assert "status read failed" in caplog.text


async def test_webhook_sms_keeps_its_code_when_rental_status_reports_another(getatext):
    fake, client = getatext
    rental = (await client.rent_a_number("whatsapp")).rental
    await fake.inject_code(rental.id, "777777")  # a newer code already replaced the announced one
    sms = await client.webhook_sms({"id": int(rental.id), "code": 12345})
    assert sms.code == "12345"
    before = len(fake.requests)
    text = await client.webhook_sms(b'{"id": 12345, "code": "012345"}')  # a string lost nothing: no read
    assert text.code == "012345" and len(fake.requests) == before


def test_polling_and_webhook_keys_agree_and_non_digit_codes_are_kept():
    assert gat.sms_id("7", "012345") == gat.sms_id("7", "12345") == "7:12345"
    assert gat.sms_id("7", "000") == "7:0"
    assert gat.sms_id("7", "0AB12") == "7:0AB12"


# ---------------------------------------------------------------- 3. GotSMS history cursor


async def test_history_stops_when_the_cursor_does_not_move(gotsms, caplog):
    fake, client = gotsms
    rental = await client.api_create_rent(fake.find_plan("Telegram"))
    ids = [fake.inject_sms(rental.id, f"Code {700000 + i}") for i in range(250)]
    fake.set_mode("stuck_cursor")  # the same page and the asked cursor, whatever before_id says
    fake.requests.clear()
    caplog.set_level(logging.WARNING)
    history = await client.history(rental.id)
    assert [m.id for m in history] == ids[-100:]  # the one page there was, oldest first, once
    assert len(fake.requests) == 2  # the second page repeated the cursor: no third read
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING and "did not move" in r.getMessage()]
    assert len(warnings) == 1


def _message(n: int) -> dict:
    return {"id": f"m{n:03d}", "from": "+18001234567", "to": "+18009876543", "body": f"Code {800000 + n}",
            "code": None, "received_at": "2026-03-11T12:00:00+00:00"}


def _page(numbers: list[int], cursor: str | None) -> dict:
    return {"success": True, "data": [_message(n) for n in numbers], "meta": {"next_before_id": cursor,
                                                                             "count": len(numbers)}}


async def test_history_stops_when_a_cursor_seen_before_comes_back(gotsms, caplog):
    fake, client = gotsms
    fake.fail_next(200, _page([9, 8, 7], "m007"))
    fake.fail_next(200, _page([7, 6, 5], "m005"))  # overlaps the first page by one SMS
    fake.fail_next(200, _page([9, 8, 7], "m007"))  # back to an older cursor: a loop
    fake.fail_next(200, _page([1], None))  # never asked for
    caplog.set_level(logging.WARNING)
    history = await client.history("rent-1")
    assert [m.id for m in history] == ["m005", "m006", "m007", "m008", "m009"]
    assert [q.get("before_id") for _, _, q in fake.requests] == [None, "m007", "m005"]
    assert sum("did not move" in r.getMessage() for r in caplog.records) == 1
