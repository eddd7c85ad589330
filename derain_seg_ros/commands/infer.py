"""``derain-seg infer``: derain and segment images or folders with any backend."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from tqdm import tqdm

from derain_seg_ros.data.io import ImageFileError, read_rgb, write_png

EXTENSIONS = {".png", ".jpg", ".jpeg", ".bmp"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("inputs", type=Path, nargs="+", help="images or folders of images")
    parser.add_argument("--checkpoint", type=Path, required=True)
    parser.add_argument("--backend", default="auto", choices=("auto", "torch", "onnxruntime", "tensorrt"))
    parser.add_argument("--precision", default="fp32", choices=("fp32", "fp16", "bf16"))
    parser.add_argument("--cache-dir", type=Path, default=None, help="ONNX/engine cache (default ~/.cache/derain_seg_ros)")
    parser.add_argument("--overlay-alpha", type=float, default=0.5)
    parser.add_argument("--out", type=Path, required=True)


def collect(inputs: list[Path]) -> list[tuple[Path, Path]]:
    """(image, output stem) pairs; images found in a folder keep their sub-folders under ``--out``,
    so that ``a/x.png`` and ``b/x.png`` do not overwrite each other's results."""
    files: list[tuple[Path, Path]] = []
    for path in inputs:
        if path.is_dir():
            files += [(p, p.relative_to(path).with_suffix("")) for p in sorted(path.rglob("*")) if p.suffix.lower() in EXTENSIONS]
        elif path.is_file():
            files.append((path, Path(path.stem)))
        else:
            raise SystemExit(f"no such image or folder: {path}")
    if not files:
        raise SystemExit("no images found")
    stems = [stem for _, stem in files]
    if len(set(stems)) < len(stems):
        raise SystemExit("several inputs would write the same results; give them distinct names or one folder")
    return files


def run(args: argparse.Namespace) -> int:
    from derain_seg_ros.labels import colorize
    from derain_seg_ros.runtime.engine import make_engine
    from derain_seg_ros.runtime.per_size_engine import PerSizeEngine
    from derain_seg_ros.runtime.postprocess import overlay

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    files = collect(args.inputs)
    engine = PerSizeEngine(lambda height, width: make_engine(args.backend, args.checkpoint, precision=args.precision,
                                                             height=height, width=width, cache_dir=args.cache_dir))
    failed = 0
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
    print(f"{len(files) - failed} images -> {args.out}" + (f" ({failed} unreadable, skipped)" if failed else ""))
    return 1 if failed == len(files) else 0
