"""Choosing precisely, the pure parts: countries by ISO code, duration groups, area codes by libphonenumber,
price caps converted back to the provider's price, and wishes a provider does not take refused."""
from __future__ import annotations

from decimal import Decimal

import pytest

from bot.services import choosing, errors, localize
from bot.services.offers import PricedOffer
from bot.services.pricing import price_for_chat
from playground.sandbox.memory import MemoryProvider
from providers import BillingType, Choice, Offer


def priced(provider: str, minutes: int, price: int, country: str = "USA") -> PricedOffer:
    offer = Offer(provider, f"{provider}-{minutes}", "tg", "Telegram", Decimal(price) / 100, BillingType.DURATION,
                  minutes, "", country)
    return PricedOffer(offer, price)


def test_one_country_whoever_spells_it():
    assert {localize.country_key(n) for n in ("USA", "United States", "us", "US")} == {"US"}
    assert localize.country_key("UK") == localize.country_key("United Kingdom") == "GB"
    assert localize.country_key("Atlantis: the lost one") == "atlantisthelosto"  # fits callback data
    assert localize.country_label("USA", "ru") == "🇺🇸 Соединенные Штаты"
    assert localize.country_label("Atlantis", "ru") == "🌍 Atlantis"
    found = choosing.countries([priced("a", 1440, 120, "USA"), priced("b", 1440, 99, "United States"),
                                priced("a", 1440, 80, "Canada")])
    assert [(c.key, c.plans, c.cheapest) for c in found] == [("CA", 1, 80), ("US", 2, 99)]


def test_the_chats_last_country_then_the_most_rented_then_the_cheapest():
    found = choosing.countries([priced("a", 1440, 100, "USA"), priced("a", 1440, 50, "Canada"),
                                priced("a", 1440, 70, "UK")])
    assert [c.key for c in choosing.order_countries(found, None, {})] == ["CA", "GB", "US"]
    assert [c.key for c in choosing.order_countries(found, None, {"US": 3, "GB": 1})] == ["US", "GB", "CA"]
    assert [c.key for c in choosing.order_countries(found, "GB", {"US": 3})] == ["GB", "US", "CA"]


def test_many_plans_are_grouped_by_length_cheapest_first_and_the_cheapest_across_providers_marked():
    offers = sorted([priced("a", 20, 40), priced("b", 20, 35), priced("a", 1440, 110), priced("a", 3 * 1440, 300),
                     priced("a", 10080, 500), priced("b", 10080, 450), priced("a", 43200, 499),
                     priced("a", 3 * 43200, 1299), priced("a", 525600, 4000)], key=lambda p: p.price)
    assert choosing.should_group(offers)
    assert choosing.groups(offers) == [("minutes", 2, 35), ("days", 2, 110), ("weeks", 2, 450), ("months", 2, 499),
                                       ("years", 1, 4000)]
    weeks = choosing.in_group(offers, "weeks")
    assert [p.price for p in weeks] == [450, 500]
    assert choosing.cheapest_marks(weeks) == [True, False]
    assert choosing.cheapest_marks(choosing.in_group(offers, "months")) == [False, False]  # one provider: no mark
    assert not choosing.should_group(offers[:8])


@pytest.mark.parametrize(("country", "code", "valid"), [
    ("USA", "212", True), ("USA", "907", True), ("USA", "123", False), ("USA", "21", False), ("USA", "416", False),
    ("Canada", "416", True), ("Canada", "212", False), ("United Kingdom", "20", True), ("USA", "2 1", False),
    ("USA", "٢١٢", False), ("Atlantis", "12", True), ("Atlantis", "1", False),
])
def test_area_codes_checked_against_the_countrys_numbering(country, code, valid):
    assert choosing.area_code_valid(country, code) is valid


def test_a_cap_is_converted_back_to_the_highest_provider_price_that_stays_within_it():
    for markup in (Decimal(0), Decimal(10), Decimal(15), Decimal("33.3")):
        for cap in (1, 5, 58, 72, 99, 100, 1234):
            provider_price = choosing.provider_cap(cap, markup)
            assert price_for_chat(provider_price, markup) <= cap
            assert price_for_chat(provider_price + Decimal("0.01"), markup) > cap
    assert choosing.cap_choices(58) == [75, 90, 120]


US_OFFER = Offer(provider="memory", id="p", service_id="s", service_name="S", price=Decimal(1),
                 billing=BillingType.SMS, duration_minutes=20, duration_label="20 min", country="USA")


def test_wishes_a_provider_does_not_take_come_from_a_forged_button():
    plain = MemoryProvider()
    assert choosing.rent_choice(choosing.Wishes(), US_OFFER, plain, 110, Decimal(10)) == (None, 110)
    for wishes in (choosing.Wishes(area="212"), choosing.Wishes(carrier=1), choosing.Wishes(cap=200)):
        with pytest.raises(errors.StaleButton):
            choosing.rent_choice(wishes, US_OFFER, plain, 110, Decimal(10))

    picky = MemoryProvider()
    picky.rent_choices = frozenset({Choice.AREA_CODE, Choice.CARRIER, Choice.MAX_PRICE})
    picky.carriers = ("at&t", "verizon")
    with pytest.raises(errors.BadAreaCode):
        choosing.rent_choice(choosing.Wishes(area="123"), US_OFFER, picky, 110, Decimal(10))
    for forged in (choosing.Wishes(carrier=3), choosing.Wishes(cap=110), choosing.Wishes(cap=10**6)):
        with pytest.raises(errors.StaleButton):
            choosing.rent_choice(forged, US_OFFER, picky, 110, Decimal(10))
    choice, charge = choosing.rent_choice(choosing.Wishes(area="212", carrier=2, cap=150), US_OFFER, picky, 110,
                                          Decimal(10))
    assert (choice.area_code, choice.carrier, choice.keep_carrier, choice.max_price, charge) == \
        ("212", "verizon", None, Decimal("1.36"), 150)
    keep, _ = choosing.rent_choice(choosing.Wishes(carrier=choosing.KEEP_CARRIER), US_OFFER, picky, 110, Decimal(10))
    assert keep.keep_carrier is True and keep.carrier is None and keep.max_price is None
