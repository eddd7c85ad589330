"""Shapes, taps and freezing of the networks (small configuration, odd sizes)."""

from __future__ import annotations

import pytest
import torch

from derain_seg_ros.nets.attention import AttentionNet
from derain_seg_ros.nets.coarse import CoarseNet
from derain_seg_ros.nets.config import PipelineConfig
from derain_seg_ros.nets.deeplab import DeepLabV3Plus
from derain_seg_ros.nets.padding import crop_to, pad_to_multiple
from derain_seg_ros.nets.pipeline import DerainSegPipeline
from derain_seg_ros.nets.srrn import SRRN

SMALL = PipelineConfig.small()


@pytest.mark.parametrize("size", [(37, 53), (16, 16), (5, 9)])
def test_padding_round_trip_restores_size_and_pixels(size: tuple[int, int]) -> None:
    x = torch.rand(2, 3, *size)
    padded, original = pad_to_multiple(x, 16)
    assert padded.shape[-2] % 16 == 0 and padded.shape[-1] % 16 == 0
    assert original == size
    assert torch.equal(crop_to(padded, original), x)


def test_attention_map_is_full_resolution_probability() -> None:
    net = AttentionNet(SMALL.attention)
    with torch.no_grad():
        m = net(torch.rand(2, 3, 37, 53))
    assert m.shape == (2, 1, 37, 53)
    assert float(m.min()) >= 0.0 and float(m.max()) <= 1.0


def test_coarse_and_srrn_keep_padded_size() -> None:
    x = torch.rand(1, 3, 48, 64)
    ic = CoarseNet(SMALL.coarse)(x, torch.rand(1, 1, 48, 64))
    assert ic.shape == x.shape and float(ic.min()) >= 0.0 and float(ic.max()) <= 1.0
    outs = SRRN(SMALL.srrb, num_blocks=3)(ic)
    assert len(outs) == 3 and all(o.shape == x.shape for o in outs)


def test_srrb_output_is_input_plus_residual() -> None:
    srrn = SRRN(SMALL.srrb, num_blocks=1).eval()
    for p in srrn.parameters():  # leave the identity initialisation: both branches must contribute
        torch.nn.init.normal_(p, std=0.1)
    x = torch.rand(1, 3, 32, 32)
    block = srrn.blocks[0]
    with torch.no_grad():
        expected = x + block.unet(x) + block.full(x)
        assert torch.allclose(srrn(x)[0], expected)


def test_pipeline_returns_named_outputs_at_odd_size() -> None:
    pipeline = DerainSegPipeline.from_config(SMALL).eval()
    with torch.no_grad():
        out = pipeline(torch.rand(2, 3, 37, 53), features=True)
    assert out["attention"].shape == (2, 1, 37, 53)
    assert out["coarse"].shape == (2, 3, 37, 53)
    assert len(out["refined"]) == SMALL.num_srrb
    assert all(r.shape == (2, 3, 37, 53) for r in out["refined"])
    assert torch.equal(out["derained"], out["refined"][-1].clamp(0, 1))
    assert out["logits"].shape == (2, 19, 37, 53)
    assert out["labels"].shape == (2, 37, 53) and out["labels"].dtype == torch.int64
    assert torch.equal(out["labels"], out["logits"].argmax(1))
    assert torch.equal(out["seg"].logits, out["logits"])


def test_pipeline_without_segmentation_skips_deeplab() -> None:
    pipeline = DerainSegPipeline.from_config(SMALL).eval()
    with torch.no_grad():
        out = pipeline(torch.rand(1, 3, 20, 30), segment=False)
    assert "logits" not in out and "labels" not in out and out["derained"].shape == (1, 3, 20, 30)


@pytest.mark.parametrize("backbone,low_ch,high_ch", [("tiny", 8, 64), ("resnet18", 64, 512)])
def test_deeplab_exposes_five_aspp_branches_at_stride_16(backbone: str, low_ch: int, high_ch: int) -> None:
    cfg = PipelineConfig.small().deeplab.__class__(backbone=backbone, aspp_channels=16, low_level_channels=8)
    net = DeepLabV3Plus(cfg).eval()
    with torch.no_grad():
        seg = net(torch.rand(1, 3, 64, 96))
    assert seg.logits.shape == (1, 19, 64, 96)
    assert len(seg.aspp) == 5
    assert all(a.shape == (1, 16, 4, 6) for a in seg.aspp)
    assert seg.layer1.shape == (1, low_ch, 16, 24)
    assert seg.layer4.shape == (1, high_ch, 4, 6)
    assert seg.feature("layer4") is seg.layer4
    with pytest.raises(KeyError):
        seg.feature("layer2")


def test_deeplab_resnet101_taps_have_paper_channel_counts() -> None:
    net = DeepLabV3Plus(PipelineConfig().deeplab).eval()
    with torch.no_grad():
        seg = net(torch.rand(1, 3, 64, 64))
    assert [tuple(a.shape) for a in seg.aspp] == [(1, 256, 4, 4)] * 5
    assert seg.layer1.shape == (1, 256, 16, 16) and seg.layer4.shape == (1, 2048, 4, 4)


def test_per_image_normalisation_makes_batching_irrelevant() -> None:
    net = DeepLabV3Plus(SMALL.deeplab).eval()
    a, b = torch.rand(1, 3, 32, 32) * 0.5, torch.rand(1, 3, 32, 32)
    with torch.no_grad():
        alone = net(a).logits
        batched = net(torch.cat([a, b])).logits[:1]
    assert torch.allclose(alone, batched, atol=1e-5)


def test_stage2_step_updates_only_srrn() -> None:
    pipeline = DerainSegPipeline.from_config(SMALL)
    for module in (pipeline.attention, pipeline.coarse, pipeline.deeplab):
        module.requires_grad_(False).eval()
    rainy, clean = torch.rand(2, 3, 32, 32), torch.rand(2, 3, 32, 32)
    out = pipeline(rainy, features=True)
    target = pipeline.deeplab(clean)
    loss = (
        sum((p - t).abs().mean() for p, t in zip(out["seg"].aspp, target.aspp)) + (out["derained"] - clean).abs().mean()
    )
    loss.backward()
    assert all(p.grad is None for m in (pipeline.attention, pipeline.coarse, pipeline.deeplab) for p in m.parameters())
    grads = [p.grad for p in pipeline.srrn.parameters()]
    assert all(g is not None for g in grads) and sum(float(g.abs().sum()) for g in grads) > 0


def test_pipeline_without_srrbs_outputs_the_coarse_image() -> None:
    from dataclasses import replace

    pipeline = DerainSegPipeline.from_config(replace(SMALL, num_srrb=0)).eval()
    with torch.no_grad():
        out = pipeline(torch.rand(1, 3, 21, 30), segment=False)
    assert out["refined"] == [] and torch.equal(out["derained"], out["coarse"].clamp(0, 1))


def test_a_fresh_srrn_is_the_identity() -> None:
    srrn = SRRN(SMALL.srrb, num_blocks=2)
    x = torch.rand(1, 3, 32, 32)
    with torch.no_grad():
        assert all(torch.equal(out, x) for out in srrn(x))
