"""Output destinations checked before any work: a file where a folder goes, a folder where a
file goes, a parent that is a file, a place the user cannot write.

Without this the same mistakes surface late and as tracebacks (``NotADirectoryError``,
``FileExistsError``, ``IsADirectoryError``), some after minutes of work or after part of the
output was written. Each check only looks (nothing is created), so a refused command leaves the
disk as it found it.
"""

from __future__ import annotations

import os
from pathlib import Path

from derain_seg_ros.errors import DerainSegError


class DestinationError(DerainSegError):
    """An output path that cannot be written as asked."""


def _nearest_existing(path: Path) -> Path:
    """``path`` or its closest ancestor that exists, refusing a file on the way (``afile/sub``)."""
    for candidate in (path, *path.parents):
        if candidate.exists():
            return candidate
        if candidate.is_symlink():  # a dangling link: writing through it fails late
            raise DestinationError(f"{candidate} is a broken symbolic link")
    return Path.cwd()


def _check_parent(path: Path, what: str) -> None:
    parent = _nearest_existing(path.parent if path.parent != path else path)
    if not parent.is_dir():
        raise DestinationError(f"{what} {path}: {parent} is a file, not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise DestinationError(f"{what} {path}: cannot write in {parent} (permission denied)")


def check_out_dir(path: str | os.PathLike, what: str = "--out") -> Path:
    """A folder to write into: it exists as a writable folder, or can be made."""
    path = Path(path)
    if path.exists():
        if not path.is_dir():
            raise DestinationError(f"{what} {path} is a file; it must be a folder (or a path that does not exist yet)")
        if not os.access(path, os.W_OK | os.X_OK):
            raise DestinationError(f"{what} {path}: cannot write in it (permission denied)")
        return path
    _check_parent(path, what)
    return path


def check_new_dir(path: str | os.PathLike, what: str = "output") -> Path:
    """A folder that must not exist yet (a bag: rosbag2 writers never overwrite), in a writable place."""
    path = Path(path)
    if path.exists() or path.is_symlink():
        kind = "folder" if path.is_dir() else "file"
        raise DestinationError(f"{what} {path} exists (a {kind}); give a new path: bags are never overwritten")
    _check_parent(path, what)
    return path


def check_out_file(path: str | os.PathLike, what: str = "--out") -> Path:
    """A file to write (replaced atomically if it exists): not a folder, in a writable folder."""
    path = Path(path)
    if path.is_dir():
        raise DestinationError(f"{what} {path} is a folder; give a file name, e.g. {path / 'model.onnx'}")
    if path.exists() and not path.is_file():
        raise DestinationError(f"{what} {path} is not a regular file")
    _check_parent(path, what)
    return path
