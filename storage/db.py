"""One SQLite connection with WAL, foreign keys, busy timeout and versioned migrations.

aiosqlite runs one connection on one thread; an asyncio lock keeps each transaction's
statements together so coroutines never interleave inside one another's transaction."""
from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiosqlite

from . import files
from .migrations import MIGRATIONS, REBUILDS_TABLES

log = logging.getLogger(__name__)


BUSY_TIMEOUT = 5.0  # seconds a statement waits for another process's lock before "database is locked"


async def first_row(conn: aiosqlite.Connection, sql: str, params: tuple | dict = ()) -> aiosqlite.Row | None:
    """The first row of a one-row statement (a key, RETURNING) in one trip to the connection's thread."""
    rows = await conn.execute_fetchall(sql, params)
    return rows[0] if rows else None


class DatabaseError(RuntimeError):
    """The database can't be used; the message is one line naming the file and the problem."""


class DatabaseTooNewError(DatabaseError):
    """The file was written by a newer version of the bot; refusing to touch it."""


def sql_list(names: tuple[str, ...]) -> str:
    """The code's own state names as an SQL list literal, ``('a', 'b')``, for ``IN``: never a user's text."""
    return "(" + ", ".join(f"'{name}'" for name in names) + ")"


class WrongStateError(RuntimeError):
    """A state transition asked of a row that is not in a state it may leave that way: a bug or a race the caller
    must decide, never a silent write."""

    def __init__(self, table: str, row_id: int, to: str, frm: tuple[str, ...]) -> None:
        super().__init__(f"{table} {row_id}: no move to {to!r} (only from {', '.join(frm)})")
        self.table, self.row_id, self.to, self.frm = table, row_id, to, frm


class Database:
    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self._conn: aiosqlite.Connection | None = None
        self._lock = asyncio.Lock()

    async def connect(self) -> None:
        """Open, configure and migrate; on any failure the connection is closed again (its worker thread
        would otherwise keep the process alive) and a DatabaseError says what is wrong."""
        conn = None
        try:
            self._check_path()
            conn = await aiosqlite.connect(self.path, isolation_level=None, timeout=BUSY_TIMEOUT)
            conn.row_factory = aiosqlite.Row
            await conn.execute("PRAGMA journal_mode=WAL")
            await conn.execute("PRAGMA foreign_keys=ON")
            await conn.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT * 1000)}")
            await conn.execute("PRAGMA synchronous=NORMAL")
            # In WAL mode reads pass another process's write lock; the bot must write, so find out now.
            await conn.execute("BEGIN IMMEDIATE")
            await conn.execute("ROLLBACK")
            self._conn = conn
            await self._migrate()
            if self.path != ":memory:":
                files.tighten_side_files(Path(self.path))
        except BaseException as err:
            self._conn = None
            if conn is not None:
                await conn.close()
            if isinstance(err, (sqlite3.Error, OSError)):
                raise DatabaseError(self._explain(err)) from err
            raise

    def _check_path(self) -> None:
        if self.path == ":memory:":
            return
        path = Path(self.path)
        if path.is_dir():
            raise DatabaseError(f"database {self.path} is a directory: set DATABASE_PATH to a file, "
                                f"e.g. {path / 'bot.sqlite3'}")
        if path.parent.exists() and not path.parent.is_dir():
            raise DatabaseError(f"database {self.path}: {path.parent} is a file, not a folder")
        try:
            for line in files.prepare(path):  # folder 0700, file 0600
                log.warning("%s", line)
        except OSError as err:
            raise DatabaseError(f"database {self.path}: cannot create it or its folder {path.parent} "
                                f"({err.strerror or err})") from err
        # A path SQLite cannot open fails here at once. Failing inside aiosqlite.connect instead leaves its worker
        # thread answering a loop that asyncio.run has closed by then: a traceback after our one line.
        sqlite3.connect(self.path).close()

    def _explain(self, err: sqlite3.Error | OSError) -> str:
        text = str(err)
        if "not a database" in text:
            return f"database {self.path} is not an SQLite database ({text}): point DATABASE_PATH at the bot's file"
        if "locked" in text:
            return (f"database {self.path} is locked by another process (still locked after {BUSY_TIMEOUT:g} s): "
                    f"stop the other program using it")
        if "unable to open" in text:
            return f"database {self.path} cannot be opened ({text}): check the folder exists and is writable"
        return f"database {self.path} cannot be used: {text}"

    async def close(self) -> None:
        if self._conn is not None:
            await self._conn.close()
            self._conn = None

    @property
    def conn(self) -> aiosqlite.Connection:
        if self._conn is None:
            raise RuntimeError("database is not connected")
        return self._conn

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on any exception."""
        async with self._lock:
            await self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield self.conn
            except BaseException:
                await self.conn.execute("ROLLBACK")
                raise
            else:
                await self.conn.execute("COMMIT")

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[aiosqlite.Connection]:
        """Reads wait for any open transaction, so they never see half of one."""
        async with self._lock:
            yield self.conn

    # One trip to the connection's thread a read (execute_fetchall), not three (execute, fetch, close): each
    # trip is a thread hand-off, and those were most of a button press's cost (benchmarks/bot_cost.py).
    async def fetchall(self, sql: str, params: tuple | dict = ()) -> list[aiosqlite.Row]:
        async with self.reading() as conn:
            return list(await conn.execute_fetchall(sql, params))

    async def fetchone(self, sql: str, params: tuple | dict = ()) -> aiosqlite.Row | None:
        """The first row; meant for queries of one row (a key, LIMIT 1), as all of them fetch every row."""
        async with self.reading() as conn:
            return await first_row(conn, sql, params)

    async def write(self, sql: str, params: tuple | dict = ()) -> list[aiosqlite.Row]:
        """One statement that is a whole transaction by itself (SQLite commits it on its own, atomically): one trip
        to the connection's thread instead of three (BEGIN, the statement, COMMIT). Its RETURNING rows, if any.
        The same trip as a read, under the same lock: named for what the caller means."""
        return await self.fetchall(sql, params)

    async def ping(self) -> None:
        """The cheapest read: raises unless the database answers (the health check)."""
        await self.fetchone("SELECT 1")

    async def schema_version(self) -> int:
        async with self.conn.execute("SELECT MAX(version) FROM schema_version") as cur:
            row = await cur.fetchone()
        return row[0] or 0

    async def _migrate(self) -> None:
        await self.conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, description TEXT NOT NULL,"
            " applied_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP)"
        )
        current = await self.schema_version()
        latest = len(MIGRATIONS)
        if current > latest:
            raise DatabaseTooNewError(
                f"database {self.path} is at schema version {current}, this code knows up to {latest}; upgrade the bot"
            )
        for version, (description, statements) in enumerate(MIGRATIONS, start=1):
            if version <= current:
                continue
            await self._apply(version, description, statements)
            log.info("database migrated to version %d: %s", version, description)

    async def _apply(self, version: int, description: str, statements: list[str]) -> None:
        """One migration in one transaction. A step that rebuilds a table others point at runs with foreign keys
        off (SQLite's way: dropping the old table would otherwise delete through them) and checks every reference
        before it commits."""
        rebuilds = statements[:1] == [REBUILDS_TABLES]
        if rebuilds:
            await self.conn.execute("PRAGMA foreign_keys=OFF")  # a no-op inside a transaction: set before it
        try:
            async with self.transaction() as conn:
                for statement in statements[1:] if rebuilds else statements:
                    await conn.execute(statement)
                if rebuilds:
                    broken = await conn.execute_fetchall("PRAGMA foreign_key_check")
                    if broken:
                        raise DatabaseError(f"migration {version} would break {len(broken)} references"
                                            f" (first: {tuple(broken[0])}); nothing changed")
                await conn.execute(
                    "INSERT INTO schema_version (version, description) VALUES (?, ?)", (version, description)
                )
        finally:
            if rebuilds:
                await self.conn.execute("PRAGMA foreign_keys=ON")
