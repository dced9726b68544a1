"""GetAText (https://getatext.com) client.

Follows getatext-docs.seed.txt; each decision where the document is silent or ambiguous
is stated in the module it governs:

* ``replies``: typed replies (rentals, prices, long rentals, auctions, ...) and the readers
  of the API's fields (statuses, timestamps, codes, ids, amounts).
* ``classify``: GetAText's refusals mapped onto the error tree (``CancelTooSoonError``).
* ``webhook``: the code webhook's payload, and the one key of a code SMS (``sms_id``).
* ``core``: what every call shares: HTTP session, key, pacing, the 2xx-but-failed check.
* ``activations``, ``multi_service``, ``long_rentals``, ``auctions``, ``handler_api``: the
  documented calls of each area, as mixins of ``core.ClientCore``.
* ``client``: ``GetATextClient``, those mixins behind the ``Provider`` interface.

Everything importable from ``providers.getatext`` before the split still is, from here.
"""
from .classify import CancelTooSoonError, classify_message

# The other module-level names of the single-file client, kept importable from here (a
# test that monkeypatches WEBHOOK_STATUS_SECONDS patches providers.getatext.client, where
# it is read).
from .classify import _classify as _classify
from .classify import _error_text as _error_text
from .client import WEBHOOK_STATUS_SECONDS as WEBHOOK_STATUS_SECONDS
from .client import GetATextClient
from .handler_api import HANDLER_STATUSES as HANDLER_STATUSES
from .long_rentals import LONG_RENTAL_ACTIONS as LONG_RENTAL_ACTIONS
from .long_rentals import RENTAL_TIMES as RENTAL_TIMES
from .replies import (
    _STATUSES as _STATUSES,
)
from .replies import (
    CANCEL_WAIT_SECONDS,
    Auction,
    BidResult,
    HandlerCode,
    LongRental,
    LongRentalMessage,
    MultiRentResult,
    PriceInfo,
    RentalReply,
    cancel_available_at,
)
from .replies import (
    PROVIDER as PROVIDER,
)
from .replies import (
    SERVER_TZ as SERVER_TZ,
)
from .replies import (
    _code_text as _code_text,
)
from .replies import (
    _int_id as _int_id,
)
from .replies import (
    _json as _json,
)
from .replies import (
    _money as _money,
)
from .replies import (
    _status as _status,
)
from .replies import (
    _when as _when,
)
from .webhook import WEBHOOK_SOURCE_IP, parse_webhook, sms_id
from .webhook import _code_sms as _code_sms

__all__ = [
    "CANCEL_WAIT_SECONDS", "WEBHOOK_SOURCE_IP", "Auction", "BidResult", "CancelTooSoonError", "GetATextClient",
    "HandlerCode", "LongRental", "LongRentalMessage", "MultiRentResult", "PriceInfo", "RentalReply",
    "cancel_available_at", "classify_message", "parse_webhook", "sms_id",
]
