"""Screens as (text, keyboard) built from typed data; no I/O here."""
from __future__ import annotations

import html
from datetime import datetime
from urllib.parse import urlsplit

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

from bot.services.choosing import KEEP_CARRIER, KEEP_CARRIER_NAME, Wishes
from bot.services.localize import counted, country_label, duration_name, format_moment, utc_offset
from bot.services.number_card import NumberCard, SetCard
from bot.services.offers import PricedOffer
from bot.services.pricing import format_money
from providers import BillingType, Capability, Choice, Offer, Provider
from storage import Chat, LedgerEntry, RentalRecord, StoredSms
from storage.models import utcnow

from . import keyboards, phones
from .callbacks import CardAction, CardCb, priced_nonce
from .i18n import Html, Texts
from .ledger_text import ledger_what

CLOSED_STATUSES = ("finished", "cancelled", "expired")
STATUS_ICONS = {"active": "🟢", "pending": "⏳", "finished": "⚪", "cancelled": "↩️", "expired": "⌛", "failed": "❌"}


def duration_text(t: Texts, billing: str, label: str, minutes: int | None = None) -> str:
    """The plan's length in the chat's language; the provider's own label only when the minutes are unknown."""
    if billing == BillingType.SMS and not label:
        return t("billing-sms")
    return duration_name(minutes, t.language) or label or t("billing-sms")


def country_text(t: Texts, country: str) -> str:
    """A provider's country as the chat reads it: flag and name in its language."""
    return country_label(country, t.language)


def offer_label(t: Texts, priced: PricedOffer, provider_title: str, *, cheapest: bool = False,
                sold_out: bool = False) -> str:
    """Price first; the country is on the screen's title, not on each plan (a phone's width holds no more).
    ``cheapest``: the lowest price for this length among the providers selling it."""
    o: Offer = priced.offer
    label = t("offer-label-upto" if o.price_upto else "offer-label", price=format_money(priced.price),
              provider=provider_title,
              duration=duration_text(t, o.billing, o.duration_label, o.duration_minutes))
    if sold_out:
        return t("offer-sold-out", label=label)
    return t("offer-cheapest", label=label) if cheapest else label


def offer_legend(t: Texts, shown: list[PricedOffer], cheapest: list[bool], sold_out: list[bool]) -> str:
    """The marks on this plan list's buttons, each said once in words (only those that appear)."""
    marks = [("legend-cheapest", any(cheapest)), ("legend-upto", any(p.offer.price_upto for p in shown)),
             ("legend-sold-out", any(sold_out))]
    said = [t(key) for key, present in marks if present]
    return ("\n" + "\n".join(said)) if said else ""


def record_lines(t: Texts, shown: list[PricedOffer], records: dict, titles: dict[str, str]) -> str:
    """Each shown plan's delivery record (provider x service x country: on a plan list, one line a provider),
    in the text above the plans: their labels are at a phone's width already. Nothing for a plan without
    enough rentals (records holds only those)."""
    lines, seen = [], set()
    for priced in shown:
        key = (priced.offer.provider, priced.offer.country)
        record = records.get(key)
        if record is None or key in seen:
            continue
        seen.add(key)
        figure = t("record-figure", share=round(100 * record.share), seconds=record.median_seconds or 0)
        lines.append(t("record-line", provider=titles.get(priced.offer.provider, priced.offer.provider),
                       figure=figure))
    return ("\n" + "\n".join([*lines, t("record-ranked")])) if lines else ""


def time_left(t: Texts, until: datetime | None, now: datetime | None = None) -> str:
    if until is None:
        return "—"
    seconds = max(0, int((until - (now or utcnow())).total_seconds()))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    lang = t.language  # the nouns in the form each number asks for: "2 дня 5 часов", "21 минута"
    if days:
        return t("time-days", d=counted(days, "day", lang), h=counted(hours, "hour", lang))
    if hours:
        return t("time-hours", h=counted(hours, "hour", lang), m=counted(minutes, "minute", lang))
    return counted(minutes, "minute", lang)


def when(t: Texts, moment: datetime | None) -> str:
    """A stored (UTC) moment in the chat's language and time zone."""
    return format_moment(moment, t.language, t.time_zone)


def zone_of(t: Texts, moment: datetime | None) -> str:
    """Names the chat's zone after a time shown in it ("UTC+03:00"), at that moment's offset; nothing after "—"."""
    return utc_offset(t.time_zone, moment) if moment else ""


def code_line(t: Texts, sms: StoredSms, spoiler: bool, service: str | None = None) -> str:
    """A code on the card: as it is, under a spoiler (a group setting), or "received at ..., hidden" once its
    message was deleted from the group (its text is sent privately on request: handlers/numbers.py)."""
    moment = when(t, sms.received_at)
    if service is not None:
        if sms.hidden:
            return t("card-code-line-service-hidden", service=service, when=moment)
        return t("card-code-line-service-spoiler" if spoiler else "card-code-line-service", code=sms.code or "—",
                 service=service, when=moment)
    if sms.hidden:
        return t("card-code-line-hidden", when=moment)
    return t("card-code-line-spoiler" if spoiler else "card-code-line", code=sms.code or "—", when=moment)


def number_card(chat: Chat, t: Texts, facts: NumberCard | SetCard) -> tuple[str, InlineKeyboardMarkup]:
    """One way to draw a number's card, wherever it shows (a tap, a code's refresh, its topic)."""
    if isinstance(facts, SetCard):
        return set_card(t, facts, is_group=chat.is_group, spoiler=chat.spoils_codes)
    return card(t, facts, is_group=chat.is_group, spoiler=chat.spoils_codes)


def card(t: Texts, card: NumberCard, *, is_group: bool, spoiler: bool = False) -> tuple[str, InlineKeyboardMarkup]:
    """A number's card from its facts (bot/services/number_card.py). ``spoiler``: the group shows codes under a
    spoiler."""
    rental, codes, actions = card.rental, card.codes, card.actions
    ended_early = rental.status == "cancelled" and not card.refunded
    status = "status-ended" if ended_early else f"status-{rental.status}"
    lines = [t("card-title", service=rental.service_name, status=Html(t(status)))]
    lines.append(t("card-phone", phone=phones.display(rental.phone)) if rental.phone else t("card-no-phone"))
    lines.append(t("card-provider", provider=card.provider_title,
                   duration=duration_text(t, rental.billing, rental.duration_label, rental.duration_minutes)))
    if rental.carrier:  # asked for at renting: renting again keeps the same number, so the same carrier
        lines.append(t("card-carrier-keep") if rental.carrier == KEEP_CARRIER_NAME
                     else t("card-carrier", carrier=carrier_name(rental.carrier)))
    if rental.status == "active" and rental.active_till:
        lines.append(t("card-time-left", left=time_left(t, rental.active_till)))
    if rental.renewing:
        lines.append(t("card-renewal-pending"))
    # What happened to the money, in words: paid, came back, or paid and ended early with nothing back.
    money = ("card-paid-ended" if ended_early else "card-refunded" if rental.status in ("cancelled", "failed")
             else "card-price")
    lines.append(t(money, price=format_money(rental.price_charged)))
    if rental.auto_renew and rental.status == "active":
        lines.append(t("card-auto-renew-on"))
    if is_group and rental.user_name:
        lines.append(t("card-rented-by", name=rental.user_name))
    if card.forward is not None:
        lines.append(forward_line(t, card.forward))
    if rental.status == "active":
        # The rules that decide a button, said where the button is (or is no longer).
        if rental.billing == BillingType.SMS:
            if not codes:
                lines.append(t("card-rule-no-code"))
        elif card.kept:
            lines.append(t("card-rule-kept"))
        elif card.refund_until_sms:
            lines.append(t("card-rule-refund-ended" if codes else "card-rule-refund"))
        if Capability.WAKE_UP in actions:
            lines.append(t("card-wake-hint"))
        if Capability.FINISH in actions:
            lines.append(t("card-rule-finish"))
    lines.append("")
    if codes:
        lines.append(t("card-codes"))
        for sms in codes:
            lines.append(code_line(t, sms, spoiler))
    elif rental.is_open:  # where its codes come: this chat, or the number's own topic in a forum
        lines.append(t("card-no-codes-topic" if rental.topic_thread else "card-no-codes"))
    markup = keyboards.card(t, keyboards.CardButtons(
        rental.id, actions, open_=rental.status == "active", auto_renew=rental.auto_renew,
        can_renew_closed=card.can_renew_closed, renew_price=card.renew_price,
        phone=rental.phone if rental.is_open else None,  # no copy button for a dead number
        kept=card.kept, show_hidden=is_group and card.has_hidden, forward=card.can_forward))
    return "\n".join(lines), markup


def forward_target_text(forward) -> str:
    """A target as the card and the forward screen say it: the chat's name (its id while the bot knows no name),
    or the URL's host and path."""
    if forward.kind == "chat":
        return forward.title or forward.target
    parts = urlsplit(forward.target)  # never its query: a token there is not for the whole group to read
    return (parts.netloc + parts.path)[:60]


def forward_line(t: Texts, forward) -> str:
    if not forward.active:
        return t("card-forwarding-off", target=forward_target_text(forward))
    return t("card-forwarding-chat" if forward.kind == "chat" else "card-forwarding-url",
             target=forward_target_text(forward))


def set_card(t: Texts, card: SetCard, *, is_group: bool, spoiler: bool = False) -> tuple[str, InlineKeyboardMarkup]:
    """One number shared by several services (each a rental, the first one first, with its last codes): the
    services and where each stands, the codes naming their service, one Cancel for all that can still be."""
    members = card.members
    first = members[0][0]
    rentals = [m for m, _ in members]
    status = next((s for s in ("active", "pending") if any(r.status == s for r in rentals)), first.status)
    names = " + ".join(r.service_name for r in rentals)
    phone = next((r.phone for r in rentals if r.phone), None)
    lines = [t("card-title", service=names, status=Html(t(f"status-{status}")))]
    lines.append(t("card-phone", phone=phones.display(phone)) if phone else t("card-no-phone"))
    lines.append(t("card-provider", provider=card.provider_title,
                   duration=duration_text(t, first.billing, first.duration_label, first.duration_minutes)))
    ends = [r.active_till for r in rentals if r.status == "active" and r.active_till]
    if ends:
        lines.append(t("card-time-left", left=time_left(t, max(ends))))
    paid = sum(r.price_charged for r in rentals if r.status not in ("failed", "cancelled"))
    lines.append(t("card-price", price=format_money(paid)))
    if is_group and first.user_name:
        lines.append(t("card-rented-by", name=first.user_name))
    lines.append("")
    for rental, codes in members:
        state = (t("set-state-hidden") if codes and codes[0].hidden
                 else t("set-state-code-spoiler" if spoiler else "set-state-code", code=codes[0].code or "—") if codes
                 else t("set-state-waiting") if rental.status == "active" else t(f"status-{rental.status}"))
        lines.append(t("set-member", service=rental.service_name, state=Html(state)))
    if any(r.status == "active" and r.billing == BillingType.SMS for r, c in members if not c):
        lines.append(t("card-rule-no-code"))
    recent = sorted(((sms, r) for r, codes in members for sms in codes),
                    key=lambda pair: pair[0].received_at.timestamp() if pair[0].received_at else 0.0, reverse=True)
    if recent:
        lines += ["", t("card-codes")]
        lines += [code_line(t, sms, spoiler, r.service_name) for sms, r in recent[:5]]
    markup = keyboards.card(t, keyboards.CardButtons(
        first.id, {Capability.CANCEL} if card.cancellable else set(), open_=status == "active", phone=phone,
        show_hidden=is_group and card.has_hidden))
    return "\n".join(lines), markup


def history(t: Texts, rental: RentalRecord, messages: list[StoredSms], *,
            spoiler: bool = False) -> tuple[str, InlineKeyboardMarkup]:
    """In a group, a code deleted from the chat stays hidden here too (sent privately on request)."""
    lines = [t("history-title", phone=phones.display(rental.phone or ""))]
    if not messages:
        lines.append(t("history-empty"))
    for sms in messages:
        if sms.hidden:
            lines.append(t("card-sms-line-hidden", when=when(t, sms.received_at)))
        else:
            lines.append(t("card-sms-line-spoiler" if spoiler else "card-sms-line", when=when(t, sms.received_at),
                           body=sms.body or sms.code or ""))
    return "\n".join(lines)[:4000], keyboards.to_card(t, rental.id)


def already_rented(t: Texts, rental: RentalRecord) -> str:
    """An old Rent button pressed again: what its first tap did."""
    if rental.status == "failed":
        return t("rent-pressed-before-failed", service=rental.service_name, price=format_money(rental.price_charged))
    return t("rent-pressed-before", service=rental.service_name, phone=phones.display(rental.phone or ""),
             when=when(t, rental.created_at), zone=zone_of(t, rental.created_at),
             status=Html(t(f"status-{rental.status}")))


def number_label(t: Texts, rental: RentalRecord, names: list[str] | None = None) -> str:
    """``names``: the services of a number shared by several: the first named, the others counted ("➕2"),
    so the label fits a phone's width (the card names them all)."""
    service = f"{rental.service_name} ➕{len(names) - 1}" if names and len(names) > 1 else rental.service_name
    return t("number-label", icon=STATUS_ICONS.get(rental.status, ""), service=service,
             phone=phones.display(rental.phone) if rental.phone else "…")


def number_row(t: Texts, rental: RentalRecord, names: list[str] | None = None, now: datetime | None = None) -> str:
    """A number on My numbers, in full: its state in words (the mark its button carries), every service it is
    for, the number, and for a live one the time left. The buttons below stay short enough for a phone."""
    line = t("numbers-row", state=t(f"status-{rental.status}"), services=" + ".join(names or [rental.service_name]),
             phone=phones.display(rental.phone) if rental.phone else "…")
    if rental.status == "active" and rental.active_till:
        line += " · " + t("numbers-row-left", left=time_left(t, rental.active_till, now))
    return line


def ledger_line(t: Texts, entry: LedgerEntry) -> str:
    amount = format_money(entry.amount)
    return t("balance-line", when=when(t, entry.created_at), amount=("+" + amount) if entry.amount > 0 else amount,
             what=ledger_what(t, entry))


def code_message(t: Texts, sms: StoredSms, rental: RentalRecord, actions: set[Capability], *,
                 is_group: bool, spoiler: bool = False) -> tuple[str, InlineKeyboardMarkup]:
    """The pushed SMS: the code to copy on the first line, then number, full text, time, who rented.
    ``spoiler`` (a group setting): the code and the SMS text under a spoiler; the copy button keeps the code
    (a tap copies it, an explicit reveal to the one who taps) but its label no longer shows it."""
    first = (t("code-first-line-spoiler" if spoiler else "code-first-line", code=sms.code,
               service=rental.service_name) if sms.code
             else t("code-no-code", service=rental.service_name))
    lines = [first, t("code-number", phone=phones.display(rental.phone or ""))]
    if sms.body and sms.body != sms.code:
        body = html_escape(sms.body[:3000])
        if spoiler:
            body = "<tg-spoiler>" + body + "</tg-spoiler>"
        lines.append(Html("<blockquote>") + body + Html("</blockquote>"))
    received = sms.received_at or utcnow()
    lines.append(t("code-received", when=when(t, received), zone=zone_of(t, received)))
    if rental.status in CLOSED_STATUSES:
        # Posted at once even so: the user may still need it (docs/codes.md).
        lines.append(t("code-after-close", status=Html(t(f"status-{rental.status}"))))
    if is_group and rental.user_name:
        lines.append(t("code-rented-by", name=rental.user_name))
    row = [InlineKeyboardButton(text=t("btn-open-number"), callback_data=CardCb(id=rental.id).pack())]
    if sms.code:  # one tap puts exactly the code on the clipboard
        label = t("btn-copy-code") if spoiler else t("btn-copy", value=sms.code)
        row.insert(0, keyboards.copy_button(label, sms.code))
    rows = [row]  # the code and the number two a row; "Another code · $123.45" and Finish each in a row of its own
    if Capability.RENEW in actions:
        # The price one more period cost; renting again charges it only if it is still today's (the card
        # shows today's otherwise): the push path asks no provider for prices.
        price = rental.renewal_price
        rows.append([InlineKeyboardButton(text=t("btn-another-code", price=format_money(price)),
                                          callback_data=CardCb(id=rental.id, a=CardAction.RENEW,
                                                               n=priced_nonce(price)).pack())])
    if Capability.FINISH in actions:
        rows.append([InlineKeyboardButton(text=t("btn-finish"),
                                          callback_data=CardCb(id=rental.id, a=CardAction.FINISH).pack())])
    return "\n".join(lines), InlineKeyboardMarkup(inline_keyboard=rows)


def forwarded_code(t: Texts, sms: StoredSms, rental: RentalRecord, source_title: str, *,
                   spoiler: bool) -> tuple[str, InlineKeyboardMarkup | None]:
    """A code forwarded from another chat: where it came from, then the pushed code's own layout under this
    chat's spoiler rule, and its copy button only (the number's card and actions belong to the chat that rents
    it: here they would be someone else's buttons)."""
    text, _ = code_message(t, sms, rental, set(), is_group=False, spoiler=spoiler)
    copy = t("btn-copy-code") if spoiler else t("btn-copy", value=sms.code)
    markup = InlineKeyboardMarkup(inline_keyboard=[[keyboards.copy_button(copy, sms.code)]]) if sms.code else None
    return t("forward-from", title=source_title) + "\n" + text, markup


def private_codes(t: Texts, rental: RentalRecord, hidden: list[StoredSms], title: str) -> str:
    """The codes deleted from a group, sent privately to the renter or an admin who asked, newest first."""
    lines = [t("private-codes-title", service=rental.service_name, phone=phones.display(rental.phone or ""),
               title=title)]
    for sms in hidden:
        lines.append(t("private-code-line", code=sms.code or "—", when=when(t, sms.received_at),
                       zone=zone_of(t, sms.received_at)))
        if sms.body and sms.body != sms.code:
            lines.append(Html("<blockquote>") + html_escape(sms.body[:600]) + Html("</blockquote>"))
    return "\n".join(lines)  # at most PRIVATE_CODES of them: well under Telegram's 4096


def html_escape(text: str) -> str:
    return html.escape(text, quote=False)


def carrier_name(name: str) -> str:
    """A carrier as people write it: "at&t" -> "AT&T", "t-mobile" -> "T-Mobile"."""
    return name.upper() if "&" in name or len(name) <= 3 else name.title()


def wish_lines(t: Texts, provider: Provider, offer: Offer, wishes: Wishes, listed: int) -> str:
    """The confirm screen's lines for the wishes this plan takes (area code, carrier, price cap, auto-renew)."""
    lines = []
    takes = provider.choices_for(offer)
    if Choice.AREA_CODE in takes:
        lines.append(t("confirm-area", area=wishes.area) if wishes.area else t("confirm-area-any"))
    if Choice.CARRIER in takes:
        if wishes.carrier == KEEP_CARRIER:
            lines.append(t("confirm-carrier-keep"))
        elif 1 <= wishes.carrier <= len(provider.carriers):
            lines.append(t("confirm-carrier", carrier=carrier_name(provider.carriers[wishes.carrier - 1])))
        else:
            lines.append(t("confirm-carrier-any"))
    if Choice.MAX_PRICE in takes:
        lines.append(t("confirm-cap", cap=format_money(wishes.cap)) if wishes.cap
                     else t("confirm-cap-none", price=format_money(listed)))
    if Choice.AUTO_RENEW in takes:
        lines.append(t("confirm-start-renew-on" if wishes.renew else "confirm-start-renew-off"))
    return ("\n" + "\n".join(lines)) if lines else ""


def alert_label(t: Texts, alert) -> str:
    """One open alert, short (a button's width): the service and what it waits for."""
    if alert.kind == "stock":
        if not alert.plan:  # the service had no plans when it was set: any of them back
            return t("alert-label-any", service=alert.service_name)
        return t("alert-label-back", service=alert.service_name, plan=alert.plan)
    return t("alert-label-under", service=alert.service_name, price=format_money(alert.below))


def alert_fired(t: Texts, alert, priced, provider_title: str) -> str:
    """The one message an alert sends: the offer it found at the price it found."""
    o = priced.offer
    return t("alert-fired-back" if alert.kind == "stock" else "alert-fired-under", service=alert.service_name,
             below=format_money(alert.below), price=format_money(priced.price), provider=provider_title,
             duration=duration_text(t, o.billing, o.duration_label, o.duration_minutes))


def fallback_wait(t: Texts, window_minutes: int, own_minutes: int | None) -> str:
    """The fallback chain's wait in words: the activation's own when none shorter was chosen."""
    return (duration_name(window_minutes or own_minutes, t.language) or t("fallback-wait-own"))


def fallback_line(t: Texts, choice: keyboards.FallbackChoice, country: str, service: str) -> str:
    """The confirm screen's line for "if no code, try the next plan" when it is on, and that it stays on for the
    service's next rents: a Rent tap never starts a chain on an earlier choice unnoticed."""
    where = t("fallback-where-any") if choice.other_countries else t("fallback-where-country",
                                                                     country=country_text(t, country))
    return "\n".join((t("confirm-fallback", wait=choice.wait, budget=format_money(choice.budget), where=where),
                      t("fallback-remembered", service=service, off=t("btn-fallback-off"))))


CHAIN_ENDED = {"error-balance": "chain-ended-balance", "error-only-admins": "chain-ended-not-allowed",
               "error-only-members": "chain-ended-not-allowed", "error-over-limit": "chain-ended-limit",
               "error-over-cap": "chain-ended-limit"}


def chain_card(t: Texts, view, titles: dict[str, str]) -> tuple[str, InlineKeyboardMarkup]:
    """The one message of a fallback chain (bot/services/fallback_chain.py ChainView), edited as it goes: each
    attempt and how it ended, the current number (the user types it), what was spent, and Stop while it runs."""
    chain = view.chain
    current = view.current
    winner = next((r for r in view.attempts if r.id == view.with_code), None)
    lines = [chain_title(t, chain, view.attempts.index(winner) + 1 if winner else 1)]
    for n, rental in enumerate(view.attempts, 1):
        title = titles.get(rental.provider, rental.provider)
        if rental.id == view.with_code:
            outcome = t("chain-outcome-code")
        elif rental.status in ("active", "pending") and rental.no_code is None:
            outcome = t("chain-outcome-now")
        elif rental.no_code == "refused":
            outcome = t("chain-outcome-kept")
        elif rental.status in ("cancelled", "failed"):
            outcome = t("chain-outcome-refunded")
        else:
            outcome = t("chain-outcome-none")
        lines.append(t("chain-attempt", n=n, provider=title, country=country_text(t, rental.country),
                       phone=phones.display(rental.phone) if rental.phone else "…", outcome=outcome))
    status = chain.status
    if status == "done":
        got = winner or current
        lines.append("\n" + t("chain-done", phone=phones.display(got.phone or "") if got else "…"))
    elif status == "running" and current is not None and current.status == "active":
        lines.append("\n" + t("chain-current", phone=phones.display(current.phone or ""), service=chain.service_name))
        if view.gives_up_at is not None:
            lines.append(t("chain-next-at", when=when(t, view.gives_up_at)))
    elif status == "running":
        lines.append("\n" + t("chain-renting"))
    elif status == "stopping":
        lines.append("\n" + t("chain-stopping"))
    elif status == "stopped":
        lines.append("\n" + t("chain-stopped"))
    elif status == "exhausted" and chain.untried:
        lines.append("\n" + t("chain-exhausted-untried", reasons=Html(" · ".join(
            t(UNTRIED_KEYS[reason], n=count) for reason, count in chain.untried.items() if reason in UNTRIED_KEYS))))
    elif status == "exhausted":
        lines.append("\n" + t("chain-exhausted-budget" if chain.reason == "budget" else "chain-exhausted-none"))
    else:
        lines.append("\n" + t(CHAIN_ENDED.get(chain.reason, "chain-ended")))
    lines.append(t("chain-spent", spent=format_money(view.spent), budget=format_money(chain.budget),
                   left=format_money(view.left)))
    # Only a number still rented gets a button: one refunded or ended has nothing left to open.
    shown = winner or current
    live = shown if shown is not None and shown.status == "active" else None
    # Stop only while it can still stop something: once stopping, the provider's leave is all that is awaited.
    return "\n".join(lines), keyboards.chain_card(t, chain.id, live.id if live else None,
                                                  live.phone or "" if live else "", status == "running")


# bot/services/fallback_chain.py UNTRIED: why a plan left over was not tried, grouped so the card stays short.
UNTRIED_KEYS = {"refused": "chain-untried-refused", "rental": "chain-untried-rental",
                "elsewhere": "chain-untried-elsewhere", "sold_out": "chain-untried-sold-out",
                "over_budget": "chain-untried-over-budget"}

CHAIN_TITLES = {"stopping": "chain-title-stopping", "stopped": "chain-title-stopped",
                "exhausted": "chain-title-exhausted", "ended": "chain-title-ended"}


def chain_title(t: Texts, chain, won: int) -> str:
    """The card's first line follows the chain's state: trying, stopping, stopped, the code's attempt, or over."""
    if chain.status == "done":
        return t("chain-title-done", service=chain.service_name, n=won)
    return t(CHAIN_TITLES.get(chain.status, "chain-title"), service=chain.service_name)
