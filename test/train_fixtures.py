"""What the training tests share: the overrides that make a run take seconds, and their tiny dataset."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from derain_seg_ros.data.raindrop_cityscapes import SynthSpec, synthesize
from derain_seg_ros.nets.config import PipelineConfig
from derain_seg_ros.nets.pipeline import DerainSegPipeline
from derain_seg_ros.runtime.checkpoint import save_checkpoint
from train.stages import load_submodules

REPO = Path(__file__).resolve().parent.parent
FAST = ["run.progress=false", "run.log_every=1", "data.crop=[32,64]", "data.batch_size=2"]


def tiny_dataset(factory: pytest.TempPathFactory, count: int) -> Path:
    """``count`` synthcity items at 32x64 under a fresh temporary folder."""
    root = factory.mktemp("data")
    synthesize(SynthSpec(count=count, height=32, width=64, seed=0), root, progress=False)
    return root


def grown_from(old: DerainSegPipeline, config: PipelineConfig, path: Path) -> DerainSegPipeline:
    """A pipeline of ``config`` whose A and C start from ``old`` saved at ``path`` (as ``init.stage1`` does), with
    every weight of ``old``'s C arrived unchanged; what ``config`` adds is left for the caller to check."""
    save_checkpoint(path, old)
    new = DerainSegPipeline.from_config(config)
    load_submodules(new, str(path), ("attention", "coarse"), "stage1")
    for key, value in old.coarse.state_dict().items():
        assert torch.equal(new.coarse.state_dict()[key], value), key
    return new


def two_rank_digests(args: list[str], kinds: tuple[str, ...] = ("weights",)) -> dict[str, dict[str, str]]:
    """Run ``train/run.py args`` under torchrun with 2 processes (gloo, 1 thread each) and return, per
    kind of state the loop prints (``weights``, ``adversary``), each rank's sha256 of it."""
    torchrun = Path(sys.executable).parent / "torchrun"
    cmd = [str(torchrun), "--standalone", "--nproc_per_node", "2", str(REPO / "train" / "run.py"), *args]
    done = subprocess.run(
        cmd, capture_output=True, text=True, timeout=240, env={**os.environ, "OMP_NUM_THREADS": "1"}, cwd=REPO
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return {kind: dict(re.findall(rf"rank (\d) {kind} sha256 ([0-9a-f]{{64}})", done.stdout)) for kind in kinds}
