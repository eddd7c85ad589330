"""Files and folders the package writes get the modes the user's umask asks for (not mkstemp's 0600)."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from derain_seg_ros.fileio import atomic_path, atomic_write_bytes, current_umask, follow_umask, fresh_dir


@contextmanager
def umask(mask: int) -> Iterator[None]:
    previous = os.umask(mask)
    try:
        yield
    finally:
        os.umask(previous)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize(
    "mask, file_mode, dir_mode", [(0o022, 0o644, 0o755), (0o002, 0o664, 0o775), (0o077, 0o600, 0o700)]
)
def test_written_files_and_folders_follow_the_umask(tmp_path: Path, mask: int, file_mode: int, dir_mode: int) -> None:
    with umask(mask):
        assert current_umask() == mask
        atomic_write_bytes(tmp_path / "report.md", b"hello")
        with atomic_path(tmp_path / "model.pt") as tmp:  # how torch.save, cv2 and onnx write: by path
            tmp.write_bytes(b"weights")
        staging = fresh_dir(tmp_path, ".bag.")
    assert mode(tmp_path / "report.md") == mode(tmp_path / "model.pt") == file_mode
    assert mode(staging) == dir_mode
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_file()) == ["model.pt", "report.md"]  # no temp files left


def test_a_tree_from_another_library_is_given_the_umask_modes(tmp_path: Path) -> None:
    (tmp_path / "bag").mkdir(mode=0o700)
    (tmp_path / "bag" / "bag.db3").write_bytes(b"")
    (tmp_path / "bag" / "bag.db3").chmod(0o600)
    with umask(0o002):
        follow_umask(tmp_path / "bag")
    assert (mode(tmp_path / "bag"), mode(tmp_path / "bag" / "bag.db3")) == (0o775, 0o664)


def test_a_failed_write_leaves_the_old_file_and_no_temp_file(tmp_path: Path) -> None:
    atomic_write_bytes(tmp_path / "a.json", b"old")
    with pytest.raises(RuntimeError), atomic_path(tmp_path / "a.json") as tmp:
        tmp.write_bytes(b"half")
        raise RuntimeError("killed")
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"] and (tmp_path / "a.json").read_bytes() == b"old"
