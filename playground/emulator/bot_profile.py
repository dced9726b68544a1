"""What the bot says about itself: getMe, its command lists (per scope and language: set/get/deleteMyCommands)
and descriptions, and the calls that are only acknowledged (setMyName, setChatMenuButton, close, ...): they are
remembered in ``bot_settings`` and answer True.
"""
from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable

from .models import ApiError

NOOP_METHODS = ("setMyDescription", "setMyShortDescription", "setChatMenuButton", "setMyName",
                "setMyDefaultAdministratorRights", "close", "logOut")


class BotProfileMixin:
    def _init_bot_profile(self) -> None:
        self.bot_settings: dict[str, dict] = {}     # setMyDescription & co: lower-case method -> params
        self._commands: dict[tuple[str, str], list[dict]] = {}

    def _acknowledged_api(self) -> dict[str, Callable[[dict], bool]]:
        """Bot API handlers of NOOP_METHODS: accepted, remembered in bot_settings, answer True."""
        return {name.lower(): lambda p, name=name: self.bot_settings.__setitem__(name.lower(), p) or True
                for name in NOOP_METHODS}

    def _api_getme(self, p: dict) -> dict:
        return {**self.bot_user, "can_join_groups": True, "can_read_all_group_messages": not self.privacy_mode,
                "supports_inline_queries": False, "can_connect_to_business": False, "has_main_web_app": False}

    @staticmethod
    def _scope_key(p: dict) -> tuple[str, str]:
        scope = p.get("scope") if isinstance(p.get("scope"), dict) else {"type": "default"}
        return json.dumps(scope, sort_keys=True), str(p.get("language_code") or "")

    def _api_setmycommands(self, p: dict) -> bool:
        commands = p.get("commands")
        if not isinstance(commands, list):
            raise ApiError(400, "Bad Request: commands is empty")
        for c in commands:
            if not re.fullmatch(r"[a-z0-9_]{1,32}", str(c.get("command", ""))):
                raise ApiError(400, "Bad Request: BOT_COMMAND_INVALID")
            if not 1 <= len(str(c.get("description", ""))) <= 256:
                raise ApiError(400, "Bad Request: BOT_COMMAND_DESCRIPTION_INVALID")
        self._commands[self._scope_key(p)] = [{"command": c["command"], "description": c["description"]}
                                              for c in commands]
        return True

    def _api_getmycommands(self, p: dict) -> list[dict]:
        return copy.deepcopy(self._commands.get(self._scope_key(p), []))

    def _api_deletemycommands(self, p: dict) -> bool:
        self._commands.pop(self._scope_key(p), None)
        return True

    @property
    def commands(self) -> list[dict]:
        """Commands set for the default scope and no language."""
        return self.commands_for()

    def commands_for(self, scope: dict | None = None, language_code: str = "") -> list[dict]:
        return self._api_getmycommands({"scope": scope, "language_code": language_code})

    def _api_getmydescription(self, p: dict) -> dict:
        return {"description": self.bot_settings.get("setmydescription", {}).get("description", "")}

    def _api_getmyshortdescription(self, p: dict) -> dict:
        return {"short_description": self.bot_settings.get("setmyshortdescription", {}).get("short_description", "")}
