"""The one place recording files and folders are created: private to the server's user.

A recording is the court's record of people's faces and voices; with the usual umask 022
every file would be readable by any local user. Folders are made 0700 and files 0600
whatever the umask: the mode is given when creating and set again with chmod, because a
umask can only remove bits, and a file a library creates (PyAV's muxers) gets whatever the
umask leaves, so it is created here first and the library then writes into it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import BinaryIO

DIR_MODE = 0o700
FILE_MODE = 0o600


def private_dir(path: Path) -> Path:
    """Create ``path`` and missing parents as 0700 folders (an existing one is tightened)."""
    missing = []
    current = path
    while not current.exists():
        missing.append(current)
        current = current.parent
    path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    for created in (*missing, path):
        os.chmod(created, DIR_MODE)
    return path


def create_private_file(path: Path) -> Path:
    """Create ``path`` empty as 0600 (truncating it if it exists), for a library to fill."""
    os.close(_open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC))
    return path


def open_private(path: Path, *, append: bool = False) -> BinaryIO:
    """Open ``path`` to write bytes (truncating it, or appending), creating it 0600."""
    fd = _open(path, os.O_WRONLY | os.O_CREAT | (os.O_APPEND if append else os.O_TRUNC))
    return os.fdopen(fd, "ab" if append else "wb")


def _open(path: Path, flags: int) -> int:
    fd = os.open(path, flags, FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)
    except BaseException:
        os.close(fd)
        raise
    return fd
