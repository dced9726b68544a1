"""GotSmsClient over real HTTP against the in-process fake GotSMS server."""
from __future__ import annotations

import logging
import re
from datetime import UTC, datetime
from decimal import Decimal

import httpx
import pytest

from playground.sandbox.gotsms import AREA_CODE_INVALID, NO_NUMBERS_IN_AREA, REFUND_REFUSED, FakeGotSms
from providers import errors
from providers.gotsms import GotSmsClient, MessagePage, PricelistEntry, RentUpdate
from providers.models import BillingType, Capability, Choice, NumberStatus, RentalStatus, RentChoice

SECRET = "gs-live-0123456789abcdefSECRET"


def make_client(fake: FakeGotSms, **kw) -> GotSmsClient:
    options = {"timeout": 2.0, "max_retries": 2, "backoff": 0.001, **kw}
    return GotSmsClient(options.pop("api_key", fake.api_key), base_url=fake.url, **options)


@pytest.fixture
async def fake():
    async with FakeGotSms() as server:
        yield server


@pytest.fixture
async def client(fake):
    async with make_client(fake) as c:
        yield c


def calls(fake: FakeGotSms, method: str | None = None, path: str | None = None) -> list[tuple[str, str, dict]]:
    return [r for r in fake.requests if (method is None or r[0] == method) and (path is None or r[1] == path)]


async def offer_for(client: GotSmsClient, service: str, duration_label: str):
    services = {s.name: s for s in await client.list_services()}
    offers = await client.list_offers(services[service])
    return next(o for o in offers if o.duration_label == duration_label)


async def offer_in(client: GotSmsClient, service: str, country: str, duration_label: str = "1 day"):
    services = {s.name: s for s in await client.list_services()}
    offers = await client.list_offers(services[service])
    return next(o for o in offers if o.duration_label == duration_label and o.country == country)


async def rent(client: GotSmsClient, service: str = "Telegram", duration_label: str = "1 day"):
    return await client.rent(await offer_for(client, service, duration_label))


# ---------------------------------------------------------------- documented operations


async def test_public_pricelist_needs_no_key(fake):
    async with make_client(fake, api_key="wrong") as anonymous:
        entries = await anonymous.api_public_pricelist()
    assert all(isinstance(e, PricelistEntry) for e in entries)
    monthly = next(e for e in entries if e.service_name == "WhatsApp" and e.period_type == "month")
    assert monthly.price == Decimal("4.99") and str(monthly.price) == "4.99"
    assert monthly.duration_label == "1 month" and monthly.country == "USA"
    assert {e.billing for e in entries} == {BillingType.DURATION, BillingType.SMS}


async def test_account_balance_is_exact_decimal(fake, client):
    fake.balance = Decimal("125.5")
    assert await client.get_balance() == Decimal("125.5")
    assert await client.api_account_balance() == Decimal("125.5")
    assert calls(fake, "GET", "/api/account")


async def test_list_services_follows_every_page(fake, client):
    fake.per_page_cap = 2  # 5 services -> 3 pages
    services = await client.list_services()
    assert [s.name for s in services] == ["Telegram", "WhatsApp", "Google", "Discord", "Instagram"]
    assert [q for _, _, q in calls(fake, "GET", "/api/services")] == [
        {"per_page": "100", "page": "1"}, {"per_page": "100", "page": "2"}, {"per_page": "100", "page": "3"},
    ]


async def test_api_list_services_search_and_per_page(fake, client):
    services = await client.api_list_services(search="gram", per_page=1)
    assert [s.name for s in services] == ["Telegram", "Instagram"]
    assert len(calls(fake, "GET", "/api/services")) == 2
    with pytest.raises(ValueError):
        await client.api_list_services(per_page=101)


async def test_list_offers_maps_rent_plans(fake, client):
    fake.per_page_cap = 2
    telegram = next(s for s in await client.list_services() if s.name == "Telegram")
    offers = await client.list_offers(telegram)
    assert len(offers) == 6 and {o.service_id for o in offers} == {telegram.id}
    assert sorted(o.country for o in offers if o.duration_label == "1 day") == ["Canada", "USA", "United Kingdom"]
    daily = next(o for o in offers if o.duration_label == "1 day")
    assert daily.provider == "gotsms" and daily.id == fake.find_plan("Telegram", "day")
    assert (daily.price, daily.renew_price, daily.billing) == (Decimal("1"), Decimal("1"), BillingType.DURATION)
    assert (daily.duration_minutes, daily.country, daily.service_name) == (1440, "USA", "Telegram")
    monthly = next(o for o in offers if o.duration_label == "1 month")
    assert monthly.price == Decimal("4.99") and monthly.duration_minutes == 43200
    per_sms = next(o for o in offers if o.billing == BillingType.SMS)
    assert per_sms.country == "United Kingdom" and per_sms.price == Decimal("0.5")
    assert all(q["service_id"] == telegram.id for _, _, q in calls(fake, "GET", "/api/rents/plans"))


async def test_api_list_rent_plans_filters(fake, client):
    monthly = await client.api_list_rent_plans(duration_type="month", per_page=2)
    assert {o.duration_label for o in monthly} == {"1 month", "3 months"} and len(monthly) == 3
    per_sms = await client.api_list_rent_plans(billing_type=BillingType.SMS)
    assert {o.service_name for o in per_sms} == {"Telegram", "Discord"}
    canada = next(c["id"] for c in fake.countries.values() if c["name"] == "Canada")
    in_canada = await client.api_list_rent_plans(country_id=canada)
    assert [o.service_name for o in in_canada] == ["Google", "Telegram", "WhatsApp"]
    assert {o.country for o in in_canada} == {"Canada"}
    assert [o.country for o in await client.api_list_rent_plans(search="whats")] == [
        "USA", "USA", "Canada", "United Kingdom"]
    with pytest.raises(ValueError):
        await client.api_list_rent_plans(duration_type="fortnight")


async def test_rent_creates_a_rental_and_debits(fake, client):
    offer = await offer_for(client, "Telegram", "1 day")
    fake.requests.clear()
    first = await client.rent(offer)
    second = await client.api_create_rent(offer.id, area_code="212")
    assert len(calls(fake, "POST", "/api/rents")) == 2
    assert first.status == RentalStatus.ACTIVE and first.provider == "gotsms"
    assert first.plan_id == offer.id and first.price == Decimal("1") and first.service_name == "Telegram"
    assert first.active_from is not None and first.active_till is not None
    assert (first.active_till - first.active_from).total_seconds() == 86400
    assert first.phone != second.phone and second.phone.startswith("+1 212")
    assert first.transition_options  # a daily rent can move to the monthly plans
    assert fake.balance == Decimal("98")


async def test_rent_with_insufficient_balance(fake, client):
    fake.balance = Decimal("0.5")
    with pytest.raises(errors.InsufficientFundsError):
        await rent(client, "Telegram", "1 day")
    assert fake.rents == {}


@pytest.mark.parametrize("message", ["No numbers available for this plan.", "This plan is not available right now."])
async def test_rent_with_nothing_available(fake, client, message):
    offer = await offer_for(client, "Telegram", "1 day")
    fake.fail_next(422, {"success": False, "message": message})
    with pytest.raises(errors.NothingAvailableError) as caught:
        await client.rent(offer)
    assert caught.value.message == message


# ---------------------------------------------------------------- rent choices: the area code


async def test_rent_takes_an_area_code_and_no_carrier(client):
    assert client.rent_choices == {Choice.AREA_CODE} and client.carriers == ()


async def test_rent_with_an_area_code_gets_a_number_there(fake, client):
    offer = await offer_for(client, "Telegram", "1 day")
    rental = await client.rent(offer, RentChoice(area_code=" 212 "))
    assert fake.last_rent_body == {"plan_id": offer.id, "area_code": "212"}
    assert rental.phone.startswith("+1 212 555 ") and fake.rents[rental.id]["phone"] == rental.phone
    assert rental.price == Decimal("1") and fake.balance == Decimal("99")


@pytest.mark.parametrize(("country", "area", "phone"), [
    ("Canada", "604", r"\+1 604 555 \d{4}"), ("Canada", None, r"\+1 416 555 \d{4}"),
    ("United Kingdom", "20", r"\+44 20 \d{6}"), ("United Kingdom", None, r"\+44 7700 \d{6}"),
    ("USA", None, r"\+1 800 555 \d{4}"),
])
async def test_the_number_is_in_the_plans_country_and_area(fake, client, country, area, phone):
    offer = await offer_in(client, "WhatsApp", country)
    rental = await client.rent(offer, RentChoice(area_code=area))
    assert re.fullmatch(phone, rental.phone), rental.phone
    assert fake.last_rent_body == ({"plan_id": offer.id} if area is None else {"plan_id": offer.id, "area_code": area})
    assert rental.price == offer.price and fake.balance == Decimal("100") - offer.price


async def test_an_empty_area_raises_no_number_in_area_and_charges_nothing(fake, client):
    offer = await offer_for(client, "Telegram", "1 day")
    with pytest.raises(errors.NoNumberInAreaError) as caught:
        await client.rent(offer, RentChoice(area_code="907"))  # the fake's default empty area
    assert isinstance(caught.value, errors.NothingAvailableError)
    assert (caught.value.message, caught.value.status) == (NO_NUMBERS_IN_AREA, 422)
    assert fake.last_rent_body == {"plan_id": offer.id, "area_code": "907"}
    assert fake.balance == Decimal("100") and fake.rents == {}
    # Another area, or none, still rents; which areas are empty is the test's to set.
    assert (await client.rent(offer)).phone.startswith("+1 800 ")
    fake.empty_areas = {"212"}
    assert (await client.rent(offer, RentChoice(area_code="907"))).phone.startswith("+1 907 ")
    with pytest.raises(errors.NoNumberInAreaError):
        await client.rent(offer, RentChoice(area_code="212"))
    assert fake.balance == Decimal("98") and len(fake.rents) == 2


@pytest.mark.parametrize(("status", "message"), [
    (422, "No numbers available for this plan."),  # the no-stock wording, not naming the area
    (422, "This plan is not available right now."),  # "not available": no stock on create-rent
    (200, "No free numbers in this area."),  # success: false in a 2xx reply
])
async def test_no_stock_when_an_area_was_asked_is_no_number_in_area(fake, client, status, message):
    offer = await offer_for(client, "Telegram", "1 day")
    fake.fail_next(status, {"success": False, "message": message})
    with pytest.raises(errors.NoNumberInAreaError) as caught:
        await client.rent(offer, RentChoice(area_code="212"))
    assert caught.value.message == message
    fake.fail_next(status, {"success": False, "message": message})
    with pytest.raises(errors.NothingAvailableError) as caught:
        await client.rent(offer)  # no area asked: plain no stock
    assert not isinstance(caught.value, errors.NoNumberInAreaError)
    assert fake.rents == {} and fake.balance == Decimal("100")


async def test_other_refusals_with_an_area_code_keep_their_meaning(fake, client):
    offer = await offer_for(client, "Telegram", "1 day")
    with pytest.raises(errors.ProviderRejectedError) as caught:
        await client.rent(offer, RentChoice(area_code="21"))  # +1 areas have 3 digits
    assert (caught.value.message, caught.value.status) == (AREA_CODE_INVALID, 422)
    fake.balance = Decimal("0.5")
    with pytest.raises(errors.InsufficientFundsError):
        await client.rent(offer, RentChoice(area_code="212"))
    assert fake.rents == {} and fake.balance == Decimal("0.5")


@pytest.mark.parametrize("choice", [
    RentChoice(max_price=Decimal("5")), RentChoice(carrier="at&t"), RentChoice(area_code="212", keep_carrier=True),
])
async def test_a_wish_gotsms_does_not_take_is_refused_before_sending(fake, client, choice):
    offer = await offer_for(client, "Telegram", "1 day")
    fake.requests.clear()
    with pytest.raises(errors.UnsupportedOperationError) as caught:
        await client.rent(offer, choice)
    assert caught.value.provider == "gotsms" and fake.requests == [] and fake.rents == {}


async def test_blank_wishes_are_no_wishes(fake, client):
    offer = await offer_for(client, "Telegram", "1 day")
    rental = await client.rent(offer, RentChoice(area_code="  ", carrier="", keep_carrier=False))
    assert fake.last_rent_body == {"plan_id": offer.id} and rental.phone.startswith("+1 800 ")


async def test_transition_options_stay_in_the_rents_country(fake, client):
    usa = await client.rent(await offer_in(client, "Telegram", "USA"))
    canada = await client.rent(await offer_in(client, "Telegram", "Canada"))
    assert set(usa.transition_options) == {fake.find_plan("Telegram", "month"), fake.find_plan("Telegram", "month", 3)}
    assert canada.transition_options == ()  # no monthly Telegram plan in Canada
    with pytest.raises(errors.ProviderRejectedError, match="monthly plan of the same service and country"):
        await client.transition(canada.id, fake.find_plan("Telegram", "month"))


async def test_get_rental_reads_active_rents_first(fake, client):
    active = await rent(client)
    refunded = await rent(client, "WhatsApp", "1 day")
    await client.api_refund_rent(refunded.id)
    fake.requests.clear()
    assert (await client.get_rental(active.id)).phone == active.phone
    assert len(fake.requests) == 1  # the cheapest way: one page of active rents
    finished = await client.get_rental(refunded.id)
    assert finished.status == RentalStatus.FINISHED
    with pytest.raises(errors.NotFoundError):
        await client.get_rental("9d3f8f6a-0000-4000-8000-999999999999")
    assert [r.id for r in await client.list_active_rentals()] == [active.id]


async def test_api_list_rents_filters_and_pages(fake, client):
    telegram = await rent(client)
    whatsapp = await rent(client, "WhatsApp", "1 day")
    await client.api_refund_rent(whatsapp.id)
    fake.requests.clear()
    everything = await client.api_list_rents(per_page=1)
    assert [r.id for r in everything] == [whatsapp.id, telegram.id]  # newest first
    assert len(fake.requests) == 2
    assert [r.id for r in await client.api_list_rents(status="finished")] == [whatsapp.id]
    assert [r.id for r in await client.api_list_rents(service="tele")] == [telegram.id]
    digits = telegram.phone.replace(" ", "")[-7:]
    assert [r.id for r in await client.api_list_rents(phone=digits)] == [telegram.id]
    with pytest.raises(ValueError):
        await client.api_list_rents(status="paused")


async def test_transition_daily_to_monthly(fake, client):
    daily = await rent(client)
    target = fake.find_plan("Telegram", "month")
    moved = await client.transition(daily.id, target)
    assert moved.plan_id == target and moved.status == RentalStatus.ACTIVE
    assert (moved.active_till - moved.active_from).days == 30
    assert fake.balance == Decimal("100") - Decimal("1") - Decimal("4.99")
    with pytest.raises(errors.ProviderRejectedError) as caught:
        await client.api_transition_rent(daily.id, fake.find_plan("Telegram", "month", 3))
    assert caught.value.message == "Current rent plan must be daily for this transition endpoint."
    assert caught.value.status == 422


async def test_api_transition_rent_returns_update(fake, client):
    daily = await rent(client, "WhatsApp", "1 day")
    update = await client.api_transition_rent(daily.id, fake.find_plan("WhatsApp", "month"))
    assert update == RentUpdate(id=daily.id, status=RentalStatus.ACTIVE, message="Plan transitioned successfully.")


async def test_transition_is_not_reported_failed_when_the_reread_fails(fake):
    class LoseRereads(httpx.AsyncHTTPTransport):
        transitioned = False

        async def handle_async_request(self, request):
            if self.transitioned and request.url.path == "/api/rents":
                raise httpx.ConnectError("gone")
            response = await super().handle_async_request(request)
            self.transitioned |= request.url.path.endswith("/transition")
            return response

    async with make_client(fake, transport=LoseRereads()) as client:
        daily = await rent(client)
        target = fake.find_plan("Telegram", "month")
        moved = await client.transition(daily.id, target)
    assert moved.plan_id == target and moved.phone == daily.phone
    assert fake.rents[daily.id]["plan_id"] == target


async def test_set_auto_renew_toggles_only_when_needed(fake, client):
    monthly = await rent(client, "Telegram", "1 month")
    assert monthly.auto_renew is False
    fake.requests.clear()
    assert await client.set_auto_renew(monthly.id, True) is True
    assert await client.set_auto_renew(monthly.id, True) is True
    assert len(calls(fake, "POST")) == 1
    assert (await client.get_rental(monthly.id)).auto_renew is True
    assert await client.set_auto_renew(monthly.id, False) is False
    assert len(calls(fake, "POST")) == 2
    assert await client.api_toggle_auto_renewal(monthly.id) is True


async def test_auto_renewal_refused_for_daily_plans(fake, client):
    daily = await rent(client)
    with pytest.raises(errors.ProviderRejectedError) as caught:
        await client.set_auto_renew(daily.id, True)
    assert "monthly" in caught.value.message


async def test_cancel_refunds_the_rent(fake, client):
    rental = await rent(client)
    assert fake.balance == Decimal("99")
    cancelled = await client.cancel(rental.id)
    assert cancelled.status == RentalStatus.CANCELLED and cancelled.id == rental.id
    assert fake.balance == Decimal("100") and fake.rents[rental.id]["status"] == "finished"
    with pytest.raises(errors.ProviderRejectedError) as caught:
        await client.cancel(rental.id)
    assert caught.value.message == REFUND_REFUSED and caught.value.status == 422
    assert not isinstance(caught.value, errors.NothingAvailableError)


async def test_api_refund_rent(fake, client):
    rental = await rent(client)
    update = await client.api_refund_rent(rental.id)
    assert update.status == RentalStatus.FINISHED and update.id == rental.id
    used = await rent(client)
    fake.inject_sms(used.id, "Your code is 123456")
    with pytest.raises(errors.ProviderRejectedError, match="Refund not available"):
        await client.api_refund_rent(used.id)


async def test_fetch_new_sms_one_request_per_page_for_any_number_of_rentals(fake, client):
    rentals = [await rent(client) for _ in range(3)]
    for i in range(5):
        fake.inject_sms(rentals[i % 3].id, f"Your code is {100000 + i}")
    fake.per_page_cap = 2  # 5 unread -> 3 pages

    fake.requests.clear()
    one = await client.fetch_new_sms([rentals[0].id])
    assert len(fake.requests) == 3
    assert {m.rental_id for m in one} == {rentals[0].id} and len(one) == 2

    fake.requests.clear()
    many_ids = [r.id for r in rentals] + [f"9d3f8f6a-0000-4000-8000-{900000 + i:012d}" for i in range(297)]
    assert len(many_ids) == 300
    many = await client.fetch_new_sms(many_ids)
    assert len(fake.requests) == 3
    assert sorted(m.code for m in many) == [str(100000 + i) for i in range(5)]
    assert all(path == "/api/messages/unread" and "mark_as_read" not in q for _, path, q in fake.requests)
    assert len(fake.unread()) == 5  # nothing marked read

    fake.requests.clear()
    assert await client.fetch_new_sms([]) == [] and fake.requests == []


async def test_acknowledge_sms_marks_read_and_loses_nothing(fake, client):
    rental = await rent(client)
    ids = {fake.inject_sms(rental.id, f"Code {100000 + i}") for i in range(5)}
    fake.per_page_cap = 2
    fake.requests.clear()
    acknowledged = await client.acknowledge_sms()
    assert {m.id for m in acknowledged} == ids  # every page, although each reply shrinks the unread set
    assert fake.unread() == []
    assert all(q["mark_as_read"] == "1" and q["page"] == "1" for _, _, q in fake.requests)
    assert await client.fetch_new_sms([rental.id]) == []
    late = fake.inject_sms(rental.id, "Code 654321")
    assert [m.id for m in await client.fetch_new_sms([rental.id])] == [late]


async def test_api_list_unread_messages_filters(fake, client):
    first, second = await rent(client), await rent(client, "WhatsApp", "1 day")
    fake.inject_sms(first.id, "Code 111111")
    other = fake.inject_sms(second.id, "Code 222222")
    marked = await client.api_list_unread_messages(rent_id=first.id, mark_as_read=True)
    assert [m.code for m in marked] == ["111111"]
    assert [m["id"] for m in fake.unread()] == [other]
    whatsapp = fake.rents[second.id]["service_id"]
    assert [m.id for m in await client.api_list_unread_messages(service_id=whatsapp, per_page=1)] == [other]
    assert [m.id for m in await client.api_list_unread_messages(phone=second.phone)] == [other]


async def test_api_list_messages_includes_read_ones(fake, client):
    first, second = await rent(client), await rent(client, "WhatsApp", "1 day")
    for i in range(3):
        fake.inject_sms(first.id, f"Code {300000 + i}")
    fake.inject_sms(second.id, "Code 400000")
    await client.acknowledge_sms()
    fake.requests.clear()
    messages = await client.api_list_messages(per_page=2)
    assert len(fake.requests) == 2 and len(messages) == 4
    assert messages[0].code == "400000" and messages[0].phone == second.phone  # newest first
    assert messages[0].sender == "+18001234567" and isinstance(messages[0].received_at, datetime)
    telegram = fake.rents[first.id]["service_id"]
    assert len(await client.api_list_messages(service_id=telegram)) == 3
    assert len(await client.api_list_messages(phone=second.phone)) == 1


async def test_sms_code_prefers_the_providers_field(fake, client):
    rental = await rent(client)
    given = fake.inject_sms(rental.id, "Your code is 123456", code="777777")
    empty = fake.inject_sms(rental.id, "Telegram code: 54321", code="")
    none = fake.inject_sms(rental.id, "Welcome to the service")
    codes = {m.id: m.code for m in await client.fetch_new_sms([rental.id])}
    assert codes == {given: "777777", empty: "54321", none: None}


async def test_wake_up_and_number_status(fake, client):
    rental = await rent(client)
    status = await client.api_number_status(rental.id)
    assert isinstance(status, NumberStatus) and status.can_wake_up and status.wakeup_seconds_left == 0
    assert status.rental_id == rental.id and status.active_till == rental.active_till
    assert await client.wake_up(rental.id) == "Wake up request sent."
    status = await client.api_number_status(rental.id)
    assert not status.can_wake_up and 0 < status.wakeup_seconds_left <= 300
    assert status.online_till is not None and status.online_seconds_left > status.wakeup_seconds_left
    with pytest.raises(errors.ProviderRejectedError):
        await client.api_wake_up(rental.id)


async def test_history_follows_the_cursor(fake, client):
    rental = await rent(client)
    other = await rent(client)
    ids = [fake.inject_sms(rental.id, f"Code {500000 + i}") for i in range(250)]
    fake.inject_sms(other.id, "Code 999999")
    fake.requests.clear()
    history = await client.history(rental.id)
    assert [m.id for m in history] == ids  # oldest first, nothing twice, nothing of other rents
    assert all(m.rental_id == rental.id for m in history)
    queries = [q for _, _, q in fake.requests]
    assert len(queries) == 3 and "before_id" not in queries[0]
    assert queries[1]["before_id"] == ids[150] and queries[2]["before_id"] == ids[50]


async def test_api_rent_messages_page(fake, client):
    rental = await rent(client)
    ids = [fake.inject_sms(rental.id, f"Code {600000 + i}") for i in range(3)]
    page = await client.api_rent_messages(rental.id, limit=2)
    assert isinstance(page, MessagePage) and [m.id for m in page.messages] == [ids[2], ids[1]]
    assert page.next_before_id == ids[1] and page.count == 2
    last = await client.api_rent_messages(rental.id, limit=2, before_id=page.next_before_id)
    assert [m.id for m in last.messages] == [ids[0]] and last.next_before_id is None


async def test_capabilities(client):
    assert client.name == "gotsms" and client.title == "GotSMS"
    assert client.capabilities == {
        Capability.CANCEL, Capability.AUTO_RENEW, Capability.WAKE_UP, Capability.TRANSITION, Capability.HISTORY,
    }
    assert not client.supports(Capability.FINISH)
    with pytest.raises(errors.UnsupportedOperationError):
        await client.finish("x")


# ---------------------------------------------------------------- errors


async def test_401_is_an_authentication_error(fake):
    for key in ("wrong", ""):
        async with make_client(fake, api_key=key) as client:
            with pytest.raises(errors.AuthenticationError) as caught:
                await client.get_balance()
        assert caught.value.status == 401 and "Unauthenticated" in caught.value.message
    assert len(fake.requests) == 2  # never retried


async def test_404_is_not_found(fake, client):
    with pytest.raises(errors.NotFoundError):
        await client.api_number_status("9d3f8f6a-0000-4000-8000-999999999999")
    with pytest.raises(errors.NotFoundError):
        await client.api_refund_rent("no-such-rent")


async def test_422_carries_the_providers_message(fake, client):
    fake.fail_next(422, {"success": False, "message": "The selected plan id is invalid.",
                         "errors": {"plan_id": ["The selected plan id is invalid."]}})
    with pytest.raises(errors.ProviderRejectedError) as caught:
        await client.api_create_rent("nope")
    assert caught.value.message == "The selected plan id is invalid." and caught.value.status == 422


async def test_success_false_in_a_2xx_reply_is_an_error(fake, client):
    fake.fail_next(200, {"success": False, "message": "Service temporarily disabled."})
    with pytest.raises(errors.ProviderRejectedError, match="temporarily disabled"):
        await client.list_services()
    fake.fail_next(200, {"success": False, "message": "Insufficient balance."})
    with pytest.raises(errors.InsufficientFundsError):
        await client.get_balance()


async def test_429_is_retried_on_reads_honouring_retry_after(fake, client):
    fake.fail_next(429, {"message": "Too Many Attempts."}, headers={"Retry-After": "0"})
    assert await client.get_balance() == Decimal("100")
    assert len(fake.requests) == 2


async def test_429_until_retries_are_exhausted(fake, client):
    fake.retry_after = 0.05
    fake.set_mode("ratelimit")
    with pytest.raises(errors.RateLimitedError) as caught:
        await client.get_balance()
    assert caught.value.retry_after == 0.05 and caught.value.status == 429
    assert len(fake.requests) == 3  # 1 + max_retries


async def test_500_is_retried_on_reads_then_a_server_error(fake, client):
    fake.fail_next(500, {"message": "Server Error"})
    assert len(await client.list_services()) == 5
    assert len(fake.requests) == 2
    fake.requests.clear()
    fake.set_mode("error500")
    with pytest.raises(errors.ServerError):
        await client.get_balance()
    assert len(fake.requests) == 3


@pytest.mark.parametrize("status", [500, 502, 503, 429])
async def test_create_rent_is_never_retried(fake, client, status):
    offer = await offer_for(client, "Telegram", "1 day")
    fake.requests.clear()
    fake.fail_next(status, {"message": "Server Error"}, headers={"Retry-After": "0"}, count=3)
    with pytest.raises(errors.ProviderError):
        await client.rent(offer)
    assert len(calls(fake, "POST", "/api/rents")) == 1 and len(fake.requests) == 1


async def test_timeout_on_a_read_is_a_connection_failure(fake):
    fake.slow_seconds = 1.0
    fake.set_mode("slow")
    async with make_client(fake, timeout=0.2, max_retries=1) as client:
        with pytest.raises(errors.ConnectionFailedError):
            await client.get_balance()
    assert len(fake.requests) == 2  # retried once


async def test_timeout_on_create_rent_is_an_unknown_outcome(fake):
    async with make_client(fake, timeout=0.2) as client:
        offer = await offer_for(client, "Telegram", "1 day")
        fake.requests.clear()
        fake.slow_seconds = 1.0
        fake.set_mode("slow")
        with pytest.raises(errors.OutcomeUnknownError):
            await client.rent(offer)
        assert len(fake.requests) == 1 and calls(fake, "POST", "/api/rents")
        fake.set_mode("ok")
        # the fake did rent: reconciliation finds it among the active rentals
        assert [r.plan_id for r in await client.list_active_rentals()] == [offer.id]


async def test_timeout_on_transition_is_an_unknown_outcome(fake):
    async with make_client(fake, timeout=0.2) as client:
        daily = await rent(client)
        fake.slow_seconds = 1.0
        fake.set_mode("slow")
        fake.requests.clear()
        with pytest.raises(errors.OutcomeUnknownError):
            await client.api_transition_rent(daily.id, fake.find_plan("Telegram", "month"))
        assert len(fake.requests) == 1


async def test_html_page_is_a_malformed_reply(fake, client):
    fake.set_mode("html")
    with pytest.raises(errors.MalformedReplyError, match="HTML"):
        await client.get_balance()
    assert len(fake.requests) == 1  # not retried


async def test_unreadable_reply_to_create_rent_is_an_unknown_outcome(fake, client):
    offer = await offer_for(client, "Telegram", "1 day")
    fake.set_mode("html")
    with pytest.raises(errors.OutcomeUnknownError) as caught:
        await client.rent(offer)
    assert isinstance(caught.value.__cause__, errors.MalformedReplyError)


async def test_invalid_json_is_a_malformed_reply(fake, client):
    fake.set_mode("badjson")
    with pytest.raises(errors.MalformedReplyError, match="invalid JSON"):
        await client.list_services()


def _services_page(*rows, **meta) -> dict:
    return {"success": True, "data": list(rows),
            "meta": {"current_page": 1, "last_page": 1, "per_page": 100, "total": len(rows), **meta}}


@pytest.mark.parametrize("body", [
    _services_page({"id": "s1"}),  # missing name
    _services_page({"id": "s1", "name": "Telegram"}, last_page="two"),  # string where a number belongs
    {"success": True, "data": [{"id": "s1", "name": "Telegram"}]},  # no meta
    {"success": True, "data": {"id": "s1"}},  # an object where a list belongs
    {"success": "maybe", "data": []},
    [1, 2, 3],
])
async def test_malformed_listing(fake, client, body):
    fake.fail_next(200, body)
    with pytest.raises(errors.MalformedReplyError):
        await client.list_services()


async def test_string_where_a_number_is_expected(fake, client):
    fake.fail_next(200, {"success": True, "data": {"balance": "a lot"}})
    with pytest.raises(errors.MalformedReplyError, match="balance"):
        await client.get_balance()
    rental = await rent(client)
    fake.rents[rental.id]["price"] = "cheap"  # the fake's state as a broken server would send it
    with pytest.raises(errors.MalformedReplyError, match="price"):
        await client.get_rental(rental.id)


async def test_unexpected_enum_values(fake, client):
    rental = await rent(client)
    fake.rents[rental.id]["status"] = "frozen"
    with pytest.raises(errors.MalformedReplyError, match="frozen"):
        await client.api_list_rents()
    plan = fake.find_plan("Google", "week")
    fake.plans[plan]["billing_type"] = "weekly"
    with pytest.raises(errors.MalformedReplyError, match="billing_type"):
        await client.api_list_rent_plans(search="Google")
    fake.fail_next(200, {"success": True, "message": "ok", "data": {"id": rental.id, "status": "paused"}})
    with pytest.raises(errors.MalformedReplyError):
        await client.api_refund_rent(rental.id)


async def test_other_rent_statuses_are_mapped(fake, client):
    rental = await rent(client)
    fake.rents[rental.id]["status"] = "expired"
    assert (await client.api_list_rents())[0].status == RentalStatus.EXPIRED
    fake.rents[rental.id]["status"] = "refunded"
    assert (await client.api_list_rents())[0].status == RentalStatus.CANCELLED


async def test_api_key_never_appears_in_errors_or_logs(caplog):
    caplog.set_level(logging.DEBUG)
    echo = {"success": False, "message": f"token {SECRET} refused"}
    raised: list[errors.ProviderError] = []
    async with FakeGotSms(api_key=SECRET) as fake:
        async with make_client(fake, api_key=SECRET, timeout=0.2, max_retries=1) as client:
            for status in (401, 404, 422, 500, 429, 200):
                retried = status in (429, 500)  # then the retry logs the error text too
                fake.fail_next(status, echo, headers={"Retry-After": "0"}, count=2 if retried else 1)
                with pytest.raises(errors.ProviderError) as caught:
                    await client.get_balance()
                raised.append(caught.value)
            fake.fail_next(422, echo)
            with pytest.raises(errors.ProviderError) as caught:
                await client.api_create_rent(fake.find_plan("Telegram"))
            raised.append(caught.value)
            fake.set_mode("slow")
            fake.slow_seconds = 0.5
            with pytest.raises(errors.OutcomeUnknownError) as caught:
                await client.api_create_rent(fake.find_plan("Telegram"))
            raised.append(caught.value)
    assert len(raised) == 8
    for err in raised:
        assert SECRET not in str(err) and SECRET not in repr(err.args) and SECRET not in err.message
    assert "***" in str(raised[0]) or "***" in str(raised[2])
    assert SECRET not in caplog.text and "token *** refused" in caplog.text  # the retry was logged, redacted


async def test_client_closes_its_http_client(fake):
    client = make_client(fake)
    async with client:
        await client.get_balance()
    assert client._http.client.is_closed


async def test_received_at_is_timezone_aware(fake, client):
    rental = await rent(client)
    fake.inject_sms(rental.id, "Code 123456")
    [sms] = await client.fetch_new_sms([rental.id])
    assert sms.received_at.tzinfo is not None and sms.received_at <= datetime.now(UTC)


async def test_an_amount_or_id_out_of_any_sane_range_is_malformed(fake, client):
    """Schema-valid, yet no price (27 digits overflow the money arithmetic) and no id (past 64 bits)."""
    rental = await rent(client)
    fake.rents[rental.id]["price"] = "1" * 27
    with pytest.raises(errors.MalformedReplyError, match="out of range"):
        await client.get_rental(rental.id)
    fake.fail_next(200, {"success": True, "data": {"balance": "9" * 30}})
    with pytest.raises(errors.MalformedReplyError, match="out of range"):
        await client.get_balance()


async def test_one_unreadable_plan_is_left_out_and_the_rest_of_the_list_shown(fake, client, caplog):
    """A catalogue row the bot cannot use (a price no plan can have) leaves that plan out, with one log line, and
    the service's other plans are offered; a list with nothing readable at all is the reply's fault."""
    telegram = next(s for s in await client.list_services() if s.name == "Telegram")
    plans = [p for p in fake.plans.values() if p["service_id"] == telegram.id]
    assert len(plans) > 1
    plans[0]["price"] = Decimal("1" * 27)
    with caplog.at_level(logging.WARNING):
        offers = await client.list_offers(telegram)
    assert len(offers) == len(plans) - 1 and plans[0]["id"] not in {o.id for o in offers}
    [line] = [r.getMessage() for r in caplog.records if "unreadable row" in r.getMessage()]
    assert "rent plans: 1 unreadable row(s) left out" in line and "out of range" in line
    for plan in plans:
        plan["price"] = Decimal("1" * 27)
    with pytest.raises(errors.MalformedReplyError, match="out of range"):
        await client.list_offers(telegram)
