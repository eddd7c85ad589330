"""Derain and segment images or folders of images, with any backend.

For each image IMG it writes IMG_derained.png, IMG_labels.png (Cityscapes trainIds, 255 = void),
IMG_color.png and IMG_overlay.png under --out; images found in a folder keep their sub-folders.
Weights: the embedded model shipped in the package unless --checkpoint names a pipeline
checkpoint (.pt) or a graph written by `derain-seg export` (.onnx, run with onnxruntime). An ONNX
graph has one fixed frame size: other images are resized to it and the results back to the
image's size, as the ROS node does with its processing size.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from tqdm import tqdm

from derain_seg_ros.commands.engine_args import add_engine_arguments
from derain_seg_ros.data.io import PHOTO_SUFFIXES, ImageFileError, read_rgb, write_png


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("inputs", type=Path, nargs="+", help="images or folders of images")
    parser.add_argument("--out", type=Path, required=True, help="folder for the results")
    add_engine_arguments(parser, "auto", "auto tries tensorrt, onnxruntime, torch and logs what it chose")
    parser.add_argument("--overlay-alpha", type=float, default=0.5, help="weight of the label colours in the overlay")


def collect(inputs: list[Path]) -> list[tuple[Path, Path]]:
    """(image, output stem) pairs; images found in a folder keep their sub-folders under ``--out``,
    so that ``a/x.png`` and ``b/x.png`` do not overwrite each other's results."""
    files: list[tuple[Path, Path]] = []
    for path in inputs:
        if path.is_dir():
            files += [(p, p.relative_to(path).with_suffix("")) for p in sorted(path.rglob("*")) if p.suffix.lower() in PHOTO_SUFFIXES]
        elif path.is_file():
            files.append((path, Path(path.stem)))
        else:
            raise SystemExit(f"error: no such image or folder: {path}")
    if not files:
        raise SystemExit("error: no images found")
    stems = [stem for _, stem in files]
    if len(set(stems)) < len(stems):
        raise SystemExit("error: several inputs would write the same results; give them distinct names or one folder")
    return files


def run(args: argparse.Namespace) -> int:
    from derain_seg_ros.labels import colorize
    from derain_seg_ros.runtime.engine_spec import EngineSpec
    from derain_seg_ros.runtime.per_size_engine import engine_for_any_size
    from derain_seg_ros.runtime.postprocess import overlay
    from derain_seg_ros.runtime.shipped import resolve_checkpoint

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    files = collect(args.inputs)
    spec = EngineSpec(args.backend, resolve_checkpoint(args.checkpoint), precision=args.precision, cache_dir=args.cache_dir)
    engine = engine_for_any_size(spec)
    failed = 0
    try:
        for path, stem in tqdm(files, desc="infer", unit="img"):
            try:
                rgb = read_rgb(path)
            except ImageFileError as exc:
                logging.warning("skipped: %s", exc)
                failed += 1
                continue
            out = engine.infer([rgb])
            derained, labels = out.derained[0], out.labels[0]
            base = args.out / stem
            write_png(base.with_name(f"{stem.name}_derained.png"), derained)
            write_png(base.with_name(f"{stem.name}_labels.png"), labels)
            write_png(base.with_name(f"{stem.name}_color.png"), colorize(labels))
            write_png(base.with_name(f"{stem.name}_overlay.png"), overlay(derained, labels, args.overlay_alpha))
    finally:
        engine.close()
    print(f"{len(files) - failed} images -> {args.out}" + (f" ({failed} unreadable, skipped)" if failed else ""))
    return 1 if failed == len(files) else 0
