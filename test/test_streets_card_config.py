"""The streets card reports each stage's settings from that stage's own checkpoint."""

from pathlib import Path

import torch

from derain_seg_ros.runtime.checkpoint import FORMAT
from train.streets_card import as_trained


def _save(path: Path, train_config: dict) -> None:
    path.parent.mkdir(parents=True)
    torch.save({"format": FORMAT, "train_config": train_config}, path)


def test_earlier_stages_come_from_their_own_checkpoints(tmp_path: Path) -> None:
    # Stage 2 ran with the config file's stage-0 and stage-1 values, which the earlier stages had overridden.
    stage2_view = {"stage0": {"lr": 0.01}, "optim": {"epochs": 8}, "stage2": {"lr": 5e-5}, "seed": 0}
    _save(tmp_path / "stage0" / "last.pt", {**stage2_view, "stage0": {"lr": 0.04}})
    _save(tmp_path / "stage1" / "last.pt", {**stage2_view, "optim": {"epochs": 16}})
    _save(tmp_path / "stage2" / "last.pt", stage2_view)

    cfg = as_trained(tmp_path)

    assert cfg["stage0"] == {"lr": 0.04}
    assert cfg["optim"] == {"epochs": 16}
    assert cfg["stage2"] == {"lr": 5e-5} and cfg["seed"] == 0
