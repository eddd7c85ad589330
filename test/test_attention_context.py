"""A's scene context: a per-image logit offset that starts as a no-op and leaves other inits alone."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from derain_seg_ros.nets.attention import AttentionNet
from derain_seg_ros.nets.config import AttentionConfig, PipelineConfig
from derain_seg_ros.nets.pipeline import DerainSegPipeline
from derain_seg_ros.runtime.onnx_export import OPSET
from train.config import load_config
from train.stages import pipeline_config

LOCAL = AttentionConfig(channels=8, blocks=1)
WITH_CONTEXT = replace(LOCAL, scene_context=True)


def _logit(m: torch.Tensor) -> torch.Tensor:
    return torch.logit(m.double(), eps=1e-12)


def _trained_context(seed: int = 1) -> AttentionNet:
    """An A whose context has left zero, as after training (eval mode: BN uses running stats)."""
    torch.manual_seed(seed)
    net = AttentionNet(WITH_CONTEXT)
    with torch.no_grad():
        net.context.body[-1].weight.normal_(0.0, 0.5)
        net.context.body[-1].bias.fill_(-0.3)
    return net.eval()


def test_switching_the_context_on_changes_no_other_initial_weight() -> None:
    """A seeded stage 0 (DeepLab's init comes after A's) must not move when A gains its context."""
    base = PipelineConfig.small()
    torch.manual_seed(7)
    local = DerainSegPipeline(base).state_dict()
    torch.manual_seed(7)
    ctx = DerainSegPipeline(replace(base, attention=replace(base.attention, scene_context=True))).state_dict()
    assert set(ctx) - set(local) == {f"attention.context.body.{i}.{p}" for i in (1, 3) for p in ("weight", "bias")}
    assert all(torch.equal(local[k], ctx[k]) for k in local)


def test_a_fresh_context_is_the_local_attention_net() -> None:
    torch.manual_seed(0)
    local = AttentionNet(LOCAL).eval()
    ctx = AttentionNet(WITH_CONTEXT).eval()
    ctx.load_state_dict(local.state_dict(), strict=False)
    x = torch.rand(2, 3, 37, 53)
    with torch.no_grad():
        assert torch.equal(ctx(x), local(x))


def test_the_context_shifts_every_logit_of_an_image_by_one_amount() -> None:
    net = _trained_context()
    local = AttentionNet(LOCAL).eval()
    local.load_state_dict(net.state_dict(), strict=False)
    bright = torch.rand(1, 3, 32, 48)
    x = torch.cat([bright, 0.2 * bright])
    with torch.no_grad():
        shift = _logit(net(x)) - _logit(local(x))
    per_image = shift.flatten(1)
    assert per_image.std(dim=1).max() < 1e-4  # one offset per image ...
    assert abs(float(per_image[0, 0] - per_image[1, 0])) > 1e-3  # ... that depends on the image


def test_the_context_of_an_image_does_not_depend_on_its_batch_neighbours() -> None:
    """Batching two cameras must change nothing: the mean is taken per image."""
    net = _trained_context()
    x = torch.rand(2, 3, 32, 48)
    with torch.no_grad():
        alone = net(x[:1])
        together = net(torch.cat([x[:1], torch.zeros_like(x[:1])]))[:1]
    assert torch.allclose(alone, together, atol=1e-6)


def test_the_context_is_a_density_not_a_count() -> None:
    """A frame made of the same content at twice the size gets the same offset (crops to frames)."""
    net = _trained_context()
    features = torch.rand(1, WITH_CONTEXT.channels, 16, 24)
    with torch.no_grad():
        assert torch.allclose(net.context(features), net.context(features.repeat(1, 1, 2, 2)), atol=1e-6)
        assert not torch.allclose(net.context(features), net.context(features * 2), atol=1e-3)


def test_training_switches_the_context_on_over_any_preset() -> None:
    assert not pipeline_config(load_config("embedded", [])).attention.scene_context  # the shipped recipe: local A
    on = pipeline_config(load_config("embedded", ["model.scene_context=true"]))
    assert on.attention.scene_context and on.attention.channels == PipelineConfig.embedded().attention.channels
    assert on.coarse == PipelineConfig.embedded().coarse


def test_an_older_checkpoint_config_without_the_field_loads_as_the_local_net() -> None:
    data = replace(PipelineConfig.embedded(), attention=WITH_CONTEXT).to_dict()
    del data["attention"]["scene_context"]
    assert not PipelineConfig.from_dict(data).attention.scene_context


def test_onnx_export_of_the_context_matches_torch(tmp_path: Path) -> None:
    ort = pytest.importorskip("onnxruntime", reason="onnxruntime is a test extra, absent under `colcon test` without it")
    net = _trained_context()
    x = torch.rand(2, 3, 29, 41)
    path = tmp_path / "attention.onnx"
    torch.onnx.export(net, (x,), str(path), input_names=["rainy"], output_names=["m"],
                      dynamic_axes={"rainy": {0: "n", 2: "h", 3: "w"}}, dynamo=False, opset_version=OPSET)
    other = torch.rand(1, 3, 35, 47)  # another size and batch: the mean must not be baked in
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for inp in (x, other):
        (m,) = session.run(None, {"rainy": inp.numpy()})
        with torch.no_grad():
            assert np.abs(m - net(inp).numpy()).max() < 1e-5
