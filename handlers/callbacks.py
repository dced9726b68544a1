"""All callback data in one place: short ids and enum actions only (Telegram allows 64 bytes)."""
from __future__ import annotations

import enum
import secrets
from typing import Annotated

from aiogram.filters.callback_data import CallbackData
from pydantic import Field

# Every integer field is bounded: out-of-range data (a forged 20-digit id) fails to unpack, so no handler
# matches and the unmatched router answers "stale button" without reaching SQLite.
RowId = Annotated[int, Field(ge=1, le=2**63 - 1)]
Page = Annotated[int, Field(ge=0, le=10_000)]
Index = Annotated[int, Field(ge=0, le=99)]
AreaCode = Annotated[str, Field(pattern=r"^[0-9]{0,5}$")]
CarrierIndex = Annotated[int, Field(ge=0, le=99)]
Cap = Annotated[int, Field(ge=0, le=10**7)]
CountryKey = Annotated[str, Field(pattern=r"^[A-Za-z0-9]{0,16}$")]


def nonce() -> str:
    """Marks one rendering of a spending button, so a double tap spends once."""
    return secrets.token_hex(3)


CONFIRMED = "ok"  # the nonce of a confirm screen's button: the action was stated, then confirmed


def priced_nonce(price: int) -> str:
    """A nonce that also carries the price the button shows (Rent again): ``<hex>p<minor units>``. In the
    nonce rather than a field of its own, so that card buttons already in chats still unpack."""
    return f"{nonce()}p{price}"


RENEW_CONFIRMED = "ok"  # a priced nonce starting so: Renew now was stated, then confirmed (hex never holds "o")


def shown_price(value: str) -> int:
    """The price a priced nonce carries; -1 for a button that showed none (it then shows today's first)."""
    _, sep, digits = value.partition("p")
    return int(digits) if sep and digits.isascii() and digits.isdigit() and len(digits) <= 9 else -1


class Screen(enum.StrEnum):
    HOME = "home"
    RENT = "rent"
    NUMBERS = "numbers"
    BALANCE = "balance"
    HELP = "help"
    TOPUP = "topup"
    SETTINGS = "settings"
    INVITE = "invite"  # the user's invite link, invited count and earnings
    PROMO = "promo"  # asks for a promo code to redeem
    SUPPORT = "support"  # asks for a message to the operator (when no SUPPORT_CONTACT is set)


class MenuCb(CallbackData, prefix="m"):
    to: Screen


class ServicesCb(CallbackData, prefix="sv"):
    page: Page = 0
    q: str = ""  # search text, cut to fit the 64-byte limit


class ServiceCb(CallbackData, prefix="s"):
    key: str


class FavouriteCb(CallbackData, prefix="fv"):
    """Star or unstar a service (from its plan list)."""

    key: str


class CountriesCb(CallbackData, prefix="cc"):
    """The country picker of a service."""

    key: str
    page: Page = 0


class CountryCb(CallbackData, prefix="cy"):
    """A service's plans in one country (remembered for the chat); ``g`` a duration group, "" for all."""

    key: str
    c: CountryKey = ""
    g: str = ""


class OfferCb(CallbackData, prefix="o"):
    """The confirm screen of one plan, with the wishes chosen so far (area code, carrier, price cap, auto-renew)."""

    snap: RowId
    i: Index
    a: AreaCode = ""
    c: CarrierIndex = 0
    x: Cap = 0
    r: bool = False  # auto-renew from the start (long-term numbers)


class Wish(enum.StrEnum):
    AREA = "area"
    CARRIER = "car"
    CAP = "cap"


class WishCb(CallbackData, prefix="w"):
    """Change one wish of the confirm screen."""

    snap: RowId
    i: Index
    w: Wish
    a: AreaCode = ""
    c: CarrierIndex = 0
    x: Cap = 0
    r: bool = False  # auto-renew from the start (long-term numbers)


class RentCb(CallbackData, prefix="r"):
    snap: RowId
    i: Index
    n: str
    a: AreaCode = ""
    c: CarrierIndex = 0
    x: Cap = 0
    r: bool = False  # auto-renew from the start (long-term numbers)
    f: Cap = 0  # the fallback chain's budget the screen showed (minor units); 0: off


class FallbackOp(enum.StrEnum):
    ON = "on"
    OFF = "off"
    BUDGET = "bud"  # the next budget of the cycle
    WAIT = "wait"  # the next wait of the cycle
    COUNTRIES = "cty"  # other countries too, or not


class FallbackCb(CallbackData, prefix="fb"):
    """Change the confirm screen's "if no code, try the next plan" (remembered for the chat), wishes kept."""

    snap: RowId
    i: Index
    op: FallbackOp
    a: AreaCode = ""
    c: CarrierIndex = 0
    x: Cap = 0
    r: bool = False


class ChainAction(enum.StrEnum):
    SHOW = "show"
    STOP = "stop"


class ChainCb(CallbackData, prefix="ch"):
    """A fallback chain's card: drawn again, or stopped."""

    id: RowId
    a: ChainAction = ChainAction.SHOW


SetMask = Annotated[int, Field(ge=1, le=2**40 - 1)]  # bit i: the i-th service of a set's snapshot


class SetStartCb(CallbackData, prefix="ms"):
    """From a plan list: the same number for more services, starting from this plan."""

    snap: RowId
    i: Index


class SetPickCb(CallbackData, prefix="mp"):
    """The services picked so far for one number (a mask over the set's snapshot), on a page of them."""

    snap: RowId
    m: SetMask
    p: Page = 0


class SetOkCb(CallbackData, prefix="mo"):
    """The confirm screen of a set: the services, the total, the balance after."""

    snap: RowId
    m: SetMask


class SetRentCb(CallbackData, prefix="mr"):
    """Rent the set: spends."""

    snap: RowId
    m: SetMask
    n: str


class NumbersCb(CallbackData, prefix="n"):
    page: Page = 0


class HistoryCb(CallbackData, prefix="hy"):
    """A chat's money history: a page of it, or (``csv``) all of it as a file."""
    page: Page = 0
    csv: bool = False


class CardAction(enum.StrEnum):
    SHOW = "show"
    REFRESH = "ref"
    CANCEL = "cancel"
    FINISH = "fin"
    RENEW = "renew"
    AUTO_ON = "aon"
    AUTO_OFF = "aoff"
    WAKE = "wake"
    SWITCH = "sw"
    HISTORY = "hist"
    PRIVATE = "priv"  # the codes deleted from a group, sent privately to the renter or an admin


class CardCb(CallbackData, prefix="c"):
    id: RowId
    a: CardAction = CardAction.SHOW
    n: str = ""


class SwitchPlanCb(CallbackData, prefix="tp"):
    """A longer plan picked: the confirm screen with its price and new end."""

    id: RowId
    snap: RowId
    i: Index


class SwitchCb(CallbackData, prefix="t"):
    """The confirmed switch: spends."""

    id: RowId
    snap: RowId
    i: Index
    n: str


class TopUpCb(CallbackData, prefix="u"):
    stars: Annotated[int, Field(ge=1, le=100_000)]


class CardTopUpCb(CallbackData, prefix="uc"):
    """A card top-up amount, in minor units of the invoice currency; 0 opens the list of amounts."""

    amount: Annotated[int, Field(ge=0, le=10**9)] = 0


class CryptoTopUpCb(CallbackData, prefix="ux"):
    """A crypto top-up amount, in balance minor units; 0 opens the list of amounts."""

    cents: Annotated[int, Field(ge=0, le=10**9)] = 0


class LangCb(CallbackData, prefix="l"):
    code: str


class GroupRentCb(CallbackData, prefix="g"):
    """Who rents with the group's balance. Opening it to members asks each member's limit first (``limit`` -1:
    the question; else one of the limits the question offers, 0 for none)."""

    all: bool
    limit: Annotated[int, Field(ge=-1, le=10**7)] = -1


class PanelCb(CallbackData, prefix="p"):
    days: Annotated[int, Field(ge=1, le=366)]


class AuctionsCb(CallbackData, prefix="au"):
    """The operator's list of provider auctions."""


class BidCb(CallbackData, prefix="bid"):
    """Place a bid the operator confirmed: auction id, cents per unit, a one-time nonce."""

    id: Annotated[str, Field(pattern=r"^[0-9]{1,12}$")]
    cents: Annotated[int, Field(ge=1, le=10**9)]
    n: str


class TimeZonesCb(CallbackData, prefix="zs"):
    """Settings: open the time zone picker."""


class TimeZoneCb(CallbackData, prefix="z"):
    """A zone picked in Settings, by IANA name; one the tz data does not know is refused (forged data)."""

    zone: Annotated[str, Field(max_length=60)]  # "z:" + 60 fits the 64 bytes; IANA names are at most 32


class TransferCb(CallbackData, prefix="tr"):
    """Move money the sender confirmed: to a chat (a group, or a user's private chat), cents, the sender, a nonce."""

    to: Annotated[int, Field(ge=-(10**15), le=10**15)]
    c: Annotated[int, Field(ge=1, le=10**9)]
    u: RowId
    n: str


class BroadcastAct(enum.StrEnum):
    PICK = "p"  # the audience chosen: its confirm screen
    BACK = "b"  # back to the audience choice
    SEND = "s"  # confirmed: send to the audience
    DROP = "d"  # the draft dropped
    STOP = "x"  # a broadcast under way stopped


class BroadcastCb(CallbackData, prefix="bc"):
    """The operator's broadcast: its id, what the button does, the audience (all, private, groups)."""

    id: RowId
    act: BroadcastAct
    to: Annotated[str, Field(pattern=r"^(|all|private|groups)$")] = ""


class RequestCb(CallbackData, prefix="rq"):
    """A member asks the group's admins for this plan (the confirm screen's wishes with it): posts the request."""

    snap: RowId
    i: Index
    n: str
    a: AreaCode = ""
    c: CarrierIndex = 0
    x: Cap = 0
    r: bool = False


class DecideCb(CallbackData, prefix="rd"):
    """An admin approves (at the price ``p`` the button showed; 0: the request's own) or declines a request."""

    id: RowId
    ok: bool
    p: Cap = 0


class TeamSetting(enum.StrEnum):
    LIMIT = "lim"  # minor units a member may spend per period; 0: none
    PERIOD = "per"  # 0: a day, 1: a week
    CAP = "cap"  # open numbers per member; 0: none
    TOP_UP = "top"  # 1: members top the group up
    SPOILER = "spo"  # 1: codes under a spoiler
    DELETE = "del"  # minutes after delivery a code message is deleted; 0: never
    TOPICS = "tpc"  # 1: a topic per number (forum groups)


class TeamCb(CallbackData, prefix="gs"):
    """Group settings: one of them set to ``v`` (one of the values the screen offers; others are refused)."""

    f: TeamSetting
    v: Annotated[int, Field(ge=0, le=10**7)]


class AlertNewCb(CallbackData, prefix="an"):
    """🔔 under a plan list: the alert choices for the list's snapshot (its service, country and plans)."""

    snap: RowId


class AlertSetCb(CallbackData, prefix="as"):
    """An alert chosen: ``x`` 0: plan ``i`` of the snapshot back in stock; else the service under ``x``."""

    snap: RowId
    i: Index = 0
    x: Cap = 0


class AlertServiceCb(CallbackData, prefix="ab"):
    """🔔 under a service with no plans at all: tell me when any plan of it is back."""

    key: str


class AlertsCb(CallbackData, prefix="al"):
    """The chat's open alerts (also /alerts)."""


class AlertCancelCb(CallbackData, prefix="ax"):
    a: RowId


class AlertRentCb(CallbackData, prefix="ar"):
    """Rent under a fired alert: the offer it found, with the quote lock (asked again if it rose)."""

    a: RowId
    n: str


class ForwardAction(enum.StrEnum):
    SHOW = "show"
    CHAT = "chat"  # asks for the chat to forward to
    URL = "url"  # asks for the URL
    STOP = "stop"
    SECRET = "key"  # the chat's signing secret: on the screen in a private chat, privately in a group
    ROTATE = "rot"  # a new secret


class ForwardCb(CallbackData, prefix="fw"):
    """📤 Forward codes of a number (its renter or a group's admin, checked on each press)."""

    id: RowId
    a: ForwardAction = ForwardAction.SHOW
