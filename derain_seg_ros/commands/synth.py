"""``derain-seg synth``: write a Raindrop-Cityscapes set, or the preview contact sheet."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from derain_seg_ros.data.io import parse_size


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--source", choices=("synthcity", "cityscapes"), default="synthcity")
    parser.add_argument("--root", type=Path, help="Cityscapes root (leftImg8bit/, gtFine/)")
    parser.add_argument("--split", default="train", help="Cityscapes split to draw scenes from (train, val, all)")
    parser.add_argument("--crop-columns", action="store_true", help="Cityscapes: keep columns 64:1984 (the paper's crop)")
    parser.add_argument("--out", type=Path, required=True, help="dataset folder (or the PNG path with --preview)")
    parser.add_argument("--count", type=int, default=3479, help="number of images (split 3000/479 of 3479, scaled)")
    parser.add_argument("--size", default=None, help="HxW (default 1024x2048 for synthcity, native for Cityscapes)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--sequence-length", type=int, default=1, help="frames per scene walking through the rain process")
    parser.add_argument("--preview", action="store_true", help="write the contact-sheet figure and exit")


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.preview:
        from derain_seg_ros.data.preview import make_preview

        h, w = parse_size(args.size or "256x512")
        out = args.out if args.out.suffix == ".png" else args.out / "preview.png"
        logging.info("wrote %s", make_preview(out, args.seed, h, w))
        return 0
    from derain_seg_ros.data.raindrop_cityscapes import SynthSpec, split_counts, synthesize

    if args.source == "cityscapes" and args.root is None:
        raise SystemExit("--source cityscapes needs --root")
    if args.count < 1 or args.sequence_length < 1:
        raise SystemExit("--count and --sequence-length must be positive")
    size = parse_size(args.size) if args.size else ((1024, 2048) if args.source == "synthcity" else (None, None))
    spec = SynthSpec(args.source, str(args.root) if args.root else None, args.split, args.count, size[0], size[1],
                     args.seed, args.sequence_length, args.crop_columns)
    train, test = split_counts(args.count)
    logging.info("synthesising %d images (about %d train / %d test) into %s", args.count, train, test, args.out)
    logging.info("wrote %s", synthesize(spec, args.out, workers=args.workers))
    return 0
