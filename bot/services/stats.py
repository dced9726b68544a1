"""Figures for the operator panel."""
from __future__ import annotations

from datetime import timedelta

from storage import Database
from storage.models import utcnow
from storage.stats import Stats, StatsRepo

__all__ = ["Stats", "collect"]


async def collect(db: Database, days: int) -> Stats:
    since = (utcnow() - timedelta(days=days)).strftime("%Y-%m-%d %H:%M:%S")
    return await StatsRepo(db).totals(since)
