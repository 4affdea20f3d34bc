"""Moving a folder inside DEST without ever following a symbolic link on the way.

Prune moves clones into ``DEST/.gz-tui/attic/DATE/PATH`` and an upstream rename moves a clone to its new path. A
link planted anywhere on either path (``DEST/.gz-tui/attic`` pointing at ``/tmp``, a dated folder pointing
elsewhere, a subgroup folder that is a link) would carry the clone out of DEST. So every folder on the way is opened
relative to the one before it with ``O_NOFOLLOW`` (a link there fails to open instead of being followed), and the
move itself is one ``rename`` between two of those directory descriptors: what is checked is what is moved through,
at the moment of the move. DEST itself is taken as it was resolved when the run started.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Sequence
from pathlib import Path

_DIR_FLAGS = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)


class LinkInPath(Exception):
    """A symbolic link (or something that is not a folder) where a move needs a real folder; ``str()`` names it."""

    def __init__(self, path: Path, what: str = "a symbolic link") -> None:
        super().__init__(f"{path} is {what}; prune moves nothing through it (remove it, then run again)")
        self.path = path


def _parts(root: Path, path: Path) -> tuple[str, ...]:
    try:
        parts = path.relative_to(root).parts
    except ValueError:
        raise LinkInPath(path, f"outside {root}") from None
    if not parts or any(part in ("", ".", "..") for part in parts):
        raise LinkInPath(path, f"not a folder below {root}")
    return parts


def _kind(parent: int, name: str) -> int | None:
    """The ``st_mode`` of ``name`` in the folder ``parent`` (not following a link), or None when nothing is there."""
    try:
        return os.stat(name, dir_fd=parent, follow_symlinks=False).st_mode
    except FileNotFoundError:
        return None


def _open_below(parent: int, name: str, where: Path, *, create: bool) -> int:
    if create:
        try:
            os.mkdir(name, 0o700, dir_fd=parent)
        except FileExistsError:
            pass
    try:
        return os.open(name, _DIR_FLAGS, dir_fd=parent)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR, errno.EMLINK):
            mode = _kind(parent, name)
            raise LinkInPath(where, "a symbolic link" if mode is not None and stat.S_ISLNK(mode) else "not a folder") from None
        raise


def open_folder(root: Path, parts: Sequence[str], *, create: bool = False) -> int:
    """A descriptor of ``root/parts…``, each folder opened below the one before without following a link (made,
    mode 0700, when ``create`` and missing). The caller closes it. Raises :class:`LinkInPath` or ``OSError``."""
    fd = os.open(root, _DIR_FLAGS & ~getattr(os, "O_NOFOLLOW", 0))
    where = root
    for part in parts:
        where = where / part
        try:
            below = _open_below(fd, part, where, create=create)
        finally:
            os.close(fd)
        fd = below
    return fd


def check_folder(root: Path, path: Path) -> None:
    """Raise :class:`LinkInPath` unless ``path`` is a real folder below ``root`` with no link on the way (a missing
    folder is fine: it would be made)."""
    parts = _parts(root, path)
    try:
        fd = open_folder(root, parts[:-1])
    except FileNotFoundError:
        return
    try:
        mode = _kind(fd, parts[-1])
    finally:
        os.close(fd)
    if mode is not None and not stat.S_ISDIR(mode):
        raise LinkInPath(path, "a symbolic link" if stat.S_ISLNK(mode) else "not a folder")


def move_folder(root: Path, source: Path, target: Path) -> None:
    """Rename the folder ``source`` to ``target`` (whose parents are made), both below ``root``, through directory
    descriptors: one atomic rename, no link followed. ``target`` must not exist (``FileExistsError``)."""
    source_parts, target_parts = _parts(root, source), _parts(root, target)
    source_dir = open_folder(root, source_parts[:-1])
    try:
        mode = _kind(source_dir, source_parts[-1])
        if mode is None:
            raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), str(source))
        if not stat.S_ISDIR(mode):
            raise LinkInPath(source, "a symbolic link" if stat.S_ISLNK(mode) else "not a folder")
        target_dir = open_folder(root, target_parts[:-1], create=True)
        try:
            if _kind(target_dir, target_parts[-1]) is not None:
                raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), str(target))
            os.rename(source_parts[-1], target_parts[-1], src_dir_fd=source_dir, dst_dir_fd=target_dir)
        finally:
            os.close(target_dir)
    finally:
        os.close(source_dir)
