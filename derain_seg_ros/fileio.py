"""Atomic file writes: a temp file in the target's folder, renamed over it only when complete.

Everything the package writes goes through here, so a killed run never leaves a half-written
image, checkpoint, engine or manifest behind (stdlib only: every layer may use it).

Temp files and folders are created with mode 0666 / 0777 and let the kernel apply the umask, as
``open`` and ``mkdir`` do; ``tempfile.mkstemp``/``mkdtemp`` would make every file the package
writes private (0600 / 0700) once renamed into place.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path


def _fresh(parent: Path, prefix: str, suffix: str, create: Callable[[Path], None]) -> Path:
    """A new, unique path beside the target, made by ``create`` (which fails if it exists)."""
    for _ in range(100):
        candidate = parent / f"{prefix}{secrets.token_hex(4)}{suffix}"
        try:
            create(candidate)
        except FileExistsError:
            continue
        return candidate
    raise FileExistsError(f"no free temporary name in {parent} after 100 tries")


def _create_file(path: Path) -> None:
    os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))


def current_umask() -> int:
    """The process umask, read without changing it where Linux tells it (os.umask can only set it)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)  # elsewhere: set and restore at once
    os.umask(mask)
    return mask


def follow_umask(root: str | os.PathLike) -> None:
    """Give a tree written by another library (a bag's folder and storage) the modes ``open`` and
    ``mkdir`` would: 0666 / 0777 less the umask (rosbags makes 0755 folders, sqlite 0644 files)."""
    mask = current_umask()
    root = Path(root)
    for path in (root, *root.rglob("*")):
        if not path.is_symlink():
            path.chmod((0o777 if path.is_dir() else 0o666) & ~mask)


def fresh_dir(parent: str | os.PathLike, prefix: str) -> Path:
    """A new empty folder in ``parent`` (mode 0777 less the umask), e.g. for staging a bag."""
    parent = Path(parent)
    parent.mkdir(parents=True, exist_ok=True)
    return _fresh(parent, prefix, "", lambda p: p.mkdir(0o777))


def remove_stale_temps(path: str | os.PathLike, suffix: str = ".tmp", max_age_s: float = 3600.0) -> list[Path]:
    """Remove ``atomic_path`` temp files of ``path`` that a killed process left (SIGKILL runs no
    ``finally``): those older than ``max_age_s``, so that a live writer's file is never taken."""
    import re
    import time

    path = Path(path)
    pattern = re.compile(rf"\.{re.escape(path.name)}\.[0-9a-f]{{8}}{re.escape(suffix)}")
    removed = []
    if path.parent.is_dir():
        for candidate in path.parent.iterdir():
            try:
                if (
                    pattern.fullmatch(candidate.name)
                    and candidate.is_file()
                    and time.time() - candidate.stat().st_mtime > max_age_s
                ):
                    candidate.unlink()
                    removed.append(candidate)
            except OSError:  # gone meanwhile, or not ours to remove
                continue
    return removed


@contextmanager
def atomic_path(path: str | os.PathLike, suffix: str = ".tmp") -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path``, on error it is removed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _fresh(path.parent, f".{path.name}.", suffix, _create_file)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
    return Path(path)
