"""GotSMS (https://app.gotsms.org) client.

Follows gotsms-openapi.seed.txt; each decision where the document is silent or ambiguous
is stated in the module it governs:

* ``replies``: typed replies (services, plans, rents, SMS, pricelist, number state) and
  their readers.
* ``classify``: GotSMS's error wording mapped onto the error tree.
* ``core``: what every call shares: HTTP session, the ``success: false`` check, paging.
* ``api``: the document's operations, one ``api_*`` method each.
* ``client``: ``GotSmsClient``, the ``Provider`` interface built on ``api``.

Everything importable from ``providers.gotsms`` before the split still is, from here.
"""
from .api import DURATION_TYPES, RENT_FILTER_STATUSES

# The underscore names of the single-file client, kept importable from here.
from .api import _choice as _choice
from .api import _path_id as _path_id
from .api import _size as _size
from .classify import _NO_FUNDS as _NO_FUNDS
from .classify import _NO_STOCK as _NO_STOCK
from .classify import _classify as _classify
from .classify import classify_message
from .client import HISTORY_PAGES, GotSmsClient
from .core import MAX_PAGES, PAGE_SIZE
from .replies import _BILLING_TYPES as _BILLING_TYPES
from .replies import _RENT_STATUSES as _RENT_STATUSES
from .replies import PROVIDER, MessagePage, PricelistEntry, RentUpdate
from .replies import _enum as _enum

__all__ = [
    "DURATION_TYPES", "HISTORY_PAGES", "MAX_PAGES", "PAGE_SIZE", "PROVIDER", "RENT_FILTER_STATUSES",
    "GotSmsClient", "MessagePage", "PricelistEntry", "RentUpdate", "classify_message",
]
