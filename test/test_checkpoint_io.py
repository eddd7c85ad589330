"""Pipeline checkpoints and the VainF DeepLabv3+ loader."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from derain_seg_ros.nets.config import PipelineConfig
from derain_seg_ros.nets.pipeline import DerainSegPipeline
from derain_seg_ros.runtime.checkpoint import CheckpointError, load_pipeline, load_vainf_deeplab, save_checkpoint


def test_save_and_load_give_identical_outputs(tmp_path: Path) -> None:
    pipeline = DerainSegPipeline.from_config(PipelineConfig.small()).eval()
    path = save_checkpoint(tmp_path / "ckpt" / "p.pt", pipeline, epoch=3)
    loaded, state = load_pipeline(path)
    loaded.eval()
    assert state["epoch"] == 3 and loaded.cfg == pipeline.cfg
    x = torch.rand(1, 3, 21, 34)
    with torch.no_grad():
        a, b = pipeline(x), loaded(x)
    assert torch.equal(a["derained"], b["derained"]) and torch.equal(a["labels"], b["labels"])
    assert not list(path.parent.glob(".*.tmp"))


def test_missing_checkpoint_names_the_path(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="not found.*nope.pt"):
        load_pipeline(tmp_path / "nope.pt")


def test_garbage_checkpoint_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"\x00not a checkpoint" * 10)
    with pytest.raises(CheckpointError, match="bad.pt"):
        load_pipeline(bad)
    foreign = tmp_path / "foreign.pt"
    torch.save({"state_dict": {}}, foreign)
    with pytest.raises(CheckpointError, match="not a derain_seg_ros checkpoint"):
        load_pipeline(foreign)


def test_an_onnx_file_given_as_checkpoint_says_a_pt_is_expected(tmp_path: Path) -> None:
    graph = tmp_path / "model.onnx"
    graph.write_bytes(b"\x08\x08\x12\x07pytorch")  # how an ONNX protobuf starts
    with pytest.raises(CheckpointError, match="model.onnx is an exported ONNX graph; this needs a pipeline checkpoint"):
        load_pipeline(graph)
    renamed = graph.rename(tmp_path / "model.bin")
    with pytest.raises(CheckpointError, match="a pipeline checkpoint .pt is expected"):
        load_pipeline(renamed)


def _vainf_file(tmp_path: Path, deeplab_state: dict, data_parallel: bool) -> Path:
    """A file laid out as VainF/DeepLabV3Plus-Pytorch publishes its Cityscapes weights."""
    prefix = "module." if data_parallel else ""
    path = tmp_path / "best_deeplabv3plus_resnet101_cityscapes_os16.pth"
    torch.save(
        {
            "model_state": {prefix + k: v.clone() for k, v in deeplab_state.items()},
            "optimizer_state": {},
            "cur_itrs": 30000,
            "best_score": 0.762,
        },
        path,
    )
    return path


@pytest.mark.parametrize("data_parallel", [False, True])
def test_vainf_checkpoint_loads_by_key(tmp_path: Path, data_parallel: bool) -> None:
    cfg = PipelineConfig.small()
    source = DerainSegPipeline.from_config(cfg).deeplab
    for p in source.parameters():
        torch.nn.init.normal_(p)
    state = source.state_dict()
    # VainF's key names, spelled out, so a rename on our side breaks this test.
    for key in (
        "backbone.conv1.weight",
        "backbone.layer1.0.conv1.weight",
        "classifier.project.0.weight",
        "classifier.aspp.convs.0.0.weight",
        "classifier.aspp.convs.3.1.running_mean",
        "classifier.aspp.convs.4.1.weight",
        "classifier.aspp.project.0.weight",
        "classifier.classifier.0.weight",
        "classifier.classifier.3.bias",
    ):
        assert key in state
    target = DerainSegPipeline.from_config(cfg)
    load_vainf_deeplab(_vainf_file(tmp_path, state, data_parallel), target)
    assert all(torch.equal(v, target.deeplab.state_dict()[k]) for k, v in state.items())


def test_vainf_checkpoint_with_missing_key_fails_clearly(tmp_path: Path) -> None:
    cfg = PipelineConfig.small()
    state = DerainSegPipeline.from_config(cfg).deeplab.state_dict()
    del state["classifier.classifier.3.weight"]
    with pytest.raises(CheckpointError, match="1 missing.*classifier.classifier.3.weight"):
        load_vainf_deeplab(_vainf_file(tmp_path, state, False), DerainSegPipeline.from_config(cfg))
