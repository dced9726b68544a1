"""`python -m bot`: long polling with the settings from the environment and `.env`.

`python -m bot restore <backup file>`: put a backup in place of DATABASE_PATH (the bot stopped).

Exit codes: 0 stopped (SIGTERM/SIGINT) or restored, 1 cannot start or restore, 2 bad settings or arguments."""
from __future__ import annotations

import asyncio
import logging
import os
import sys
import threading
import traceback
from pathlib import Path

from pydantic import ValidationError

from bot.settings import ConfigError, Settings, describe, unknown_settings
from providers.http import redact, register_secret
from storage import DatabaseError

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
log = logging.getLogger("bot.settings")  # what main() logs is about the settings


class RedactingFormatter(logging.Formatter):
    """Masks every registered secret in the whole formatted record, traceback included, whichever library
    logged it (aiogram puts `.../bot<TOKEN>/<method>` into some of its error texts)."""

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        if record.exc_text:  # cached on the record: any other handler would reuse it
            record.exc_text = redact(record.exc_text)
        return redact(text)


def _print_redacted_exception(exc_type, exc, tb) -> None:
    sys.stderr.write(redact("".join(traceback.format_exception(exc_type, exc, tb))))


def setup_logging() -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(RedactingFormatter(LOG_FORMAT))
    logging.basicConfig(level=logging.INFO, handlers=[handler], force=True)
    logging.captureWarnings(True)  # warnings go through the redacting handler too
    # httpx logs every request URL at INFO; some providers put keys in URLs.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    # Tracebacks that never reach logging: uncaught in the main thread, in other threads, in __del__.
    sys.excepthook = _print_redacted_exception
    threading.excepthook = lambda args: _print_redacted_exception(args.exc_type, args.exc_value,
                                                                  args.exc_traceback)
    sys.unraisablehook = lambda u: sys.stderr.write(redact(
        f"{u.err_msg or 'Exception ignored in'}: {u.object!r}\n"
        + "".join(traceback.format_exception(u.exc_type, u.exc_value, u.exc_traceback))))


def protect(settings: Settings, token: str) -> None:
    """Register every secret with the one list providers.http masks."""
    for secret in (token, token.partition(":")[2], *settings.secrets()):
        register_secret(secret)


def say(line: str) -> None:
    print(redact(line), file=sys.stderr)


def restore_command(settings: Settings, args: list[str]) -> int:
    """Checks the backup (integrity, the money invariant) and refuses while a bot runs on the database."""
    from storage import backup

    if len(args) != 1:
        say("usage: python -m bot restore <backup file>")
        return 2
    try:
        chats, rows = backup.restore(Path(args[0]), settings.database_path)
    except backup.BackupError as err:
        say(f"error: {err}")
        return 1
    print(f"restored {args[0]} to {settings.database_path}: {chats} chats, {rows} ledger rows; the file it"
          f" replaced is kept as {settings.database_path.name}.before-restore", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    setup_logging()
    for warning in unknown_settings(os.environ, Path(".env")):
        log.warning(warning)
    try:
        settings = Settings()
        token = settings.require_token()
    except ConfigError as err:
        say(f"error: {err}")
        return 2
    except ValidationError as err:
        say(f"error: {describe(err)}")
        return 2
    protect(settings, token)
    if argv[:1] == ["restore"]:
        return restore_command(settings, argv[1:])
    if argv:
        say("usage: python -m bot [restore <backup file>]")
        return 2
    from bot.runner import StartupError, run

    try:
        asyncio.run(run(settings, token))
    except (DatabaseError, StartupError) as err:
        say(f"error: {err}")
        return 1
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
