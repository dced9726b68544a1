"""A local Telegram Bot API server for the playground and the tests: ``TelegramEmulator`` (see ``core``).

``python -m playground.emulator --port 8081`` runs it on its own.
"""
from .core import DEFAULT_TOKEN, TelegramEmulator
from .models import ApiError, EmuChat, EmulatorError, EmuUser

__all__ = ["DEFAULT_TOKEN", "ApiError", "EmuChat", "EmuUser", "EmulatorError", "TelegramEmulator"]
