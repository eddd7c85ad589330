"""The embedded model that ships inside the package: the default wherever a checkpoint is optional.

One small file (``models/embedded.pt``, fp16 storage) and its model card (``models/MODEL_CARD.md``:
the command that reproduces it, data seed, wall time, machine, metrics, sha256). ``make weights``
retrains it from scratch. Nothing is ever downloaded.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from derain_seg_ros.runtime.checkpoint import CheckpointError

MODELS_DIR = Path(__file__).resolve().parent.parent / "models"
SHIPPED_NAME = "embedded.pt"
MODEL_CARD = "MODEL_CARD.md"


def shipped_checkpoint() -> Path:
    """Path of the shipped embedded model; a clear error if this installation lacks it."""
    path = MODELS_DIR / SHIPPED_NAME
    if not path.is_file():
        raise CheckpointError(f"the shipped model {path} is missing from this installation; "
                              "rebuild it with `make weights` or pass --checkpoint")
    return path


def resolve_checkpoint(checkpoint: str | Path | None) -> Path:
    """The checkpoint a user gave, or the shipped model when none was given."""
    return Path(checkpoint) if checkpoint else shipped_checkpoint()


def sha256_of(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def pack_for_shipping(checkpoint: str | Path, out: str | Path, **provenance: object) -> Path:
    """The pipeline of a training checkpoint, without optimizer state, floats stored as fp16.

    fp16 halves the file (the package carries it); loading copies it into fp32 parameters, so
    every engine runs as before, and the card's metrics are measured on this very file.
    """
    import torch

    from derain_seg_ros.fileio import atomic_path
    from derain_seg_ros.runtime.checkpoint import FORMAT, read_checkpoint

    state = read_checkpoint(checkpoint)
    half = {k: (v.half() if v.is_floating_point() else v) for k, v in state["model"].items()}
    packed = {"format": FORMAT, "config": state["config"], "model": half, "stage": state.get("stage"),
              "provenance": provenance}
    with atomic_path(out) as tmp:
        torch.save(packed, tmp)
    return Path(out)
