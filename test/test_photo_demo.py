"""`derain-seg demo --photos`: real photos under every rain kind through the model, one sheet and scores."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

from derain_seg_ros.cli import main
from derain_seg_ros.nets.config import PipelineConfig
from derain_seg_ros.nets.pipeline import DerainSegPipeline
from derain_seg_ros.runtime.checkpoint import save_checkpoint


def test_photos_under_each_rain_kind_give_a_sheet_and_scores(tmp_path: Path) -> None:
    checkpoint = save_checkpoint(tmp_path / "m.pt", DerainSegPipeline.from_config(PipelineConfig.small()))
    (tmp_path / "photos").mkdir()
    rng = np.random.default_rng(0)
    cv2.imwrite(str(tmp_path / "photos" / "a.jpg"), rng.integers(0, 256, (60, 100, 3), dtype=np.uint8))
    (tmp_path / "photos" / "broken.png").write_bytes(b"not a png")
    assert (
        main(
            [
                "demo",
                "--photos",
                str(tmp_path / "photos"),
                "--checkpoint",
                str(checkpoint),
                "--size",
                "36x48",
                "--out",
                str(tmp_path / "out"),
            ]
        )
        == 0
    )
    scores = json.loads((tmp_path / "out" / "scores.json").read_text())
    assert set(scores) == {"a"} and {"car", "paper", "pane"} <= set(scores["a"])
    assert (
        scores["a"]["dry_psnr_rgb"] is None or scores["a"]["dry_psnr_rgb"] > 0
    )  # the dry photo through the model, against itself
    assert cv2.imread(str(tmp_path / "out" / "a_pane_rainy.png")).shape == (36, 48, 3)
    assert (tmp_path / "out" / "sheet.png").is_file()
