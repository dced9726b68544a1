"""Start-up and shutdown of the running bot."""
from __future__ import annotations

import logging

from aiogram.exceptions import TelegramUnauthorizedError

from .app import App, build_bot, build_dispatcher, register_commands
from .background import Background
from .settings import Settings

log = logging.getLogger(__name__)


async def run(settings: Settings, token: str) -> None:
    app = await App.open(settings)
    bot = build_bot(token, settings)
    try:
        if not app.providers:
            log.warning("no provider key set (GOTSMS_API_KEY, GETATEXT_API_KEY): nothing can be rented")
        log.info("providers enabled: %s", ", ".join(app.providers) or "none")
        dp = build_dispatcher(app)
        background = Background(app, bot)
        dp.startup.register(background.start)
        dp.shutdown.register(background.stop)
        try:
            await register_commands(bot)
        except TelegramUnauthorizedError:
            log.error("Telegram refused BOT_TOKEN: check it with @BotFather")
            return
        await dp.start_polling(bot, handle_signals=True)
    finally:
        await bot.session.close()
        await app.close()
