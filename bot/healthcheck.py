"""`python -m bot.healthcheck`: asks the running bot's /healthz on HTTP_PORT; exit 0 healthy, 1 not.

For Docker's HEALTHCHECK (the slim image has no curl). Reads only HTTP_PORT from the settings, so it works
without the rest of them; it prints the bot's reason on one line."""
from __future__ import annotations

import json
import os
import sys
import urllib.error
import urllib.request

from pydantic import ValidationError

TIMEOUT = 5.0


def port() -> int:
    from bot.settings import Settings

    try:
        return Settings().http_port
    except ValidationError:  # the bot itself says what is wrong; here only the port matters
        return int(os.environ.get("HTTP_PORT") or os.environ.get("WEBHOOK_PORT") or 0)


def check(http_port: int, timeout: float = TIMEOUT) -> tuple[bool, str]:
    if not http_port:
        return False, "HTTP_PORT is 0: the bot serves no /healthz"
    url = f"http://127.0.0.1:{http_port}/healthz"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as reply:  # noqa: S310 - our own loopback address
            body = reply.read()
    except urllib.error.HTTPError as err:  # 503: the body says why
        body = err.read()
    except (OSError, ValueError) as err:
        return False, f"no answer on port {http_port} ({getattr(err, 'reason', err)})"
    try:
        answer = json.loads(body)
        return bool(answer["ok"]), str(answer["reason"])
    except (ValueError, KeyError, TypeError):
        return False, f"port {http_port} answered, but not as the bot's /healthz"


def main() -> int:
    ok, reason = check(port())
    print(("healthy: " if ok else "unhealthy: ") + reason)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
