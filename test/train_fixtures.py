"""What the training tests share: the overrides that make a run take seconds, and their tiny dataset."""

from __future__ import annotations

from pathlib import Path

import pytest

from derain_seg_ros.data.raindrop_cityscapes import SynthSpec, synthesize

FAST = ["run.progress=false", "run.log_every=1", "data.crop=[32,64]", "data.batch_size=2"]


def tiny_dataset(factory: pytest.TempPathFactory, count: int) -> Path:
    """``count`` synthcity items at 32x64 under a fresh temporary folder."""
    root = factory.mktemp("data")
    synthesize(SynthSpec(count=count, height=32, width=64, seed=0), root, progress=False)
    return root
