"""Backups while the bot runs, and a restore that checks before it swaps."""
from __future__ import annotations

import sqlite3
import stat

import pytest

from storage import backup
from tests.conftest import credit


async def test_backup_while_running_then_restore_round_trip_keeps_the_money(app, tmp_path):
    await app.chats.ensure(1001, "private", "Alice")
    await credit(app, 1001, 700)
    folder = tmp_path / "backups"
    made = [backup.take(app.settings.database_path, folder, keep=2) for _ in range(3)]  # while the app has it open
    kept = sorted(folder.glob("bot-*.sqlite3"))
    assert [m.path for m in made[1:]] == kept  # the newest two
    assert made[-1].chats == 1 and made[-1].ledger_rows == 1
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700 and stat.S_IMODE(kept[-1].stat().st_mode) == 0o600

    await credit(app, 1001, 300)  # after the backup
    target = tmp_path / "restored" / "bot.sqlite3"
    assert backup.restore(kept[-1], target) == (1, 1)
    conn = sqlite3.connect(target)
    assert conn.execute("SELECT balance FROM chats WHERE id = 1001").fetchone()[0] == 700
    conn.close()


async def test_restore_refuses_a_database_a_running_bot_holds(app, tmp_path):
    folder = tmp_path / "backups"
    made = backup.take(app.settings.database_path, folder, keep=1)
    lock = backup.ProcessLock(app.settings.database_path)
    assert lock.acquire()  # what `python -m bot` holds while it runs
    try:
        with pytest.raises(backup.BackupError, match="in use by a running bot"):
            backup.restore(made.path, app.settings.database_path)
    finally:
        lock.release()


def test_restore_refuses_a_broken_or_unbalanced_backup(tmp_path):
    garbage = tmp_path / "garbage.sqlite3"
    garbage.write_bytes(b"this is not a database" * 100)
    with pytest.raises(backup.BackupError, match="not a bot database|cannot open"):
        backup.restore(garbage, tmp_path / "bot.sqlite3")
    unbalanced = tmp_path / "unbalanced.sqlite3"
    conn = sqlite3.connect(unbalanced)
    conn.executescript("CREATE TABLE chats (id INTEGER PRIMARY KEY, balance INTEGER);"
                       "CREATE TABLE ledger (id INTEGER PRIMARY KEY, chat_id INTEGER, amount INTEGER);"
                       "INSERT INTO chats VALUES (1, 500); INSERT INTO ledger VALUES (1, 1, 100);")
    conn.close()
    with pytest.raises(backup.BackupError, match="not the sum of their ledger"):
        backup.restore(unbalanced, tmp_path / "bot.sqlite3")
    assert not (tmp_path / "bot.sqlite3").exists()


async def test_operator_backup_command_writes_a_checked_copy(app, telegram, session, settings):
    from playground.recording import Person
    from tests.conftest import ADMIN_ID

    dp, bot = telegram
    admin = Person(dp, bot, session, ADMIN_ID, name="Op")
    await admin.send("/backup")
    assert "Backup bot-" in admin.screen().text and "integrity checked" in admin.screen().text
    [made] = settings.backup_dir.glob("bot-*.sqlite3")
    assert backup.check(made)[0] >= 1


def test_restore_command_refuses_while_the_bot_runs_and_restores_when_stopped(tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    database = tmp_path / "data" / "bot.sqlite3"
    database.parent.mkdir()
    conn = sqlite3.connect(database)
    conn.executescript("CREATE TABLE chats (id INTEGER PRIMARY KEY, balance INTEGER);"
                       "CREATE TABLE ledger (id INTEGER PRIMARY KEY, chat_id INTEGER, amount INTEGER);"
                       "INSERT INTO chats VALUES (1, 250); INSERT INTO ledger VALUES (1, 1, 250);")
    conn.close()
    made = backup.take(database, tmp_path / "backups", keep=3)
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(root), "DATABASE_PATH": str(database),
           "BOT_TOKEN": "123456:" + "x" * 35}

    def restore() -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "bot", "restore", str(made.path)], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=60)

    lock = backup.ProcessLock(database)
    assert lock.acquire()  # a bot is running on it
    try:
        refused = restore()
    finally:
        lock.release()
    assert refused.returncode == 1 and "in use by a running bot" in refused.stderr
    done = restore()
    assert done.returncode == 0 and "1 chats, 1 ledger rows" in done.stderr, done.stderr
    assert (database.parent / "bot.sqlite3.before-restore").exists()
