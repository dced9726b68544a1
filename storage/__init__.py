"""SQLite storage. Nothing here imports aiogram."""
from .catalogue import CatalogueCache, SnapshotRepo
from .chats import ChatRepo
from .choices import CountryChoiceRepo, PromptRepo
from .db import Database, DatabaseError, DatabaseTooNewError
from .favourites import FavouriteRepo
from .ledger import InsufficientBalanceError, LedgerRepo
from .models import Chat, LedgerEntry, RentalRecord, StoredSms
from .rentals import RentalRepo
from .sms import JobState, SmsRepo
from .switches import PlanSwitch, PlanSwitchRepo

__all__ = [
    "CatalogueCache", "Chat", "ChatRepo", "CountryChoiceRepo", "JobState", "Database", "DatabaseError",
    "DatabaseTooNewError", "FavouriteRepo", "InsufficientBalanceError", "LedgerEntry", "LedgerRepo", "PlanSwitch",
    "PlanSwitchRepo", "PromptRepo", "RentalRecord", "RentalRepo", "SmsRepo", "SnapshotRepo", "StoredSms",
]
