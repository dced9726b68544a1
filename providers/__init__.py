"""SMS providers behind one interface. Nothing here imports aiogram."""
from .base import Provider
from .errors import ProviderError
from .models import BillingType, Capability, Offer, Rental, RentalStatus, Service, Sms

__all__ = [
    "BillingType",
    "Capability",
    "Offer",
    "Provider",
    "ProviderError",
    "Rental",
    "RentalStatus",
    "Service",
    "Sms",
]
