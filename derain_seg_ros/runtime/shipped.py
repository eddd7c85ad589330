"""The models that ship inside the package; the default wherever a checkpoint is optional.

``streets`` (the default, ``models/streets.pt``): real street photos, DeepLabv3+ on
EfficientNet-Lite0, trained on CamVid (so CC BY-NC 4.0, research use). ``embedded``
(``models/embedded.pt``): the procedural-scene model, free of any dataset licence, for users who
need that. Each is one small file (fp16 storage) with its model card beside it (the command that
reproduces it, data, wall time, machine, metrics, sha256). ``make weights`` retrains the default.
Nothing is ever downloaded.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from derain_seg_ros.runtime.checkpoint import CheckpointError

MODELS_DIR = Path(__file__).resolve().parent.parent / "models"
MODELS: dict[str, str] = {"streets": "streets.pt", "embedded": "embedded.pt"}  # --model NAME -> its file
DEFAULT_MODEL = "streets"
SHIPPED_NAME = MODELS[DEFAULT_MODEL]
MODEL_CARD = "MODEL_CARD.md"  # the default model's card; another model's is MODEL_CARD_<name>.md


def model_card_name(model: str = DEFAULT_MODEL) -> str:
    return MODEL_CARD if model == DEFAULT_MODEL else f"MODEL_CARD_{model}.md"


def shipped_checkpoint(model: str = DEFAULT_MODEL) -> Path:
    """Path of a shipped model; a clear error if the name is unknown or this installation lacks it."""
    if model not in MODELS:
        raise CheckpointError(f"unknown model {model!r}; the package ships {', '.join(MODELS)}")
    path = MODELS_DIR / MODELS[model]
    if not path.is_file():
        raise CheckpointError(
            f"the shipped model {path} is missing from this installation; "
            "rebuild it with `make weights` or pass --checkpoint"
        )
    return path


def resolve_checkpoint(checkpoint: str | Path | None, model: str | None = None) -> Path:
    """The checkpoint a user gave, else the shipped model ``model`` names (default: streets)."""
    return Path(checkpoint) if checkpoint else shipped_checkpoint(model or DEFAULT_MODEL)


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
    packed = {
        "format": FORMAT,
        "config": state["config"],
        "model": half,
        "stage": state.get("stage"),
        "provenance": provenance,
    }
    with atomic_path(out) as tmp:
        torch.save(packed, tmp)
    return Path(out)
