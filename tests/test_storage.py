"""Storage: migrations, pragmas, the ledger's rules."""
from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta

import pytest

from storage import Database, DatabaseTooNewError, InsufficientBalanceError, LedgerRepo, RentalRepo, SmsRepo, ledger
from storage.db import WrongStateError
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


async def test_explicit_states_carry_every_rental_and_sms_over(tmp_path, monkeypatch):
    """Issue 30: a database written before the explicit states (rentals.status unchecked, an in-place renewal as
    JSON, an SMS's delivery as five nullable columns) migrates in place; every row lands in the state it meant."""
    from storage import db as storage_db
    from storage.in_place_renewals import InPlaceRenewalRepo
    from storage.models import db_time, utcnow

    explicit = next(i for i, (what, _) in enumerate(MIGRATIONS) if what.startswith("explicit states"))
    path = tmp_path / "t.sqlite3"
    monkeypatch.setattr(storage_db, "MIGRATIONS", MIGRATIONS[:explicit])
    old = Database(path)
    await old.connect()
    soon, past = db_time(utcnow() + timedelta(minutes=5)), db_time(utcnow() - timedelta(minutes=5))
    till = datetime(2026, 12, 20, 10, tzinfo=UTC)
    renewing = json.dumps({"key": "renew-now:2:n1", "hold": 1393, "at": past, "till": db_time(till)})
    async with old.transaction() as conn:
        await conn.execute("INSERT INTO chats (id, kind, balance) VALUES (1, 'private', 500), (-5, 'supergroup', 0)")
        for rental_id, status, extra in (
                (1, "pending", {}), (2, "active", {"renew_pending": renewing, "auto_renew": 1}),
                (3, "active", {"set_id": 3, "topic_id": 77, "topic_state": "moved", "chat_id": -5}),
                (4, "active", {"set_id": 3, "chat_id": -5}), (5, "cancelled", {"closed_notified": 1}),
                (6, "finished", {}), (7, "expired", {"no_code": "refused"}), (8, "failed", {"failure": "no stock"})):
            fields = {"id": rental_id, "chat_id": 1, "user_id": 1, "provider": "gotsms", "offer_id": "o",
                      "service_name": "Telegram", "billing": "duration", "price_charged": 100, "provider_cost": "0.9",
                      "status": status, "request_key": f"k{rental_id}", "provider_rental_id": f"p{rental_id}",
                      **extra}
            await conn.execute(f"INSERT INTO rentals ({', '.join(fields)}) VALUES ({', '.join('?' * len(fields))})",
                               tuple(fields.values()))
        for sms_id, extra in (
                (1, {}),  # pending
                (2, {"sending_since": past, "delivery_attempts": 1}),  # a kill inside the send: sending
                (3, {"retry_at": soon, "delivery_attempts": 2}),  # held, not due yet
                (4, {"retry_at": past, "delivery_attempts": 3}),  # held, due
                (5, {"delivered_at": past, "telegram_message_id": 900, "sending_since": past, "retry_at": past,
                     "delivery_attempts": 1}),  # delivered (an old retry time left behind)
                (6, {"undeliverable": "chat unreachable", "sending_since": past, "delivery_attempts": 1}),
                (7, {"delivered_at": past, "telegram_message_id": 901, "hidden_at": past, "hide_result": "deleted"})):
            fields = {"id": sms_id, "provider": "gotsms", "provider_message_id": f"m{sms_id}", "rental_id": 3,
                      "body": f"code {sms_id}", "code": str(sms_id), **extra}
            await conn.execute(f"INSERT INTO sms ({', '.join(fields)}) VALUES ({', '.join('?' * len(fields))})",
                               tuple(fields.values()))
        await conn.execute("INSERT INTO forward_outbox (sms_id, rental_id, kind, target, next_try_at, created_at)"
                           " VALUES (5, 3, 'chat', '42', ?, ?)", (past, past))
    await old.close()
    monkeypatch.undo()

    db = Database(path)
    await db.connect()
    try:
        rentals = {r["id"]: r for r in await db.fetchall("SELECT * FROM rentals")}
        assert {i: r["status"] for i, r in rentals.items()} == {
            1: "pending", 2: "active", 3: "active", 4: "active", 5: "cancelled", 6: "finished", 7: "expired",
            8: "failed"}
        assert (rentals[3]["topic_state"], rentals[3]["topic_id"], rentals[4]["set_id"]) == ("moved", 77, 3)
        assert (rentals[5]["closed_notified"], rentals[7]["no_code"], rentals[8]["failure"]) == (1, "refused",
                                                                                              "no stock")
        assert rentals[2]["auto_renew"] == 1 and rentals[2]["renewal_id"] is not None
        assert [i for i, r in rentals.items() if r["renewal_id"] is not None] == [2]
        [asked] = await InPlaceRenewalRepo(db).undecided()
        assert (asked.id, asked.rental_id, asked.request_key, asked.hold) == (rentals[2]["renewal_id"], 2,
                                                                             "renew-now:2:n1", 1393)
        assert asked.till_before == till and db_time(asked.asked_at) == past
        sms = {r["id"]: r for r in await db.fetchall("SELECT * FROM sms")}
        assert {i: r["delivery"] for i, r in sms.items()} == {
            1: "pending", 2: "sending", 3: "held", 4: "held", 5: "delivered", 6: "undeliverable", 7: "delivered"}
        assert (sms[3]["next_try_at"], sms[4]["next_try_at"], sms[5]["next_try_at"]) == (soon, past, None)
        assert [sms[i]["delivery_attempts"] for i in range(1, 7)] == [0, 1, 2, 3, 1, 1]
        assert (sms[5]["delivered_at"], sms[5]["telegram_message_id"]) == (past, 900)
        assert (sms[6]["undeliverable_reason"], sms[6]["delivered_at"]) == ("chat unreachable", None)
        assert (sms[7]["hidden_at"], sms[7]["hide_result"]) == (past, "deleted")
        assert [s.id for s in await SmsRepo(db).outbox()] == [1, 2, 4]  # 3 waits for its time
        assert await db.fetchall("PRAGMA foreign_key_check") == []
        assert (await db.fetchone("PRAGMA integrity_check"))[0] == "ok"
        assert (await db.fetchone("PRAGMA foreign_keys"))[0] == 1  # back on after the rebuild
        [forward] = await db.fetchall("SELECT sms_id FROM forward_outbox")
        assert forward[0] == 5
    finally:
        await db.close()


async def test_a_state_moves_only_from_the_states_it_may_leave(db):
    """Each transition is one guarded UPDATE: from a wrong state it is a typed error and nothing is written."""
    async with db.transaction() as conn:
        await conn.execute("INSERT INTO chats (id, kind) VALUES (1, 'private')")
        rental = await RentalRepo.insert_pending(
            conn, chat_id=1, user_id=1, provider="gotsms", offer_id="o", service_name="Telegram", billing="sms",
            price_charged=0, provider_cost="0", request_key="k")
        assert rental.status == "pending"
        with pytest.raises(WrongStateError):
            await RentalRepo.move(conn, rental.id, "finished")  # never active
        with pytest.raises(ValueError):
            await RentalRepo.update(conn, rental.id, status="active")
        assert (await RentalRepo.move(conn, rental.id, "active", phone="+1555")).status == "active"
        await RentalRepo.move(conn, rental.id, "finished")
        with pytest.raises(WrongStateError):
            await RentalRepo.move(conn, rental.id, "cancelled")  # ended already
    assert (await RentalRepo(db).get(rental.id)).status == "finished"
    with pytest.raises(sqlite3.IntegrityError):  # the schema itself refuses a state it does not name
        async with db.transaction() as conn:
            await conn.execute("UPDATE rentals SET status = 'paused' WHERE id = ?", (rental.id,))

    sms = SmsRepo(db)
    assert await sms.store(provider="gotsms", provider_message_id="m1", rental_id=rental.id, body="1", code="1")
    [stored] = await sms.outbox()
    with pytest.raises(WrongStateError):
        await sms.mark_delivered(stored.id, 5)  # never sent
    await sms.mark_sending(stored.id)
    await sms.mark_delivered(stored.id, 5)
    with pytest.raises(WrongStateError):
        await sms.mark_undeliverable(stored.id, "gone")  # delivered stays delivered
    [row] = await db.fetchall("SELECT delivery, delivery_attempts, telegram_message_id FROM sms")
    assert tuple(row) == ("delivered", 1, 5) and await sms.outbox() == []
