"""The training sets of a config: the main dataset (made on first use where the preset says so)
and, for the deraining stages, any extra sets such as a fleet's own dry frames under synthetic rain."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import ConcatDataset, Dataset, Subset

from derain_seg_ros.data.raindrop_cityscapes import SynthSpec, read_item, synthesize
from derain_seg_ros.data.torch_dataset import RaindropCityscapesDataset
from train.config import ConfigError, TrainConfig
from train.validation import Triple

log = logging.getLogger("train")
MIX_STREAM = 0xD27  # SeedSequence stream of the dry draw (no other draw uses it)


class DryMix(Dataset):
    """Serves a seeded ``dry`` share of items dry (rainy := clean, empty rain map).

    A car drives mostly in dry weather: a front-end that never saw a dry frame has no reason to
    leave one alone. Which items depend on (seed, epoch, index) only, so runs stay resumable and
    identical across DataLoader workers.
    """

    def __init__(self, dataset: Dataset, dry: float, seed: int) -> None:
        self.dataset, self.dry, self.seed, self.epoch = dataset, dry, seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch
        if hasattr(self.dataset, "set_epoch"):
            self.dataset.set_epoch(epoch)

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]

    def __getitem__(self, index: int) -> dict[str, Any]:
        item = self.dataset[index]
        rng = np.random.default_rng(np.random.SeedSequence([self.seed, self.epoch, index, MIX_STREAM]))
        if rng.random() < self.dry:
            return {**item, "rainy": item["clean"].clone(), "rain_mask": torch.zeros_like(item["rain_mask"])}
        return item


class EpochSubset(Subset):
    """Subset that passes ``set_epoch`` on (crops and flips stay a function of the epoch)."""

    def set_epoch(self, epoch: int) -> None:
        self.dataset.set_epoch(epoch)  # type: ignore[attr-defined]


class EpochConcat(ConcatDataset):
    """ConcatDataset that passes ``set_epoch`` on, so every part's crops stay resumable."""

    def set_epoch(self, epoch: int) -> None:
        for part in self.datasets:
            part.set_epoch(epoch)  # type: ignore[attr-defined]


def ensure_dataset(cfg: TrainConfig) -> Path:
    """``data.root``; synthesised there first (with a progress bar) when missing and ``data.make_if_missing``."""
    root = Path(cfg.data.root)
    if not (root / "manifest.json").is_file() and cfg.data.make_if_missing:
        height, width = cfg.data.make_size
        log.info(
            "no dataset at %s yet: synthesising %d procedural rainy scenes at %dx%d (seed %d), once",
            root,
            cfg.data.make_count,
            height,
            width,
            cfg.data.make_seed,
        )
        synthesize(
            SynthSpec(count=cfg.data.make_count, height=height, width=width, seed=cfg.data.make_seed),
            root,
            workers=max(1, cfg.data.workers),
            progress=cfg.run.progress,
        )
    return root


def train_dataset(cfg: TrainConfig, stage0: bool = False) -> Dataset:
    """Stage 0 (segmentation) learns from the labelled main set only; the deraining stages also from
    ``data.extra_roots`` (L_Att, L_D, L_R and L_H need no labels)."""
    d = cfg.data
    crop = tuple(cfg.stage0.crop or d.crop) if stage0 else tuple(d.crop)
    roots = [ensure_dataset(cfg)] if stage0 else deraining_roots(cfg)
    scale = tuple(cfg.stage0.scale) if stage0 and cfg.stage0.scale else None
    parts: list[Dataset] = [
        RaindropCityscapesDataset(r, "train", crop=crop, flip=d.flip, seed=cfg.seed, scale=scale)  # type: ignore[arg-type]
        for r in roots
    ]
    if d.val_count:  # the held-out items never train any stage, nor their scenes under another set's rain
        held = held_out_scenes(cfg)
        parts = [
            EpochSubset(part, [i for i, it in enumerate(part.items) if scene_of(it) not in held])  # type: ignore[attr-defined]
            for part in parts
        ]
    dataset: Dataset = parts[0] if len(parts) == 1 else EpochConcat(parts)
    if stage0 or d.dry_fraction == 0:
        return dataset
    return DryMix(dataset, d.dry_fraction, cfg.seed)


def deraining_roots(cfg: TrainConfig) -> list[Path]:
    """The sets the deraining stages train on: ``data.root`` (made if missing) and ``data.extra_roots``."""
    return [ensure_dataset(cfg)] + [Path(r) for r in cfg.data.extra_roots]


def _held_out(cfg: TrainConfig, available: int) -> int:
    if cfg.data.val_count >= available:
        raise ConfigError(f"data.val_count={cfg.data.val_count} leaves nothing to train on ({available} train items)")
    return cfg.data.val_count


def scene_of(item: dict[str, Any]) -> str:
    """The source frame a manifest item was rendered from (older manifests: the item itself)."""
    return item.get("scene", item["name"])


def held_out_scenes(cfg: TrainConfig) -> set[str]:
    """The scenes of the last ``data.val_count`` train items of the main set (a set rendered over the
    same photos, e.g. the same street under another rain kind, holds them out too)."""
    items = RaindropCityscapesDataset(ensure_dataset(cfg), "train").items
    return {scene_of(it) for it in items[len(items) - _held_out(cfg, len(items)) :]}


def held_out_sets(cfg: TrainConfig) -> list[tuple[str, list[Triple]]]:
    """The held-out (rainy, clean, trainIds) triples of each set of the run (main, then extra: each rain
    kind), named by the set's folder, whole frames, never trained on; then ``dry``: each clean frame once
    as a dry triple, so selection guards do-no-harm too. Labels are all-255 for unlabelled sets."""
    held = held_out_scenes(cfg)
    sets: list[tuple[str, list[Triple]]] = []
    for root in [ensure_dataset(cfg)] + [Path(r) for r in cfg.data.extra_roots]:
        data = RaindropCityscapesDataset(root, "train")
        triples: list[Triple] = []
        for i, it in enumerate(data.items):
            if scene_of(it) in held:
                item = data[i]
                triples.append((item["rainy"].numpy(), item["clean"].numpy(), item["label"].numpy().astype(np.uint8)))
        sets.append((root.name, triples))
    dry = {t[1].tobytes(): (t[1], t[1], t[2]) for _, triples in sets for t in triples}
    return [*sets, ("dry", list(dry.values()))]


def validation_items(cfg: TrainConfig) -> list[Triple]:
    """``held_out_sets`` in one list (the selection scores them together)."""
    return [t for _, triples in held_out_sets(cfg) for t in triples]


def validation_samples(cfg: TrainConfig) -> list[tuple[np.ndarray, np.ndarray]]:
    """``validation_items`` as (rainy, clean) pairs, for the PSNR selection."""
    return [(rainy, clean) for rainy, clean, _ in validation_items(cfg)]


def class_weights(cfg: TrainConfig, num_classes: int, power: float) -> torch.Tensor:
    """(median frequency / frequency) ** ``power`` per trainId over the labels of the main set's training
    items (held-out scenes excluded); classes that never occur get weight 1 (they have no pixels to weigh)."""
    data = RaindropCityscapesDataset(ensure_dataset(cfg), "train")
    held = held_out_scenes(cfg) if cfg.data.val_count else set()
    counts = np.zeros(num_classes, np.int64)
    for item in data.items:
        if scene_of(item) not in held:
            label = read_item(data.root, item)["label"]
            counts += np.bincount(label[label < num_classes].ravel(), minlength=num_classes)
    freq = counts / max(1, counts.sum())
    present = counts > 0
    weights = np.ones(num_classes)
    weights[present] = (np.median(freq[present]) / freq[present]) ** power
    return torch.tensor(weights, dtype=torch.float32)
