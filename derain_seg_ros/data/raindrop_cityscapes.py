"""Raindrop-Cityscapes on disk: synthesise it from a scene source, and read its manifest.

Layout: OUT/{rainy,clean,mask,label}/<name>.png and OUT/manifest.json. mask/ holds M_gt, the one
rain-mask definition (rain/mask.py). Items from a source without labels (a folder of frames, a
video) get an all-255 (ignore) label and ``"labels": false``. Each item's PNGs are followed by a
small record OUT/items/<name>.json with their sha256; a restarted run keeps every item whose record
and files agree and redoes the rest, so a killed run resumes and ends with the same bytes as one
that was never interrupted. The manifest is written last.

Each image is its own scene at a random step of the rain process by default; with
``sequence_length`` T > 1, T consecutive items show one scene at evenly spaced steps, and the
train/test split keeps whole sequences together (no scene in both). Seeds come from
``SeedSequence`` streams (rain/seeds.py), whatever the rain preset.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from derain_seg_ros.data.io import ImageFileError, read_gray, read_rgb, write_png
from derain_seg_ros.data.sources import SceneSource, open_source
from derain_seg_ros.data.synth_spec import PAPER_TOTAL, PAPER_TRAIN, SynthSpec
from derain_seg_ros.errors import DerainSegError
from derain_seg_ros.fileio import atomic_write_bytes
from derain_seg_ros.labels import IGNORE_ID
from derain_seg_ros.progress import progress as tqdm
from derain_seg_ros.rain import seeds
from derain_seg_ros.rain.mask import rain_mask
from derain_seg_ros.rain.renderers import RainRenderer, make_renderer

log = logging.getLogger(__name__)
# 2: mask/ is M_gt (rain/mask.py), items may lack labels (1: mask = grey diff OR drops; regenerate such a set).
MANIFEST_VERSION = 2
READABLE_VERSIONS = (2,)
FOLDERS = ("rainy", "clean", "mask", "label")
MASK_DEFINITION = "|gray601(rainy) - gray601(clean)| > 5 on 0..255 (rain/mask.py)"
__all__ = ["PAPER_TOTAL", "PAPER_TRAIN", "SynthSpec", "synthesize", "load_manifest", "read_item"]


class ManifestError(DerainSegError, RuntimeError):
    """A dataset folder without a readable manifest."""


def split_counts(total: int) -> tuple[int, int]:
    """The paper's 3,000 / 479 split of 3,479, scaled to ``total``."""
    train = round(total * PAPER_TRAIN / PAPER_TOTAL)
    return train, total - train


def assign_splits(total: int, seed: int, sequence_length: int = 1) -> list[str]:
    """A seeded shuffle of whole sequences into train and test."""
    sequences = (total + sequence_length - 1) // sequence_length
    train_target, _ = split_counts(total)
    order = np.random.default_rng(seeds.stream(seed, 0, seeds.SPLIT)).permutation(sequences)
    splits, train = ["test"] * total, 0
    for seq in order:
        members = range(seq * sequence_length, min(total, (seq + 1) * sequence_length))
        if train + len(members) > train_target:
            continue
        for i in members:
            splits[i] = "train"
        train += len(members)
    return splits


def item_splits(source: SceneSource, spec: SynthSpec) -> list[str]:
    """Each item's split. A source of real frames is split by frame (scene), never by item, so a
    frame rendered several times (``--count`` above the frames) lands in one split only; a source
    that knows its own split (CamVid's train/val) keeps it. Procedural scenes are each their own."""
    if not source.named_frames:
        return assign_splits(spec.count, spec.seed, spec.sequence_length)
    frames = len(source)
    sequences = (spec.count + spec.sequence_length - 1) // spec.sequence_length
    if hasattr(source, "split_of"):
        by_frame = [source.split_of(i) for i in range(frames)]  # type: ignore[attr-defined]
    else:
        if sequences > frames:
            log.warning(
                "%d sequences from %d frames: frames repeat under new rain, and each frame stays in one split",
                sequences,
                frames,
            )
        by_frame = assign_splits(min(frames, sequences), spec.seed, 1) + ["train"] * max(0, frames - sequences)
    return [by_frame[(i // spec.sequence_length) % frames] for i in range(spec.count)]


def item_name(source: SceneSource, index: int, sequence: int) -> str:
    """Cheap (nothing is read or drawn): a resumed run checks what exists before rendering."""
    if not source.named_frames:
        return source.name(index)
    return f"{source.name(sequence % len(source))}_{index:06d}"


@lru_cache(maxsize=4)
def renderer_for(spec: SynthSpec) -> RainRenderer:
    return make_renderer(spec.rain_preset, spec.focus, spec.camera)


def _rain_seed(spec: SynthSpec, sequence: int) -> int:
    return seeds.stream_int(spec.seed, sequence, seeds.RAIN)


def _time_step(spec: SynthSpec, sequence: int, position: int, rain_seed: int, num_steps: int) -> int:
    steps = range(1, num_steps)  # never the dry step 0
    if spec.sequence_length > 1:
        return steps[position * (len(steps) - 1) // (spec.sequence_length - 1)]
    return int(seeds.stream_rng(spec.seed, sequence, seeds.TIME_STEP).choice(steps))


def _fit(image: np.ndarray, label: np.ndarray | None, spec: SynthSpec) -> tuple[np.ndarray, np.ndarray | None]:
    if spec.height and spec.width and image.shape[:2] != (spec.height, spec.width):
        image = cv2.resize(image, (spec.width, spec.height), interpolation=cv2.INTER_AREA)
        if label is not None:
            label = cv2.resize(label, (spec.width, spec.height), interpolation=cv2.INTER_NEAREST)
    return image, label


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _write_json(path: Path, data: Any) -> None:
    atomic_write_bytes(path, json.dumps(data, indent=1, sort_keys=True).encode())


def spec_digest(spec: SynthSpec) -> str:
    """Names what made an item: a rerun with another seed, source or preset into the same folder redoes it."""
    return hashlib.sha256(json.dumps(asdict(spec), sort_keys=True).encode()).hexdigest()[:16]


def _record_ok(out: Path, record_path: Path, spec_sha: str) -> dict[str, Any] | None:
    """The item's record if the same spec made it and every file it lists is there with the recorded checksum."""
    try:
        record = json.loads(record_path.read_text())
        if record.get("spec_sha") == spec_sha and all(
            _sha256(out / rel) == sha for rel, sha in record["sha256"].items()
        ):
            return record
    except (OSError, ValueError, KeyError):
        pass
    return None


def make_item(spec: SynthSpec, out: Path, index: int, split: str) -> dict[str, Any]:
    """Render and write one item (or keep it, if a previous run already wrote it soundly)."""
    source = open_source(spec)
    sequence, position = divmod(index, spec.sequence_length)
    name = item_name(source, index, sequence)
    record_path = out / "items" / f"{name}.json"
    if (kept := _record_ok(out, record_path, spec_digest(spec))) is not None:
        if kept.get("split") != split:  # made before splits went by frame: the same pixels, the split of today
            kept["split"] = split
            _write_json(record_path, kept)
        return kept
    scene = source.scene(sequence % len(source))
    clean, label = _fit(scene.image, scene.label, spec)
    labelled = label is not None
    if label is None:
        label = np.full(clean.shape[:2], IGNORE_ID, np.uint8)
    renderer = renderer_for(spec)
    rain_seed = _rain_seed(spec, sequence)
    time_step = _time_step(spec, sequence, position, rain_seed, renderer.num_steps)
    frame = renderer.render(clean, rain_seed, time_step, layers=False)
    files = {folder: f"{folder}/{name}.png" for folder in FOLDERS}
    write_png(out / files["rainy"], frame.rainy)
    write_png(out / files["clean"], clean)
    write_png(out / files["mask"], rain_mask(frame.rainy, clean))
    write_png(out / files["label"], label)
    record = {
        "name": name,
        "index": index,
        "split": split,
        "files": files,
        "sequence": sequence,
        "scene": scene.name,
        "labels": labelled,
        "spec_sha": spec_digest(spec),
        "time_step": time_step,
        "seed": rain_seed,
        "rain": frame.info,
        "sha256": {rel: _sha256(out / rel) for rel in files.values()},
    }
    _write_json(record_path, record)
    return record


def _work(args: tuple[SynthSpec, str, int, str]) -> dict[str, Any]:
    spec, out, index, split = args
    return make_item(spec, Path(out), index, split)


def resolve_spec(spec: SynthSpec) -> SynthSpec:
    """A count of 0 means one item per scene of a folder or video (times the sequence length)."""
    if spec.count > 0:
        return spec
    if spec.source == "synthcity":
        raise DerainSegError("synthcity needs a positive --count")
    return replace(spec, count=len(open_source(spec)) * spec.sequence_length)


def synthesize(spec: SynthSpec, out: str | os.PathLike, workers: int = 1, progress: bool = True) -> Path:
    """Write the whole set (resuming where a previous run stopped) and its manifest."""
    out = Path(out)
    spec = resolve_spec(spec)
    source, renderer = open_source(spec), renderer_for(spec)
    out.mkdir(parents=True, exist_ok=True)
    if source.named_frames:
        log.info("%s %s: %d scenes for %d items", spec.source, spec.root, len(source), spec.count)
    splits = item_splits(source, spec)
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
    manifest = {
        "version": MANIFEST_VERSION,
        "spec": asdict(spec),
        "mask": MASK_DEFINITION,
        "labels": all(r.get("labels", True) for r in records),
        "renderer": renderer.describe(),
        "splits": {"train": train, "test": test},
        "items": sorted(({k: v for k, v in r.items() if k != "index"} for r in records), key=lambda r: r["name"]),
    }
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
    version = manifest.get("version")
    if version not in READABLE_VERSIONS:
        raise ManifestError(f"{path}: manifest version {version!r}, this package reads {READABLE_VERSIONS}")
    return manifest


def read_item(root: Path, item: dict[str, Any]) -> dict[str, np.ndarray]:
    """The four arrays of one manifest item."""
    try:
        return {
            "rainy": read_rgb(root / item["files"]["rainy"]),
            "clean": read_rgb(root / item["files"]["clean"]),
            "mask": read_gray(root / item["files"]["mask"]),
            "label": read_gray(root / item["files"]["label"]),
        }
    except ImageFileError as exc:
        raise ManifestError(f"dataset {root} is damaged: {exc}") from exc
