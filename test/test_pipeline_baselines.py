"""A baseline deraining network in the one graph (train/baselines): its outputs on odd sizes, its checkpoints,
its parameter counts, and the deployment path: its ONNX export (the package's own export, uint8 in and out)
against torch, run by `derain-seg infer`. The package refuses its .pt in one line that says how."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch

from derain_seg_ros.cli import main as cli_main
from derain_seg_ros.nets.config import PipelineConfig
from derain_seg_ros.nets.pipeline import DerainSegPipeline, count_parameters
from derain_seg_ros.runtime.checkpoint import CheckpointError, load_pipeline, save_checkpoint
from derain_seg_ros.runtime.frame_pipeline import FramePipeline
from train.baselines.export import main as export_main
from train.baselines.pipeline import NETWORKS, BaselineConfig, baseline_config, baseline_pipeline, load_any

EXTRAS = {"prenet": {"stages"}, "durn": set(), "agan": {"attention", "scales"}, "icsc": set()}


def small(derainer: str) -> DerainSegPipeline:
    return baseline_pipeline(baseline_config(derainer, "small", PipelineConfig.small().deeplab))


def frames(n: int, height: int, width: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, height, width, 3), dtype=np.uint8)


@pytest.mark.parametrize("derainer", NETWORKS)
def test_baseline_pipeline_returns_the_named_outputs_at_odd_sizes(derainer: str) -> None:
    torch.manual_seed(0)
    pipeline = small(derainer).eval()
    rainy = torch.rand(2, 3, 37, 53)
    with torch.no_grad():
        out = pipeline(rainy, features=True)
        alone = pipeline.derainer(rainy)
    assert {"derained", "output", "logits", "labels", "seg"} | EXTRAS[derainer] == set(out)
    assert out["derained"].shape == rainy.shape and out["logits"].shape == (2, 19, 37, 53)
    assert out["labels"].shape == (2, 37, 53) and out["labels"].dtype == torch.int64
    assert torch.equal(out["derained"], alone["derained"])  # the baseline, not ours, derains
    with torch.no_grad():
        assert torch.equal(out["logits"], pipeline.deeplab(out["derained"]).logits)  # DeepLab judges its output
        assert set(pipeline(rainy, segment=False)) == {"derained", "output"} | EXTRAS[derainer]
    assert not any(k.split(".")[0] in ("attention", "coarse", "srrn") for k in pipeline.state_dict())
    counts = pipeline.parameter_counts()
    assert set(counts) == {"derainer", "deeplab", "total"} and counts["total"] == count_parameters(pipeline)


def test_presets_give_the_baseline_their_widths_and_the_segmenter_asked_for() -> None:
    assert baseline_config("prenet").network.channels == 32
    assert baseline_config("prenet", "embedded").network.channels == 8
    assert baseline_config("prenet", "small").network.stages == 3
    assert baseline_config("agan", "embedded").network.widths == (16, 32, 64)
    assert baseline_config("durn", "streets").network == baseline_config("durn", "embedded").network
    streets = PipelineConfig.streets().deeplab
    assert baseline_config("icsc", "streets", streets).deeplab == streets
    with pytest.raises(ValueError, match="unknown derainer 'restormer'"):
        baseline_config("restormer")


@pytest.mark.parametrize("derainer", NETWORKS)
def test_baseline_checkpoint_round_trips_and_the_package_refuses_it_with_the_way_out(
    derainer: str, tmp_path: Path
) -> None:
    torch.manual_seed(1)
    pipeline = small(derainer).eval()
    path = save_checkpoint(tmp_path / "b.pt", pipeline)
    loaded, _ = load_any(path)
    assert loaded.cfg == pipeline.cfg and loaded.cfg.derainer == derainer
    rainy = torch.rand(1, 3, 21, 30)
    with torch.no_grad():
        assert torch.equal(loaded.eval()(rainy)["logits"], pipeline(rainy)["logits"])
    with pytest.raises(CheckpointError, match=f"baseline '{derainer}'.*export.py"):
        load_pipeline(path)
    assert isinstance(
        load_any(save_checkpoint(tmp_path / "ours.pt", DerainSegPipeline.from_config()))[0].cfg, PipelineConfig
    )


def test_a_baseline_checkpoint_from_before_the_move_loads(tmp_path: Path) -> None:
    """Older baseline checkpoints store ours and the other baselines' sizes beside their own: ignored."""
    torch.manual_seed(0)
    pipeline = small("durn").eval()
    old = {**PipelineConfig.small().to_dict(), **pipeline.cfg.to_dict(), "prenet": {}, "agan": {}, "icsc": {}}
    old["durn"]["p_kernels_dilations"] = [list(p) for p in pipeline.cfg.network.p_kernels_dilations]  # JSON lists
    torch.save({"format": "derain_seg_ros/1", "config": old, "model": pipeline.state_dict()}, tmp_path / "old.pt")
    loaded, _ = load_any(tmp_path / "old.pt")
    assert loaded.cfg == pipeline.cfg and BaselineConfig.from_dict(old) == pipeline.cfg


@pytest.mark.parametrize("derainer", NETWORKS)
def test_exported_baseline_matches_torch_through_onnxruntime_and_infer_runs_it(derainer: str, tmp_path: Path) -> None:
    """A baseline run's checkpoint through train/baselines/export.py (the package's export path: FramePipeline,
    uint8 in and out) at an odd size with a free batch axis, against the torch graph; then `derain-seg infer`."""
    torch.manual_seed(2)
    checkpoint = save_checkpoint(tmp_path / f"{derainer}.pt", small(derainer))
    path = tmp_path / f"{derainer}.onnx"
    args = ["--checkpoint", str(checkpoint), "--height", "29", "--width", "43", "--batch", "2", "--dynamic"]
    assert export_main([*args, "--logits", "--out", str(path)]) == 0
    batch = frames(2, 29, 43, seed=3)
    derained, labels, logits = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(
        None, {"rainy": batch}
    )
    with torch.no_grad():
        pipeline = load_any(checkpoint)[0].eval()
        ref_derained, ref_labels, ref_logits = FramePipeline(pipeline, with_logits=True)(torch.from_numpy(batch))
    assert np.abs(logits - ref_logits.numpy()).max() < 1e-3
    assert np.abs(derained.astype(int) - ref_derained.numpy().astype(int)).max() <= 1
    assert (labels == ref_labels.numpy()).mean() >= 0.999
    if derainer != "agan":  # one infer run is enough
        return
    import cv2

    graph = tmp_path / "agan_b1.onnx"
    assert export_main(["--checkpoint", str(checkpoint), "--height", "30", "--width", "44", "--out", str(graph)]) == 0
    images = tmp_path / "images"
    images.mkdir()
    for i, frame in enumerate(frames(2, 30, 44, seed=5)):
        cv2.imwrite(str(images / f"f{i}.png"), frame[..., ::-1])
    assert cli_main(["infer", "--checkpoint", str(graph), str(images), "--out", str(tmp_path / "out")]) == 0
    written = sorted(p.name for p in (tmp_path / "out").rglob("*.png"))
    assert any("f0" in name for name in written) and any("f1" in name for name in written)


# The parameter counts docs/paper.md quotes ("Baselines"): deraining network at paper / embedded widths, and the
# GANs' discriminators (training only) at paper / embedded widths. A change of any network shows up here first.
DERAINER_PARAMETERS = {
    "agan": (6_244_362, 394_506),
    "prenet": (168_963, 11_139),
    "durn": (10_176_963, 1_437_483),
    "icsc": (11_490_179, 11_490_179),
}
DISCRIMINATOR_PARAMETERS = {"agan": (7_737_746, 76_754), "icsc": (695_137, 695_137)}
OURS_PARAMETERS = (13_472_144, 2_336_480)  # A + C + SRRN


def test_parameter_counts_are_the_documented_ones() -> None:
    """The counts docs/paper.md quotes are the networks' own, at paper and embedded widths."""
    from train.baselines.agan import AGANDiscriminator, AGANDiscriminatorConfig
    from train.baselines.icsc import ICSCDiscriminator, ICSCDiscriminatorConfig

    for derainer, expected in DERAINER_PARAMETERS.items():
        network = NETWORKS[derainer][0]
        widths = (baseline_config(derainer).network, baseline_config(derainer, "embedded").network)
        assert tuple(count_parameters(network(w)) for w in widths) == expected, derainer
    for derainer, net, config in (
        ("agan", AGANDiscriminator, AGANDiscriminatorConfig),
        ("icsc", ICSCDiscriminator, ICSCDiscriminatorConfig),
    ):
        counts = (count_parameters(net(config())), count_parameters(net(config.embedded())))
        assert counts == DISCRIMINATOR_PARAMETERS[derainer]
    for expected, cfg in zip(OURS_PARAMETERS, (PipelineConfig(), PipelineConfig.embedded())):
        counts = DerainSegPipeline.from_config(cfg).parameter_counts()
        assert sum(counts[k] for k in ("attention", "coarse", "srrn")) == expected
