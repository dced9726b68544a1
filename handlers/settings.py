"""Settings: the chat's language and time zone; in groups, who may spend the group balance (admins decide)."""
from __future__ import annotations

from aiogram import Bot, F, Router
from aiogram.filters import Command
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from aiogram.utils.callback_answer import CallbackAnswer

from bot.outbound.topics import NumberTopics
from bot.services.errors import NotAllowed
from bot.services.localize import valid_zone, zone_label, zone_offset
from bot.services.pricing import format_money
from bot.services.teams import PERIOD_KEYS
from bot.settings import Settings
from storage import Chat, ChatRepo

from . import keyboards
from .callbacks import AlertsCb, GroupRentCb, LangCb, MenuCb, Screen, TeamCb, TeamSetting, TimeZoneCb, TimeZonesCb
from .common import show
from .context import Ctx
from .i18n import Texts, available_languages
from .permissions import AdminCache
from .topics import CHECK_KEYS as TOPIC_CHECK_KEYS
from .topics import settings_lines as topic_settings_lines

LANGUAGE_NAMES = {"en": "English", "ru": "Русский"}
# The picker's zones: where the bot's Russian- and English-speaking chats mostly are. Shown west to east by
# their offset today (summer time moves them); a chat's own zone is always among them.
COMMON_ZONES = ("America/Los_Angeles", "America/New_York", "America/Sao_Paulo", "UTC", "Europe/London",
                "Europe/Berlin", "Europe/Kyiv", "Europe/Moscow", "Asia/Dubai", "Asia/Yekaterinburg", "Asia/Almaty",
                "Asia/Kolkata", "Asia/Novosibirsk", "Asia/Shanghai", "Asia/Tokyo", "Asia/Vladivostok")


def team_lines(t: Texts, chat: Chat, request_minutes: int) -> str:
    """Who may rent with the group's balance and how much, said in full on the settings screen."""
    if not chat.members_can_rent:
        who = t("settings-who-admins")
    elif chat.member_limit:
        who = t("settings-who-limited", limit=format_money(chat.member_limit),
                period=t(PERIOD_KEYS[chat.limit_period]))
    else:
        who = t("settings-who-all")
    lines = [t("settings-group-rent", who=who)]
    if chat.members_can_rent:
        lines.append(t("settings-cap", cap=chat.member_cap) if chat.member_cap else t("settings-cap-none"))
    lines.append(t("settings-top-up-yes" if chat.members_top_up else "settings-top-up-no"))
    lines.append(t("settings-requests", minutes=request_minutes))
    lines.append(t("settings-spoiler-on" if chat.code_spoiler else "settings-spoiler-off"))
    lines.append(t("settings-delete-after", minutes=chat.code_delete_minutes) if chat.code_delete_minutes
                 else t("settings-delete-never"))
    return "\n".join(lines)


def settings_view(t: Texts, chat: Chat, request_minutes: int = 60,
                  topics_lines: str = "") -> tuple[str, InlineKeyboardMarkup]:
    text = t("settings-title", language=LANGUAGE_NAMES.get(chat.language, chat.language))
    text += "\n" + t("settings-time-zone", zone=zone_label(chat.time_zone, t.language))
    rows = [[InlineKeyboardButton(text=t("btn-lang", name=LANGUAGE_NAMES.get(code, code)),
                                  callback_data=LangCb(code=code).pack()) for code in available_languages()],
            [InlineKeyboardButton(text=t("btn-time-zone"), callback_data=TimeZonesCb().pack())]]
    if chat.is_group:
        text += "\n" + team_lines(t, chat, request_minutes)
        rows += keyboards.group_settings(t, members_rent=chat.members_can_rent, limit=chat.member_limit,
                                         week=chat.limit_period == "week", cap=chat.member_cap,
                                         members_top_up=chat.members_top_up, spoiler=chat.code_spoiler,
                                         delete_minutes=chat.code_delete_minutes)
        text += "\n" + (topics_lines or t("settings-topics-on" if chat.topic_per_number else "settings-topics-off"))
        rows += keyboards.topic_setting(t, chat.topic_per_number)
    rows.append([InlineKeyboardButton(text=t("btn-alerts"), callback_data=AlertsCb().pack())])  # /alerts too
    rows.append([InlineKeyboardButton(text=t("home"), callback_data=MenuCb(to=Screen.HOME).pack())])
    return text, InlineKeyboardMarkup(inline_keyboard=rows)


async def settings_screen(t: Texts, bot: Bot, chat: Chat, settings: Settings,
                          number_topics: NumberTopics) -> tuple[str, InlineKeyboardMarkup]:
    """The settings screen as it is now, with what Telegram says about topics in a group that wants them."""
    return settings_view(t, chat, settings.team_request_minutes,
                         await topic_settings_lines(t, bot, chat, number_topics))


def time_zones_view(t: Texts, chat: Chat) -> tuple[str, InlineKeyboardMarkup]:
    """The picker: a zone a row, each its offset now and its city in the chat's language; ✓ marks the chat's.
    ("✓ UTC-08:00 Лос-Анджелес" is too long for half a phone's width: tests/widths.py.)"""
    zones = sorted(filter(valid_zone, {*COMMON_ZONES, chat.time_zone}),
                   key=lambda zone: (zone_offset(zone), zone != "UTC", zone))
    buttons = [InlineKeyboardButton(text=("✓ " if zone == chat.time_zone else "") + zone_label(zone, t.language),
                                    callback_data=TimeZoneCb(zone=zone).pack()) for zone in zones]
    rows = [[button] for button in buttons]
    rows.append([InlineKeyboardButton(text=t("back"), callback_data=MenuCb(to=Screen.SETTINGS).pack())])
    text = t("time-zone-title", zone=zone_label(chat.time_zone, t.language))
    return text, InlineKeyboardMarkup(inline_keyboard=rows)


async def _require_group_admin(bot: Bot, admins: AdminCache, chat: Chat, user_id: int) -> None:
    if chat.is_group and not await admins.is_admin(bot, chat.id, user_id):
        raise NotAllowed()


async def settings_command(message: Message, bot: Bot, chat: Chat, t: Texts, settings: Settings,
                           number_topics: NumberTopics) -> None:
    await show(message, *await settings_screen(t, bot, chat, settings, number_topics))


async def settings_button(callback: CallbackQuery, bot: Bot, chat: Chat, t: Texts, settings: Settings,
                          number_topics: NumberTopics) -> None:
    await show(callback, *await settings_screen(t, bot, chat, settings, number_topics))


async def set_language(callback: CallbackQuery, callback_data: LangCb, bot: Bot, chat: Chat, chats: ChatRepo,
                       admins: AdminCache, settings: Settings, number_topics: NumberTopics) -> None:
    if callback_data.code not in available_languages():
        raise NotAllowed()
    await _require_group_admin(bot, admins, chat, callback.from_user.id)
    await chats.set_language(chat.id, callback_data.code)
    chat = await chats.get(chat.id)
    await show(callback, *await settings_screen(Texts(chat.language, chat.time_zone), bot, chat, settings,
                                                number_topics))


async def time_zone_picker(callback: CallbackQuery, bot: Bot, chat: Chat, t: Texts, admins: AdminCache) -> None:
    await _require_group_admin(bot, admins, chat, callback.from_user.id)  # the same rule as the language
    await show(callback, *time_zones_view(t, chat))


async def set_time_zone(callback: CallbackQuery, callback_data: TimeZoneCb, callback_answer: CallbackAnswer,
                        ctx: Ctx) -> None:
    chat, services = ctx.chat, ctx.services
    if not valid_zone(callback_data.zone):
        raise NotAllowed()
    await _require_group_admin(ctx.bot, services.admins, chat, callback.from_user.id)
    await services.chats.set_time_zone(chat.id, callback_data.zone)
    chat = await services.chats.get(chat.id)
    t = Texts(chat.language, chat.time_zone)  # the new zone's texts, not the update's
    callback_answer.text = t("time-zone-set", zone=zone_label(chat.time_zone, t.language))
    await show(callback, *await settings_screen(t, ctx.bot, chat, services.settings, services.number_topics))


async def set_group_rent(callback: CallbackQuery, callback_data: GroupRentCb, ctx: Ctx) -> None:
    chat, t, services = ctx.chat, ctx.t, ctx.services
    if not chat.is_group:
        raise NotAllowed()
    await _require_group_admin(ctx.bot, services.admins, chat, callback.from_user.id)
    if callback_data.all and callback_data.limit == -1:  # asked first: how much each member may spend
        period = t(PERIOD_KEYS[chat.limit_period])
        await show(callback, t("members-rent-question", balance=format_money(chat.balance), period=period),
                   keyboards.members_rent_question(t, period))
        return
    if callback_data.all:
        if callback_data.limit not in keyboards.OPEN_LIMITS:
            raise NotAllowed()
        await services.chats.set_team(chat.id, members_can_rent=True, member_limit=callback_data.limit)
    else:
        await services.chats.set_members_can_rent(chat.id, False)
    await show(callback, *await settings_screen(t, ctx.bot, await services.chats.get(chat.id), services.settings,
                                                services.number_topics))


TEAM_VALUES = {TeamSetting.LIMIT: keyboards.LIMIT_STEPS, TeamSetting.CAP: keyboards.CAP_STEPS,
               TeamSetting.PERIOD: (0, 1), TeamSetting.TOP_UP: (0, 1), TeamSetting.SPOILER: (0, 1),
               TeamSetting.DELETE: keyboards.DELETE_STEPS, TeamSetting.TOPICS: (0, 1)}


async def set_team(callback: CallbackQuery, callback_data: TeamCb, callback_answer: CallbackAnswer, ctx: Ctx) -> None:
    """A group setting moved on by an admin: only the values the screen offers are taken."""
    chat, t, services = ctx.chat, ctx.t, ctx.services
    if not chat.is_group or callback_data.v not in TEAM_VALUES[callback_data.f]:
        raise NotAllowed()
    await _require_group_admin(ctx.bot, services.admins, chat, callback.from_user.id)
    value = callback_data.v
    field = {TeamSetting.LIMIT: ("member_limit", value), TeamSetting.CAP: ("member_cap", value),
             TeamSetting.PERIOD: ("limit_period", "week" if value else "day"),
             TeamSetting.TOP_UP: ("members_top_up", bool(value)),
             TeamSetting.SPOILER: ("code_spoiler", bool(value)),
             TeamSetting.DELETE: ("code_delete_minutes", value),
             TeamSetting.TOPICS: ("topic_per_number", bool(value))}[callback_data.f]
    await services.chats.set_team(chat.id, **dict([field]))
    text, markup = await settings_screen(t, ctx.bot, await services.chats.get(chat.id), services.settings,
                                         services.number_topics)
    if callback_data.f is TeamSetting.TOPICS and value:  # switched on where it cannot work: said at the tap too
        check = await services.number_topics.check(ctx.bot, chat.id)
        if check in TOPIC_CHECK_KEYS:
            callback_answer.text, callback_answer.show_alert = t(TOPIC_CHECK_KEYS[check]), True
    await show(callback, text, markup)


def setup() -> Router:
    router = Router(name="settings")
    router.message.register(settings_command, Command("settings"))
    router.callback_query.register(settings_button, MenuCb.filter(F.to == Screen.SETTINGS))
    router.callback_query.register(set_language, LangCb.filter())
    router.callback_query.register(set_group_rent, GroupRentCb.filter())
    router.callback_query.register(set_team, TeamCb.filter())
    router.callback_query.register(time_zone_picker, TimeZonesCb.filter())
    router.callback_query.register(set_time_zone, TimeZoneCb.filter())
    return router
