"""Choosing precisely: countries and duration groups of a service's plans, and the wishes a rent may carry
(area code, carrier, price cap) checked and turned into what the provider takes."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal

import phonenumbers

from providers import Choice, Offer, Provider, RentChoice

from . import errors
from .localize import country_code, country_key
from .offers import PricedOffer
from .pricing import price_for_chat

KEEP_CARRIER = 99  # the carrier index meaning "the carrier of a number this account already has"
KEEP_CARRIER_NAME = "keep"  # how a rental row records that wish (RentalRecord.carrier)
# Duration groups, by the plan's length in minutes: (group, upper bound exclusive).
GROUPS = (("minutes", 24 * 60), ("days", 7 * 24 * 60), ("weeks", 28 * 24 * 60), ("months", 365 * 24 * 60),
          ("years", None))
GROUP_WHEN_MORE_THAN = 8  # plans in one list before they are grouped by duration
CAP_STEPS = (Decimal("1.25"), Decimal("1.5"), Decimal("2"))  # price caps offered, times the listed price


@dataclass(frozen=True, slots=True)
class CountryPlans:
    key: str  # localize.country_key: the ISO code where CLDR knows the country
    name: str  # as a provider spelled it (for the label in the chat's language)
    plans: int
    cheapest: int  # minor units


def countries(offers: list[PricedOffer]) -> list[CountryPlans]:
    """Countries of these offers, cheapest first."""
    found: dict[str, list[PricedOffer]] = {}
    for priced in offers:
        found.setdefault(country_key(priced.offer.country), []).append(priced)
    result = [CountryPlans(key, group[0].offer.country, len(group), min(p.price for p in group))
              for key, group in found.items()]
    return sorted(result, key=lambda c: (c.cheapest, c.key))


def in_country(offers: list[PricedOffer], key: str) -> list[PricedOffer]:
    return [p for p in offers if country_key(p.offer.country) == key]


def order_countries(found: list[CountryPlans], last: str | None, used: Counter) -> list[CountryPlans]:
    """The chat's last choice on top, then the countries rented most, then the cheapest."""
    return sorted(found, key=lambda c: (c.key != last, -used.get(c.key, 0), c.cheapest, c.key))


def duration_group(minutes: int | None) -> str:
    value = minutes or 0
    return next(name for name, bound in GROUPS if bound is None or value < bound)


def groups(offers: list[PricedOffer]) -> list[tuple[str, int, int]]:
    """(group, plans, cheapest) in the order of GROUPS, only groups that have plans."""
    by_group: dict[str, list[int]] = {}
    for priced in offers:
        by_group.setdefault(duration_group(priced.offer.duration_minutes), []).append(priced.price)
    return [(name, len(by_group[name]), min(by_group[name])) for name, _ in GROUPS if name in by_group]


def should_group(offers: list[PricedOffer]) -> bool:
    return len(offers) > GROUP_WHEN_MORE_THAN and len(groups(offers)) > 1


def in_group(offers: list[PricedOffer], group: str) -> list[PricedOffer]:
    """Cheapest first inside a group (the catalogue already sorts by price)."""
    return [p for p in offers if duration_group(p.offer.duration_minutes) == group]


def cheapest_marks(offers: list[PricedOffer]) -> list[bool]:
    """Which offers are the cheapest of their length where more than one provider sells that length."""
    by_length: dict[int | None, list[PricedOffer]] = {}
    for priced in offers:
        by_length.setdefault(priced.offer.duration_minutes, []).append(priced)
    marks = []
    for priced in offers:
        rivals = by_length[priced.offer.duration_minutes]
        several = len({p.offer.provider for p in rivals}) > 1
        marks.append(several and priced is min(rivals, key=lambda p: p.price))
    return marks


# -- wishes ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Wishes:
    """What the user chose on the confirm screen, as carried in its buttons."""

    area: str = ""  # digits; "" = any area
    carrier: int = 0  # 0 = any; 1.. = Provider.carriers[n - 1]; KEEP_CARRIER
    cap: int = 0  # minor units, what the chat pays at most; 0 = the listed price
    renew: bool = False  # auto-renewal on from the start (long-term numbers)

    @property
    def empty(self) -> bool:
        return not (self.area or self.carrier or self.cap or self.renew)


def area_code_valid(country: str, code: str) -> bool:
    """An area code that numbers of this country can start with, by libphonenumber's metadata: the code
    put in front of the rest of an example number must make a valid number. Countries libphonenumber does
    not know take any 2 to 5 digits."""
    if not (code.isascii() and code.isdigit() and 1 <= len(code) <= 5):
        return False
    region = country_code(country)
    if region is None or region not in phonenumbers.SUPPORTED_REGIONS:
        return 2 <= len(code) <= 5
    for kind in (phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE):
        example = phonenumbers.example_number_for_type(region, kind)
        if example is None:
            continue
        national = str(example.national_number)
        if len(code) >= len(national):
            continue
        candidate = phonenumbers.parse(code + national[len(code):], region)
        if phonenumbers.is_valid_number_for_region(candidate, region):
            return True
    return False


def area_example(country: str) -> str:
    """An area code of the country to show as an example ("201" for the USA), from libphonenumber."""
    region = country_code(country)
    example = phonenumbers.example_number(region) if region in phonenumbers.SUPPORTED_REGIONS else None
    if example is None:
        return "212"
    length = phonenumbers.length_of_national_destination_code(example)
    return str(example.national_number)[:length] if length > 0 else "212"


def cap_choices(price: int) -> list[int]:
    """Caps to offer above the listed price, rounded up to 5 minor units."""
    caps = []
    for step in CAP_STEPS:
        cap = int((Decimal(price) * step / 5).to_integral_value(rounding="ROUND_CEILING")) * 5
        if cap > price and cap not in caps:
            caps.append(cap)
    return caps


def provider_cap(cap: int, markup_percent: Decimal) -> Decimal:
    """The highest provider price (in cents) whose price for the chat stays within ``cap``."""
    estimate = (Decimal(cap) / (Decimal(100) + markup_percent)).quantize(Decimal("0.01"), rounding=ROUND_FLOOR)
    while estimate > 0 and price_for_chat(estimate, markup_percent) > cap:
        estimate -= Decimal("0.01")
    return max(estimate, Decimal(0))


def rent_choice(wishes: Wishes, offer: Offer, provider: Provider, listed: int,
                markup_percent: Decimal) -> tuple[RentChoice | None, int]:
    """(what the provider is sent, what the chat is charged up front). A wish the provider does not take for
    this plan or that is out of range came from a forged or outdated button."""
    if wishes.empty:
        return None, listed
    takes = provider.choices_for(offer)
    offer_country = offer.country
    area = carrier = keep = max_price = None
    if wishes.area:
        if Choice.AREA_CODE not in takes:
            raise errors.StaleButton()
        if not area_code_valid(offer_country, wishes.area):
            raise errors.BadAreaCode(code=wishes.area)
        area = wishes.area
    if wishes.carrier:
        if Choice.CARRIER not in takes:
            raise errors.StaleButton()
        if wishes.carrier == KEEP_CARRIER:
            keep = True
        elif 1 <= wishes.carrier <= len(provider.carriers):
            carrier = provider.carriers[wishes.carrier - 1]
        else:
            raise errors.StaleButton()
    if wishes.renew and Choice.AUTO_RENEW not in takes:
        raise errors.StaleButton()
    charge = listed
    if wishes.cap:
        if Choice.MAX_PRICE not in takes or not listed < wishes.cap <= 100 * listed:
            raise errors.StaleButton()
        # The cap is held in full; the rent settles to the provider's price (plus markup) when it says it.
        charge, max_price = wishes.cap, provider_cap(wishes.cap, markup_percent)
    return RentChoice(area_code=area, carrier=carrier, keep_carrier=keep, max_price=max_price,
                      auto_renew=wishes.renew or None), charge
