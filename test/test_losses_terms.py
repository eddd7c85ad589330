"""Each loss term: minimum on identical inputs, positive otherwise; a step of each stage's loss lowers it."""

from __future__ import annotations

import pytest
import torch

from derain_seg_ros.losses import (
    LossWeights,
    attention_loss,
    derain_loss,
    pipeline_loss,
    refine_loss,
    semantic_loss,
    ssim,
)
from derain_seg_ros.nets.config import PipelineConfig
from derain_seg_ros.nets.outputs import SegmentationOutput
from derain_seg_ros.nets.pipeline import DerainSegPipeline
from train.config import LossConfig
from train.variants import STAGE1, STAGE2, Stage


def test_image_losses_vanish_on_identical_inputs_only() -> None:
    x = torch.rand(2, 3, 24, 24)
    y = (x + 0.1 * torch.randn_like(x)).clamp(0, 1)
    assert float(ssim(x, x)) == pytest.approx(1.0, abs=1e-6)
    assert float(derain_loss(x, x)) == pytest.approx(0.0, abs=1e-6)
    assert float(derain_loss(y, x)) > 0.01
    assert float(refine_loss([x, x], x)) == pytest.approx(0.0, abs=1e-6)
    assert float(refine_loss([y, x], x)) > 0 and float(refine_loss([x, y], x)) > 0
    m = torch.rand(2, 1, 24, 24)
    assert float(attention_loss(m, m)) == 0.0 and float(attention_loss(m, 1 - m)) > 0


def _seg(seed: int) -> SegmentationOutput:
    g = torch.Generator().manual_seed(seed)
    return SegmentationOutput(
        logits=torch.randn(1, 19, 8, 8, generator=g),
        aspp=tuple(torch.randn(1, 4, 2, 2, generator=g) for _ in range(5)),
        layer1=torch.randn(1, 3, 4, 4, generator=g),
        layer4=torch.randn(1, 6, 2, 2, generator=g),
    )


def test_semantic_loss_is_zero_on_equal_features_and_uses_the_chosen_layer() -> None:
    a, b = _seg(0), _seg(1)
    assert float(semantic_loss(a, a)) == 0.0
    assert float(semantic_loss(a, b)) > 0
    only_layer4_differs = a._replace(layer4=b.layer4)
    assert float(semantic_loss(only_layer4_differs, a, lf_layer="layer1")) == 0.0
    assert float(semantic_loss(only_layer4_differs, a, lf_layer="layer4")) > 0
    aspp_only = float(semantic_loss(a._replace(aspp=b.aspp), a))
    expected = sum(float((p - t).abs().mean()) for p, t in zip(b.aspp, a.aspp)) / 5
    assert aspp_only == pytest.approx(expected)


def test_switching_every_term_off_is_an_error() -> None:
    with pytest.raises(ValueError, match="every term off"):
        pipeline_loss({}, torch.zeros(1, 3, 4, 4), LossWeights())


def _batch() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    clean = torch.rand(2, 3, 32, 32, generator=g)
    rainy = (clean + 0.5 * (torch.rand(2, 1, 32, 32, generator=g) > 0.9)).clamp(0, 1)
    return rainy, clean


@pytest.mark.parametrize("stage", [STAGE1, STAGE2], ids=["stage1", "stage2"])
def test_one_step_of_each_stage_loss_lowers_it(stage: Stage) -> None:
    weights, trained = stage.weights(LossConfig()), stage.trains
    pipeline = DerainSegPipeline(PipelineConfig.small())
    pipeline.requires_grad_(False)
    params = [p for name in trained for p in getattr(pipeline, name).parameters()]
    for p in params:
        p.requires_grad_(True)
    pipeline.eval()  # fixed BN statistics: the same batch must see the same function before and after
    rainy, clean = _batch()
    mask = ((rainy - clean).abs().amax(1, keepdim=True) > 0).float()

    def loss() -> torch.Tensor:
        out = pipeline(rainy, segment=False, features=weights.semantic > 0)
        seg_clean = pipeline.deeplab(clean) if weights.semantic else None
        return pipeline_loss(out, clean, weights, mask, out.get("seg"), seg_clean)[0]

    optimizer = torch.optim.Adam(params, lr=1e-4)
    before = loss()
    before.backward()
    optimizer.step()
    with torch.no_grad():
        after = loss()
    assert float(after) < float(before.detach())
