"""`python -m bot`: long polling with the settings from the environment and `.env`.

Exit codes: 0 stopped (SIGTERM/SIGINT), 1 cannot start (database, refused token), 2 bad settings."""
from __future__ import annotations

import asyncio
import logging
import os
import sys
import threading
import traceback
from pathlib import Path

from pydantic import ValidationError

from providers.http import redact, register_secret
from storage import DatabaseError

from .settings import ConfigError, Settings, describe, unknown_settings

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


def main() -> int:
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
    from .runner import StartupError, run

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
