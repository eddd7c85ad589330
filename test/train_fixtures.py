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


def exported_matches_torch(pipeline: DerainSegPipeline, path: Path) -> tuple[torch.Tensor, torch.Tensor]:
    """Export ``pipeline`` (eval, no correction shrink) at 45 x 61 to ``path``, run onnxruntime on a fixed random
    frame and check it within one grey level of torch; returns (the frame as a float tensor, torch's derained image),
    so a caller can show that what it set up changed the output."""
    ort = pytest.importorskip("onnxruntime", reason="onnxruntime is a test extra")
    import numpy as np

    from derain_seg_ros.runtime.onnx_export import export_onnx

    export_onnx(pipeline, path, 45, 61, batch=1)
    frame = np.random.default_rng(0).integers(0, 256, (1, 45, 61, 3), dtype=np.uint8)
    derained, _ = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"rainy": frame})
    x = torch.from_numpy(frame).permute(0, 3, 1, 2).float() / 255
    with torch.no_grad():
        ref = pipeline(x)["derained"]
    ref_u8 = (ref * 255).round().permute(0, 2, 3, 1).numpy().astype(int)
    assert np.abs(derained.astype(int) - ref_u8).max() <= 1
    return x, ref


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
