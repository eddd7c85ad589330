"""R + TJT behind a baseline (``--variant DuRN+R+TJT``): the SRRN starts as the identity behind the
frozen network at any size, the config round-trips (a plain baseline's stays as it was), a foreign
checkpoint is refused, and a smoke run trains the SRRN alone behind the trained baseline's weights."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import torch
from train_fixtures import FAST, tiny_dataset

from derain_seg_ros.nets.pipeline import with_bypass
from derain_seg_ros.runtime.checkpoint import CheckpointError, read_checkpoint
from train.baselines.jobs import load_baseline_network
from train.baselines.pipeline import BaselineConfig, baseline_config, baseline_pipeline, load_any
from train.baselines.refined import RefinedDerainer
from train.run import main as run_main
from train.variants import REFINED


def refined_config(name: str = "durn") -> BaselineConfig:
    return replace(baseline_config(name, "small"), num_srrb=2)


def test_a_fresh_srrn_behind_a_baseline_passes_its_image_through_at_an_odd_size() -> None:
    torch.manual_seed(0)
    pipeline = baseline_pipeline(refined_config()).eval()
    assert isinstance(pipeline.derainer, RefinedDerainer)
    rainy = torch.rand(1, 3, 30, 44)
    with torch.no_grad():
        out = pipeline(rainy, segment=False)
        base = pipeline.derainer.base(rainy)["derained"]
    assert out["derained"].shape == rainy.shape and len(out["refined"]) == 2
    torch.testing.assert_close(out["coarse"], base)
    torch.testing.assert_close(out["derained"], base)


def test_the_refined_config_round_trips_and_a_plain_baselines_config_is_unchanged() -> None:
    cfg = refined_config()
    assert BaselineConfig.from_dict(cfg.to_dict()) == cfg
    assert cfg.pad_multiple % cfg.srrn_multiple == 0
    plain = baseline_config("durn", "small")
    assert "refine" not in plain.to_dict()
    assert BaselineConfig.from_dict(plain.to_dict()).num_srrb == 0


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny stage 0, then ``--variant DuRN+R+TJT``: DuRN trained, then the SRRN behind it."""
    data, out = tiny_dataset(tmp_path_factory, 12), tmp_path_factory.mktemp("runs")
    common = ["--config", "smoke", f"data.root={data}", f"run.out={out}", *FAST]
    assert run_main(["--stage", "0", *common, "stage0.epochs=1", "stage0.steps_per_epoch=2"]) == 0
    extra = ["optim.epochs=1", "optim.steps_per_epoch=2", "stage2.epochs=1", "stage2.steps_per_epoch=3"]
    assert run_main(["--variant", "DuRN+R+TJT", *common, f"init.stage0={out / 'stage0' / 'last.pt'}", *extra]) == 0
    return out


def test_the_smoke_run_trains_only_the_srrn_behind_the_trained_baseline(smoke_run: Path) -> None:
    assert "DuRN+R+TJT" in REFINED
    durn = read_checkpoint(smoke_run / "DuRN" / "last.pt")["model"]
    refined_path = smoke_run / "DuRN_R_TJT" / "last.pt"
    refined = read_checkpoint(refined_path)["model"]
    for key, value in durn.items():
        theirs = refined[key.replace("derainer.", "derainer.base.", 1)] if key.startswith("derainer.") else refined[key]
        torch.testing.assert_close(theirs, value, msg=f"{key} moved, but only the SRRN may learn")
    pipeline, _ = load_any(refined_path)
    assert isinstance(pipeline.derainer, RefinedDerainer) and pipeline.cfg.num_srrb == 2
    with torch.no_grad():
        out = pipeline.eval()(torch.rand(1, 3, 32, 64, generator=torch.Generator().manual_seed(0)), segment=False)
    assert not torch.equal(out["derained"], out["coarse"]), "the SRRN is still the identity it started as"
    with torch.no_grad():  # bypass='refine' (what `infer --no-refine` sets): the baseline's own image again
        bypassed = with_bypass(pipeline, "refine")(torch.rand(1, 3, 32, 64, generator=torch.Generator().manual_seed(0)))
    torch.testing.assert_close(bypassed["derained"], out["coarse"])
    assert bypassed["refined"] == []


def test_a_checkpoint_of_another_baseline_is_refused(smoke_run: Path) -> None:
    prenet = baseline_pipeline(refined_config("prenet"))
    with pytest.raises(CheckpointError, match="'durn' derainer, not of 'prenet'"):
        load_baseline_network(prenet.derainer.base, smoke_run / "DuRN" / "last.pt", "prenet")
