"""Each loss term: minimum on identical inputs, positive otherwise; a step of each stage's loss lowers it."""

from __future__ import annotations

import math

import pytest
import torch
from torch import Tensor

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
    pipeline = DerainSegPipeline.from_config(PipelineConfig.small())
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


def test_log_mse_term_is_minus_the_mean_per_image_psnr_and_guards_nearly_clean_frames() -> None:
    from derain_seg_ros.losses import LOG_MSE_EPS, log_mse_loss

    g = torch.Generator().manual_seed(0)
    clean = torch.rand(2, 3, 16, 16, generator=g)
    noise = torch.randn(2, 3, 16, 16, generator=g)
    # image 0 nearly clean (light rain, ~54 dB), image 1 far off (heavy rain, ~20 dB)
    out = clean + noise * torch.tensor([0.002, 0.1]).view(2, 1, 1, 1)
    mse = (out - clean).pow(2).flatten(1).mean(1)
    psnr_db = -10 * torch.log10(mse + LOG_MSE_EPS)
    assert float(log_mse_loss(out, clean)) == pytest.approx(
        float(-(torch.log(torch.tensor(10.0)) / 10 * psnr_db).mean()), rel=1e-5
    )

    def pull(eps: float) -> Tensor:  # gradient per unit of error, per image
        x = out.clone().requires_grad_(True)
        log_mse_loss(x, clean, eps).backward()
        return x.grad.abs().flatten(1).mean(1) / (out - clean).abs().flatten(1).mean(1)

    default, finer = pull(LOG_MSE_EPS), pull(1e-7)
    assert float(default[0]) > 20 * float(default[1])  # L1 and SSIM weigh both frames alike
    assert float(finer[0] / finer[1]) > 2 * float(default[0] / default[1])  # a lower floor: a stronger guard
    assert float(log_mse_loss(clean, clean)) == pytest.approx(math.log(LOG_MSE_EPS))


def test_log_mse_term_judges_the_last_image_the_stage_trains() -> None:
    clean = torch.zeros(1, 3, 16, 16)  # SSIM's window needs 11 pixels
    good, bad = clean.clone(), clean + 0.5
    w = LossWeights(coarse=1.0, log_mse=1.0)
    _, coarse_bad = pipeline_loss({"coarse": bad, "refined": [good]}, clean, w)
    _, coarse_good = pipeline_loss({"coarse": good, "refined": [bad]}, clean, w)
    assert coarse_bad["log_mse"] > coarse_good["log_mse"]
    w = LossWeights(refine=1.0, log_mse=1.0)
    _, last_bad = pipeline_loss({"coarse": good, "refined": [good, bad]}, clean, w)
    _, last_good = pipeline_loss({"coarse": bad, "refined": [bad, good]}, clean, w)
    assert last_bad["log_mse"] > last_good["log_mse"]
    assert "log_mse" not in pipeline_loss({"coarse": bad}, clean, LossWeights(coarse=1.0))[1]


def test_every_deraining_stage_takes_the_log_mse_weight_from_the_config() -> None:
    loss = LossConfig(log_mse_weight=0.02, log_mse_eps=1e-5)
    for stage in (STAGE1, STAGE2):
        assert (stage.weights(loss).log_mse, stage.weights(loss).log_mse_eps) == (0.02, 1e-5)
    assert STAGE1.weights(LossConfig()).log_mse == 0.0  # the paper's losses by default
