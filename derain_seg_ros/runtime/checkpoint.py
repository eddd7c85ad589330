"""Pipeline checkpoints on disk: one format for training, export, the node and the tools.

A checkpoint is ``{'format', 'config', 'model', ...extra}``; training adds its optimizer and
schedule state beside, so ``load_pipeline`` reads any training checkpoint as it is.

Every checkpoint is read with ``torch.load(weights_only=True)``: a path comes from a node parameter
or a command line, and a pickle may run any code it names. Only tensors and plain data (dicts,
lists, tuples, numbers, strings) load; the config is stored as plain data. Training's RNG state
holds numpy's Mersenne-Twister key: ``save_checkpoint`` stores numpy arrays and scalars as plain
lists and numbers (``numpy.random.set_state`` takes them back as they are), and checkpoints
written before that, which pickled the array, load through a small allow-list of numpy's array
reconstruction (data only, no code). Anything else is refused in one line.
"""

from __future__ import annotations

import os
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from derain_seg_ros.errors import DerainSegError
from derain_seg_ros.fileio import atomic_path
from derain_seg_ros.nets.config import PipelineConfig
from derain_seg_ros.nets.pipeline import DerainSegPipeline, with_bypass

FORMAT = "derain_seg_ros/1"
# What checkpoints written before plain-data RNG state pickled (numpy.random.get_state()'s key array).
# numpy 2 moved numpy.core to numpy._core and numpy < 1.25 has no numpy.dtypes (ROS Humble's system numpy is 1.21).
_MULTIARRAY = getattr(np, "_core", None) or np.core
_DTYPES = getattr(np, "dtypes", None)
NUMPY_ARRAY_GLOBALS = [np.dtype, np.ndarray, _MULTIARRAY.multiarray._reconstruct] + (
    [_DTYPES.UInt32DType, _DTYPES.Int64DType, _DTYPES.Float64DType] if _DTYPES is not None else []
)


class CheckpointError(DerainSegError, RuntimeError):
    """A checkpoint that is missing, unreadable, or not ours."""


def plain(value: Any) -> Any:
    """numpy arrays and scalars as lists and numbers, through dicts, lists and tuples: what loads with
    ``weights_only=True`` without allow-listing anything."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(plain(v) for v in value)
    return value


def missing_checkpoint(path: Path) -> str:
    """Why ``path`` is no checkpoint file: absent, a folder (whose .pt files are named), or something else."""
    if path.is_dir():
        found = sorted(p.name for p in path.glob("*.pt"))[:3]
        return f"checkpoint {path} is a folder, not a file" + (f"; it holds {', '.join(found)}" if found else "")
    return f"checkpoint {path} is not a regular file" if path.exists() else f"checkpoint not found: {path}"


def save_checkpoint(path: str | os.PathLike, pipeline: DerainSegPipeline, **extra: Any) -> Path:
    """Write atomically (temp file + rename): a run killed mid-save keeps its previous checkpoint.
    Weights are stored in the default layout, whatever layout the run trained in (``run.channels_last``)."""
    weights = {name: tensor.contiguous() for name, tensor in pipeline.state_dict().items()}
    state = {"format": FORMAT, "config": pipeline.cfg.to_dict(), "model": weights, **plain(extra)}
    with atomic_path(path) as tmp:
        torch.save(state, tmp)
    return Path(path)


def read_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """The raw checkpoint dict, with a clear error for anything that is not one of ours."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(missing_checkpoint(path))
    if path.suffix.lower() == ".onnx":
        raise CheckpointError(
            f"{path} is an exported ONNX graph; this needs a pipeline checkpoint (.pt). "
            "ONNX graphs run with `derain-seg infer` or `derain-seg bag` (onnxruntime)"
        )
    state = safe_load(path, map_location, "a pipeline checkpoint .pt is expected")
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        found = state.get("format") if isinstance(state, dict) else type(state).__name__
        raise CheckpointError(f"{path} is not a derain_seg_ros checkpoint (format {found!r}, expected {FORMAT!r})")
    return state


def safe_load(path: Path, map_location: str | torch.device, expected: str) -> Any:
    """``torch.load(weights_only=True)``; a file that needs more than tensors and plain data is refused in one line."""
    try:
        with torch.serialization.safe_globals(NUMPY_ARRAY_GLOBALS):
            return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # torch raises several types for truncated, foreign or unsafe files
        text = str(exc)
        unsafe = re.search(r"Unsupported global: GLOBAL (\S+)", text)
        if unsafe:
            raise CheckpointError(
                f"refused to load {path}: it pickles {unsafe.group(1)}, which is neither a tensor nor plain "
                f"data, and loading it could run code ({expected})"
            ) from None
        first = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
        raise CheckpointError(f"cannot read checkpoint {path} ({expected}): {first}") from exc


def load_pipeline(
    path: str | os.PathLike, map_location: str | torch.device = "cpu"
) -> tuple[DerainSegPipeline, dict[str, Any]]:
    """Build the pipeline from the checkpoint's own config and load its weights (strict). Configs
    written before options were removed load without them (``PipelineConfig.from_dict``)."""
    state = read_checkpoint(path, map_location)
    try:
        cfg = PipelineConfig.from_dict(state["config"])
    except (KeyError, TypeError, ValueError) as exc:  # ValueError: a config value this version lacks
        raise CheckpointError(f"checkpoint {path}: {exc.args[0] if exc.args else exc}") from exc
    pipeline = DerainSegPipeline.from_config(cfg)
    try:
        pipeline.load_state_dict(state["model"])
    except (KeyError, RuntimeError) as exc:
        raise CheckpointError(f"checkpoint {path} does not match its config: {exc}") from exc
    return pipeline, state


def build_pipeline(
    checkpoint: str | os.PathLike | None, config: PipelineConfig | None = None, seed: int = 0, bypass: str = "none"
) -> DerainSegPipeline:
    """From a checkpoint, or seeded random weights for a config (tests and benchmarks only), with
    ``bypass`` (PipelineConfig.bypass) set."""
    if checkpoint is not None:
        return with_bypass(load_pipeline(checkpoint)[0], bypass)
    if config is None:
        raise ValueError("build_pipeline needs a checkpoint or a config")
    torch.manual_seed(seed)
    return DerainSegPipeline.from_config(replace(config, bypass=bypass))  # type: ignore[arg-type]


def vainf_to_deeplab_state(state: dict[str, Any]) -> dict[str, torch.Tensor]:
    """VainF/DeepLabV3Plus-Pytorch's file -> our ``DeepLabV3Plus`` state dict.

    The published files hold ``{'model_state': ...}`` (sometimes saved from DataParallel, with a
    ``module.`` prefix); module names are otherwise identical by construction.
    """
    if "model_state" in state:
        state = state["model_state"]
    return {(k[len("module.") :] if k.startswith("module.") else k): v for k, v in state.items()}


def load_vainf_deeplab(path: str | os.PathLike, pipeline: DerainSegPipeline) -> None:
    """Load VainF's Cityscapes DeepLabv3+ (ResNet-101, OS 16) so that stage 0 can be skipped."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"DeepLab checkpoint not found: {path}")
    raw = safe_load(path, "cpu", "a DeepLab state dict is expected")
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
