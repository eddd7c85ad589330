"""Any folder of clean images (a fleet's own dry-weather frames): no labels, searched recursively.

Stage 1 (L_Att + L_D) and stage 2's L_H need no labels, so real frames under synthetic rain can
train the deraining half on the camera it will run on. Items are the .png/.jpg/.jpeg files under
the root in sorted relative-path order; a scene's name is its relative path without the suffix,
folders joined by '__' (the extension is kept only where two files would share a name).
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

from derain_seg_ros.data.io import read_rgb
from derain_seg_ros.data.synthcity import NamedScene
from derain_seg_ros.errors import DerainSegError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


class FolderSource:
    kind = "folder"
    has_labels = False
    named_frames = True

    def __init__(self, root: str | os.PathLike) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise DerainSegError(f"image folder not found: {self.root}")
        self.paths = sorted(
            (p for p in self.root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()),
            key=lambda p: p.relative_to(self.root).as_posix(),
        )
        if not self.paths:
            raise DerainSegError(f"no {'/'.join(IMAGE_SUFFIXES)} images under {self.root}")
        stems = [self._stem(p) for p in self.paths]
        clashes = {s for s, n in Counter(stems).items() if n > 1}
        self.names = [
            f"{s}_{p.suffix.lower().lstrip('.')}" if s in clashes else s for s, p in zip(stems, self.paths, strict=True)
        ]

    def _stem(self, path: Path) -> str:
        return "__".join(path.relative_to(self.root).with_suffix("").parts)

    def __len__(self) -> int:
        return len(self.paths)

    def name(self, index: int) -> str:
        return self.names[index]

    def scene(self, index: int) -> NamedScene:
        return NamedScene(self.names[index], read_rgb(self.paths[index]), None)
