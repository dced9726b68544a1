"""What the operator's commands ask of the bot's records: the panel's figures, the CSV reports, and the markup
they set (kept across restarts). The handlers get this desk, never the database."""
from __future__ import annotations

from decimal import Decimal

from storage import Database, JobState

from . import exports, stats
from .catalogue import Catalogue

MARKUP_KEY = "markup_percent"


class OperatorDesk:
    def __init__(self, db: Database, catalogue: Catalogue) -> None:
        self.db = db
        self.catalogue = catalogue
        self.job_state = JobState(db)

    async def figures(self, days: int) -> stats.Stats:
        return await stats.collect(self.db, days)

    async def ledger_csv(self, chat_id: int) -> tuple[str, int]:
        return await exports.ledger_csv(self.db, chat_id)

    async def revenue_csv(self, days: int) -> tuple[str, int]:
        return await exports.revenue_csv(self.db, days)

    async def set_markup(self, markup: Decimal) -> None:
        """Prices follow at once; the markup outlives restarts (read back by ``restore_markup``)."""
        self.catalogue.markup_percent = markup
        await self.job_state.set(MARKUP_KEY, str(markup))

    async def restore_markup(self) -> None:
        if (markup := await self.job_state.get(MARKUP_KEY)) is not None:
            self.catalogue.markup_percent = Decimal(markup)
