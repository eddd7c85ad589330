"""A baseline deraining network in the one graph: its outputs on odd sizes, its checkpoints (old
ones still load as ours), its parameter counts, ONNX parity through the real export path and the
deployment commands run on a baseline checkpoint unchanged."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch

from derain_seg_ros.cli import main as cli_main
from derain_seg_ros.nets.config import PipelineConfig
from derain_seg_ros.nets.pipeline import BASELINES, DerainSegPipeline, count_parameters
from derain_seg_ros.runtime.checkpoint import CheckpointError, load_pipeline, save_checkpoint
from derain_seg_ros.runtime.frame_pipeline import FramePipeline

EXTRAS = {"prenet": {"stages"}, "durn": set(), "agan": {"attention", "scales"}, "icsc": set()}


def small(derainer: str) -> PipelineConfig:
    return PipelineConfig.small(derainer)  # type: ignore[arg-type]


def frames(n: int, height: int, width: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, height, width, 3), dtype=np.uint8)


@pytest.mark.parametrize("derainer", BASELINES)
def test_baseline_pipeline_returns_the_named_outputs_at_odd_sizes(derainer: str) -> None:
    torch.manual_seed(0)
    pipeline = DerainSegPipeline(small(derainer)).eval()
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


@pytest.mark.parametrize("derainer", BASELINES)
def test_parameter_counts_are_the_derainer_and_deeplab(derainer: str) -> None:
    pipeline = DerainSegPipeline(small(derainer))
    counts = pipeline.parameter_counts()
    assert set(counts) == {"derainer", "deeplab", "total"}
    assert counts["derainer"] == count_parameters(BASELINES[derainer](getattr(pipeline.cfg, derainer))) > 0
    assert counts["total"] == count_parameters(pipeline)


def test_presets_give_the_derainer_their_widths_and_leave_ours_as_it_was() -> None:
    assert PipelineConfig.paper("prenet").prenet.channels == 32 and PipelineConfig.embedded("prenet").prenet.channels == 8
    assert PipelineConfig.small("prenet").prenet.stages == 3
    assert PipelineConfig.embedded("agan").agan.widths == (16, 32, 64) and PipelineConfig.embedded("durn").durn.channels == 48
    embedded_prenet = PipelineConfig.embedded("prenet")
    assert embedded_prenet.derainer == "prenet" and embedded_prenet.deeplab == PipelineConfig.embedded().deeplab
    # Ours keeps every baseline field at its default: a config written before them is the same preset.
    assert PipelineConfig.embedded() == replace(PipelineConfig.embedded("icsc"), derainer="ours", icsc=PipelineConfig().icsc)
    assert PipelineConfig.paper() == PipelineConfig()


@pytest.mark.parametrize("derainer", BASELINES)
def test_baseline_checkpoint_round_trips_through_load_pipeline(derainer: str, tmp_path: Path) -> None:
    torch.manual_seed(1)
    pipeline = DerainSegPipeline(small(derainer)).eval()
    loaded, _ = load_pipeline(save_checkpoint(tmp_path / "b.pt", pipeline))
    assert loaded.cfg == pipeline.cfg and loaded.cfg.derainer == derainer
    rainy = torch.rand(1, 3, 21, 30)
    with torch.no_grad():
        assert torch.equal(loaded.eval()(rainy)["logits"], pipeline(rainy)["logits"])


def test_a_checkpoint_from_before_the_derainer_field_loads_as_ours(tmp_path: Path) -> None:
    torch.manual_seed(0)
    pipeline = DerainSegPipeline(PipelineConfig.small()).eval()
    old_config = {k: v for k, v in pipeline.cfg.to_dict().items() if k not in ("derainer", "prenet", "durn", "agan", "icsc")}
    torch.save({"format": "derain_seg_ros/1", "config": old_config, "model": pipeline.state_dict()}, tmp_path / "old.pt")
    loaded, _ = load_pipeline(tmp_path / "old.pt")  # strict: every attention/coarse/srrn/deeplab key fits
    assert loaded.cfg.derainer == "ours" and loaded.cfg == PipelineConfig.small()  # still the small preset
    rainy = torch.rand(1, 3, 21, 30)
    with torch.no_grad():
        assert torch.equal(loaded.eval()(rainy)["derained"], pipeline(rainy)["derained"])


def test_config_lists_from_json_come_back_as_the_same_config() -> None:
    cfg = small("durn")
    as_json = {**cfg.to_dict(), "durn": {**cfg.to_dict()["durn"],
                                         "p_kernels_dilations": [list(p) for p in cfg.durn.p_kernels_dilations]}}
    assert PipelineConfig.from_dict(as_json) == cfg


def test_an_unknown_derainer_is_a_clear_checkpoint_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown derainer 'restormer'"):
        PipelineConfig(derainer="restormer")  # type: ignore[arg-type]
    pipeline = DerainSegPipeline(PipelineConfig.small())
    torch.save({"format": "derain_seg_ros/1", "config": {**pipeline.cfg.to_dict(), "derainer": "restormer"},
                "model": pipeline.state_dict()}, tmp_path / "future.pt")
    with pytest.raises(CheckpointError, match="unknown derainer"):
        load_pipeline(tmp_path / "future.pt")


@pytest.mark.parametrize("derainer", BASELINES)
def test_exported_baseline_checkpoint_matches_torch_through_onnxruntime(derainer: str, tmp_path: Path) -> None:
    """A baseline run's checkpoint through ``derain-seg export`` (the real export path: FramePipeline,
    uint8 in and out) at an odd size with a free batch axis, against the torch graph."""
    torch.manual_seed(2)
    checkpoint = save_checkpoint(tmp_path / f"{derainer}.pt", DerainSegPipeline(small(derainer)))
    path = tmp_path / f"{derainer}.onnx"
    assert cli_main(["export", "--checkpoint", str(checkpoint), "--height", "29", "--width", "43", "--batch", "2",
                     "--dynamic", "--logits", "--out", str(path)]) == 0
    batch = frames(2, 29, 43, seed=3)
    derained, labels, logits = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"rainy": batch})
    with torch.no_grad():
        pipeline = load_pipeline(checkpoint)[0].eval()
        ref_derained, ref_labels, ref_logits = FramePipeline(pipeline, with_logits=True)(torch.from_numpy(batch))
    assert np.abs(logits - ref_logits.numpy()).max() < 1e-3
    assert np.abs(derained.astype(int) - ref_derained.numpy().astype(int)).max() <= 1
    assert (labels == ref_labels.numpy()).mean() >= 0.999


def test_infer_command_runs_a_baseline_checkpoint(tmp_path: Path) -> None:
    import cv2

    checkpoint = save_checkpoint(tmp_path / "agan.pt", DerainSegPipeline(small("agan")))
    images = tmp_path / "images"
    images.mkdir()
    for i, frame in enumerate(frames(2, 30, 44, seed=5)):
        cv2.imwrite(str(images / f"f{i}.png"), frame[..., ::-1])
    assert cli_main(["infer", "--checkpoint", str(checkpoint), "--backend", "torch", str(images), "--out", str(tmp_path / "out")]) == 0
    written = sorted(p.name for p in (tmp_path / "out").rglob("*.png"))
    assert any("f0" in name for name in written) and any("f1" in name for name in written)


def test_readme_parameter_table_matches_the_networks() -> None:
    """The Baselines section's counts are the networks' own, at paper and embedded widths."""
    from derain_seg_ros.nets.agan import AGANDiscriminator, AGANDiscriminatorConfig
    from derain_seg_ros.nets.icsc import ICSCDiscriminator, ICSCDiscriminatorConfig

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    table = {row.split("|")[1].strip(): [c.strip() for c in row.split("|")[2:5]]
             for row in readme.split("## Baselines", 1)[1].splitlines() if row.startswith("| ") and "---" not in row}

    def n(text: str) -> int:
        return int(text.split()[0].replace(",", ""))

    for name, derainer in (("AGAN", "agan"), ("PReNet", "prenet"), ("DuRN-S-P", "durn"), ("ICSC", "icsc")):
        for column, cfg in ((0, PipelineConfig.paper(derainer)), (1, PipelineConfig.embedded(derainer))):  # type: ignore[arg-type]
            assert n(table[name][column]) == DerainSegPipeline(cfg).parameter_counts()["derainer"], (name, column)
    for name, net, config in (("AGAN", AGANDiscriminator, AGANDiscriminatorConfig), ("ICSC", ICSCDiscriminator, ICSCDiscriminatorConfig)):
        paper, embedded = (n(x) for x in table[name][2].split("/"))
        assert (paper, embedded) == (count_parameters(net(config())), count_parameters(net(config.embedded())))
    ours = {name: n(table["ours (A + C + SRRN)"][i]) for i, name in enumerate(("paper", "embedded"))}
    assert ours["paper"] == sum(v for k, v in DerainSegPipeline(PipelineConfig()).parameter_counts().items() if k in ("attention", "coarse", "srrn"))
    assert ours["embedded"] == sum(v for k, v in DerainSegPipeline(PipelineConfig.embedded()).parameter_counts().items()
                                   if k in ("attention", "coarse", "srrn"))
