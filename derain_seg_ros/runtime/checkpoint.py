"""Pipeline checkpoints on disk: one format for training, export, the node and the tools.

A checkpoint is ``{'format', 'config', 'model', ...extra}``; training adds its optimizer and
schedule state beside, so ``load_pipeline`` reads any training checkpoint as it is.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from derain_seg_ros.errors import DerainSegError
from derain_seg_ros.fileio import atomic_path
from derain_seg_ros.nets.config import PipelineConfig
from derain_seg_ros.nets.pipeline import DerainSegPipeline

FORMAT = "derain_seg_ros/1"


class CheckpointError(DerainSegError, RuntimeError):
    """A checkpoint that is missing, unreadable, or not ours."""


def save_checkpoint(path: str | os.PathLike, pipeline: DerainSegPipeline, **extra: Any) -> Path:
    """Write atomically (temp file + rename): a run killed mid-save keeps its previous checkpoint."""
    state = {"format": FORMAT, "config": pipeline.cfg.to_dict(), "model": pipeline.state_dict(), **extra}
    with atomic_path(path) as tmp:
        torch.save(state, tmp)
    return Path(path)


def read_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """The raw checkpoint dict, with a clear error for anything that is not one of ours."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    if path.suffix.lower() == ".onnx":
        raise CheckpointError(f"{path} is an exported ONNX graph; this needs a pipeline checkpoint (.pt). "
                              "ONNX graphs run with `derain-seg infer` or `derain-seg bag` (onnxruntime)")
    try:
        state = torch.load(path, map_location=map_location, weights_only=False)
    except Exception as exc:  # torch raises several types for truncated or foreign files
        raise CheckpointError(f"cannot read checkpoint {path} (a pipeline checkpoint .pt is expected): {exc}") from exc
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        found = state.get("format") if isinstance(state, dict) else type(state).__name__
        raise CheckpointError(f"{path} is not a derain_seg_ros checkpoint (format {found!r}, expected {FORMAT!r})")
    return state


def load_pipeline(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> tuple[DerainSegPipeline, dict[str, Any]]:
    """Build the pipeline from the checkpoint's own config and load its weights (strict)."""
    state = read_checkpoint(path, map_location)
    try:
        pipeline = DerainSegPipeline(PipelineConfig.from_dict(state["config"]))
        pipeline.load_state_dict(state["model"])
    except (KeyError, RuntimeError, TypeError, ValueError) as exc:  # ValueError: a config value this version lacks
        raise CheckpointError(f"checkpoint {path} does not match its config: {exc}") from exc
    return pipeline, state


def build_pipeline(checkpoint: str | os.PathLike | None, config: PipelineConfig | None = None,
                   seed: int = 0) -> DerainSegPipeline:
    """From a checkpoint, or seeded random weights for a config (tests and benchmarks only)."""
    if checkpoint is not None:
        return load_pipeline(checkpoint)[0]
    if config is None:
        raise ValueError("build_pipeline needs a checkpoint or a config")
    torch.manual_seed(seed)
    return DerainSegPipeline(config)


def vainf_to_deeplab_state(state: dict[str, Any]) -> dict[str, torch.Tensor]:
    """VainF/DeepLabV3Plus-Pytorch's file -> our ``DeepLabV3Plus`` state dict.

    The published files hold ``{'model_state': ...}`` (sometimes saved from DataParallel, with a
    ``module.`` prefix); module names are otherwise identical by construction.
    """
    if "model_state" in state:
        state = state["model_state"]
    return {(k[len("module."):] if k.startswith("module.") else k): v for k, v in state.items()}


def load_vainf_deeplab(path: str | os.PathLike, pipeline: DerainSegPipeline) -> None:
    """Load VainF's Cityscapes DeepLabv3+ (ResNet-101, OS 16) so that stage 0 can be skipped."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"DeepLab checkpoint not found: {path}")
    try:
        raw = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:
        raise CheckpointError(f"cannot read DeepLab checkpoint {path}: {exc}") from exc
    state = vainf_to_deeplab_state(raw)
    load_strict(pipeline.deeplab, state, str(path))


def load_strict(module: nn.Module, state: dict[str, torch.Tensor], source: str) -> None:
    """``load_state_dict(strict=True)`` with an error that names the first differing keys and shapes."""
    own = module.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    wrong = sorted(k for k in set(own) & set(state) if own[k].shape != state[k].shape)
    if missing or unexpected or wrong:
        raise CheckpointError(
            f"{source} does not fit {type(module).__name__}: "
            f"{len(missing)} missing (e.g. {missing[:3]}), {len(unexpected)} unexpected (e.g. {unexpected[:3]}), "
            f"{len(wrong)} with another shape (e.g. {[(k, tuple(state[k].shape), tuple(own[k].shape)) for k in wrong[:3]]})"
        )
    module.load_state_dict(state)
