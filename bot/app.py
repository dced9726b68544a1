"""Composition root: the one factory that wires storage, providers, services and the Dispatcher.

`python -m bot` and the tests build the bot through the same functions."""
from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from aiogram import Bot, Dispatcher
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.session.base import BaseSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ParseMode
from aiogram.types import BotCommand

import handlers
from bot.outbound.pace import Limits as SendLimits
from bot.outbound.pace import Outbound, UpdatePriority
from bot.outbound.rendering import Renderer, TopicCards
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
from bot.services.invoice_seal import InvoiceSeal
from bot.services.no_code import NoCodeRefunds
from bot.services.number_card import NumberCards
from bot.services.operator import OperatorDesk
from bot.services.promos import Promos
from bot.services.referrals import Referrals
from bot.services.rentals import RentalService
from bot.services.service_sets import ServiceSets
from bot.services.switches import PlanSwitches
from bot.services.teams import Teams
from bot.services.topups import TopUps
from bot.services.transfers import Limits, Transfers
from bot.services.wallet import Wallet
from bot.settings import Settings
from bot.shutdown import InFlight
from bot.web.metrics import Metrics, UpdateMetricsMiddleware
from bot.web.once import HandledOnce
from handlers.bans import BanGate
from handlers.common import ChatContextMiddleware, FeedbackMiddleware, TimelyCallbackAnswer
from handlers.context import Services
from handlers.i18n import Texts, available_languages
from handlers.permissions import AdminCache
from handlers.rendering import ChatRenderer
from handlers.throttle import ThrottleMiddleware
from handlers.topics import ChatTopicCards
from providers import Provider
from providers.cryptopay import CryptoPayClient
from providers.getatext import GetATextClient
from providers.gotsms import GotSmsClient
from storage import (
    CatalogueCache,
    ChatRepo,
    CountryChoiceRepo,
    Database,
    FavouriteRepo,
    LedgerRepo,
    PromptRepo,
    RentalRepo,
    SmsRepo,
)
from storage.alerts import AlertRepo
from storage.bans import BanRepo
from storage.forwarding import ForwardRepo
from storage.topics import NumberTopicRepo
from storage.updates import UpdateLog

COMMANDS = ("start", "rent", "numbers", "alerts", "balance", "invite", "redeem", "settings", "help", "terms",
            "paysupport")


def build_providers(settings: Settings) -> dict[str, Provider]:
    """Every provider whose key is set."""
    found: dict[str, Provider] = {}
    if key := settings.gotsms_api_key.get_secret_value():
        found["gotsms"] = GotSmsClient(key, base_url=settings.gotsms_base_url, timeout=settings.provider_timeout)
    if key := settings.getatext_api_key.get_secret_value():
        found["getatext"] = GetATextClient(key, base_url=settings.getatext_base_url, timeout=settings.provider_timeout,
                                           long_prices=settings.getatext_long_prices,
                                           long_margin_percent=settings.long_hold_margin_percent)
    return found


def build_cryptopay(settings: Settings) -> CryptoPayClient | None:
    """Crypto Pay's client when its token is set."""
    if token := settings.cryptopay_token.get_secret_value().strip():
        return CryptoPayClient(token, base_url=settings.cryptopay_api_url, timeout=settings.provider_timeout)
    return None


@dataclass
class App:
    settings: Settings
    db: Database
    providers: dict[str, Provider]
    chats: ChatRepo = field(init=False)
    ledger_repo: LedgerRepo = field(init=False)
    sms_repo: SmsRepo = field(init=False)
    catalogue: Catalogue = field(init=False)
    rentals: RentalService = field(init=False)
    switches: PlanSwitches = field(init=False)
    sets: ServiceSets = field(init=False)
    bans: BanRepo = field(init=False)
    no_code: NoCodeRefunds = field(init=False)  # "no code, no charge" (bot/services/no_code.py)
    chains: FallbackChains = field(init=False)  # "if no code, try the next plan" (bot/services/fallback_chain.py)
    alerts: Alerts = field(init=False)  # 🔔 back in stock / under a price (bot/services/alerts.py)
    teams: Teams = field(init=False)
    transfers: Transfers = field(init=False)
    wallet: Wallet = field(init=False)
    admins: AdminCache = field(init=False)
    money_news_due: asyncio.Event = field(init=False)  # a money notice written: its sender wakes
    topups: TopUps = field(init=False)
    cards: CardTopUps = field(init=False)
    crypto: CryptoTopUps = field(init=False)
    auctions: AuctionDesk = field(init=False)
    referrals: Referrals = field(init=False)
    promos: Promos = field(init=False)
    operator: OperatorDesk = field(init=False)  # the admin commands' figures, reports and markup
    # codes of a number also to another chat or a URL (sent by bot/outbound/forwarding.py)
    forwarding: Forwarding = field(init=False)
    # the operator's messages to many chats (sent by bot/outbound/broadcaster.py)
    broadcasts: Broadcasts = field(init=False)
    number_cards: NumberCards = field(init=False)  # what a number's card shows (bot/services/number_card.py)
    renderer: Renderer = field(init=False)  # what the push path and the jobs show, from handlers/
    topic_cards: TopicCards = field(init=False)  # a number's topic and card, opened by a job
    metrics: Metrics = field(init=False)
    inflight: InFlight = field(init=False)  # updates and jobs running now: what a SIGTERM waits for
    screens: Screens = field(init=False)  # which message is on top of each chat (a card to refresh)
    topics: NumberTopics = field(init=False)  # a topic per number in forum groups (bot/outbound/topics.py)

    def __post_init__(self) -> None:
        self.chats = ChatRepo(self.db)
        self.ledger_repo = LedgerRepo(self.db)
        self.sms_repo = SmsRepo(self.db)
        self.catalogue = Catalogue(self.providers, CatalogueCache(self.db), RentalRepo(self.db),
                                   self.settings.markup_percent, alerts_offered=self.settings.alerts_per_chat > 0)
        self.rentals = RentalService(self.db, self.providers, self.catalogue, self.settings.action_cooldown)
        self.switches = PlanSwitches(self.rentals)
        self.sets = ServiceSets(self.db, self.rentals, self.catalogue)
        self.bans = BanRepo(self.db)
        self.alerts = Alerts(AlertRepo(self.db), self.catalogue, self.rentals.budget, self.settings.alerts_per_chat,
                             self.settings.alert_hours, self.settings.alert_services_per_check)
        # "No code, no charge": one for the job that refunds and the fallback chains that move on from it.
        self.no_code = NoCodeRefunds(self.rentals)
        self.chains = FallbackChains(self.db, self.rentals, self.catalogue, self.no_code)
        self.teams = Teams(self.db, self.rentals, self.catalogue, self.settings.team_request_minutes)
        # A money notice written (payment, refund, renewal, transfer): its sender, bot/outbound/money_news.py, wakes.
        self.money_news_due = asyncio.Event()
        self.transfers = Transfers(self.db, Limits.from_settings(self.settings), self.money_news_due.set)
        self.wallet = Wallet(self.db, self.settings.admin_ids)
        self.admins = AdminCache()
        self.referrals = Referrals(self.db, self.settings.referral_percent)
        self.promos = Promos(self.db)
        self.operator = OperatorDesk(self.db, self.catalogue)
        # Invoice payloads sealed with a secret of this bot: only invoices it made are ever credited.
        seal = InvoiceSeal(self.settings.bot_token.get_secret_value())
        self.topups = TopUps(self.db, self.settings.star_value_cents, self.settings.topup_star_amounts,
                             self.referrals, seal, self.money_news_due.set)
        self.auctions = AuctionDesk(self.providers, self.settings.action_cooldown)
        self.broadcasts = Broadcasts(self.db)
        self.forwarding = Forwarding(ForwardRepo(self.db), self.settings.forward_allowed_hosts)
        self.cards = CardTopUps(self.db, self.settings.payments_provider_token.get_secret_value(),
                                self.settings.card_currency, self.settings.card_rate, self.settings.card_amounts,
                                self.referrals, seal, self.money_news_due.set)
        self.crypto = CryptoTopUps(self.db, build_cryptopay(self.settings), self.settings.currency,
                                   self.settings.cryptopay_assets, self.settings.cryptopay_amounts,
                                   self.settings.cryptopay_expires_in, self.settings.action_cooldown,
                                   self.referrals, self.money_news_due.set)
        self.number_cards = NumberCards(self.rentals, self.sms_repo, ForwardRepo(self.db), self.providers)
        self.renderer = ChatRenderer(self.providers)
        self.metrics = Metrics()
        self.inflight = InFlight()
        self.screens = Screens()
        self.topics = NumberTopics(NumberTopicRepo(self.db))
        self.topic_cards = ChatTopicCards(self.number_cards, self.screens, self.topics)
        for provider in self.providers.values():
            provider.observe(self.metrics.provider_call)
        if self.crypto.client is not None:
            self.crypto.client.observe(self.metrics.provider_call)

    @classmethod
    async def open(cls, settings: Settings, providers: dict[str, Provider] | None = None) -> App:
        db = Database(settings.database_path)
        await db.connect()
        try:
            app = cls(settings, db, build_providers(settings) if providers is None else providers)
            await app.operator.restore_markup()  # the operator's /markup outlives restarts
        except BaseException:
            await db.close()  # an open connection's worker thread would keep the process from exiting
            raise
        return app

    async def close(self) -> None:
        for provider in self.providers.values():
            await provider.aclose()
        if self.crypto.client is not None:
            await self.crypto.client.aclose()
        await self.db.close()

    def dependencies(self) -> dict:
        """What handlers may ask for by parameter name."""
        return {
            "settings": self.settings, "chats": self.chats, "ledger_repo": self.ledger_repo,
            "sms_repo": self.sms_repo, "catalogue": self.catalogue, "rentals": self.rentals,
            "wallet": self.wallet, "admins": self.admins, "providers": self.providers, "topups": self.topups,
            "cards": self.cards, "crypto": self.crypto,
            "switches": self.switches, "favourites": FavouriteRepo(self.db),
            "country_choices": CountryChoiceRepo(self.db), "prompts": PromptRepo(self.db),
            "screens": self.screens, "auctions": self.auctions, "sets": self.sets, "broadcasts": self.broadcasts,
            "bans": self.bans, "transfers": self.transfers, "teams": self.teams,
            "referrals": self.referrals, "promos": self.promos, "alerts": self.alerts, "chains": self.chains,
            "number_topics": self.topics,
            "forwarding": self.forwarding, "operator": self.operator, "number_cards": self.number_cards,
        }


def build_dispatcher(app: App) -> Dispatcher:
    dependencies = app.dependencies()
    dp = Dispatcher(**dependencies, services=Services(**dependencies))
    dp.update.outer_middleware(HandledOnce(UpdateLog(app.db)))  # first: a repeat costs nothing more
    dp.update.outer_middleware(app.inflight.middleware())
    dp.update.outer_middleware(UpdateMetricsMiddleware(app.metrics))
    dp.update.outer_middleware(UpdatePriority())  # what a handler sends answers a person who waits
    throttle = ThrottleMiddleware(app.settings.user_rate_per_second, app.settings.user_rate_burst)
    # first: a flood costs no database work
    for observer in (dp.message, dp.callback_query):
        observer.outer_middleware(throttle)
        observer.outer_middleware(ChatContextMiddleware(app.chats))
    dp["throttle"] = throttle
    dp.pre_checkout_query.middleware(FeedbackMiddleware())
    dp.callback_query.middleware(TimelyCallbackAnswer())  # a busy group's tap is answered within a second
    dp.message.middleware(FeedbackMiddleware())
    dp.callback_query.middleware(FeedbackMiddleware())
    gate = BanGate(app.bans)  # inside Feedback: a ban is answered like any refusal
    for observer in (dp.message, dp.callback_query, dp.pre_checkout_query):
        observer.middleware(gate)
    dp.include_routers(*handlers.setup_routers())
    return dp


def build_bot(token: str, settings: Settings, session: BaseSession | None = None,
              screens: Screens | None = None, outbound: Outbound | None = None, metrics: Metrics | None = None) -> Bot:
    """``metrics``: the pacer's 429s and waits counted there (the running bot's; tests leave it out)."""
    if session is None:
        session = AiohttpSession(api=TelegramAPIServer.from_base(settings.telegram_api_url))
    if outbound is None:
        counted = {} if metrics is None else {"on_flood": metrics.telegram_429.inc,
                                               "on_granted": metrics.outbound_waited}
        outbound = Outbound(SendLimits.from_settings(settings), **counted)
    # Outermost: every call is paced and its 429s waited out before anything else sees it.
    session.middleware(outbound)
    if screens is not None:
        session.middleware(screens.middleware())  # notes the message each send puts on top of its chat
    return Bot(token, session=session, default=DefaultBotProperties(parse_mode=ParseMode.HTML))


async def register_commands(bot: Bot) -> None:
    for language in available_languages():
        t = Texts(language)
        commands = [BotCommand(command=c, description=t(f"cmd-{c}")) for c in COMMANDS]
        await bot.set_my_commands(commands, language_code=None if language == "en" else language)
