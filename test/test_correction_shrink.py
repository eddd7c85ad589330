"""The inference-time shrink of the correction: dry frames pass through untouched, rain still goes."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from derain_seg_ros.nets.config import PipelineConfig
from derain_seg_ros.nets.pipeline import DerainSegPipeline, shrink_correction
from derain_seg_ros.runtime.frame_pipeline import FramePipeline
from derain_seg_ros.runtime.onnx_export import export_onnx
from train.config import load_config
from train.loop import _changed_keys
from train.stages import pipeline_config

# The small networks with the shipped model's residual C (no gate, so a bias sets the correction).
RESIDUAL = replace(PipelineConfig.small(), coarse=replace(PipelineConfig.small().coarse, residual=True))


def _pipelines(shrink: float, seed: int = 0) -> tuple[DerainSegPipeline, DerainSegPipeline]:
    """The same random weights without and with the shrink, both in eval mode."""
    torch.manual_seed(seed)
    raw = DerainSegPipeline.from_config(PipelineConfig.small()).eval()
    shrunk = DerainSegPipeline.from_config(replace(PipelineConfig.small(), correction_shrink=shrink)).eval()
    shrunk.load_state_dict(raw.state_dict())
    return raw, shrunk


def _constant_correction(levels: tuple[float, float, float], shrink: float) -> DerainSegPipeline:
    """A residual pipeline whose C adds ``levels`` grey levels per channel everywhere (SRRBs: identity)."""
    torch.manual_seed(0)
    pipe = DerainSegPipeline.from_config(replace(RESIDUAL, correction_shrink=shrink)).eval()
    head = pipe.coarse.generator.head[1]
    with torch.no_grad():
        head.weight.zero_()
        head.bias.copy_(torch.tensor([math.atanh(v / 255) for v in levels]))
    return pipe


def test_eval_mode_moves_each_correction_toward_zero_by_the_threshold() -> None:
    raw, shrunk = _pipelines(shrink=8.0)
    x = torch.rand(2, 3, 36, 52)
    with torch.no_grad():
        c = raw(x, segment=False)["derained"] - x
        got = shrunk(x, segment=False)["derained"] - x
    t = 8.0 / 255
    small = c.abs() <= t
    assert small.any() and (~small).any()  # the random net makes corrections on both sides of it
    assert torch.equal(got[small], torch.zeros_like(got[small]))  # smaller ones are not made at all
    assert torch.allclose(got[~small], c[~small] - t * c[~small].sign(), atol=1e-6)  # larger ones lose t


def test_the_shrunk_image_lies_between_input_and_raw_output() -> None:
    raw, shrunk = _pipelines(shrink=20.0, seed=1)
    x = torch.rand(1, 3, 40, 40)
    with torch.no_grad():
        r, s = raw(x, segment=False)["derained"], shrunk(x, segment=False)["derained"]
    lo, hi = torch.minimum(x, r), torch.maximum(x, r)
    assert bool(((s >= lo - 1e-7) & (s <= hi + 1e-7)).all())
    assert not torch.allclose(s, r)


def test_deeplab_segments_the_shrunk_image() -> None:
    _, shrunk = _pipelines(shrink=8.0)
    x = torch.rand(1, 3, 32, 48)
    with torch.no_grad():
        out = shrunk(x)
        assert torch.equal(out["logits"], shrunk.deeplab(out["derained"]).logits)


def test_training_sees_the_raw_correction() -> None:
    """Below the threshold a soft threshold has no gradient, and a fresh residual C starts there."""
    raw, shrunk = _pipelines(shrink=8.0)
    raw.train(), shrunk.train()
    x = torch.rand(2, 3, 32, 48)
    assert torch.equal(shrunk(x, segment=False)["derained"], raw(x, segment=False)["derained"])
    fresh = DerainSegPipeline.from_config(replace(RESIDUAL, correction_shrink=8.0)).train()
    loss = (fresh(x, segment=False)["derained"] - 0.5).square().mean()
    loss.backward()
    assert fresh.coarse.generator.head[1].weight.grad.abs().sum() > 0  # the zero-initialised C can leave zero


def test_a_dry_frame_with_sub_level_corrections_comes_out_bit_exact() -> None:
    """0.7 grey levels of correction round to a whole level on every pixel; shrunk by 0.5, to none."""
    frame = torch.from_numpy(np.random.default_rng(0).integers(0, 250, (1, 32, 48, 3), dtype=np.uint8))
    with torch.no_grad():
        unshrunk = FramePipeline(_constant_correction((0.7, -0.7, 0.0), shrink=0.0))(frame)[0]
        shrunk = FramePipeline(_constant_correction((0.7, -0.7, 0.0), shrink=0.5))(frame)[0]
    changed = (unshrunk.int() - frame.int())[..., :2]
    assert (changed[..., 0] == 1).float().mean() > 0.99 and (changed[..., 1] == -1).float().mean() > 0.95
    assert torch.equal(shrunk, frame)


def test_a_large_correction_keeps_all_but_the_threshold() -> None:
    frame = torch.full((1, 16, 16, 3), 100, dtype=torch.uint8)
    with torch.no_grad():
        out = FramePipeline(_constant_correction((12.2, -6.2, 0.4), shrink=0.5))(frame)[0]
    assert torch.equal(
        out.reshape(-1, 3).unique(dim=0), torch.tensor([[112, 94, 100]], dtype=torch.uint8)
    )  # 11.7, -5.7, 0


def test_onnx_export_carries_the_shrink(tmp_path: Path) -> None:
    ort = pytest.importorskip(
        "onnxruntime", reason="onnxruntime is a test extra, absent under `colcon test` without it"
    )
    pipe = _constant_correction((0.7, 12.2, -6.2), shrink=0.5)
    path = export_onnx(pipe, tmp_path / "shrink.onnx", 24, 40)
    frame = np.random.default_rng(1).integers(10, 240, (1, 24, 40, 3), dtype=np.uint8)
    derained, _ = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"rainy": frame})
    change = derained.astype(int) - frame.astype(int)
    assert (change[..., 0] == 0).all()  # 0.7 - 0.5 rounds away: the shrink is in the exported graph
    assert (change[..., 1] == 12).all() and (change[..., 2] == -6).all()


def test_the_embedded_preset_shrinks_by_half_a_level_and_older_configs_do_not() -> None:
    assert PipelineConfig.embedded().correction_shrink == 0.5
    assert PipelineConfig.streets().correction_shrink == 0.0  # its trust head holds C back instead (train/RESULTS.md)
    assert PipelineConfig.small().correction_shrink == PipelineConfig.paper().correction_shrink == 0.0
    data = PipelineConfig.embedded().to_dict()
    del data["correction_shrink"]  # a checkpoint from before the field
    assert PipelineConfig.from_dict(data).correction_shrink == 0.0
    with pytest.raises(ValueError, match="grey levels"):
        replace(PipelineConfig.small(), correction_shrink=-1.0)
    with pytest.raises(ValueError, match="grey levels"):
        replace(PipelineConfig.small(), correction_shrink=float("nan"))


def test_training_configs_set_it_and_resume_across_it() -> None:
    assert pipeline_config(load_config("embedded", [])).correction_shrink == 0.5
    assert pipeline_config(load_config("embedded", ["model.correction_shrink=0"])).correction_shrink == 0.0
    # No weight depends on it: a run trained before it existed resumes under the preset that has it ...
    saved = replace(PipelineConfig.embedded(), correction_shrink=0.0).to_dict()
    assert _changed_keys(saved, PipelineConfig.embedded()) == []
    # ... while a change of the networks is still named.
    assert _changed_keys(saved, replace(PipelineConfig.embedded(), num_srrb=1)) == ["num_srrb"]


def test_shrink_correction_is_symmetric_and_exact_at_the_threshold() -> None:
    rainy = torch.full((5,), 0.5)
    derained = rainy + torch.tensor([-0.3, -0.1, 0.0, 0.1, 0.3])
    assert torch.allclose(shrink_correction(rainy, derained, 0.1) - rainy, torch.tensor([-0.2, 0.0, 0.0, 0.0, 0.2]))
