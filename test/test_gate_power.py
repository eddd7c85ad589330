"""C's gate power (``coarse.gate_power``): the correction gated by M^p. At 1 it is C as trained, bit for bit; below
1 it opens the gate where A's map is unsure, never beyond C's own output; a C trained at one power serves behind
another (no weights change), and the exported graph computes it as torch does."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import torch
from train_fixtures import exported_matches_torch

from derain_seg_ros.nets.coarse import CoarseNet
from derain_seg_ros.nets.config import CoarseConfig, PipelineConfig, grown_prefixes, with_settings
from derain_seg_ros.nets.pipeline import DerainSegPipeline
from derain_seg_ros.runtime.checkpoint import save_checkpoint
from train.stages import load_submodules

TRUSTED = with_settings(
    PipelineConfig.small(), {"coarse.residual": True, "coarse.gate": True, "coarse.tone": True, "coarse.trust": True}
)
OPENED = with_settings(TRUSTED, {"coarse.gate_power": 0.5})


def _correcting(cfg: PipelineConfig) -> DerainSegPipeline:
    torch.manual_seed(0)
    pipeline = DerainSegPipeline.from_config(cfg).eval()
    with torch.no_grad():  # a C that corrects, so equal outputs are not those of a zero correction
        pipeline.coarse.generator.head[1].bias.fill_(0.2)
    return pipeline


def test_power_one_is_c_as_trained_and_a_lower_one_opens_the_gate_within_c_output() -> None:
    coarse = _correcting(TRUSTED).coarse
    x, attention = torch.rand(2, 3, 32, 64), torch.rand(2, 1, 32, 64)
    with torch.no_grad():
        base, gated = coarse.parts(x, attention)
        raw = coarse.generator(torch.cat([base * 2 - 1, attention], dim=1))
        assert torch.equal(gated, raw * attention)
        coarse.cfg = replace(coarse.cfg, gate_power=0.5)
        _, opened = coarse.parts(x, attention)
    assert torch.allclose(opened, raw * attention.sqrt(), atol=1e-6)
    assert (opened.abs() > gated.abs()).float().mean() > 0.9  # wherever 0 < M < 1 and C corrects
    assert (opened.abs() <= raw.abs() + 1e-7).all()  # M^p <= 1: never more than C's output


@pytest.mark.parametrize("cfg", [CoarseConfig(residual=True, gate=False, gate_power=0.5), CoarseConfig(gate_power=0.5)])
def test_a_gate_power_needs_a_gated_residual_c(cfg: CoarseConfig) -> None:
    with pytest.raises(ValueError, match="coarse.gate_power 0.5 needs coarse.residual and coarse.gate"):
        CoarseNet(cfg)
    with pytest.raises(ValueError, match="a power > 0"):
        CoarseNet(CoarseConfig(residual=True, gate=True, gate_power=0.0))


def test_a_c_trained_at_power_one_serves_behind_another(tmp_path: Path) -> None:
    assert grown_prefixes("coarse", TRUSTED.to_dict()["coarse"], OPENED.to_dict()["coarse"]) == ()
    other = with_settings(OPENED, {"coarse.blocks": 3})
    assert grown_prefixes("coarse", TRUSTED.to_dict()["coarse"], other.to_dict()["coarse"]) is None
    trained = _correcting(TRUSTED)
    opened = DerainSegPipeline.from_config(OPENED).eval()
    load_submodules(opened, str(save_checkpoint(tmp_path / "stage1.pt", trained)), ("attention", "coarse"), "stage1")
    x = torch.rand(1, 3, 32, 64)
    with torch.no_grad():
        assert not torch.equal(opened(x)["coarse"], trained(x)["coarse"])  # same weights, the gate opened
        opened.coarse.cfg = replace(opened.coarse.cfg, gate_power=1.0)
        assert torch.equal(opened(x)["coarse"], trained(x)["coarse"])


def test_the_small_pipeline_with_an_opened_gate_exports_to_onnx_and_matches_torch(tmp_path: Path) -> None:
    pipeline = _correcting(replace(OPENED, correction_shrink=0.0))
    x, ref = exported_matches_torch(pipeline, tmp_path / "opened.onnx")
    pipeline.coarse.cfg = replace(pipeline.coarse.cfg, gate_power=1.0)
    with torch.no_grad():
        assert (ref - pipeline(x)["derained"]).abs().max() > 2 / 255  # the power changed the output
