"""Top-ups: Telegram Stars, and cards through Telegram Payments: invoice -> pre-checkout -> successful payment
credited once per charge id. Crypto through Crypto Pay: an invoice with its pay button; the payment is credited by
the webhook or the poll (bot/services/cryptopay.py), not here."""
from __future__ import annotations

from aiogram import Bot, F, Router
from aiogram.types import (
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LabeledPrice,
    Message,
    PreCheckoutQuery,
)
from babel.lists import format_list

from bot.services.cards import PAYLOAD_PREFIX as CARD_PREFIX
from bot.services.cards import CardTopUps
from bot.services.cryptopay import CryptoTopUps
from bot.services.errors import StaleButton
from bot.services.pricing import format_money
from bot.services.topups import TopUps
from storage import Chat, ChatRepo

from . import views
from .callbacks import CardTopUpCb, CryptoTopUpCb, MenuCb, Screen, TopUpCb
from .common import show
from .i18n import Texts, pick_language
from .permissions import AdminCache, ensure_can_top_up


def topup_methods(t: Texts, cards: CardTopUps, crypto: CryptoTopUps) -> str:
    """The ways to pay this bot really offers, as a list in the chat's language ("Telegram Stars, a card or
    crypto"): the balance screen and the top-up screen name them, not Stars alone."""
    methods = [t("topup-method-stars")]
    methods += [t("topup-method-card")] if cards.enabled else []
    methods += [t("topup-method-crypto")] if crypto.enabled else []
    return format_list(methods, style="or", locale=t.language)


async def topup_screen(callback: CallbackQuery, bot: Bot, chat: Chat, t: Texts, topups: TopUps, cards: CardTopUps,
                       crypto: CryptoTopUps, admins: AdminCache) -> None:
    await ensure_can_top_up(bot, admins, chat, callback.from_user.id)
    rows = [[InlineKeyboardButton(text=t("topup-button", stars=stars, amount=format_money(topups.credit_for(stars))),
                                  callback_data=TopUpCb(stars=stars).pack())] for stars in topups.amounts]
    if cards.enabled:
        rows.append([InlineKeyboardButton(text=t("btn-topup-card"), callback_data=CardTopUpCb().pack())])
    if crypto.enabled:
        rows.append([InlineKeyboardButton(text=t("btn-topup-crypto"), callback_data=CryptoTopUpCb().pack())])
    rows.append([InlineKeyboardButton(text=t("back"), callback_data=MenuCb(to=Screen.BALANCE).pack())])
    await show(callback, t("topup-title", methods=topup_methods(t, cards, crypto),
                           rate=format_money(topups.credit_for(100))), InlineKeyboardMarkup(inline_keyboard=rows))


async def send_invoice(callback: CallbackQuery, callback_data: TopUpCb, bot: Bot, chat: Chat, t: Texts,
                       topups: TopUps, admins: AdminCache) -> None:
    await ensure_can_top_up(bot, admins, chat, callback.from_user.id)
    stars = callback_data.stars
    if stars not in topups.amounts:
        raise StaleButton()
    amount = format_money(topups.credit_for(stars))
    await bot.send_invoice(
        chat.id, title=t("invoice-title"),
        description=(t("invoice-description", amount=amount, chat=chat.title) if chat.is_group
                     else t("invoice-description-private", amount=amount)),
        payload=topups.invoice(chat.id, stars), currency="XTR",
        prices=[LabeledPrice(label=t("invoice-label", stars=stars), amount=stars)],
    )


async def card_screen(callback: CallbackQuery, t: Texts, cards: CardTopUps) -> None:
    """Card amounts, each with what it adds to the balance: both amounts before paying."""
    if not cards.enabled:
        raise StaleButton()
    rows = [[InlineKeyboardButton(text=t("topup-card-button", paid=cards.label(amount, t.language),
                                         amount=format_money(cards.credit_for(amount))),
                                  callback_data=CardTopUpCb(amount=amount).pack())] for amount in cards.amounts]
    rows.append([InlineKeyboardButton(text=t("back"), callback_data=MenuCb(to=Screen.TOPUP).pack())])
    await show(callback, t("topup-card-title", currency=cards.currency), InlineKeyboardMarkup(inline_keyboard=rows))


async def card_invoice(callback: CallbackQuery, callback_data: CardTopUpCb, bot: Bot, chat: Chat, t: Texts,
                       cards: CardTopUps, admins: AdminCache) -> None:
    await ensure_can_top_up(bot, admins, chat, callback.from_user.id)
    amount = callback_data.amount
    if amount == 0:
        await card_screen(callback, t, cards)
        return
    if not cards.enabled or amount not in cards.amounts:
        raise StaleButton()
    credit = format_money(cards.credit_for(amount))
    await bot.send_invoice(
        chat.id, title=t("invoice-title"),
        description=(t("invoice-description", amount=credit, chat=chat.title) if chat.is_group
                     else t("invoice-description-private", amount=credit)),
        payload=cards.invoice(chat.id, amount), currency=cards.currency,
        provider_token=cards.provider_token,
        prices=[LabeledPrice(label=t("invoice-card-label", amount=credit), amount=amount)],
    )


async def crypto_screen(callback: CallbackQuery, t: Texts, crypto: CryptoTopUps) -> None:
    """Crypto amounts: what the invoice asks (in the balance currency, paid in an allowed asset) and what it adds."""
    if not crypto.enabled:
        raise StaleButton()
    rows = [[InlineKeyboardButton(text=t("topup-crypto-button", paid=crypto.paid_label(cents),
                                         amount=format_money(cents)),
                                  callback_data=CryptoTopUpCb(cents=cents).pack())] for cents in crypto.amounts]
    rows.append([InlineKeyboardButton(text=t("back"), callback_data=MenuCb(to=Screen.TOPUP).pack())])
    await show(callback, t("topup-crypto-title", assets=", ".join(crypto.assets)),
               InlineKeyboardMarkup(inline_keyboard=rows))


async def crypto_invoice(callback: CallbackQuery, callback_data: CryptoTopUpCb, bot: Bot, chat: Chat, t: Texts,
                         crypto: CryptoTopUps, admins: AdminCache) -> None:
    """An invoice at Crypto Pay (or the chat's open one of this amount again), in a message of its own with its
    pay button, so it stays at hand while the buyer pays in @CryptoBot."""
    await ensure_can_top_up(bot, admins, chat, callback.from_user.id)
    if callback_data.cents == 0:
        await crypto_screen(callback, t, crypto)
        return
    credit = format_money(callback_data.cents)
    invoice = await crypto.open(chat.id, callback.from_user.id, callback_data.cents,
                                t("invoice-crypto-description", amount=credit))
    paid = crypto.paid_label(invoice.credit)
    button = InlineKeyboardButton(text=t("btn-crypto-pay", paid=paid), url=invoice.pay_url)
    await show(callback, t("crypto-invoice", amount=credit, paid=paid, assets=", ".join(invoice.assets),
                           until=views.when(t, invoice.expires_at)),
               InlineKeyboardMarkup(inline_keyboard=[[button]]), new=True)


async def _members_may_pay(bot: Bot, chats: ChatRepo, admins: AdminCache, payload: str, user_id: int) -> bool:
    """An invoice posted in a group is payable by anyone there: a member pays it only if members top up."""
    parts = payload.split(":")
    chat_id = int(parts[1]) if len(parts) > 2 and parts[1].lstrip("-").isdigit() else 0
    chat = await chats.get(chat_id) if chat_id < 0 else None
    return (chat is None or not chat.is_group or chat.members_top_up
            or await admins.is_admin(bot, chat.id, user_id))


async def pre_checkout(query: PreCheckoutQuery, bot: Bot, topups: TopUps, cards: CardTopUps, chats: ChatRepo,
                       admins: AdminCache) -> None:
    if query.invoice_payload.startswith(CARD_PREFIX + ":"):
        fits = await cards.check(query.invoice_payload, query.currency, query.total_amount)
    else:
        fits = await topups.check(query.invoice_payload, query.currency, query.total_amount)
    if fits is not None and not await _members_may_pay(bot, chats, admins, query.invoice_payload,
                                                       query.from_user.id):
        fits = None
    if fits is None:
        language = await topups.chat_language(query.invoice_payload)
        t = Texts(language or pick_language(query.from_user.language_code))
        await query.answer(ok=False, error_message=t("precheckout-refused"))
        return
    await query.answer(ok=True)


async def paid(message: Message, topups: TopUps, cards: CardTopUps) -> None:
    """Credited once per charge id. "Payment received" is not answered here: the credit wrote it to the money news
    outbox in its own transaction and woke its sender (bot/outbound/money_news.py), so it arrives once, across 429s
    and restarts;
    the same payment delivered again credits nothing and tells nothing."""
    payment = message.successful_payment
    if payment.invoice_payload.startswith(CARD_PREFIX + ":"):
        await cards.credit(payment.invoice_payload, payment.telegram_payment_charge_id, message.from_user.id,
                           payment.total_amount, payment.currency)
    else:
        await topups.credit(payment.invoice_payload, payment.telegram_payment_charge_id, message.from_user.id,
                            payment.total_amount, payment.currency)


def setup() -> Router:
    router = Router(name="topup")
    router.callback_query.register(topup_screen, MenuCb.filter(F.to == Screen.TOPUP), flags={"tops_up": True})
    router.callback_query.register(send_invoice, TopUpCb.filter(), flags={"tops_up": True})
    router.callback_query.register(card_invoice, CardTopUpCb.filter(), flags={"tops_up": True})
    router.callback_query.register(crypto_invoice, CryptoTopUpCb.filter(), flags={"tops_up": True})
    router.pre_checkout_query.register(pre_checkout, flags={"tops_up": True})
    router.message.register(paid, F.successful_payment)
    return router
