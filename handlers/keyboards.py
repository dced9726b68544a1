"""Pure functions from data to inline keyboards."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import quote, urlencode

from aiogram.types import (
    ChatAdministratorRights,
    CopyTextButton,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    KeyboardButtonRequestChat,
    ReplyKeyboardMarkup,
)

from bot.services.choosing import KEEP_CARRIER, Wishes
from bot.services.pricing import format_money
from providers import Capability, Choice

from . import phones
from .callbacks import (
    CONFIRMED,
    RENEW_CONFIRMED,
    AlertCancelCb,
    AlertNewCb,
    AlertRentCb,
    AlertsCb,
    AlertServiceCb,
    AlertSetCb,
    BroadcastAct,
    BroadcastCb,
    CardAction,
    CardCb,
    ChainAction,
    ChainCb,
    CountriesCb,
    CountryCb,
    DecideCb,
    FallbackCb,
    FallbackOp,
    FavouriteCb,
    ForwardAction,
    ForwardCb,
    GroupRentCb,
    HistoryCb,
    MenuCb,
    NumbersCb,
    OfferCb,
    RentCb,
    RequestCb,
    Screen,
    ServiceCb,
    ServicesCb,
    SetOkCb,
    SetPickCb,
    SetRentCb,
    SetStartCb,
    SwitchCb,
    SwitchPlanCb,
    TeamCb,
    TeamSetting,
    Wish,
    WishCb,
    nonce,
    priced_nonce,
)
from .i18n import Texts

SERVICES_PER_PAGE = 12
NUMBERS_PER_PAGE = 6
OFFERS_SHOWN = 10
COUNTRIES_PER_PAGE = 8


def _button(text: str, data) -> InlineKeyboardButton:
    return InlineKeyboardButton(text=text, callback_data=data.pack())


def _grid(buttons: list[InlineKeyboardButton], width: int) -> list[list[InlineKeyboardButton]]:
    return [buttons[i:i + width] for i in range(0, len(buttons), width)]


def _markup(*rows: list[InlineKeyboardButton]) -> InlineKeyboardMarkup:
    """Rows as given, empty ones left out. (aiogram's builder deep-copies every button on export, which showed
    in the profile of a button press, for keyboards that are built fresh each time anyway.)"""
    return InlineKeyboardMarkup(inline_keyboard=[row for row in rows if row])


def main_menu(t: Texts) -> InlineKeyboardMarkup:
    return _markup(
        [_button(t("menu-rent"), ServicesCb(page=0))],
        [_button(t("menu-numbers"), NumbersCb(page=0))],
        [_button(t("menu-balance"), MenuCb(to=Screen.BALANCE)), _button(t("menu-help"), MenuCb(to=Screen.HELP))],
        [_button(t("menu-settings"), MenuCb(to=Screen.SETTINGS))],
    )


def balance(t: Texts, *, private: bool = True) -> InlineKeyboardMarkup:
    """Invitations are a person's (their link, their private balance): offered in private chats only."""
    return _markup(
        [_button(t("menu-topup"), MenuCb(to=Screen.TOPUP))],
        [_button(t("btn-history-all"), HistoryCb(page=0))],
        [_button(t("btn-promo"), MenuCb(to=Screen.PROMO))],
        [_button(t("btn-invite"), MenuCb(to=Screen.INVITE))] if private else [],
        [_button(t("home"), MenuCb(to=Screen.HOME))],
    )


def ledger_history(t: Texts, page: int, pages: int, *, has_rows: bool) -> InlineKeyboardMarkup:
    """A page of the money history: older and newer pages, the whole of it as a file, back to the balance."""
    return _markup(_pager(t, page, pages, lambda p: HistoryCb(page=p)),
                   [_button(t("btn-history-csv"), HistoryCb(page=page, csv=True))] if has_rows else [],
                   [_button(t("menu-balance"), MenuCb(to=Screen.BALANCE))])


def invite(t: Texts, link: str) -> InlineKeyboardMarkup:
    """The invite link: copied with one tap, or shared through Telegram's share sheet."""
    share = "https://t.me/share/url?" + urlencode({"url": link, "text": t("invite-share-text")}, quote_via=quote)
    return _markup([copy_button(t("btn-invite-copy"), link)],
                   [InlineKeyboardButton(text=t("btn-invite-share"), url=share)],
                   [_button(t("back"), MenuCb(to=Screen.BALANCE))])


def promo_prompt(t: Texts) -> InlineKeyboardMarkup:
    return _markup([_button(t("back"), MenuCb(to=Screen.BALANCE))])


def after_topup(t: Texts) -> InlineKeyboardMarkup:
    """Under "Payment received": on to renting, or the balance."""
    return _markup([_button(t("menu-rent"), ServicesCb(page=0))],
                   [_button(t("menu-balance"), MenuCb(to=Screen.BALANCE))])


def back_home(t: Texts) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[[_button(t("home"), MenuCb(to=Screen.HOME))]])


def transfer_confirm(t: Texts, data, amount: str) -> InlineKeyboardMarkup:
    """Move (the sender's tap only, checked on press), or back to the balance."""
    return _markup([_button(t("btn-transfer", amount=amount), data)],
                   [_button(t("menu-balance"), MenuCb(to=Screen.BALANCE))])


def support_button(t: Texts, url: str | None) -> list[InlineKeyboardButton]:
    """The operator's contact when it has a link; else a message to the operator through the bot: never none."""
    return [InlineKeyboardButton(text=t("btn-support"), url=url) if url
            else _button(t("btn-write-operator"), MenuCb(to=Screen.SUPPORT))]


def with_support(t: Texts, url: str | None, home: bool = True) -> InlineKeyboardMarkup:
    """A Support button (the operator's contact) above Home: on Help, /paysupport, /terms and errors that say
    "try again later"."""
    return _markup(support_button(t, url), [_button(t("home"), MenuCb(to=Screen.HOME))] if home else [])


def _pager(t: Texts, page: int, pages: int, make) -> list[InlineKeyboardButton]:
    row = []
    if page > 0:
        row.append(_button(t("prev-page"), make(page - 1)))
    if page + 1 < pages:
        row.append(_button(t("next-page"), make(page + 1)))
    return row


def services(t: Texts, items: Iterable[tuple[str, str]], page: int, pages: int,
             query: str = "") -> InlineKeyboardMarkup:
    """items: (service key, name) for this page."""
    names = [_button(name, ServiceCb(key=key)) for key, name in items]
    # Two a row: a name and its ★ fit half a phone's width (tests/widths.py), three a row cut "★ Instagram"
    return _markup(*_grid(names, 2), _pager(t, page, pages, lambda p: ServicesCb(page=p, q=query)),
                   [_button(t("home"), MenuCb(to=Screen.HOME))])


@dataclass(frozen=True, slots=True)
class OffersExtras:
    """A plan list's rows besides its plans. ``set_from``: the index of a plan whose provider can put more services
    on the same number. ``alert``: 🔔 tell me when a sold-out plan is back or the service is cheaper. ``switch``: the
    country switch. ``back``: where Back goes (the services)."""

    set_from: int | None = None
    alert: bool = False
    switch: list[InlineKeyboardButton] | None = None
    back: ServicesCb | CountryCb | None = None


def offers(t: Texts, snapshot_id: int, labels: list[str], service_key: str = "", starred: bool = False,
           extras: OffersExtras = OffersExtras()) -> InlineKeyboardMarkup:
    star = ([_button(t("btn-fav-remove" if starred else "btn-fav-add"), FavouriteCb(key=service_key))]
            if service_key else [])
    more = ([_button(t("btn-set-start"), SetStartCb(snap=snapshot_id, i=extras.set_from))]
            if extras.set_from is not None else [])
    bell = [_button(t("btn-alert"), AlertNewCb(snap=snapshot_id))] if extras.alert else []
    return _markup(*([_button(label, OfferCb(snap=snapshot_id, i=index))] for index, label in enumerate(labels)),
                   more, bell, extras.switch or [], [_button(t("back"), extras.back or ServicesCb(page=0)), *star])


def alert_choice(t: Texts, snapshot_id: int, service_key: str, back_in_stock: list[tuple[int, str]],
                 under: list[tuple[int, str]]) -> InlineKeyboardMarkup:
    """back_in_stock: (plan index in the snapshot, plan name); under: (price in minor units, that price)."""
    return _markup(*([_button(t("btn-alert-back", plan=plan), AlertSetCb(snap=snapshot_id, i=i))]
                     for i, plan in back_in_stock),
                   *_grid([_button(t("btn-alert-under", price=price), AlertSetCb(snap=snapshot_id, x=x))
                           for x, price in under], 2),
                   [_button(t("back"), ServiceCb(key=service_key))])


def offers_none(t: Texts, service_key: str, alert: bool) -> InlineKeyboardMarkup:
    """A service with no plans right now: 🔔 tell me when it is back (alerts on), then the way to other services."""
    bell = [_button(t("btn-alert-any"), AlertServiceCb(key=service_key))] if alert else []
    return _markup(bell, *services(t, [], 0, 1).inline_keyboard)


def alert_saved(t: Texts, service_key: str) -> InlineKeyboardMarkup:
    return _markup([_button(t("btn-alerts"), AlertsCb())], [_button(t("back"), ServiceCb(key=service_key))])


def alerts(t: Texts, items: list[tuple[int, str]]) -> InlineKeyboardMarkup:
    """items: (alert id, label): a tap cancels it."""
    return _markup(*([_button(t("btn-alert-cancel", alert=label), AlertCancelCb(a=a))] for a, label in items),
                   [_button(t("home"), MenuCb(to=Screen.HOME))])


def alert_fired(t: Texts, alert_id: int, price: str) -> InlineKeyboardMarkup:
    return _markup([_button(t("confirm-rent", price=price), AlertRentCb(a=alert_id, n=nonce()))])


SET_PICKS_PER_PAGE = 8


def set_picker(t: Texts, snapshot_id: int, mask: int, items: list[tuple[int, str]], page: int, pages: int,
               service_key: str, total: str | None) -> InlineKeyboardMarkup:
    """items: (index in the snapshot, label) for this page; each toggles its service. ``total``: the set's
    price once two or more are picked (the way on to its confirm screen)."""
    picks = [_button(("✅ " if mask >> index & 1 else "▫️ ") + label,
                     SetPickCb(snap=snapshot_id, m=mask ^ (1 << index), p=page))
             for index, label in items]
    go = [_button(t("btn-set-continue", price=total), SetOkCb(snap=snapshot_id, m=mask))] if total else []
    return _markup(*([b] for b in picks), _pager(t, page, pages, lambda p: SetPickCb(snap=snapshot_id, m=mask, p=p)),
                   go, [_button(t("back"), ServiceCb(key=service_key))])


def set_confirm(t: Texts, snapshot_id: int, mask: int, price: str, service_key: str, *,
                refused: bool) -> InlineKeyboardMarkup:
    """Rent (not while the provider refuses this set), change the services, back to the plans, home."""
    rent = [] if refused else [_button(t("btn-set-rent", price=price), SetRentCb(snap=snapshot_id, m=mask, n=nonce()))]
    return _markup(rent, [_button(t("btn-set-change"), SetPickCb(snap=snapshot_id, m=mask))],
                   [_button(t("back"), ServiceCb(key=service_key)), _button(t("home"), MenuCb(to=Screen.HOME))])


def country_switch(t: Texts, service_key: str, country: str) -> list[InlineKeyboardButton]:
    return [_button(t("btn-country", country=country), CountriesCb(key=service_key))]


def countries(t: Texts, service_key: str, items: list[tuple[str, str]], page: int, pages: int) -> InlineKeyboardMarkup:
    """items: (country key, label), one per row: names and prices are long on a phone."""
    return _markup(*([_button(label, CountryCb(key=service_key, c=key))] for key, label in items),
                   _pager(t, page, pages, lambda p: CountriesCb(key=service_key, page=p)),
                   [_button(t("back"), ServicesCb(page=0))])


def duration_groups(t: Texts, service_key: str, country: str, items: list[tuple[str, str]],
                    switch: list[InlineKeyboardButton]) -> InlineKeyboardMarkup:
    return _markup(*([_button(label, CountryCb(key=service_key, c=country, g=group))] for group, label in items),
                   switch, [_button(t("back"), ServicesCb(page=0))])


def _wished(cls, snap: int, index: int, wishes: Wishes, **changes):
    values = {"a": wishes.area, "c": wishes.carrier, "x": wishes.cap, "r": wishes.renew, **changes}
    return cls(snap=snap, i=index, **values)


@dataclass(frozen=True, slots=True)
class FallbackChoice:
    """The confirm screen's "if no code, try the next plan", as the chat last chose it."""

    enabled: bool
    budget: int  # minor units: what the Rent button agrees to in all
    wait: str  # the wait, in words
    other_countries: bool


def request_only(t: Texts, snapshot_id: int, index: int, wishes: Wishes, service_key: str) -> InlineKeyboardMarkup:
    """A member over their limit: ask the admins for this number, or go back."""
    return _markup([_button(t("btn-request"), _wished(RequestCb, snapshot_id, index, wishes, n=nonce()))],
                   [_button(t("back"), ServiceCb(key=service_key))])


@dataclass(frozen=True, slots=True)
class ConfirmOptions:
    """The confirm screen's buttons besides Rent and Back. ``choices``: the wishes the provider takes (a button
    each); ``wishes``: those chosen so far. ``upto``: the price is a hold (the provider says its own when it rents).
    ``ask``: a group whose members rent within bounds or not at all: "Request this number" for the admins too.
    ``fallback``: an activation's "try the next plan" choices (each tap changes one and draws the screen again);
    on, the Rent button carries the budget it agrees to."""

    choices: frozenset = frozenset()
    wishes: Wishes = Wishes()
    upto: bool = False
    ask: bool = False
    fallback: FallbackChoice | None = None


def confirm(t: Texts, snapshot_id: int, index: int, service_key: str, price: str,
            options: ConfirmOptions = ConfirmOptions()) -> InlineKeyboardMarkup:
    """Rent, then a button per wish the provider takes; each reopens this screen with the wish in the data."""
    choices, wishes, upto, ask, fallback = options.choices, options.wishes, options.upto, options.ask, options.fallback
    label = t("confirm-rent-cap", price=price) if wishes.cap or upto else t("confirm-rent", price=price)
    once = nonce()
    chained = fallback is not None and fallback.enabled
    rent = _wished(RentCb, snapshot_id, index, wishes, n=once, f=fallback.budget if chained else 0)
    request = [_button(t("btn-request"), _wished(RequestCb, snapshot_id, index, wishes, n=once))] if ask else []
    wish_buttons = [_button(t(key), _wished(WishCb, snapshot_id, index, wishes, w=wish))
                    for choice, wish, key in ((Choice.AREA_CODE, Wish.AREA, "btn-area"),
                                              (Choice.CARRIER, Wish.CARRIER, "btn-carrier"),
                                              (Choice.MAX_PRICE, Wish.CAP, "btn-cap")) if choice in choices]
    # A toggle, no screen of its own; alone in its row ("🔁 Автопродление: выкл." is wider than half a phone).
    renew = [_button(t("btn-auto-off" if wishes.renew else "btn-auto-on"),
                     _wished(OfferCb, snapshot_id, index, wishes, r=not wishes.renew))
             ] if Choice.AUTO_RENEW in choices else []
    return _markup([_button(label, rent)], request, *_grid(wish_buttons, 2), renew,
                   *_fallback_rows(t, snapshot_id, index, wishes, fallback),
                   [_button(t("back"), ServiceCb(key=service_key))])


def _fallback_rows(t: Texts, snapshot_id: int, index: int, wishes: Wishes,
                   fallback: FallbackChoice | None) -> list[list[InlineKeyboardButton]]:
    if fallback is None:
        return []

    def change(op: FallbackOp) -> FallbackCb:
        return _wished(FallbackCb, snapshot_id, index, wishes, op=op)

    if not fallback.enabled:
        return [[_button(t("btn-fallback-on"), change(FallbackOp.ON))]]
    return [[_button(t("btn-fallback-budget", budget=format_money(fallback.budget)), change(FallbackOp.BUDGET))],
            [_button(t("btn-fallback-wait", wait=fallback.wait), change(FallbackOp.WAIT))],
            [_button(t("btn-fallback-countries-on" if fallback.other_countries else "btn-fallback-countries-off"),
                     change(FallbackOp.COUNTRIES))],
            [_button(t("btn-fallback-off"), change(FallbackOp.OFF))]]


def chain_card(t: Texts, chain_id: int, current_id: int | None, current_phone: str,
               running: bool) -> InlineKeyboardMarkup:
    """The fallback chain's card: the current number's own card, Stop while it runs, and drawn again."""
    number = [_button(t("btn-chain-number", phone=phones.display(current_phone) if current_phone else "…"),
                      CardCb(id=current_id))] if current_id else []
    stop = [_button(t("btn-chain-stop"), ChainCb(id=chain_id, a=ChainAction.STOP))] if running else []
    return _markup(number, stop, [_button(t("btn-chain-refresh"), ChainCb(id=chain_id)),
                                  _button(t("home"), MenuCb(to=Screen.HOME))])


def any_area(t: Texts, snapshot_id: int, index: int, wishes: Wishes, service_key: str) -> InlineKeyboardMarkup:
    """No number in the area asked: any area, another area code, or back to the plans."""
    return _markup([_button(t("btn-any-area"), _wished(OfferCb, snapshot_id, index, wishes, a=""))],
                   [_button(t("btn-area-other"), _wished(WishCb, snapshot_id, index, wishes, a="", w=Wish.AREA))],
                   [_button(t("back"), ServiceCb(key=service_key)), _button(t("home"), MenuCb(to=Screen.HOME))])


def area_choice(t: Texts, snapshot_id: int, index: int, wishes: Wishes) -> InlineKeyboardMarkup:
    return _markup([_button(t("btn-any-area"), _wished(OfferCb, snapshot_id, index, wishes, a=""))],
                   [_button(t("back"), _wished(OfferCb, snapshot_id, index, wishes))])


def carrier_choice(t: Texts, snapshot_id: int, index: int, wishes: Wishes, names: list[str]) -> InlineKeyboardMarkup:
    picks = [_button(t("btn-carrier-any"), _wished(OfferCb, snapshot_id, index, wishes, c=0))]
    picks += [_button(name, _wished(OfferCb, snapshot_id, index, wishes, c=n)) for n, name in enumerate(names, 1)]
    return _markup(*_grid(picks, 2),
                   [_button(t("btn-carrier-keep"), _wished(OfferCb, snapshot_id, index, wishes, c=KEEP_CARRIER))],
                   [_button(t("back"), _wished(OfferCb, snapshot_id, index, wishes))])


def cap_choice(t: Texts, snapshot_id: int, index: int, wishes: Wishes, listed: str,
               caps: list[tuple[int, str]]) -> InlineKeyboardMarkup:
    picks = [[_button(t("btn-cap-up-to", cap=label), _wished(OfferCb, snapshot_id, index, wishes, x=cap))]
             for cap, label in caps]  # one a row: "Up to $123.45" is too long for a third of a phone's width
    return _markup([_button(t("btn-cap-none", price=listed), _wished(OfferCb, snapshot_id, index, wishes, x=0))],
                   *picks, [_button(t("back"), _wished(OfferCb, snapshot_id, index, wishes))])


def not_allowed_to_rent(t: Texts) -> InlineKeyboardMarkup:
    """A group member who may not spend: what they can do instead (see the numbers and codes)."""
    return _markup([_button(t("menu-numbers"), NumbersCb(page=0))], [_button(t("home"), MenuCb(to=Screen.HOME))])


def short_of_money(t: Texts, service_key: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[
        [_button(t("menu-topup"), MenuCb(to=Screen.TOPUP))],
        [_button(t("back"), ServiceCb(key=service_key))],
    ])


CARD_BUTTONS: list[tuple[Capability | None, CardAction, str]] = [
    (None, CardAction.REFRESH, "btn-refresh"),
    (Capability.WAKE_UP, CardAction.WAKE, "btn-wake"),
    (Capability.CANCEL, CardAction.CANCEL, "btn-cancel"),
    (Capability.FINISH, CardAction.FINISH, "btn-finish"),
    (Capability.RENEW, CardAction.RENEW, "btn-renew"),
    (Capability.TRANSITION, CardAction.SWITCH, "btn-switch"),
    (Capability.HISTORY, CardAction.HISTORY, "btn-history"),
]
# Card actions with long labels ("Cancel & refund", "Rent again · $123.45", "Switch to monthly", "Auto-renew: off"):
# each alone in its row, below the short ones two a row; half a phone's width cuts them (tests/widths.py).
ONE_PER_ROW = frozenset({CardAction.CANCEL, CardAction.RENEW, CardAction.SWITCH, CardAction.AUTO_ON,
                         CardAction.AUTO_OFF})


def copy_button(label: str, value: str) -> InlineKeyboardButton:
    """Telegram's copy_text button: one tap puts ``value`` on the clipboard, no round trip to the bot."""
    return InlineKeyboardButton(text=label, copy_text=CopyTextButton(text=value))


def copy_number(t: Texts, phone: str | None) -> list[InlineKeyboardButton]:
    """The number in both forms a service may ask for: international and national."""
    if not phone:
        return []
    buttons = [copy_button(t("btn-copy", value=phones.international(phone)), phones.international(phone))]
    if (local := phones.national(phone)) and local != phones.international(phone):
        buttons.append(copy_button(t("btn-copy", value=local), local))
    return buttons


@dataclass(frozen=True, slots=True)
class CardButtons:
    """What a number card's buttons depend on. Rent again says today's price (``renew_price``) and is left out
    when the plan is not on sale now. ``kept``: a number renewed in place and ended without a refund (a long-term
    number): Renew now (up to a price), End. ``phone``: its copy buttons (none for a dead number)."""
    rental_id: int
    actions: frozenset[Capability] | set[Capability]
    open_: bool
    auto_renew: bool = False
    can_renew_closed: bool = False
    renew_price: int | None = None
    phone: str | None = None
    kept: bool = False
    show_hidden: bool = False
    forward: bool = False


def card(t: Texts, card: CardButtons) -> InlineKeyboardMarkup:
    """Only buttons for actions this provider and this rental's state allow."""
    buttons: list[tuple[CardAction, InlineKeyboardButton]] = []
    for capability, action, key in CARD_BUTTONS:
        shown = capability is None and card.open_ or capability in card.actions
        if action is CardAction.RENEW:
            if card.renew_price is None or not (shown or card.can_renew_closed):
                continue
            label = t("btn-renew-now" if card.kept else "btn-renew", price=format_money(card.renew_price))
            buttons.append((action, _button(label, CardCb(id=card.rental_id, a=action,
                                                          n=priced_nonce(card.renew_price)))))
            continue
        if shown:
            if card.kept and action is CardAction.CANCEL:
                key = "btn-end"  # asks first: nothing comes back
            buttons.append((action, _button(t(key), CardCb(id=card.rental_id, a=action, n=nonce()))))
    if Capability.AUTO_RENEW in card.actions:
        action, key = ((CardAction.AUTO_OFF, "btn-auto-off") if card.auto_renew
                       else (CardAction.AUTO_ON, "btn-auto-on"))
        buttons.append((action, _button(t(key), CardCb(id=card.rental_id, a=action))))
    short = [button for action, button in buttons if action not in ONE_PER_ROW]
    long_ = [[button] for action, button in buttons if action in ONE_PER_ROW]
    if card.show_hidden:  # a group deleted some of its codes: the renter and admins get them privately
        long_.append([_button(t("btn-show-hidden"), CardCb(id=card.rental_id, a=CardAction.PRIVATE))])
    if card.forward:  # codes also to another chat or a URL (its renter and a group's admins)
        long_.append([_button(t("btn-forward"), ForwardCb(id=card.rental_id))])
    return _markup(copy_number(t, card.phone), *_grid(short, 2), *long_,
                   [_button(t("menu-numbers"), NumbersCb(page=0)), _button(t("home"), MenuCb(to=Screen.HOME))])


def numbers(t: Texts, items: Iterable[tuple[int, str]], page: int, pages: int) -> InlineKeyboardMarkup:
    return _markup(*([_button(label, CardCb(id=rental_id))] for rental_id, label in items),
                   _pager(t, page, pages, lambda p: NumbersCb(page=p)),
                   # alone in its row: "📱 Арендовать номер" does not fit half a phone's width
                   [_button(t("menu-rent"), ServicesCb(page=0))], [_button(t("home"), MenuCb(to=Screen.HOME))])


def switch_plans(t: Texts, rental_id: int, snapshot_id: int, labels: list[str]) -> InlineKeyboardMarkup:
    return _markup(*([_button(label, SwitchPlanCb(id=rental_id, snap=snapshot_id, i=index))]
                     for index, label in enumerate(labels)),
                   [_button(t("btn-card"), CardCb(id=rental_id))])


def switch_confirm(t: Texts, rental_id: int, snapshot_id: int, index: int, price: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[
        [_button(t("switch-confirm-button", price=price), SwitchCb(id=rental_id, snap=snapshot_id, i=index,
                                                                    n=nonce()))],
        [_button(t("btn-card"), CardCb(id=rental_id))],
    ])


def end_confirm(t: Texts, rental_id: int) -> InlineKeyboardMarkup:
    return _markup([_button(t("btn-end-confirm"), CardCb(id=rental_id, a=CardAction.CANCEL, n=CONFIRMED))],
                   [_button(t("btn-card"), CardCb(id=rental_id))])


def finish_confirm(t: Texts, rental_id: int) -> InlineKeyboardMarkup:
    return _markup([_button(t("btn-finish-confirm"), CardCb(id=rental_id, a=CardAction.FINISH, n=CONFIRMED))],
                   [_button(t("btn-card"), CardCb(id=rental_id))])


def cancel_confirm(t: Texts, rental_id: int, price: str) -> InlineKeyboardMarkup:
    return _markup([_button(t("btn-cancel-confirm", price=price), CardCb(id=rental_id, a=CardAction.CANCEL,
                                                                         n=CONFIRMED))],
                   [_button(t("btn-card"), CardCb(id=rental_id))])


def renew_short(t: Texts, rental_id: int) -> InlineKeyboardMarkup:
    """Renew now with too little on the balance: top up, or back to the number."""
    return _markup([_button(t("menu-topup"), MenuCb(to=Screen.TOPUP))], [_button(t("btn-card"), CardCb(id=rental_id))])


def renew_now_confirm(t: Texts, rental_id: int, price: int) -> InlineKeyboardMarkup:
    """Renew now, confirmed: at the price the question stated (a new nonce: this tap's own renewal key)."""
    confirmed = CardCb(id=rental_id, a=CardAction.RENEW, n=RENEW_CONFIRMED + priced_nonce(price))
    return _markup([_button(t("btn-renew-now-confirm", price=format_money(price)), confirmed)],
                   [_button(t("btn-card"), CardCb(id=rental_id))])


def auto_renew_confirm(t: Texts, rental_id: int, price: str) -> InlineKeyboardMarkup:
    return _markup([_button(t("btn-auto-confirm", price=price),
                            CardCb(id=rental_id, a=CardAction.AUTO_ON, n=CONFIRMED))],
                   [_button(t("btn-card"), CardCb(id=rental_id))])


def to_card(t: Texts, rental_id: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[[_button(t("btn-card"), CardCb(id=rental_id))]])


# -- the operator's broadcasts ---------------------------------------------------------------------------------
BROADCAST_AUDIENCES = {"all": "btn-broadcast-all", "private": "btn-broadcast-private", "groups": "btn-broadcast-groups"}


def broadcast_link(label: str, url: str) -> InlineKeyboardMarkup | None:
    """The one URL button the operator put under a broadcast (none when there is none)."""
    if not label or not url:
        return None
    return InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(text=label, url=url)]])


def broadcast_audience(t: Texts, broadcast_id: int, sizes: dict[str, int]) -> InlineKeyboardMarkup:
    """Who gets it: each audience with its number of active chats now; then Discard."""
    return _markup(
        *([_button(t(key, count=sizes.get(audience, 0)),
                   BroadcastCb(id=broadcast_id, act=BroadcastAct.PICK, to=audience))]
          for audience, key in BROADCAST_AUDIENCES.items()),
        [_button(t("btn-broadcast-drop"), BroadcastCb(id=broadcast_id, act=BroadcastAct.DROP))],
    )


def broadcast_confirm(t: Texts, broadcast_id: int, audience: str, count: int) -> InlineKeyboardMarkup:
    return _markup(
        [_button(t("btn-broadcast-send", count=count),
                 BroadcastCb(id=broadcast_id, act=BroadcastAct.SEND, to=audience))],
        [_button(t("back"), BroadcastCb(id=broadcast_id, act=BroadcastAct.BACK)),
         _button(t("btn-broadcast-drop"), BroadcastCb(id=broadcast_id, act=BroadcastAct.DROP))],
    )


def broadcast_running(t: Texts, broadcast_id: int) -> InlineKeyboardMarkup:
    """Under the progress message while it sends."""
    return _markup([_button(t("btn-broadcast-stop"), BroadcastCb(id=broadcast_id, act=BroadcastAct.STOP))])


def request_decision(t: Texts, request_id: int, price: str, agreed: int = 0) -> InlineKeyboardMarkup:
    """Under a member's request: Approve (at the price shown; ``agreed`` when it was asked again) or Decline."""
    return _markup([_button(t("btn-approve", price=price), DecideCb(id=request_id, ok=True, p=agreed))],
                   [_button(t("btn-decline"), DecideCb(id=request_id, ok=False))])


LIMIT_STEPS = (0, 100, 200, 500, 1000, 2000, 5000, 10000)  # a member's limit per period, minor units; 0: none
CAP_STEPS = (0, 1, 2, 3, 5, 10)  # open numbers per member; 0: none
DELETE_STEPS = (0, 5, 15, 60, 240, 1440)  # minutes after delivery a group's code message is deleted; 0: never


def _next(steps: tuple[int, ...], value: int) -> int:
    later = [step for step in steps if step > value]
    return later[0] if later else steps[0]


OPEN_LIMITS = (100, 500, 2000, 0)  # the limits offered when members are first let rent; 0: no limit


def members_rent_question(t: Texts, period: str) -> InlineKeyboardMarkup:
    """Letting every member rent: each member's limit picked at the same tap (no limit is a choice, not a default)."""
    rows = [[_button(t("btn-open-limit", limit=format_money(limit), period=period) if limit
                     else t("btn-open-no-limit"), GroupRentCb(all=True, limit=limit))] for limit in OPEN_LIMITS]
    return _markup(*rows, [_button(t("back"), MenuCb(to=Screen.SETTINGS))])


def group_settings(t: Texts, *, members_rent: bool, limit: int, week: bool, cap: int,
                   members_top_up: bool, spoiler: bool = False,
                   delete_minutes: int = 0) -> list[list[InlineKeyboardButton]]:
    """The group rows of Settings: who rents, each member's limit (a tap: the next amount) and its period, the
    cap on open numbers, whether members top up, codes under a spoiler, code messages deleted after N minutes.
    Each label says the setting now; a tap moves it on."""
    top_up = [_button(t("btn-top-up-members-yes" if members_top_up else "btn-top-up-members-no"),
                      TeamCb(f=TeamSetting.TOP_UP, v=int(not members_top_up)))]
    codes = [[_button(t("btn-spoiler-on" if spoiler else "btn-spoiler-off"),
                      TeamCb(f=TeamSetting.SPOILER, v=int(not spoiler)))],
             [_button(t("btn-delete-after", minutes=delete_minutes) if delete_minutes else t("btn-delete-never"),
                      TeamCb(f=TeamSetting.DELETE, v=_next(DELETE_STEPS, delete_minutes)))]]
    if not members_rent:
        return [[_button(t("btn-members-can-rent"), GroupRentCb(all=True))], top_up, *codes]
    limit_label = t("btn-limit", limit=format_money(limit)) if limit else t("btn-limit-none")
    cap_label = t("btn-member-cap", cap=cap) if cap else t("btn-member-cap-none")
    # Each label reads as the setting it is; a tap moves it on to the next value.
    return [[_button(t("btn-only-admins-rent"), GroupRentCb(all=False))],
            [_button(limit_label, TeamCb(f=TeamSetting.LIMIT, v=_next(LIMIT_STEPS, limit)))],
            [_button(t("btn-per-week" if week else "btn-per-day"), TeamCb(f=TeamSetting.PERIOD, v=int(not week)))],
            [_button(cap_label, TeamCb(f=TeamSetting.CAP, v=_next(CAP_STEPS, cap)))],
            top_up, *codes]


# -- a topic per number (forum groups) -------------------------------------------------------------------------
def topic_setting(t: Texts, on: bool) -> list[list[InlineKeyboardButton]]:
    """The group settings row: a topic per number, on or off (a tap: the other)."""
    return [[_button(t("btn-topics-on" if on else "btn-topics-off"), TeamCb(f=TeamSetting.TOPICS, v=int(not on)))]]


def topic_link(t: Texts, url: str | None) -> InlineKeyboardMarkup:
    """Under "its card and codes are in its topic": the way there (when Telegram has a link for it), Home."""
    rows = [[InlineKeyboardButton(text=t("btn-open-topic"), url=url)]] if url else []
    return _markup(*rows, [_button(t("home"), MenuCb(to=Screen.HOME))])


# -- forwarding a number's codes -----------------------------------------------------------------------------
def forward_menu(t: Texts, rental_id: int, *, on: bool, group: bool,
                 secret_shown: bool = False) -> InlineKeyboardMarkup:
    """To a chat, to a URL, Stop (when a target is set), the chat's secret (privately in a group) and a new one."""
    secret = [] if secret_shown else [_button(t("btn-forward-secret-private" if group else "btn-forward-secret"),
                                              ForwardCb(id=rental_id, a=ForwardAction.SECRET))]
    return _markup([_button(t("btn-forward-chat"), ForwardCb(id=rental_id, a=ForwardAction.CHAT)),
                    _button(t("btn-forward-url"), ForwardCb(id=rental_id, a=ForwardAction.URL))],
                   [_button(t("btn-forward-stop"), ForwardCb(id=rental_id, a=ForwardAction.STOP))] if on else [],
                   secret, [_button(t("btn-forward-rotate"), ForwardCb(id=rental_id, a=ForwardAction.ROTATE))],
                   [_button(t("btn-card"), CardCb(id=rental_id))])


def forward_prompt(t: Texts, rental_id: int) -> InlineKeyboardMarkup:
    return _markup([_button(t("back"), ForwardCb(id=rental_id))])


# "an administrator", with no particular right: every required flag false (the Bot API adds flags over time)
ANY_ADMIN = ChatAdministratorRights(**{name: False for name, field in ChatAdministratorRights.model_fields.items()
                                       if field.is_required()})
FORWARD_PICK_REQUEST = 1  # the request_id of the picker's group button (one picker is open at a time per person)


def forward_chat_picker(t: Texts) -> ReplyKeyboardMarkup:
    """Telegram's own chat picker (private chats only, where the person's own chat is the one the codes come to
    already): the groups where the person is an admin and the bot a member. Gone once used."""
    group = KeyboardButton(text=t("btn-forward-pick-group"), request_chat=KeyboardButtonRequestChat(
        request_id=FORWARD_PICK_REQUEST, chat_is_channel=False, bot_is_member=True, request_title=True,
        user_administrator_rights=ANY_ADMIN))
    return ReplyKeyboardMarkup(keyboard=[[group]], resize_keyboard=True, one_time_keyboard=True,
                               input_field_placeholder=t("forward-picker-placeholder"))
