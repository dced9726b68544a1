"""The code SMS: GetAText's webhook payload, and the key that makes one SMS of a code
whether it came by webhook or by polling rental-status.

A code SMS is keyed ``"{rental_id}:{code without leading zeros}"``: the webhook's
JSON-integer ``code`` has lost them, rental-status's string has not, and both paths must
build one key. ``GetATextClient.webhook_sms`` restores the zeros from rental-status when it
reports the same number, and keeps the integer's digits when that read fails.
"""
from __future__ import annotations

from typing import Any

from ..codes import extract_code
from ..errors import MalformedReplyError
from ..models import Sms
from ..parsing import Reader
from .replies import PROVIDER, _code_text, _json, _when

WEBHOOK_SOURCE_IP = "104.198.170.54"  # the document: webhook requests come from this address


def sms_id(rental_id: str, code: str) -> str:
    """The de-duplication key of a code SMS; the API gives SMS no id of their own.

    Leading zeros of an all-digit code are dropped: the webhook sends ``code`` as a JSON
    integer (012345 arrives as 12345) while rental-status sends the string "012345", and
    both must name the same SMS or the chat gets it twice."""
    key = (code.lstrip("0") or "0") if code.isdigit() else code
    return f"{rental_id}:{key}"


def _code_sms(rental_id: str, code: str, **extra: Any) -> Sms:
    """An SMS that is only a code (GetAText never sends the text): the body is the code."""
    return Sms(provider=PROVIDER, id=sms_id(rental_id, code), rental_id=rental_id, body=code,
               code=extract_code(code, code), **extra)


def parse_webhook(payload: bytes | str | dict) -> Sms:
    """The documented code notification (POSTed from ``WEBHOOK_SOURCE_IP``) as an ``Sms``.

    ``id`` is taken as the rental id (the document calls it "unique identifier for the
    event", but its example equals the rental's). ``code`` is an integer in the
    document, which has already lost any leading zero (``GetATextClient.webhook_sms``
    recovers them); strings are accepted too and kept as sent. ``status`` and ``cost``
    are not needed and not checked.
    """
    r = Reader(_json(payload, "webhook"), provider=PROVIDER, where="webhook")
    rental_id = str(r.int("id"))
    text = _code_text(r.raw("code"))
    if text is None:
        raise MalformedReplyError("webhook.code: expected a code", provider=PROVIDER)
    return _code_sms(rental_id, text, received_at=_when(r, "received_at"), phone=r.str("number", None),
                     service_name=r.str("service_name", None))
