"""The database files hold every code, number and name: readable by the bot's user alone, whatever the umask."""
from __future__ import annotations

import os
import stat
from pathlib import Path

FILE_MODE = 0o600
DIR_MODE = 0o700
SIDE_FILES = ("-wal", "-shm", "-journal")


def prepare(path: Path) -> list[str]:
    """Before SQLite opens ``path``: its folder 0700 and the file 0600 (created empty if missing, so SQLite
    never creates it with the umask's mode; its WAL and SHM files take the database file's mode). Files
    found readable by others are tightened; returns one line for each, to warn about."""
    fixed: list[str] = []
    folder = path.parent
    if folder.exists() and not folder.is_dir():
        raise NotADirectoryError(f"{folder} is not a folder")
    if not folder.exists():
        folder.mkdir(parents=True, mode=DIR_MODE)
        os.chmod(folder, DIR_MODE)  # mkdir's mode is filtered by the umask
    elif str(folder) != "." and folder.stat().st_mode & 0o077:  # never the working directory itself
        fixed.append(f"{folder} was open to other users ({_mode(folder)}); now {oct(DIR_MODE)[2:]}")
        os.chmod(folder, DIR_MODE)
    if not path.exists():
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, FILE_MODE))
    for candidate in [path, *(Path(f"{path}{suffix}") for suffix in SIDE_FILES)]:
        if candidate.is_file() and candidate.stat().st_mode & 0o077:
            fixed.append(f"{candidate} was readable by other users ({_mode(candidate)}); now {oct(FILE_MODE)[2:]}")
            os.chmod(candidate, FILE_MODE)
    return fixed


def tighten_side_files(path: Path) -> None:
    """After opening: WAL/SHM files SQLite just made (it copies the main file's mode; this is belt and braces)."""
    for suffix in SIDE_FILES:
        side = Path(f"{path}{suffix}")
        if side.is_file() and side.stat().st_mode & 0o077:
            os.chmod(side, FILE_MODE)


def _mode(path: Path) -> str:
    return oct(stat.S_IMODE(path.stat().st_mode))[2:]
