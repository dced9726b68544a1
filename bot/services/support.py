"""Where a user gets help from a person (SUPPORT_CONTACT) and the operator's terms (TERMS_DIR)."""
from __future__ import annotations

import logging
import re
from pathlib import Path

log = logging.getLogger(__name__)

USERNAME = re.compile(r"@([A-Za-z][A-Za-z0-9_]{3,31})")
TERMS_MAX = 3900  # one Telegram message (4096), with room for a title


def support_url(contact: str) -> str | None:
    """A link a button can open: @username -> its t.me page; an https:// link as it is; an e-mail has none
    (Telegram buttons open http(s) and tg links only; the address is still shown as text)."""
    contact = contact.strip()
    if match := USERNAME.fullmatch(contact):
        return f"https://t.me/{match.group(1)}"
    if contact.startswith("https://"):
        return contact
    return None


def read_terms(folder: str | Path, language: str) -> str | None:
    """The operator's terms in this language (``<folder>/<language>.html``), else the English ones; None when
    neither file is there. Read at each request: the operator edits the file without a restart."""
    for name in dict.fromkeys((language, "en")):
        path = Path(folder) / f"{name}.html"
        try:
            text = path.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            continue
        except OSError as err:
            log.warning("terms file %s unreadable: %s", path, err)
            continue
        if text:
            return text[:TERMS_MAX]
    return None
