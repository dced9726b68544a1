"""SMS providers behind one interface. Nothing here imports aiogram."""
from .base import Provider
from .errors import ProviderError
from .models import BillingType, Capability, Choice, Offer, Rental, RentalStatus, RentChoice, Service, SetRent, Sms

__all__ = [
    "BillingType",
    "Capability",
    "Choice",
    "Offer",
    "Provider",
    "ProviderError",
    "Rental",
    "RentalStatus",
    "RentChoice",
    "Service",
    "SetRent",
    "Sms",
]
