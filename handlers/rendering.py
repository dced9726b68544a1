"""The renderer the push path and the jobs are given (bot.rendering.Renderer): views and texts of this package."""
from __future__ import annotations

from datetime import datetime

from aiogram.types import InlineKeyboardMarkup

from providers import Capability
from storage import RentalRecord, StoredSms

from . import views
from .i18n import Texts


class ChatRenderer:
    def code_message(self, language: str, sms: StoredSms, rental: RentalRecord, actions: set[Capability], *,
                     is_group: bool) -> tuple[str, InlineKeyboardMarkup]:
        return views.code_message(Texts(language), sms, rental, actions, is_group=is_group)

    def notice(self, language: str, key: str, **params) -> str:
        return Texts(language)(key, **params)

    def time_left(self, language: str, until: datetime, now: datetime) -> str:
        return views.time_left(Texts(language), until, now)
