"""The data directory is private to the server's user, or the server does not start.

It holds the SQLite database (with the link-signing secret), the recording signing key and
the recordings. Made with the usual umask 022 it would be world-readable: anyone on the
machine could read the secret and mint a judge's link. On start, the data directory and a
separate recordings directory are created 0700, or, if they exist, tightened (folders 0700,
files 0600, the operator told so in the log). If that fails the server refuses to start.
"""

from __future__ import annotations

import logging
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from media.recording.private_files import DIR_MODE, FILE_MODE, private_dir

from .config import Settings

log = logging.getLogger(__name__)


class DataDirNotPrivate(Exception):
    """The data (or recordings) directory cannot be made private; the message says why."""


@dataclass(frozen=True)
class Tightened:
    """What tightening one directory changed."""

    path: Path
    old_mode: int
    entries: int


def make_private(settings: Settings) -> list[Tightened]:
    """Create or tighten every directory the server writes to; log what was changed."""
    roots = [("QASHYQ_DATA_DIR", settings.data_dir)]
    if settings.recordings_dir is not None:
        roots.append(("QASHYQ_RECORDINGS_DIR", settings.recordings_dir))
    changed = []
    for name, root in roots:
        try:
            result = _tighten(root)
        except OSError as error:
            raise DataDirNotPrivate(
                f"{name} {root} cannot be made private to this user ({error.strerror or error});"
                " it holds the link-signing secret and the recordings, so the server will not"
                " start. Give it to the user the server runs as, e.g. chown -R and chmod 700."
            ) from error
        if result is not None:
            log.warning(
                "%s %s was readable by others (mode %04o): tightened it and %d files and "
                "folders in it to %04o/%04o", name, root, result.old_mode, result.entries,
                DIR_MODE, FILE_MODE)
            changed.append(result)
    return changed


def _tighten(root: Path) -> Tightened | None:
    if not root.exists():
        private_dir(root)
        return None
    if not root.is_dir():
        raise NotADirectoryError(20, "it is not a directory", str(root))
    old_mode = stat.S_IMODE(root.stat().st_mode)
    entries = 0
    for path in _walk(root):
        mode = path.lstat().st_mode
        if stat.S_ISLNK(mode) or stat.S_IMODE(mode) & 0o077 == 0:
            continue  # a link's own mode means nothing; its target is not ours to change
        os.chmod(path, DIR_MODE if stat.S_ISDIR(mode) else FILE_MODE)
        entries += 1
    if entries == 0:
        return None
    return Tightened(root, old_mode, entries - (1 if old_mode & 0o077 else 0))


def _walk(root: Path) -> list[Path]:
    found = [root]
    for folder, dirs, files in os.walk(root):  # does not descend into linked folders
        found += [Path(folder) / name for name in (*dirs, *files)]
    return found
