"""`python -m bot`: long polling with the settings from the environment and `.env`."""
from __future__ import annotations

import asyncio
import logging
import sys

from pydantic import ValidationError

from .settings import ConfigError, Settings


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # httpx logs every request URL at INFO; some providers put keys in URLs.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    try:
        settings = Settings()
        token = settings.require_token()
    except ConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except ValidationError as err:
        first = err.errors()[0]
        name = str(first["loc"][0]).upper() if first["loc"] else "a setting"
        print(f"error: {name} is invalid ({first['msg']}); fix it in .env or the environment.", file=sys.stderr)
        return 2
    from .runner import run

    try:
        asyncio.run(run(settings, token))
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
