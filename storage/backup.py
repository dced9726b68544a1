"""Online backups of the database (safe while the bot runs) and a checked restore.

A backup is SQLite's own backup API into a new file in the backup folder, then `PRAGMA integrity_check`
and the money invariant on the copy; the newest ``keep`` files are kept. A restore refuses to touch a
database that a running bot holds (its lock file), and swaps the file in only after the same checks."""
from __future__ import annotations

import fcntl
import os
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from . import files

PREFIX = "bot-"
SUFFIX = ".sqlite3"


class BackupError(RuntimeError):
    """A backup or restore that must not go ahead; the message says why, in one line."""


@dataclass(frozen=True, slots=True)
class BackupFile:
    path: Path
    size: int
    chats: int
    ledger_rows: int


def check(path: Path) -> tuple[int, int]:
    """Integrity and the money invariant of a database file: (chats, ledger rows). Raises BackupError."""
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    except sqlite3.Error as err:
        raise BackupError(f"{path}: cannot open ({err})") from None
    try:
        result = conn.execute("PRAGMA integrity_check").fetchone()[0]
        if result != "ok":
            raise BackupError(f"{path}: integrity check failed ({result[:200]})")
        mismatched = conn.execute(
            "SELECT COUNT(*) FROM (SELECT c.id FROM chats c LEFT JOIN ledger l ON l.chat_id = c.id"
            " GROUP BY c.id HAVING c.balance <> COALESCE(SUM(l.amount), 0))").fetchone()[0]
        if mismatched:
            raise BackupError(f"{path}: {mismatched} chats whose balance is not the sum of their ledger")
        negative = conn.execute("SELECT COUNT(*) FROM chats WHERE balance < 0").fetchone()[0]
        if negative:
            raise BackupError(f"{path}: {negative} chats with a negative balance")
        chats = conn.execute("SELECT COUNT(*) FROM chats").fetchone()[0]
        rows = conn.execute("SELECT COUNT(*) FROM ledger").fetchone()[0]
        return chats, rows
    except sqlite3.DatabaseError as err:
        raise BackupError(f"{path}: not a bot database ({err})") from None
    finally:
        conn.close()


def take(database: Path, folder: Path, keep: int, now: datetime | None = None) -> BackupFile:
    """Copy ``database`` into ``folder`` (0700, file 0600), check the copy, keep the newest ``keep``.

    Its own read connection, one backup step: a consistent snapshot while the bot goes on writing (WAL).
    Blocking: run it in a thread."""
    folder.mkdir(parents=True, exist_ok=True, mode=files.DIR_MODE)
    os.chmod(folder, files.DIR_MODE)
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%S%fZ")
    target = folder / f"{PREFIX}{stamp}{SUFFIX}"
    partial = folder / f"{PREFIX}{stamp}.partial"
    _copy(database, partial)
    try:
        chats, rows = check(partial)
    except BackupError:
        partial.unlink(missing_ok=True)
        raise
    partial.rename(target)
    for old in sorted(folder.glob(f"{PREFIX}*{SUFFIX}"))[:-keep]:
        old.unlink()
    return BackupFile(target, target.stat().st_size, chats, rows)


def _copy(source_path: Path, target_path: Path) -> None:
    """SQLite's backup API from a read-only connection into a new 0600 file: one step, one snapshot."""
    os.close(os.open(target_path, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, files.FILE_MODE))
    source, target = sqlite3.connect(f"file:{source_path}?mode=ro", uri=True), sqlite3.connect(target_path)
    try:
        source.backup(target)
    finally:
        source.close()
        target.close()


class ProcessLock:
    """Held by a running bot for its database (a lock file beside it); a restore checks it is free."""

    def __init__(self, database: Path) -> None:
        self.path = Path(f"{database}.lock")
        self._fd: int | None = None

    def acquire(self) -> bool:
        fd = os.open(self.path, os.O_CREAT | os.O_RDWR, files.FILE_MODE)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


def restore(backup: Path, database: Path) -> tuple[int, int]:
    """Put ``backup`` in place of ``database``; refused while a bot runs on it or when the backup fails its
    checks. The replaced file is kept beside it (``.before-restore``). Returns (chats, ledger rows)."""
    if not backup.is_file():
        raise BackupError(f"{backup}: no such file")
    database.parent.mkdir(parents=True, exist_ok=True, mode=files.DIR_MODE)
    lock = ProcessLock(database)
    if not lock.acquire():
        raise BackupError(f"{database} is in use by a running bot: stop it first")
    try:
        figures = check(backup)
        staged = database.with_name(database.name + ".restoring")
        _copy(backup, staged)
        kept = database.with_name(database.name + ".before-restore")
        for suffix in ("", "-wal", "-shm"):  # the replaced file goes aside whole, with its WAL
            current = Path(f"{database}{suffix}")
            if current.exists():
                current.replace(Path(f"{kept}{suffix}"))
        staged.replace(database)
        return figures
    finally:
        lock.release()
