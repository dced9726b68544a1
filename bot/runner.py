"""Start-up and shutdown of the running bot.

Order: the database opens, the Bot API is reached (retried while unreachable), the command menu is set in the
background, then the updates come in one of two ways:
- long polling (the default): a webhook left on the token is removed, then aiogram polls;
- webhook mode (PUBLIC_URL set): the background and the HTTP server start, then setWebhook points Telegram at
  PUBLIC_URL/telegram with a secret_token that every update must carry.
Until the updates flow, SIGTERM/SIGINT end the start-up at once and cleanly; after, they stop the updates and
let Background.stop finish what runs (bot/shutdown.py)."""
from __future__ import annotations

import asyncio
import logging
import secrets
import signal
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager, suppress
from urllib.parse import urlsplit

from aiogram import Bot
from aiogram.exceptions import (
    ClientDecodeError,
    TelegramAPIError,
    TelegramBadRequest,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramUnauthorizedError,
)

from bot.app import App, build_bot, build_dispatcher, register_commands
from bot.background import Background
from bot.settings import Settings
from bot.web.inbound import TELEGRAM_PATH, TelegramUpdates
from storage.backup import ProcessLock

log = logging.getLogger(__name__)

FIRST_DELAY, MAX_DELAY = 1.0, 60.0  # seconds between attempts: doubling, capped


class StartupError(Exception):
    """The bot cannot start and waiting will not help; the message is one line for the operator."""


async def run(settings: Settings, token: str) -> None:
    with signals_cancel_start_up() as received:
        try:
            await _run(settings, token)
        except asyncio.CancelledError:
            if not received:
                raise
            asyncio.current_task().uncancel()
            log.info("stopped by %s before the updates started", received[0].name)


async def _run(settings: Settings, token: str) -> None:
    app = await App.open(settings)
    lock = ProcessLock(settings.database_path)  # held while running: a restore refuses to swap the file under us
    if not lock.acquire():
        await app.close()
        raise StartupError(f"{settings.database_path} is in use by another bot process: stop that one first")
    bot = build_bot(token, settings, screens=app.screens, metrics=app.metrics)
    menu: asyncio.Task | None = None
    try:
        _log_configuration(app)
        dp = build_dispatcher(app)
        if settings.telegram_webhook:
            await until_reached(settings.telegram_api_url, bot.me)
            menu = asyncio.create_task(keep_command_menu(bot), name="command-menu")
            await serve_webhook(app, bot, dp)
        else:
            await until_reached(settings.telegram_api_url,
                                lambda: prepare_polling(bot, settings.drop_pending_updates))
            menu = asyncio.create_task(keep_command_menu(bot), name="command-menu")
            background = Background(app, bot)
            dp.startup.register(background.start)
            dp.shutdown.register(background.stop)
            await dp.start_polling(bot, handle_signals=True)
    finally:
        try:
            if menu is not None:
                menu.cancel()
                with suppress(asyncio.CancelledError):
                    await menu
            await bot.session.close()
        finally:
            await app.close()  # always: an open database's worker thread keeps the process alive
            lock.release()


async def serve_webhook(app: App, bot: Bot, dp) -> None:
    """Webhook mode: the HTTP server listens before Telegram is told where to post (it starts at once), and
    a SIGTERM stops it the way polling stops: updates first, then what runs (Background.stop)."""
    settings = app.settings
    secret = settings.telegram_webhook_secret.get_secret_value() or secrets.token_urlsafe(32)
    telegram = TelegramUpdates(dp, bot, secret)
    background = Background(app, bot, telegram=telegram)
    # The same workflow data polling gives the dispatcher's startup and shutdown observers.
    workflow = {"dispatcher": dp, "bots": [bot], **dp.workflow_data}
    try:  # a signal during any step below still stops what was started
        await dp.emit_startup(bot=bot, **workflow)
        await background.start()
        url = settings.public_url + TELEGRAM_PATH
        await until_reached(settings.telegram_api_url, lambda: set_webhook(
            bot, url, secret, settings.drop_pending_updates, dp.resolve_used_update_types()))
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        with suppress(NotImplementedError):
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, _stop_on, stop, sig)
        await stop.wait()
    finally:
        try:
            await background.stop()
        finally:
            await dp.emit_shutdown(bot=bot, **workflow)


def _stop_on(stop: asyncio.Event, sig: signal.Signals) -> None:
    if not stop.is_set():
        log.warning("received %s: stopping (updates first, then what runs)", sig.name)
    stop.set()


async def set_webhook(bot: Bot, url: str, secret: str, drop_pending: bool, allowed: list[str]) -> None:
    """Point Telegram at our server. A refusal (not https, a port Telegram does not post to, an address it
    cannot resolve) ends the start with Telegram's reason: waiting would not change it."""
    try:
        await bot.set_webhook(url, secret_token=secret, drop_pending_updates=drop_pending, allowed_updates=allowed)
    except TelegramBadRequest as err:
        raise StartupError(f"Telegram refused the webhook {_site(url)} ({reason(err)}): check PUBLIC_URL") from None
    info = await bot.get_webhook_info()
    log.info("webhook mode: Telegram posts updates to %s%s", _site(url),
             f"; {info.pending_update_count} pending update(s) follow" if info.pending_update_count else "")


def _log_configuration(app: App) -> None:
    settings = app.settings
    if not app.providers:
        log.warning("no provider key set (GOTSMS_API_KEY, GETATEXT_API_KEY): nothing can be rented")
    log.info("providers enabled: %s", ", ".join(app.providers) or "none")
    if not settings.support_contact.strip():
        log.warning("SUPPORT_CONTACT is not set: users reach you only through the bot (Support → a message to the"
                    " operators in ADMIN_IDS, answered with /reply)%s", "" if settings.admin_ids else
                    "; ADMIN_IDS is empty too, so nobody receives them")
    if settings.getatext_webhook and "getatext" not in app.providers:
        log.warning("GETATEXT_WEBHOOK_SECRET is set but GETATEXT_API_KEY is not: the GetAText webhook stays off")
    if app.crypto.enabled:
        log.info("crypto top-ups on: %s, polled every %g s%s", ", ".join(settings.cryptopay_assets),
                 settings.cryptopay_poll_interval, "" if settings.cryptopay_webhook else
                 "; no webhook without HTTP_PORT (set it to be told of payments at once)")


@contextmanager
def signals_cancel_start_up() -> Iterator[list[signal.Signals]]:
    """SIGTERM/SIGINT cancel the start-up (a supervisor stopping a bot that waits for Telegram must not wait).
    aiogram's polling installs its own handlers over these."""
    loop, task = asyncio.get_running_loop(), asyncio.current_task()
    received: list[signal.Signals] = []

    def cancel(sig: signal.Signals) -> None:
        if not received:  # once: a second signal must not interrupt the clean-up
            task.cancel()
        received.append(sig)

    with suppress(NotImplementedError):  # Windows: no loop signal handlers, Ctrl-C still interrupts
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, cancel, sig)
    try:
        yield received
    finally:
        with suppress(NotImplementedError):
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(sig)


def delays(first: float = FIRST_DELAY, cap: float = MAX_DELAY) -> Iterator[float]:
    delay = first
    while True:
        yield delay
        delay = min(delay * 2, cap)


def reason(err: Exception) -> str:
    """One short line: aiogram's texts may span lines (a proxy's HTML page) and carry its label."""
    if isinstance(err, TelegramNetworkError):
        text = err.message
    elif isinstance(err, TelegramAPIError):
        text = f"the server answered: {err.message}"
    elif isinstance(err, ClientDecodeError):
        text = f"the answer is not from a Bot API server ({err.message})"
    else:
        text = f"{type(err).__name__}: {err}"
    text = " ".join(text.split())
    return text if len(text) <= 300 else text[:297] + "..."


async def until_reached(api_url: str, step: Callable[[], Awaitable[None]]) -> None:
    """Run ``step`` until the Bot API answers it: while unreachable (network, 5xx, a proxy's error page), one
    line per attempt and a capped, doubling wait. A refused token ends the start: waiting will not fix it."""
    for attempt, delay in enumerate(delays(), start=1):
        try:
            await step()
        except TelegramUnauthorizedError:
            raise StartupError("Telegram refused BOT_TOKEN (401 Unauthorized): check it with @BotFather") from None
        except (TelegramAPIError, ClientDecodeError) as err:
            if isinstance(err, TelegramRetryAfter):
                delay = max(delay, float(err.retry_after))
            log.warning("cannot reach the Bot API at %s: %s; retrying in %g s", api_url, reason(err), delay)
        else:
            if attempt > 1:
                log.info("reached the Bot API at %s after %d attempts", api_url, attempt)
            return
        await asyncio.sleep(delay)


async def prepare_polling(bot: Bot, drop_pending: bool) -> None:
    """getMe (the token is checked, aiogram caches the answer), then remove any webhook: while one is set,
    Telegram answers getUpdates with 409 Conflict and polling would hear nothing."""
    await bot.me()
    info = await bot.get_webhook_info()
    if info.url:
        await bot.delete_webhook(drop_pending_updates=drop_pending)
        log.warning("removed the webhook set on this token (%s) to poll instead; %d pending update(s) %s",
                    _site(info.url), info.pending_update_count,
                    "dropped (DROP_PENDING_UPDATES)" if drop_pending else "kept")
    elif drop_pending and info.pending_update_count:
        await bot.delete_webhook(drop_pending_updates=True)
        log.info("%d pending update(s) dropped (DROP_PENDING_UPDATES)", info.pending_update_count)


def _site(url: str) -> str:
    """Scheme and host only: a webhook path often carries a secret."""
    try:
        parts = urlsplit(url)
        return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}/..."
    except ValueError:
        return "unreadable URL"


async def keep_command_menu(bot: Bot) -> None:
    """The command menu is cosmetic: a failure is one line and a later try, never the end of the bot."""
    for attempt, delay in enumerate(delays(), start=1):
        try:
            await register_commands(bot)
        except TelegramBadRequest as err:  # our own menu refused: trying again would not help
            log.error("Telegram refused the command menu (%s); it stays as it was", reason(err))
            return
        except (TelegramAPIError, ClientDecodeError) as err:
            if isinstance(err, TelegramRetryAfter):
                delay = max(delay, float(err.retry_after))
            log.warning("could not set the command menu: %s; retrying in %g s", reason(err), delay)
        except Exception:
            log.exception("setting the command menu failed; it stays as it was")
            return
        else:
            if attempt > 1:
                log.info("command menu set after %d attempts", attempt)
            return
        await asyncio.sleep(delay)
