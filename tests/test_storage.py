"""Storage: migrations, pragmas, the ledger's rules."""
from __future__ import annotations

import sqlite3

import pytest

from storage import Database, DatabaseTooNewError, InsufficientBalanceError, LedgerRepo, ledger
from storage.migrations import MIGRATIONS


@pytest.fixture
async def db(tmp_path):
    database = Database(tmp_path / "t.sqlite3")
    await database.connect()
    yield database
    await database.close()


async def test_migrations_recorded_and_pragmas_on(db):
    assert await db.schema_version() == len(MIGRATIONS)
    rows = await db.fetchall("SELECT version, description FROM schema_version ORDER BY version")
    assert [r["version"] for r in rows] == list(range(1, len(MIGRATIONS) + 1))
    assert (await db.fetchone("PRAGMA journal_mode"))[0] == "wal"
    assert (await db.fetchone("PRAGMA foreign_keys"))[0] == 1
    assert (await db.fetchone("PRAGMA busy_timeout"))[0] == 5000


async def test_reopening_applies_nothing_twice(tmp_path):
    path = tmp_path / "t.sqlite3"
    for _ in range(2):
        database = Database(path)
        await database.connect()
        assert await database.schema_version() == len(MIGRATIONS)
        await database.close()


async def test_refuses_a_database_newer_than_the_code(tmp_path):
    path = tmp_path / "t.sqlite3"
    database = Database(path)
    await database.connect()
    async with database.transaction() as conn:
        await conn.execute("INSERT INTO schema_version (version, description) VALUES (999, 'from the future')")
    await database.close()
    newer = Database(path)
    with pytest.raises(DatabaseTooNewError, match="999"):
        await newer.connect()
    await newer.close()


async def test_failed_transaction_leaves_nothing(db):
    with pytest.raises(RuntimeError):
        async with db.transaction() as conn:
            await conn.execute("INSERT INTO chats (id, kind) VALUES (1, 'private')")
            raise RuntimeError("crash mid-way")
    assert await db.fetchone("SELECT * FROM chats") is None


async def test_ledger_never_negative_and_idempotent(db):
    async with db.transaction() as conn:
        await conn.execute("INSERT INTO chats (id, kind) VALUES (1, 'private')")
        await ledger.post(conn, 1, 500, "topup", "t", idempotency_key="pay-1")
        assert await ledger.post(conn, 1, 500, "topup", "t", idempotency_key="pay-1") is None
    with pytest.raises(InsufficientBalanceError) as err:
        async with db.transaction() as conn:
            await ledger.post(conn, 1, -501, "charge", "r")
    assert err.value.missing == 1
    with pytest.raises(ValueError):
        async with db.transaction() as conn:
            await ledger.post(conn, 1, 0, "charge", "r")
    with pytest.raises(sqlite3.IntegrityError):  # the CHECK constraint backs the code up
        async with db.transaction() as conn:
            await conn.execute("UPDATE chats SET balance = -1 WHERE id = 1")
    assert (await db.fetchone("SELECT balance FROM chats WHERE id = 1"))[0] == 500
    assert await LedgerRepo(db).totals_mismatch() == []


async def test_chat_id_migration_cascades(db):
    from storage import ChatRepo

    chats = ChatRepo(db)
    await chats.ensure(-5, "group", "G")
    async with db.transaction() as conn:
        await ledger.post(conn, -5, 300, "topup", "t")
    await chats.migrate(-5, -1005)
    assert await chats.get(-5) is None
    assert (await chats.get(-1005)).balance == 300
    assert (await db.fetchone("SELECT chat_id FROM ledger"))[0] == -1005


async def test_the_fallback_chain_on_for_a_whole_chat_stays_on_for_the_services_it_was_used_for(tmp_path, monkeypatch):
    """Issue 29: "if no code, try the next plan" is now on per service. A chat that had it on for every service
    keeps it on for those it started a chain for, and its budget, wait and countries."""
    from storage import db as storage_db
    from storage.fallback_chain import ChainRepo

    per_service = next(i for i, (what, _) in enumerate(MIGRATIONS) if "switched on per service" in what)
    path = tmp_path / "t.sqlite3"
    monkeypatch.setattr(storage_db, "MIGRATIONS", MIGRATIONS[:per_service])
    old = Database(path)
    await old.connect()
    async with old.transaction() as conn:
        await conn.execute("INSERT INTO chats (id, kind) VALUES (1, 'private'), (2, 'private')")
        await conn.execute("INSERT INTO fallback_prefs (chat_id, enabled, budget_percent, window_minutes,"
                           " other_countries) VALUES (1, 1, 300, 5, 1), (2, 0, 200, 0, 0)")
        for chat_id, key in ((1, "telegram"), (2, "whatsapp")):
            await conn.execute(
                "INSERT INTO fallback_chains (chat_id, user_id, service_key, service_name, first_offer, budget,"
                " request_key, created_at, updated_at) VALUES (?, 1, ?, ?, '{}', 100, ?, '', '')",
                (chat_id, key, key.title(), f"k{chat_id}"))
    await old.close()
    monkeypatch.undo()

    db = Database(path)
    await db.connect()
    try:
        chains = ChainRepo(db)
        telegram = await chains.prefs(1, "telegram")
        assert telegram.enabled and (telegram.budget_percent, telegram.window_minutes, telegram.other_countries) == (
            300, 5, True)
        assert not (await chains.prefs(1, "whatsapp")).enabled  # never used there: no longer on unnoticed
        assert not (await chains.prefs(2, "whatsapp")).enabled  # it was off
    finally:
        await db.close()


async def test_database_files_are_readable_by_the_bot_alone_whatever_the_umask(tmp_path, caplog):
    import os
    import stat

    old_umask = os.umask(0o022)
    try:
        path = tmp_path / "data" / "bot.sqlite3"
        db = Database(path)
        await db.connect()
        async with db.transaction() as conn:
            await conn.execute("INSERT INTO chats (id, kind) VALUES (1, 'private')")
        modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in path.parent.iterdir()}
        await db.close()
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert modes and all(mode == 0o600 for mode in modes.values()), modes
    # A file left readable by others (an older version, a copy) is tightened at start, with a warning.
    os.chmod(path, 0o644)
    db = Database(path)
    with caplog.at_level("WARNING", logger="storage.db"):
        await db.connect()
    await db.close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert any("readable by other users" in r.getMessage() for r in caplog.records)


async def test_the_schema_file_is_the_schema_a_fresh_database_gets():
    """storage/schema.sql is the whole current schema, to read without replaying the migrations; it is generated,
    and must be generated again when a migration is added."""
    from storage.schema import SCHEMA_FILE, current_schema

    fresh = await current_schema()
    assert "CREATE TABLE rentals (" in fresh and "CREATE TABLE ledger (" in fresh
    assert SCHEMA_FILE.read_text(encoding="utf-8") == fresh, \
        "storage/schema.sql is out of date: python -m storage.schema > storage/schema.sql"
