"""In-process Telegram Bot API emulator for the playground and the tests.

    async with TelegramEmulator() as emu:
        bot = Bot(emu.token, session=AiohttpSession(api=TelegramAPIServer.from_base(emu.base_url)))
        emu.add_user(111, "Alice")
        emu.send_message(111, 111, "/start")
        reply = await emu.wait_for(chat_id=111, text="Welcome")

Standalone: ``python -m playground.emulator --port 8081`` prints the base URL and the token.

Bot API: ``{base}/bot{token}/{method}`` (JSON, urlencoded or multipart bodies, query strings). Errors use
Telegram's status codes and descriptions. Control API: the public Python methods, mirrored as JSON endpoints
under ``/_control/``. Everything runs on one asyncio loop; state is plain dicts/dataclasses.

``TelegramEmulator`` is composed of one mixin per area of Telegram it models, each owning its part of the state:

* ``server`` — the HTTP server, the call log and injected faults, the updates queue (getUpdates);
* ``webhook`` — setWebhook and the delivery of updates by POST with the secret header;
* ``bot_profile`` — getMe, commands, descriptions;
* ``messages`` — send, edit, delete, reply markup, callback answers, flood limits;
* ``chats`` — users, private chats, groups and membership, getChat and getChatMember;
* ``topics`` — forums, their topics (create, edit, close, reopen, delete), messages sent into one;
* ``payments`` — invoices, pre-checkout, successful payments, Stars refunds;
* ``control`` — what a test does and reads (send_message, press_button, wait_for, ...) and ``/_control/``;

on ``formatting`` (parse modes into text + entities) and ``models`` (users, chats, errors).
"""
from __future__ import annotations

import itertools
import time
from collections.abc import Callable

from .bot_profile import BotProfileMixin
from .chats import ChatsMixin
from .control import ControlMixin
from .messages import MessagesMixin
from .payments import PaymentsMixin
from .server import ServerMixin
from .topics import TopicsMixin
from .webhook import WebhookMixin

DEFAULT_TOKEN = "7000000001:EMULATOR-test-token-for-rentsms-bot-000"


# PaymentsMixin and WebhookMixin before ServerMixin: their stop() releases waiting payments and ends the webhook's
# deliveries, then the server's stop() runs.
class TelegramEmulator(ControlMixin, PaymentsMixin, TopicsMixin, ChatsMixin, MessagesMixin, BotProfileMixin,
                       WebhookMixin, ServerMixin):
    def __init__(self, token: str = DEFAULT_TOKEN, *, bot_username: str = "rentsms_test_bot",
                 bot_first_name: str = "RentSMS Test Bot", host: str = "127.0.0.1", port: int = 0,
                 flood_limits: bool = False, privacy_mode: bool = True,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.token, self.host, self.port = token, host, port
        self.bot_user = {"id": int(token.split(":", 1)[0]), "is_bot": True, "first_name": bot_first_name,
                         "username": bot_username}
        self.flood_limits, self.privacy_mode, self._clock = flood_limits, privacy_mode, clock
        self._ids = itertools.count(4_000_000_000_000_000_001)  # callback and pre-checkout query ids
        self._init_server()
        self._init_webhook()
        self._init_bot_profile()
        self._init_messages()
        self._init_chats()
        self._init_payments()
        self._init_topics()
        self._api = {name[5:]: getattr(self, name) for name in dir(self) if name.startswith("_api_")}
        self._api.update(self._acknowledged_api())
