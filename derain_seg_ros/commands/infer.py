"""Derain and segment images or folders of images, with any backend.

For each image IMG it writes IMG_derained.png, IMG_labels.png (Cityscapes trainIds, 255 = void),
IMG_color.png and IMG_overlay.png under --out; images found in a folder keep their sub-folders.
--no-derain labels the raw frame (IMG_derained.png is then the input) and --no-refine bypasses the
SRRN, both in the same graph, so a user compares on their own frames.
Weights: the shipped streets model (--model embedded: the procedural-scene one) unless --checkpoint names a pipeline
checkpoint (.pt) or a graph written by `derain-seg export` (.onnx, run with onnxruntime). An ONNX
graph has one fixed frame size: other images are resized to it and the results back to the
image's size, as the ROS node does with its processing size.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from derain_seg_ros.commands.engine_args import add_engine_arguments
from derain_seg_ros.data.io import PHOTO_SUFFIXES, ImageFileError, read_rgb, write_png
from derain_seg_ros.progress import progress as tqdm
from derain_seg_ros.validate import UNIT_INTERVAL

OUTPUT_SUFFIXES = ("_derained", "_labels", "_color", "_overlay")  # what infer writes, never read back as inputs


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("inputs", type=Path, nargs="+", help="images or folders of images")
    parser.add_argument("--out", type=Path, required=True, help="folder for the results")
    add_engine_arguments(parser, "auto", "auto tries tensorrt, onnxruntime, torch and logs what it chose")
    skip = parser.add_mutually_exclusive_group()
    skip.add_argument("--no-derain", action="store_true", help="the segmenter alone, deraining bypassed in the graph")
    skip.add_argument(
        "--no-refine", action="store_true", help="A -> C -> segmenter, the SRRN bypassed: see what the refinement adds"
    )
    parser.add_argument(
        "--overlay-alpha", type=UNIT_INTERVAL, default=0.5, help="weight of the label colours in the overlay, in [0, 1]"
    )


def _own_output(path: Path, out: Path | None) -> bool:
    """A result of an earlier run (``--out`` inside or equal to an input folder): not an input."""
    return out is not None and path.stem.endswith(OUTPUT_SUFFIXES) and path.resolve().is_relative_to(out.resolve())


def collect(inputs: list[Path], out: Path | None = None) -> list[tuple[Path, Path]]:
    """(image, output stem) pairs; images found in a folder keep their sub-folders under ``--out``,
    so that ``a/x.png`` and ``b/x.png`` do not overwrite each other's results. Only regular files
    are read (a FIFO named ``b.png`` would block forever), and earlier results under ``out`` are not inputs."""
    files: list[tuple[Path, Path]] = []
    for path in inputs:
        if path.is_dir():
            files += [
                (p, p.relative_to(path).with_suffix(""))
                for p in sorted(path.rglob("*"))
                if p.suffix.lower() in PHOTO_SUFFIXES and p.is_file() and not _own_output(p, out)
            ]
        elif path.is_file():
            files.append((path, Path(path.stem)))
        elif path.exists():
            raise SystemExit(f"error: {path} is not a regular file or a folder")
        else:
            raise SystemExit(f"error: no such image or folder: {path}")
    if not files:
        raise SystemExit("error: no images found")
    stems = [stem for _, stem in files]
    if len(set(stems)) < len(stems):
        raise SystemExit("error: several inputs would write the same results; give them distinct names or one folder")
    return files


def run(args: argparse.Namespace) -> int:
    from derain_seg_ros.destinations import check_out_dir
    from derain_seg_ros.errors import DerainSegError
    from derain_seg_ros.labels import colorize
    from derain_seg_ros.runtime.engine_spec import EngineSpec
    from derain_seg_ros.runtime.per_size_engine import engine_for_any_size
    from derain_seg_ros.runtime.postprocess import overlay
    from derain_seg_ros.runtime.shipped import resolve_checkpoint

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    check_out_dir(args.out)
    files = collect(args.inputs, args.out)
    bypass = "derain" if args.no_derain else "refine" if args.no_refine else "none"
    checkpoint = resolve_checkpoint(args.checkpoint, args.model)
    if bypass != "none" and checkpoint.suffix.lower() == ".onnx":
        raise DerainSegError(
            f"--no-{bypass} needs a pipeline checkpoint (.pt): an exported graph ({checkpoint.name}) is fixed"
        )
    spec = EngineSpec(args.backend, checkpoint, precision=args.precision, cache_dir=args.cache_dir, bypass=bypass)
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
            try:
                out = engine.infer([rgb])
            except DerainSegError:
                raise  # the engine or the model, not this image: every image would fail alike
            except (RuntimeError, ValueError) as exc:  # this image only: say so, go on with the rest
                logging.warning("skipped %s: %s", path, str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
                failed += 1
                continue
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


def interrupted_note(args: argparse.Namespace) -> str:
    return f"the results written so far are in {args.out}, each one complete"
