"""The real-streets report: clean-in / rainy-in / derained side by side on held-out frames, dry photos, a figure."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
from test_labelled_folder import make_camvid

from derain_seg_ros.data.raindrop_cityscapes import SynthSpec, synthesize
from derain_seg_ros.nets.config import PipelineConfig
from derain_seg_ros.nets.pipeline import DerainSegPipeline
from derain_seg_ros.runtime.checkpoint import save_checkpoint
from train.streets_report import main


def test_report_scores_only_held_out_frames_with_every_column(tmp_path: Path) -> None:
    make_camvid(tmp_path / "camvid", train=2, val=2, h=32, w=48)
    synthesize(
        SynthSpec(
            source="camvid",
            root=str(tmp_path / "camvid"),
            split="all",
            count=0,
            height=None,
            width=None,
            rain_preset="paper",
        ),
        tmp_path / "paper",
        progress=False,
    )
    (tmp_path / "dry").mkdir()
    cv2.imwrite(str(tmp_path / "dry" / "d.png"), np.random.default_rng(0).integers(0, 256, (32, 48, 3), dtype=np.uint8))
    checkpoint = save_checkpoint(tmp_path / "m.pt", DerainSegPipeline.from_config(PipelineConfig.small()))
    assert (
        main(
            [
                "--checkpoint",
                str(checkpoint),
                "--data",
                f"paper={tmp_path / 'paper'}",
                "--dry",
                f"photos={tmp_path / 'dry'}",
                "--no-refine",
                "--figure-frames",
                "1",
                "--out",
                str(tmp_path / "out"),
            ]
        )
        == 0
    )
    report = (tmp_path / "out" / "report.md").read_text()
    scores = json.loads((tmp_path / "out" / "report.json").read_text())["rain"]["paper"]
    assert scores["derained"]["images"] == 2  # CamVid's two val frames only, never the train ones
    assert {"rainy", "derained", "no_refine"} <= set(scores)
    assert "| paper | 2 |" in report and "With the SRRN bypassed" in report and "| photos | 1 |" in report
    assert "| car |" in report  # the per-class table lists CamVid's classes (car is one)
    assert (tmp_path / "out" / "figure.png").is_file()


def test_a_malformed_pair_is_one_line(tmp_path: Path, capsys) -> None:
    assert main(["--data", "no-equals-sign", "--out", str(tmp_path)]) == 2
    assert capsys.readouterr().err.strip() == "error: --data takes NAME=PATH, got 'no-equals-sign'"
