"""Checkpoints written before options were removed still load: the shipped ones (which store the paper's four
baseline configs beside ours) and any whose config names a removed option at its off value."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from derain_seg_ros.nets.config import PipelineConfig
from derain_seg_ros.nets.pipeline import DerainSegPipeline
from derain_seg_ros.runtime.checkpoint import FORMAT, CheckpointError, load_pipeline, read_checkpoint
from derain_seg_ros.runtime.shipped import MODELS, shipped_checkpoint

PRESETS = {"streets": PipelineConfig.streets, "embedded": PipelineConfig.embedded}


@pytest.mark.parametrize("model", MODELS)
def test_the_shipped_checkpoints_load_as_their_preset(model: str) -> None:
    stored = read_checkpoint(shipped_checkpoint(model))["config"]
    pipeline, _ = load_pipeline(shipped_checkpoint(model))
    assert pipeline.cfg == PipelineConfig.from_dict(stored) == PRESETS[model]()


def test_the_embedded_checkpoint_written_before_the_baselines_moved_out_loads() -> None:
    """The embedded file was written by the code before the split: it stores the four baseline configs
    beside ours (``derainer: ours``). (The streets file has been retrained since; the synthetic old
    checkpoints below cover the format independently of either.) A repacked file fails here."""
    stored = read_checkpoint(shipped_checkpoint("embedded"))["config"]
    assert {"derainer", "prenet", "durn", "agan", "icsc"} <= set(stored)
    assert load_pipeline(shipped_checkpoint("embedded"))[0].cfg == PRESETS["embedded"]()


def _old_checkpoint(tmp_path: Path, **changes: object) -> tuple[Path, DerainSegPipeline]:
    """A small checkpoint whose config holds the keys of removed options, as older files do."""
    torch.manual_seed(0)
    pipeline = DerainSegPipeline.from_config(PipelineConfig.small()).eval()
    config = pipeline.cfg.to_dict()
    config["attention"]["scene_context"] = False
    config.update(derainer="ours", prenet={"channels": 32}, durn={}, agan={}, icsc={})
    for key, value in changes.items():
        section, _, leaf = key.partition("__")
        if leaf:
            config[section][leaf] = value
        else:
            config[section] = value
    path = tmp_path / "old.pt"
    torch.save({"format": FORMAT, "config": config, "model": pipeline.state_dict()}, path)
    return path, pipeline


def test_removed_keys_at_their_off_values_are_dropped(tmp_path: Path) -> None:
    path, pipeline = _old_checkpoint(tmp_path)
    loaded, _ = load_pipeline(path)
    assert loaded.cfg == PipelineConfig.small()
    rainy = torch.rand(1, 3, 21, 30)
    with torch.no_grad():
        assert torch.equal(loaded.eval()(rainy)["derained"], pipeline(rainy)["derained"])


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"derainer": "prenet"}, "baseline 'prenet'.*train.baselines"),
        ({"attention__scene_context": True}, "scene_context on, an option measured and removed"),
        ({"future_setting": 1}, "unknown keys \\['future_setting'\\]"),
    ],
)
def test_a_config_that_needs_removed_code_is_refused_in_one_line(tmp_path: Path, changes: dict, message: str) -> None:
    path, _ = _old_checkpoint(tmp_path, **changes)
    with pytest.raises(CheckpointError, match=message):
        load_pipeline(path)
