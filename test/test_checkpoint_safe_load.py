"""Checkpoints load with ``torch.load(weights_only=True)``: ours (shipped, training, older training
ones) keep loading; a pickle that would run code is refused in one line, and its code never runs."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
import torch

from derain_seg_ros.nets.config import PipelineConfig
from derain_seg_ros.nets.pipeline import DerainSegPipeline
from derain_seg_ros.runtime.checkpoint import FORMAT, CheckpointError, load_pipeline, read_checkpoint, save_checkpoint
from derain_seg_ros.runtime.shipped import MODELS, MODELS_DIR

RAN: list[str] = []


class Payload:
    """What a hostile file pickles: unpickling it would call ``RAN.append``."""

    def __reduce__(self):
        return (RAN.append, ("payload ran",))


def training_extras(pipeline: DerainSegPipeline) -> dict:
    """What train/loop.py saves beside the model: optimizer, schedule, scaler, RNG state and its config."""
    optimizer = torch.optim.Adam(pipeline.parameters(), lr=1e-3)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: 0.9**s)
    pipeline(torch.rand(2, 3, 32, 32))["logits"].mean().backward()
    optimizer.step()
    scheduler.step()
    scaler = torch.amp.GradScaler("cuda", enabled=False)
    rng = {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate()}
    return {
        "stage": "stage1",
        "step": 3,
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "scaler": scaler.state_dict(),
        "rng": rng,
        "train_config": {"seed": 0, "data": {"root": "x"}, "optim": {"lr": 1e-3}},
        "train_seconds": 1.5,
        "best_score": None,
    }


@pytest.fixture(scope="module")
def small() -> DerainSegPipeline:
    torch.manual_seed(0)
    return DerainSegPipeline.from_config(PipelineConfig.small())


def test_the_shipped_models_load_with_weights_only() -> None:
    shipped = [MODELS_DIR / name for name in MODELS.values() if (MODELS_DIR / name).is_file()]
    assert MODELS_DIR / "embedded.pt" in shipped
    for path in shipped:
        pipeline, state = load_pipeline(path)
        assert state["format"] == FORMAT and isinstance(pipeline, DerainSegPipeline)


def test_a_training_checkpoint_round_trips_with_its_rng_state(small: DerainSegPipeline, tmp_path: Path) -> None:
    np.random.seed(7)
    extras = training_extras(small)
    path = save_checkpoint(tmp_path / "last.pt", small, **extras)
    expected = np.random.rand()
    state = read_checkpoint(path)
    assert state["optimizer"]["param_groups"][0]["lr"] == extras["optimizer"]["param_groups"][0]["lr"]
    np.random.set_state(state["rng"]["numpy"])  # plain lists: numpy takes them back as they are
    assert np.random.rand() == expected
    random.setstate(state["rng"]["python"])
    torch.set_rng_state(state["rng"]["torch"])
    loaded, _ = load_pipeline(path)
    assert all(torch.equal(a, b) for a, b in zip(loaded.state_dict().values(), small.state_dict().values()))


def test_an_older_checkpoint_with_a_pickled_numpy_rng_state_still_loads(
    small: DerainSegPipeline, tmp_path: Path
) -> None:
    np.random.seed(3)
    old = {"format": FORMAT, "config": small.cfg.to_dict(), "model": small.state_dict(), **training_extras(small)}
    torch.save(old, tmp_path / "old.pt")  # as save_checkpoint wrote it before: numpy's key array pickled
    expected = np.random.rand()
    state = read_checkpoint(tmp_path / "old.pt")
    np.random.set_state(state["rng"]["numpy"])
    assert np.random.rand() == expected


def test_a_checkpoint_that_would_run_code_is_refused_in_one_line_and_runs_nothing(
    small: DerainSegPipeline, tmp_path: Path
) -> None:
    torch.save(
        {"format": FORMAT, "config": small.cfg.to_dict(), "model": small.state_dict(), "x": Payload()},
        tmp_path / "evil.pt",
    )
    with pytest.raises(CheckpointError) as err:
        read_checkpoint(tmp_path / "evil.pt")
    message = str(err.value)
    assert "\n" not in message and "refused to load" in message and "could run code" in message
    assert RAN == []


def test_a_foreign_file_fails_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint at all")
    with pytest.raises(CheckpointError) as err:
        read_checkpoint(tmp_path / "junk.pt")
    assert "\n" not in str(err.value) and "cannot read checkpoint" in str(err.value)
    torch.save({"model_state": {}}, tmp_path / "theirs.pt")
    with pytest.raises(CheckpointError, match="is not a derain_seg_ros checkpoint"):
        read_checkpoint(tmp_path / "theirs.pt")
