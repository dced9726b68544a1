"""One contract for every ``Provider``: the same expectations, run against each implementation.

The ``contract`` fixture yields ``(provider, driver)`` for:

* ``gotsms``   - ``GotSmsClient`` over real HTTP against the in-process ``FakeGotSms``;
* ``getatext`` - ``GetATextClient`` over real HTTP against the in-process ``FakeGetAText``;
* ``memory``   - the in-memory ``MemoryProvider`` used by the flow tests.

The driver hides how each fake is controlled (``inject_code``, ``make_next_request_fail``,
``set_mode``, ``count_rent_requests``, ...). Optional actions are tested only when the
provider lists them in ``capabilities``; an action it does not list must raise
``UnsupportedOperationError``: the capability set has to be honest both ways.

Where the documents make providers differ (GetAText keeps no rent list and no arrival time;
GotSMS reads a refunded rent back as finished), the test says so next to the expectation.
"""
from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from decimal import Decimal

import pytest

from playground.sandbox.getatext import FakeGetAText
from playground.sandbox.gotsms import FakeGotSms
from playground.sandbox.memory import MemoryProvider
from providers import Capability, Choice, Offer, Provider, Rental, RentalStatus, RentChoice, Service, Sms
from providers.codes import extract_code
from providers.errors import (
    AuthenticationError,
    MalformedReplyError,
    NotFoundError,
    NothingAvailableError,
    OutcomeUnknownError,
    ProviderError,
    ProviderRejectedError,
    ServerError,
    UnsupportedOperationError,
)
from providers.getatext import GetATextClient
from providers.gotsms import GotSmsClient
from providers.models import BillingType

API_KEY = "sk_contract_SECRET_key_7f3a91"
TIMEOUT = 0.5  # client timeout; the fakes' "slow" mode answers long after it
SMS_BODY = "Your verification code is 482913. Do not share it."
SMS_CODE = "482913"
MONTH_MINUTES = 28 * 24 * 60


# ---------------------------------------------------------------- drivers


class Driver:
    """Uniform control over whatever stands behind a provider."""

    http = True  # False: the provider talks to no server, HTTP-only checks are skipped

    async def inject_code(self, rental_id: str, body_or_code: str) -> str:
        """An SMS arrives for the rental; returns the code the provider should report."""
        raise NotImplementedError

    def make_next_request_fail(self, status: int, message: str | None = None) -> None:
        """The next request gets ``status`` (with ``message`` in the provider's error format)."""
        raise NotImplementedError

    def set_mode(self, mode: str) -> None:
        """ok | slow | html | badjson | error500, for every following request."""
        raise NotImplementedError

    def count_rent_requests(self) -> int:
        raise NotImplementedError

    def count_requests(self) -> int:
        raise NotImplementedError

    def age_rental(self, rental_id: str, seconds: float) -> None:
        """Make the provider see the rental as ``seconds`` older (for min_age_to_cancel)."""


class GotSmsDriver(Driver):
    def __init__(self, fake: FakeGotSms) -> None:
        self.fake = fake

    async def inject_code(self, rental_id: str, body_or_code: str) -> str:
        self.fake.inject_sms(rental_id, body_or_code)
        return extract_code(body_or_code)

    def make_next_request_fail(self, status: int, message: str | None = None) -> None:
        self.fake.fail_next(status, None if message is None else {"success": False, "message": message})

    def set_mode(self, mode: str) -> None:
        self.fake.set_mode(mode)

    def count_rent_requests(self) -> int:
        return sum(1 for method, path, _ in self.fake.requests if (method, path) == ("POST", "/api/rents"))

    def count_requests(self) -> int:
        return len(self.fake.requests)


class GetATextDriver(Driver):
    def __init__(self, fake: FakeGetAText) -> None:
        self.fake = fake

    async def inject_code(self, rental_id: str, body_or_code: str) -> str:
        code = extract_code(body_or_code)  # the API carries only the code, never the SMS text
        # A long rental ("L<id>") receives whole messages; an activation only the code.
        await self.fake.inject_code(rental_id.removeprefix("L"), code,
                                    body_or_code if rental_id.startswith("L") else None)
        return code

    def make_next_request_fail(self, status: int, message: str | None = None) -> None:
        self.fake.fail_next(status, None if message is None else {"status": "error", "errors": message})

    def set_mode(self, mode: str) -> None:
        self.fake.set_mode(mode)

    def count_rent_requests(self) -> int:
        return sum(1 for method, path, _ in self.fake.requests if (method, path) == ("POST", "/api/v1/rent-a-number"))

    def count_requests(self) -> int:
        return len(self.fake.requests)

    def age_rental(self, rental_id: str, seconds: float) -> None:
        self.fake.rentals[int(rental_id)].started -= seconds


class MemoryDriver(Driver):
    http = False

    def __init__(self, provider: MemoryProvider) -> None:
        self.provider = provider

    async def inject_code(self, rental_id: str, body_or_code: str) -> str:
        return self.provider.inject_sms(rental_id, body_or_code).code

    def count_rent_requests(self) -> int:
        return self.provider.rent_calls


@pytest.fixture(params=["gotsms", "getatext", "memory"])
async def contract(request) -> AsyncIterator[tuple[Provider, Driver]]:
    kind = request.param
    if kind == "memory":
        provider = MemoryProvider()
        yield provider, MemoryDriver(provider)
        await provider.aclose()
        return
    if kind == "gotsms":
        fake = FakeGotSms(api_key=API_KEY)
    else:
        # The fake enforces the documented 1 request/s and 1 minute cancel wait; the client is
        # paced at 0.01 s, so the fake's window is made smaller than that.
        fake = FakeGetAText(api_key=API_KEY, rate_limit_interval=0.001)
        fake.retry_after = 0
    fake.slow_seconds = 5.0  # far past TIMEOUT; the handler is cancelled when the client gives up
    async with fake:
        if kind == "gotsms":
            provider: Provider = GotSmsClient(API_KEY, base_url=fake.url, timeout=TIMEOUT, backoff=0.01)
            driver: Driver = GotSmsDriver(fake)
        else:
            provider = GetATextClient(API_KEY, base_url=fake.url, timeout=TIMEOUT, backoff=0.01,
                                      rent_interval=0.01, poll_interval=0.0, long_prices={"1w": Decimal("10.55")})
            driver = GetATextDriver(fake)
        try:
            yield provider, driver
        finally:
            await provider.aclose()


# ---------------------------------------------------------------- helpers


async def first_offer(provider: Provider) -> tuple[Service, Offer]:
    service = (await provider.list_services())[0]
    offers = [o for o in await provider.list_offers(service) if o.stock != 0]
    assert offers, f"{provider.name}: no offer for {service}"
    return service, offers[0]


async def find_offer(provider: Provider, accept: Callable[[Offer], bool]) -> Offer:
    for service in await provider.list_services():
        for offer in await provider.list_offers(service):
            if offer.stock != 0 and accept(offer):
                return offer
    pytest.fail(f"{provider.name}: no offer matches")


async def rent_first(provider: Provider) -> Rental:
    _, offer = await first_offer(provider)
    return await provider.rent(offer)


async def rent_with(provider: Provider, capability: Capability) -> Rental:
    """A rental of the first plan whose rentals have this action (a provider's kinds of plan may differ)."""
    return await provider.rent(await find_offer(provider, lambda o: capability in provider.capabilities_for(o.id)))


async def raises(error: type[ProviderError], call) -> ProviderError:
    """Awaits ``call``, expects ``error``; every raised error is checked for the API key."""
    with pytest.raises(error) as info:
        await call
    assert_no_key(info.value)
    return info.value


def assert_no_key(err: BaseException) -> None:
    assert API_KEY not in str(err)
    assert API_KEY not in repr(err)
    assert all(API_KEY not in str(arg) for arg in err.args)


def need(provider: Provider, capability: Capability) -> None:
    if capability not in provider.capabilities:
        pytest.skip(f"{provider.name} does not list {capability}")


def need_http(driver: Driver) -> None:
    if not driver.http:
        pytest.skip("no HTTP behind this provider")


# ---------------------------------------------------------------- identity and catalogue


async def test_identity_and_capabilities(contract):
    provider, _ = contract
    assert isinstance(provider, Provider)
    assert isinstance(provider.name, str) and provider.name.strip()
    assert isinstance(provider.title, str) and provider.title.strip()
    assert isinstance(provider.capabilities, frozenset)
    assert all(isinstance(c, Capability) for c in provider.capabilities)
    assert provider.min_age_to_cancel >= 0


async def test_list_services(contract):
    provider, _ = contract
    services = await provider.list_services()
    assert services
    assert all(isinstance(s, Service) for s in services)
    assert all(isinstance(s.id, str) and s.id and isinstance(s.name, str) and s.name for s in services)
    assert len({s.id for s in services}) == len(services)


async def test_list_offers_for_the_first_service(contract):
    provider, _ = contract
    service = (await provider.list_services())[0]
    offers = await provider.list_offers(service)
    assert offers
    for offer in offers:
        assert isinstance(offer, Offer)
        assert offer.provider == provider.name
        assert offer.id
        assert offer.service_id == service.id
        assert offer.service_name == service.name
        assert isinstance(offer.price, Decimal) and offer.price > 0
        assert isinstance(offer.billing, BillingType)
        assert isinstance(offer.duration_label, str) and offer.duration_label
        assert isinstance(offer.country, str) and offer.country


async def test_get_balance_is_a_decimal(contract):
    provider, _ = contract
    assert isinstance(await provider.get_balance(), Decimal)


# ---------------------------------------------------------------- renting


async def test_rent_returns_an_active_rental_that_get_rental_finds(contract):
    provider, _ = contract
    _, offer = await first_offer(provider)
    rental = await provider.rent(offer)
    assert isinstance(rental, Rental)
    assert rental.status is RentalStatus.ACTIVE
    assert rental.id and rental.phone
    assert rental.provider == provider.name
    again = await provider.get_rental(rental.id)
    assert again.id == rental.id
    assert again.phone == rental.phone
    assert again.provider == provider.name
    assert again.status is RentalStatus.ACTIVE


async def test_rent_spends_the_providers_balance(contract, request):
    provider, _ = contract
    _, offer = await first_offer(provider)
    before = await provider.get_balance()
    await provider.rent(offer)
    assert await provider.get_balance() < before


async def test_list_active_rentals_includes_a_new_rental(contract, request):
    provider, _ = contract
    rental = await rent_first(provider)
    try:
        listed = await provider.list_active_rentals()
    except UnsupportedOperationError:
        # Honest about it: GetAText keeps no list of short rentals; the bot reconciles those by waiting.
        assert provider.name == "getatext"
        return
    assert rental.id in {r.id for r in listed}


async def test_unknown_rental_is_not_found(contract):
    provider, _ = contract
    rental = await rent_first(provider)  # so the provider has something else to look through
    unknown = "9d3f8f6a-0000-4000-8000-999999999999" if provider.name == "gotsms" else "987654321"
    assert unknown != rental.id
    await raises(NotFoundError, provider.get_rental(unknown))


# ---------------------------------------------------------------- rent choices

# One wish of each kind, to ask a provider for what it may not take.
WISHES = {
    Choice.AREA_CODE: RentChoice(area_code="212"),
    Choice.CARRIER: RentChoice(carrier="at&t"),
    Choice.MAX_PRICE: RentChoice(max_price=Decimal("100")),
}


def need_choice(provider: Provider, choice: Choice) -> None:
    if choice not in provider.rent_choices:
        pytest.skip(f"{provider.name} does not take {choice}")


async def test_rent_choices_are_declared(contract):
    provider, _ = contract
    assert isinstance(provider.rent_choices, frozenset) and all(isinstance(c, Choice) for c in provider.rent_choices)
    assert isinstance(provider.carriers, tuple) and all(isinstance(c, str) and c for c in provider.carriers)
    # Carriers to pick from exactly where a carrier may be asked for.
    assert bool(provider.carriers) == (Choice.CARRIER in provider.rent_choices)


async def test_rent_with_no_wishes_is_a_plain_rent(contract):
    provider, _ = contract
    _, offer = await first_offer(provider)
    before = await provider.get_balance()
    rental = await provider.rent(offer, RentChoice(area_code=" ", carrier="", keep_carrier=False))
    assert rental.status is RentalStatus.ACTIVE and rental.provider == provider.name
    assert await provider.get_balance() == before - offer.price


async def test_a_wish_not_listed_is_refused_before_anything_is_sent(contract):
    provider, driver = contract
    unlisted = [c for c in WISHES if c not in provider.rent_choices]
    if not unlisted:
        pytest.skip(f"{provider.name} takes every wish")
    _, offer = await first_offer(provider)
    before = await provider.get_balance()
    sent_before = driver.count_requests() if driver.http else 0
    for choice in unlisted:
        err = await raises(UnsupportedOperationError, provider.rent(offer, WISHES[choice]))
        assert err.provider == provider.name and str(choice) in err.message
    if driver.http:
        assert driver.count_requests() == sent_before
    assert await provider.get_balance() == before


async def test_an_area_code_gives_a_number_in_it(contract):
    provider, _ = contract
    need_choice(provider, Choice.AREA_CODE)
    offer = await find_offer(provider, lambda o: o.country == "USA")
    rental = await provider.rent(offer, RentChoice(area_code="212"))
    assert rental.phone.replace(" ", "").startswith("+1212")


async def test_a_cap_below_the_price_is_refused_and_charges_nothing(contract):
    provider, _ = contract
    need_choice(provider, Choice.MAX_PRICE)
    _, offer = await first_offer(provider)
    before = await provider.get_balance()
    await raises(NothingAvailableError, provider.rent(offer, RentChoice(max_price=offer.price - Decimal("0.01"))))
    assert await provider.get_balance() == before
    rental = await provider.rent(offer, RentChoice(max_price=offer.price))
    assert rental.price == offer.price


async def test_memory_provider_takes_the_choices_it_is_given():
    provider = MemoryProvider(rent_choices=(Choice.AREA_CODE, Choice.MAX_PRICE))
    [offer, _] = await provider.list_offers(provider.services[0])
    choice = RentChoice(area_code="212", max_price=offer.price)
    rental = await provider.rent(offer, choice)
    assert provider.last_choice == choice and rental.phone.startswith("+1212")
    await raises(UnsupportedOperationError, provider.rent(offer, RentChoice(carrier="at&t")))
    assert provider.last_choice == RentChoice(carrier="at&t")  # recorded even when refused
    await raises(NothingAvailableError, provider.rent(offer, RentChoice(max_price=offer.price / 2)))
    assert provider.balance == Decimal("100") - offer.price and list(provider.rentals) == [rental.id]


# ---------------------------------------------------------------- SMS


async def test_fetch_new_sms_and_acknowledge(contract):
    provider, driver = contract
    rental = await rent_first(provider)
    assert await provider.fetch_new_sms([rental.id]) == []
    assert await provider.fetch_new_sms([]) == []

    code = await driver.inject_code(rental.id, SMS_BODY)
    assert code == SMS_CODE
    first = await provider.fetch_new_sms([rental.id])
    assert len(first) == 1
    sms = first[0]
    assert isinstance(sms, Sms)
    assert sms.provider == provider.name
    assert sms.rental_id == rental.id
    assert sms.code == SMS_CODE
    assert sms.id

    # Not marked read by fetching: the same SMS, under the same id.
    assert [s.id for s in await provider.fetch_new_sms([rental.id])] == [sms.id]

    acknowledged = await provider.acknowledge_sms()
    assert isinstance(acknowledged, list)
    assert all(isinstance(s, Sms) and s.provider == provider.name for s in acknowledged)
    after = await provider.fetch_new_sms([rental.id])
    acked_ids, after_ids = {s.id for s in acknowledged}, {s.id for s in after}
    # Providers with read state hand the SMS back from acknowledge_sms and stop returning it;
    # providers without keep returning it. Either way it is never lost, always under one id.
    assert not acked_ids & after_ids
    assert sms.id in acked_ids | after_ids
    assert {s.id for s in acknowledged + after if s.rental_id == rental.id} == {sms.id}
    assert all(s.code == SMS_CODE for s in acknowledged + after if s.id == sms.id)
    if provider.name == "gotsms":  # the one provider here that keeps read state
        assert acked_ids == {sms.id} and after == []


async def test_fetch_new_sms_returns_only_the_asked_rentals(contract):
    provider, driver = contract
    one, two = await rent_first(provider), await rent_first(provider)
    await driver.inject_code(one.id, SMS_BODY)
    assert await provider.fetch_new_sms([two.id]) == []
    assert [s.rental_id for s in await provider.fetch_new_sms([one.id, two.id])] == [one.id]


async def test_fetch_new_sms_is_oldest_first(contract, request):
    provider, driver = contract
    if provider.name == "getatext":
        pytest.skip("GetAText's rental status carries no arrival time: order across rentals is unknowable")
    one, two = await rent_first(provider), await rent_first(provider)
    await driver.inject_code(two.id, "Your code is 111111")
    await driver.inject_code(one.id, "Your code is 222222")
    assert [s.code for s in await provider.fetch_new_sms([one.id, two.id])] == ["111111", "222222"]


# ---------------------------------------------------------------- optional actions


async def test_cancel(contract):
    provider, driver = contract
    need(provider, Capability.CANCEL)
    rental = await rent_first(provider)
    if provider.min_age_to_cancel > 0:
        await raises(ProviderRejectedError, provider.cancel(rental.id))
        driver.age_rental(rental.id, provider.min_age_to_cancel + 1)
    cancelled = await provider.cancel(rental.id)
    assert isinstance(cancelled, Rental)
    assert cancelled.id == rental.id
    assert cancelled.phone == rental.phone
    assert cancelled.status is RentalStatus.CANCELLED
    assert (await provider.get_rental(rental.id)).status is not RentalStatus.ACTIVE


async def test_get_rental_after_cancel_agrees_with_cancel(contract, request):
    provider, driver = contract
    need(provider, Capability.CANCEL)
    rental = await rent_first(provider)
    driver.age_rental(rental.id, provider.min_age_to_cancel + 1)
    await provider.cancel(rental.id)
    # GotSMS reads a refunded rent back as "finished" (its document's word); closed either way.
    assert (await provider.get_rental(rental.id)).status in (RentalStatus.CANCELLED, RentalStatus.FINISHED)


async def test_finish(contract):
    provider, _ = contract
    need(provider, Capability.FINISH)
    rental = await rent_first(provider)
    finished = await provider.finish(rental.id)
    assert isinstance(finished, Rental)
    assert finished.id == rental.id
    assert finished.phone == rental.phone
    assert finished.status is RentalStatus.FINISHED


async def test_renew(contract):
    provider, _ = contract
    need(provider, Capability.RENEW)
    rental = await rent_first(provider)
    renewed = await provider.renew(rental.id)
    assert isinstance(renewed, Rental)
    assert renewed.status is RentalStatus.ACTIVE
    assert renewed.phone == rental.phone
    assert renewed.provider == provider.name
    assert (await provider.get_rental(renewed.id)).phone == rental.phone


async def test_auto_renew(contract):
    provider, _ = contract
    need(provider, Capability.AUTO_RENEW)
    offer = await find_offer(
        provider, lambda o: o.billing is BillingType.DURATION
        and (o.duration_minutes or 0) >= max(provider.auto_renew_min_minutes, 1))
    rental = await provider.rent(offer)
    assert await provider.set_auto_renew(rental.id, True) is True
    assert (await provider.get_rental(rental.id)).auto_renew is True
    assert await provider.set_auto_renew(rental.id, True) is True  # already on: stays on
    assert await provider.set_auto_renew(rental.id, False) is False
    assert (await provider.get_rental(rental.id)).auto_renew is False


async def test_wake_up(contract):
    provider, _ = contract
    need(provider, Capability.WAKE_UP)
    rental = await rent_first(provider)
    message = await provider.wake_up(rental.id)
    assert isinstance(message, str) and message


async def test_transition_daily_to_monthly(contract):
    provider, _ = contract
    need(provider, Capability.TRANSITION)
    limit = provider.transition_max_minutes or 24 * 60
    daily = await find_offer(provider, lambda o: o.billing is BillingType.DURATION
                             and o.duration_minutes is not None and o.duration_minutes <= limit)
    monthly = [o for o in await provider.list_offers(Service(daily.service_id, daily.service_name))
               if o.billing is BillingType.DURATION and (o.duration_minutes or 0) >= MONTH_MINUTES]
    assert monthly, f"{provider.name}: no monthly plan for {daily.service_name}"
    rental = await provider.rent(daily)
    moved = await provider.transition(rental.id, monthly[0].id)
    assert isinstance(moved, Rental)
    assert moved.id == rental.id
    assert moved.phone == rental.phone
    assert moved.status is RentalStatus.ACTIVE
    assert moved.plan_id == monthly[0].id


async def test_history(contract):
    provider, driver = contract
    need(provider, Capability.HISTORY)
    rental = await rent_with(provider, Capability.HISTORY)
    assert await provider.history(rental.id) == []
    await driver.inject_code(rental.id, SMS_BODY)
    fetched = await provider.fetch_new_sms([rental.id])
    history = await provider.history(rental.id)
    assert isinstance(history, list) and all(isinstance(s, Sms) for s in history)
    assert [s.code for s in history] == [SMS_CODE]
    assert all(s.rental_id == rental.id and s.provider == provider.name for s in history)
    assert {s.id for s in history} == {s.id for s in fetched}  # storage dedupes by Sms.id

    await driver.inject_code(rental.id, "Your code is 777777")
    assert [s.code for s in await provider.history(rental.id)] == [SMS_CODE, "777777"]  # oldest first


ACTIONS: dict[Capability, Callable[[Provider, str], object]] = {
    Capability.CANCEL: lambda p, rid: p.cancel(rid),
    Capability.FINISH: lambda p, rid: p.finish(rid),
    Capability.RENEW: lambda p, rid: p.renew(rid),
    Capability.AUTO_RENEW: lambda p, rid: p.set_auto_renew(rid, True),
    Capability.WAKE_UP: lambda p, rid: p.wake_up(rid),
    Capability.TRANSITION: lambda p, rid: p.transition(rid, "some-plan"),
    Capability.HISTORY: lambda p, rid: p.history(rid),
}


async def test_actions_not_in_capabilities_are_unsupported(contract):
    provider, driver = contract
    missing = [c for c in ACTIONS if c not in provider.capabilities]
    if not missing:
        pytest.skip(f"{provider.name} lists every optional action")
    rental = await rent_first(provider)
    before = driver.count_requests() if driver.http else 0
    for capability in missing:
        err = await raises(UnsupportedOperationError, ACTIONS[capability](provider, rental.id))
        assert err.provider == provider.name
    if driver.http:
        assert driver.count_requests() == before  # refused locally, nothing sent


# ---------------------------------------------------------------- errors (HTTP only)


async def test_401_on_a_read_is_an_authentication_error(contract):
    provider, driver = contract
    need_http(driver)
    driver.make_next_request_fail(401)
    await raises(AuthenticationError, provider.get_balance())


async def test_404_on_get_rental_is_not_found(contract):
    provider, driver = contract
    need_http(driver)
    rental = await rent_first(provider)
    driver.make_next_request_fail(404)
    await raises(NotFoundError, provider.get_rental(rental.id))


@pytest.mark.parametrize("mode", ["html", "badjson"])
async def test_unreadable_200_on_a_read_is_malformed(contract, mode):
    provider, driver = contract
    need_http(driver)
    driver.set_mode(mode)
    await raises(MalformedReplyError, provider.get_balance())
    await raises(MalformedReplyError, provider.list_services())


async def test_timeout_on_rent_is_outcome_unknown_and_never_retried(contract):
    provider, driver = contract
    need_http(driver)
    _, offer = await first_offer(provider)
    driver.set_mode("slow")
    await raises(OutcomeUnknownError, provider.rent(offer))
    assert driver.count_rent_requests() == 1


@pytest.mark.parametrize("mode", ["html", "badjson"])
async def test_unreadable_200_on_rent_is_outcome_unknown(contract, request, mode):
    provider, driver = contract
    need_http(driver)
    _, offer = await first_offer(provider)
    driver.set_mode(mode)
    await raises(OutcomeUnknownError, provider.rent(offer))
    assert driver.count_rent_requests() == 1


async def test_500_on_rent_is_outcome_unknown_and_never_retried(contract):
    provider, driver = contract
    need_http(driver)
    _, offer = await first_offer(provider)
    driver.make_next_request_fail(500)
    # Neither document says a 5xx rented nothing: the caller reconciles instead of refunding.
    err = await raises(OutcomeUnknownError, provider.rent(offer))
    assert err.status == 500
    assert driver.count_rent_requests() == 1


async def test_one_500_on_a_read_is_retried(contract):
    provider, driver = contract
    need_http(driver)
    expected = await provider.get_balance()
    before = driver.count_requests()
    driver.make_next_request_fail(500)
    assert await provider.get_balance() == expected
    assert driver.count_requests() - before == 2


async def test_persistent_500_on_a_read_gives_up(contract):
    provider, driver = contract
    need_http(driver)
    driver.set_mode("error500")
    before = driver.count_requests()
    await raises(ServerError, provider.get_balance())
    assert 1 < driver.count_requests() - before <= 5


@pytest.mark.parametrize("status", [400, 401, 404, 422, 500])
async def test_an_error_echoing_the_api_key_never_shows_it(contract, status):
    provider, driver = contract
    need_http(driver)
    driver.make_next_request_fail(status, f"Invalid key {API_KEY} for this request")
    if status >= 500:
        driver.set_mode("error500")  # so the retry fails too
    with pytest.raises(ProviderError) as info:
        await provider.get_balance()
    assert_no_key(info.value)


# ---------------------------------------------------------------- lifecycle


async def test_async_with_and_aclose(contract):
    provider, _ = contract
    async with provider as entered:
        assert entered is provider
        assert isinstance(await entered.get_balance(), Decimal)
    await provider.aclose()  # a second close is harmless (the fixture closes once more)
