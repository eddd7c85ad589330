"""Raindrop-Cityscapes on disk: synthesise it from a scene source, and read its manifest.

Layout: OUT/{rainy,clean,mask,label}/<name>.png and OUT/manifest.json. Each item's PNGs are
followed by a small record OUT/items/<name>.json with their sha256; a restarted run keeps every
item whose record and files agree and redoes the rest, so a killed run resumes and ends with the
same bytes as one that was never interrupted. The manifest is written last.

Each image is its own scene at a random step of the rain process by default; with
``sequence_length`` T > 1, T consecutive items show one scene at evenly spaced steps, and the
train/test split keeps whole sequences together (no scene in both).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from tqdm import tqdm

from derain_seg_ros.data.io import ImageFileError, read_gray, read_rgb, write_png
from derain_seg_ros.errors import DerainSegError
from derain_seg_ros.fileio import atomic_write_bytes
from derain_seg_ros.rain.process import RainProcessParams, render_rainy

log = logging.getLogger(__name__)
MANIFEST_VERSION = 1
PAPER_TOTAL, PAPER_TRAIN = 3479, 3000
FOLDERS = ("rainy", "clean", "mask", "label")


class ManifestError(DerainSegError, RuntimeError):
    """A dataset folder without a readable manifest."""


@dataclass(frozen=True)
class SynthSpec:
    source: str = "synthcity"  # or 'cityscapes'
    root: str | None = None  # Cityscapes root
    split: str = "train"  # Cityscapes split to draw scenes from
    count: int = PAPER_TOTAL
    height: int | None = 1024  # None: the source's own size
    width: int | None = 2048
    seed: int = 0
    sequence_length: int = 1
    crop_columns: bool = False  # Cityscapes: the paper's columns 64:1984 before any resize


def split_counts(total: int) -> tuple[int, int]:
    """The paper's 3,000 / 479 split of 3,479, scaled to ``total``."""
    train = round(total * PAPER_TRAIN / PAPER_TOTAL)
    return train, total - train


def assign_splits(total: int, seed: int, sequence_length: int = 1) -> list[str]:
    """A seeded shuffle of whole sequences into train and test."""
    sequences = (total + sequence_length - 1) // sequence_length
    train_target, _ = split_counts(total)
    order = np.random.default_rng(np.random.SeedSequence([seed, 7])).permutation(sequences)
    splits, train = ["test"] * total, 0
    for seq in order:
        members = range(seq * sequence_length, min(total, (seq + 1) * sequence_length))
        if train + len(members) > train_target:
            continue
        for i in members:
            splits[i] = "train"
        train += len(members)
    return splits


def _item_seed(seed: int, sequence: int) -> int:
    return int(np.random.SeedSequence([seed, sequence]).generate_state(1)[0])


def _item_name(spec: SynthSpec, index: int, sequence: int) -> str:
    """Cheap (no image is read or drawn): a resumed run checks what exists before rendering."""
    if spec.source == "synthcity":
        return f"synthcity_{index:06d}"
    if spec.source == "cityscapes":
        source = _cityscapes(spec.root or "", spec.split, spec.crop_columns)
        return f"{source.name(sequence % len(source))}_{index:06d}"
    raise ValueError(f"unknown source {spec.source!r}; choose synthcity or cityscapes")


def _scene(spec: SynthSpec, sequence: int) -> tuple[np.ndarray, np.ndarray]:
    """The clean image and its trainIds; every frame of a sequence shares its scene."""
    if spec.source == "synthcity":
        from derain_seg_ros.data.synthcity import generate_scene

        scene = generate_scene(_item_seed(spec.seed, sequence), spec.height or 1024, spec.width or 2048)
        return scene.image, scene.label
    source = _cityscapes(spec.root or "", spec.split, spec.crop_columns)
    item = source[sequence % len(source)]
    image, label = item.image, item.label
    if spec.height and spec.width and image.shape[:2] != (spec.height, spec.width):
        image = cv2.resize(image, (spec.width, spec.height), interpolation=cv2.INTER_AREA)
        label = cv2.resize(label, (spec.width, spec.height), interpolation=cv2.INTER_NEAREST)
    return image, label


@lru_cache(maxsize=4)
def _cityscapes(root: str, split: str, crop_columns: bool = False):
    """One directory scan per worker process, not one per item."""
    from derain_seg_ros.data.cityscapes import CityscapesSource

    return CityscapesSource(root, split, crop_columns=crop_columns)


def rain_mask(rainy: np.ndarray, clean: np.ndarray, drop_mask: np.ndarray, threshold: int = 5) -> np.ndarray:
    """uint8 0/255: the drops plus every pixel whose grey level moved by more than ``threshold``."""
    diff = np.abs(cv2.cvtColor(rainy, cv2.COLOR_RGB2GRAY).astype(np.int16) - cv2.cvtColor(clean, cv2.COLOR_RGB2GRAY).astype(np.int16))
    return ((diff > threshold) | drop_mask).astype(np.uint8) * 255


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _write_json(path: Path, data: Any) -> None:
    atomic_write_bytes(path, json.dumps(data, indent=1, sort_keys=True).encode())


def _record_ok(out: Path, record_path: Path) -> dict[str, Any] | None:
    """The item's record if every file it lists is there with the recorded checksum."""
    try:
        record = json.loads(record_path.read_text())
        if all(_sha256(out / rel) == digest for rel, digest in record["sha256"].items()):
            return record
    except (OSError, ValueError, KeyError):
        pass
    return None


def make_item(spec: SynthSpec, out: Path, index: int, split: str, params: RainProcessParams) -> dict[str, Any]:
    """Render and write one item (or keep it, if a previous run already wrote it soundly)."""
    sequence, position = divmod(index, spec.sequence_length)
    name = _item_name(spec, index, sequence)
    record_path = out / "items" / f"{name}.json"
    if (kept := _record_ok(out, record_path)) is not None:
        return kept
    clean, label = _scene(spec, sequence)
    rain_seed = _item_seed(spec.seed + 1, sequence)
    steps = range(1, params.num_steps)
    if spec.sequence_length > 1:
        time_step = steps[position * (len(steps) - 1) // (spec.sequence_length - 1)]
    else:
        time_step = int(np.random.default_rng(rain_seed).choice(steps))
    frame = render_rainy(clean, rain_seed, time_step, params)
    files = {folder: f"{folder}/{name}.png" for folder in FOLDERS}
    write_png(out / files["rainy"], frame.rainy)
    write_png(out / files["clean"], clean)
    write_png(out / files["mask"], rain_mask(frame.rainy, clean, frame.drop_mask))
    write_png(out / files["label"], label)
    record = {"name": name, "index": index, "split": split, "files": files, "sequence": sequence,
              "time_step": time_step, "seed": rain_seed, "rain": frame.info,
              "sha256": {rel: _sha256(out / rel) for rel in files.values()}}
    _write_json(record_path, record)
    return record


def _work(args: tuple[SynthSpec, str, int, str]) -> dict[str, Any]:
    spec, out, index, split = args
    return make_item(spec, Path(out), index, split, RainProcessParams())


def synthesize(spec: SynthSpec, out: str | os.PathLike, workers: int = 1, progress: bool = True) -> Path:
    """Write the whole set (resuming where a previous run stopped) and its manifest."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    if spec.source == "cityscapes":
        available = len(_cityscapes(spec.root or "", spec.split, spec.crop_columns))
        log.info("Cityscapes %s: %d frames for %d items", spec.split, available, spec.count)
    splits = assign_splits(spec.count, spec.seed, spec.sequence_length)
    jobs = [(spec, str(out), i, splits[i]) for i in range(spec.count)]
    bar = tqdm(total=len(jobs), desc="synth", unit="img", disable=not progress)
    records: list[dict[str, Any]] = []
    if workers <= 1:
        for job in jobs:
            records.append(_work(job))
            bar.update()
    else:
        with ProcessPoolExecutor(workers) as pool:
            for record in pool.map(_work, jobs, chunksize=max(1, len(jobs) // (8 * workers))):
                records.append(record)
                bar.update()
    bar.close()
    train, test = sum(r["split"] == "train" for r in records), sum(r["split"] == "test" for r in records)
    manifest = {"version": MANIFEST_VERSION, "spec": asdict(spec), "splits": {"train": train, "test": test},
                "items": sorted(({k: v for k, v in r.items() if k != "index"} for r in records), key=lambda r: r["name"])}
    _write_json(out / "manifest.json", manifest)
    return out / "manifest.json"


def load_manifest(root: str | os.PathLike) -> dict[str, Any]:
    path = Path(root) / "manifest.json"
    if not path.is_file():
        raise ManifestError(f"no dataset at {root}: {path} is missing (make one with `derain-seg synth --out {root}`)")
    try:
        manifest = json.loads(path.read_text())
    except ValueError as exc:
        raise ManifestError(f"{path} is not valid JSON: {exc}") from exc
    if manifest.get("version") != MANIFEST_VERSION:
        raise ManifestError(f"{path}: manifest version {manifest.get('version')!r}, expected {MANIFEST_VERSION}")
    return manifest


def read_item(root: Path, item: dict[str, Any]) -> dict[str, np.ndarray]:
    """The four arrays of one manifest item."""
    try:
        return {"rainy": read_rgb(root / item["files"]["rainy"]), "clean": read_rgb(root / item["files"]["clean"]),
                "mask": read_gray(root / item["files"]["mask"]), "label": read_gray(root / item["files"]["label"])}
    except ImageFileError as exc:
        raise ManifestError(f"dataset {root} is damaged: {exc}") from exc
