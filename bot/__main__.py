"""`python -m bot`: long polling with the settings from the environment and `.env`."""
from __future__ import annotations

import asyncio
import logging
import os
import sys
from pathlib import Path

from pydantic import ValidationError

from .settings import ConfigError, Settings, describe, unknown_settings

log = logging.getLogger("bot.settings")  # what main() logs is about the settings


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # httpx logs every request URL at INFO; some providers put keys in URLs.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    for warning in unknown_settings(os.environ, Path(".env")):
        log.warning(warning)
    try:
        settings = Settings()
        token = settings.require_token()
    except ConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except ValidationError as err:
        print(f"error: {describe(err)}", file=sys.stderr)
        return 2
    from .runner import run

    try:
        asyncio.run(run(settings, token))
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
