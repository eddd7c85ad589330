"""``run.channels_last``: training in NHWC (oneDNN's fast convolutions on a CPU) computes the same losses as in
NCHW up to float rounding, and its checkpoints hold plain contiguous weights that any layout loads."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import torch
from train_fixtures import FAST, tiny_dataset

from derain_seg_ros.runtime.checkpoint import load_pipeline, read_checkpoint
from train.run import main as run_main


def _first_losses(run_dir: Path) -> dict[str, float]:
    with open(run_dir / "log.csv", newline="") as f:
        row = next(csv.DictReader(f))
    return {k: float(v) for k, v in row.items() if k.startswith("loss_")}


def test_stage1_in_channels_last_matches_nchw_and_saves_contiguous_weights(tmp_path_factory, tmp_path: Path) -> None:
    root = tiny_dataset(tmp_path_factory, 6)
    runs = {}
    for layout in ("true", "false"):
        out = tmp_path / layout
        common = ["--config", "smoke", f"data.root={root}", f"run.out={out}", *FAST, f"run.channels_last={layout}"]
        assert run_main(["--stage", "0", *common, "stage0.epochs=1", "stage0.steps_per_epoch=1"]) == 0
        s0 = f"init.stage0={out / 'stage0' / 'last.pt'}"
        assert run_main(["--stage", "1", *common, s0, "optim.epochs=1", "optim.steps_per_epoch=2"]) == 0
        runs[layout] = out / "stage1"
    fast, plain = _first_losses(runs["true"]), _first_losses(runs["false"])
    assert fast.keys() == plain.keys() and fast
    for name, value in plain.items():  # the first step's losses: the same networks, the same batch
        assert fast[name] == pytest.approx(value, rel=1e-4, abs=1e-5), name
    state = read_checkpoint(runs["true"] / "last.pt")["model"]
    four_d = [t for t in state.values() if t.dim() == 4]
    assert four_d and all(t.is_contiguous() for t in four_d)
    pipeline, _ = load_pipeline(runs["true"] / "last.pt")  # into an NCHW pipeline, as every tool loads it
    with torch.no_grad():
        assert torch.isfinite(pipeline.eval()(torch.rand(1, 3, 32, 64))["derained"]).all()
