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
    synthesize(
        SynthSpec(source="folder", root=str(tmp_path / "frames"), count=12, height=None, width=None, seed=3),
        tmp_path / "set",
        progress=False,
    )
    splits = defaultdict(set)
    for item in load_manifest(tmp_path / "set")["items"]:
        splits[item["scene"]].add(item["split"])
    assert len(splits) == 3 and all(len(s) == 1 for s in splits.values())
    assert "frames repeat under new rain" in caplog.text


def test_a_rerun_over_items_made_with_the_old_split_gives_them_todays(tmp_path: Path) -> None:
    import json

    rng = np.random.default_rng(2)
    (tmp_path / "frames").mkdir()
    for i in range(4):
        cv2.imwrite(str(tmp_path / "frames" / f"f{i}.png"), rng.integers(0, 256, (16, 24, 3), dtype=np.uint8))
    spec = SynthSpec(source="folder", root=str(tmp_path / "frames"), count=8, height=None, width=None, seed=1)
    synthesize(spec, tmp_path / "set", progress=False)
    first = {it["name"]: it["split"] for it in load_manifest(tmp_path / "set")["items"]}
    record = tmp_path / "set" / "items" / f"{sorted(first)[0]}.json"
    stale = json.loads(record.read_text())
    stale["split"] = "test" if stale["split"] == "train" else "train"  # as an older split rule may have put it
    record.write_text(json.dumps(stale))
    synthesize(spec, tmp_path / "set", progress=False)
    assert {it["name"]: it["split"] for it in load_manifest(tmp_path / "set")["items"]} == first
