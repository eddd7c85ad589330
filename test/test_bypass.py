"""--no-derain and --no-refine: the same graph with a part left out, through every way in."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from derain_seg_ros.cli import main
from derain_seg_ros.data.io import read_gray
from derain_seg_ros.nets.config import PipelineConfig
from derain_seg_ros.nets.pipeline import DerainSegPipeline, with_bypass
from derain_seg_ros.runtime.checkpoint import load_pipeline, save_checkpoint
from derain_seg_ros.runtime.segment_only import segment


def _pipeline() -> DerainSegPipeline:
    torch.manual_seed(0)
    pipeline = DerainSegPipeline.from_config(PipelineConfig.small()).eval()
    with torch.no_grad():  # a C and SRRN that change the image (both start as the identity), so each bypass is visible
        for p in [*pipeline.coarse.parameters(), *pipeline.srrn.parameters()]:
            p.add_(0.05 * torch.randn_like(p))
    return pipeline


def test_bypass_derain_segments_the_input_itself() -> None:
    pipeline = _pipeline()
    x = torch.rand(1, 3, 24, 40)
    with torch.no_grad():
        full = pipeline(x)["derained"]
        out = with_bypass(pipeline, "derain")(x)
        expected = pipeline.deeplab(x).logits
    assert not torch.allclose(full, x)
    assert torch.equal(out["derained"], x) and torch.allclose(out["logits"], expected)


def test_bypass_refine_hands_the_coarse_image_to_the_segmenter() -> None:
    pipeline = _pipeline()
    x = torch.rand(1, 3, 24, 40)
    with torch.no_grad():
        full = pipeline(x)
        out = with_bypass(pipeline, "refine")(x)
    assert out["refined"] == [] and torch.equal(out["derained"], full["coarse"].clamp(0, 1))
    assert not torch.equal(out["derained"], full["derained"])


def test_bypass_is_inference_only_and_validated(tmp_path: Path) -> None:
    assert "bypass" in PipelineConfig.INFERENCE_ONLY
    with pytest.raises(ValueError, match="unknown bypass"):
        PipelineConfig(bypass="srrn")
    path = save_checkpoint(tmp_path / "m.pt", with_bypass(_pipeline(), "derain"))
    assert load_pipeline(path)[0].cfg.bypass == "derain"


def test_infer_no_derain_writes_the_segmenters_labels_of_the_raw_frame(tmp_path: Path) -> None:
    pipeline = _pipeline()
    checkpoint = save_checkpoint(tmp_path / "m.pt", pipeline)
    image = np.random.default_rng(0).integers(0, 256, (24, 40, 3), dtype=np.uint8)
    cv2.imwrite(str(tmp_path / "a.png"), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    for flag, out in (("--no-derain", "raw"), ("--no-refine", "coarse")):
        assert (
            main(
                [
                    "infer",
                    str(tmp_path / "a.png"),
                    "--out",
                    str(tmp_path / out),
                    "--checkpoint",
                    str(checkpoint),
                    "--backend",
                    "torch",
                    flag,
                ]
            )
            == 0
        )
    raw = read_gray(tmp_path / "raw" / "a_labels.png")
    assert np.array_equal(raw, segment(pipeline, image))
    assert np.array_equal(cv2.cvtColor(cv2.imread(str(tmp_path / "raw" / "a_derained.png")), cv2.COLOR_BGR2RGB), image)
    assert (tmp_path / "coarse" / "a_labels.png").is_file()


def test_no_derain_refuses_a_fixed_onnx_graph_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "g.onnx").write_bytes(b"x")
    cv2.imwrite(str(tmp_path / "a.png"), np.zeros((8, 8, 3), np.uint8))
    with pytest.raises(SystemExit, match=r"^error: --no-derain needs a pipeline checkpoint"):
        main(
            [
                "infer",
                str(tmp_path / "a.png"),
                "--out",
                str(tmp_path / "o"),
                "--checkpoint",
                str(tmp_path / "g.onnx"),
                "--no-derain",
            ]
        )
