"""Synthesis splits real frames by frame, never by item: a frame rendered twice stays in one split."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import cv2
import numpy as np

from derain_seg_ros.data.raindrop_cityscapes import SynthSpec, load_manifest, synthesize


def test_more_items_than_frames_keep_each_frame_in_one_split(tmp_path: Path, caplog) -> None:
    rng = np.random.default_rng(1)
    (tmp_path / "frames").mkdir()
    for i in range(3):
        cv2.imwrite(str(tmp_path / "frames" / f"f{i}.png"), rng.integers(0, 256, (16, 24, 3), dtype=np.uint8))
    synthesize(SynthSpec(source="folder", root=str(tmp_path / "frames"), count=12, height=None, width=None, seed=3),
               tmp_path / "set", progress=False)
    splits = defaultdict(set)
    for item in load_manifest(tmp_path / "set")["items"]:
        splits[item["scene"]].add(item["split"])
    assert len(splits) == 3 and all(len(s) == 1 for s in splits.values())
    assert "frames repeat under new rain" in caplog.text
