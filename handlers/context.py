"""What a handler knows of the update it answers, in one value: the chat (our record of it), the person who
wrote or tapped, their texts (language and time zone), the bot, and the services. Built once per update by
``ChatContextMiddleware`` and asked for as ``ctx``; a handler that needs only one or two things may still ask for
them by name (aiogram's injection), as the small ones do."""
from __future__ import annotations

from dataclasses import dataclass

from aiogram import Bot
from aiogram.types import User

from bot.outbound.screens import Screens
from bot.outbound.topics import NumberTopics
from bot.services.alerts import Alerts
from bot.services.auctions import AuctionDesk
from bot.services.broadcasts import Broadcasts
from bot.services.cards import CardTopUps
from bot.services.catalogue import Catalogue
from bot.services.cryptopay import CryptoTopUps
from bot.services.fallback_chain import FallbackChains
from bot.services.forwarding import Forwarding
from bot.services.number_card import NumberCards
from bot.services.operator import OperatorDesk
from bot.services.promos import Promos
from bot.services.referrals import Referrals
from bot.services.rentals import RentalService
from bot.services.service_sets import ServiceSets
from bot.services.switches import PlanSwitches
from bot.services.teams import Teams
from bot.services.topups import TopUps
from bot.services.transfers import Transfers
from bot.services.wallet import Wallet
from bot.settings import Settings
from providers import Provider
from storage import Chat, ChatRepo, CountryChoiceRepo, FavouriteRepo, LedgerRepo, PromptRepo, SmsRepo
from storage.bans import BanRepo

from .i18n import Texts
from .permissions import AdminCache


@dataclass(frozen=True, slots=True)
class Services:
    """Everything a handler may use, each under the name it is injected by (bot/app.py builds both from one
    dict). No database: handlers ask services and repositories."""
    settings: Settings
    chats: ChatRepo
    ledger_repo: LedgerRepo
    sms_repo: SmsRepo
    catalogue: Catalogue
    rentals: RentalService
    wallet: Wallet
    admins: AdminCache
    providers: dict[str, Provider]
    topups: TopUps
    cards: CardTopUps
    crypto: CryptoTopUps
    switches: PlanSwitches
    favourites: FavouriteRepo
    country_choices: CountryChoiceRepo
    prompts: PromptRepo
    screens: Screens
    auctions: AuctionDesk
    sets: ServiceSets
    broadcasts: Broadcasts
    bans: BanRepo
    transfers: Transfers
    teams: Teams
    referrals: Referrals
    promos: Promos
    alerts: Alerts
    chains: FallbackChains
    number_topics: NumberTopics
    forwarding: Forwarding
    operator: OperatorDesk
    number_cards: NumberCards


@dataclass(frozen=True, slots=True)
class Ctx:
    chat: Chat
    t: Texts
    user: User | None  # who wrote or tapped (None for an update from no one, such as a channel post)
    bot: Bot
    services: Services

    @property
    def user_id(self) -> int:
        return self.user.id if self.user is not None else 0
