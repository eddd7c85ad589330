"""The models that ship in the package: present, small, described by their cards, and they derain.

Scenes and rain are made here from a seed stream no dataset uses, so the models never saw them.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

from derain_seg_ros.commands.demo import demo_scene_seed
from derain_seg_ros.data.synthcity import generate_scene
from derain_seg_ros.metrics import psnr
from derain_seg_ros.nets.config import PipelineConfig
from derain_seg_ros.nets.pipeline import DerainSegPipeline
from derain_seg_ros.rain.renderers import make_renderer
from derain_seg_ros.runtime.checkpoint import load_pipeline, read_checkpoint, save_checkpoint
from derain_seg_ros.runtime.shipped import (
    DEFAULT_MODEL,
    MODELS,
    model_card_name,
    pack_for_shipping,
    sha256_of,
    shipped_checkpoint,
)
from derain_seg_ros.runtime.torch_engine import TorchEngine


@pytest.fixture(scope="module")
def shipped() -> tuple[DerainSegPipeline, dict]:
    pipeline, state = load_pipeline(shipped_checkpoint("embedded"))
    return pipeline.eval(), state


@pytest.mark.parametrize("model", sorted(MODELS))
def test_shipped_file_is_small_and_its_card_names_its_sha256(model: str) -> None:
    path = shipped_checkpoint(model)
    assert path.stat().st_size <= 16 * 2**20
    card = (path.parent / model_card_name(model)).read_text()
    assert re.search(rf"`{sha256_of(path)}`", card), f"{model_card_name(model)} must give this file's sha256"
    assert "make weights" in card


def test_the_default_is_the_streets_model_on_efficientnet_lite() -> None:
    pipeline, state = load_pipeline(shipped_checkpoint())
    assert DEFAULT_MODEL == "streets" and pipeline.cfg == PipelineConfig.streets()
    assert "CC BY-NC 4.0" in (shipped_checkpoint().parent / model_card_name()).read_text()


def test_shipped_embedded_model_is_the_embedded_preset_stored_in_fp16(shipped: tuple[DerainSegPipeline, dict]) -> None:
    pipeline, state = shipped
    assert pipeline.cfg == PipelineConfig.embedded()
    assert all(v.dtype == torch.float16 for v in state["model"].values() if v.is_floating_point())
    assert all(p.dtype == torch.float32 for p in pipeline.parameters())  # loaded as fp32


def test_shipped_model_derains_fresh_scenes_and_leaves_dry_ones_alone(shipped: tuple[DerainSegPipeline, dict]) -> None:
    engine = TorchEngine(shipped[0])
    renderer = make_renderer("car")
    gains, dry = [], []
    for i in range(3):
        seed = demo_scene_seed(4242, i)
        clean = generate_scene(seed, 128, 256).image
        rainy = renderer.render(clean, seed, renderer.num_steps - 1, layers=False).rainy
        out = engine.infer([rainy, clean]).derained
        gains.append(psnr(out[0], clean, "rgb") - psnr(rainy, clean, "rgb"))
        dry.append(psnr(out[1], clean, "rgb"))
    assert min(gains) > 0 and float(np.mean(gains)) > 1.0
    assert min(dry) > 35.0


def test_packing_keeps_the_pipeline_and_drops_training_state(tmp_path) -> None:
    pipeline = DerainSegPipeline.from_config(PipelineConfig.small()).eval()
    ckpt = save_checkpoint(tmp_path / "last.pt", pipeline, optimizer={"big": torch.zeros(1000)}, step=5)
    packed = pack_for_shipping(ckpt, tmp_path / "model.pt", recipe="test")
    state = read_checkpoint(packed)
    assert "optimizer" not in state and state["provenance"] == {"recipe": "test"}
    loaded, _ = load_pipeline(packed)
    loaded.eval()
    x = torch.rand(1, 3, 32, 64)
    with torch.no_grad():
        assert torch.allclose(loaded(x)["derained"], pipeline(x)["derained"], atol=2e-2)


def test_the_card_scores_more_unseen_seeds_beside_its_own(tmp_path) -> None:
    from train.ship import more_seeds

    data = tmp_path / "eval_unseen_1002"
    data.mkdir()
    (data / "manifest.json").write_text('{"version": 2, "spec": {"seed": 1002}, "items": []}')
    rainy = {"psnr_rgb": 31.0, "miou": 50.0}
    derained = {
        "images": 120,
        "psnr_rgb": 35.37,
        "worse_than_input": 1,
        "clean_in_psnr_rgb": 52.26,
        "clean_in_psnr_rgb_min": 39.97,
        "miou": 54.1,
        "clean_in_miou": 57.9,
    }
    lines = more_seeds({data: {"rainy": rainy, "derained": derained}})
    assert "| 1002 | 120 | 31.00 | 35.37 (+4.37) | 1 | 52.26 / 39.97 | 50.00 / 54.10 / 57.90 |" in lines
    assert more_seeds({}) == []
