"""Time the pipeline per stage and end to end, for each backend and precision that runs here.

Stages (attention, coarse, srrn, deeplab: the pipeline's own submodules) are timed inside the one
graph; onnxruntime and TensorRT end to end through the engine. Weights are random (timing does not
depend on them). Prints each row, says up front what it will run and, after the first call, how
long a long sweep will take; with --out appends a dated table (device, versions) to a Markdown
file. bench/bench_pipeline.py runs it with the paper's sizes into bench/RESULTS.md. On a CPU the
paper's network at 512x1024 takes seconds per call: --config small --sizes 128x256 --runs 20 is a
quick look.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from derain_seg_ros.data.io import parse_size


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive whole number, got {text!r}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        choices=("default", "streets", "embedded", "small"),
        default="default",
        help="network sizes: 'default' is the paper's (ResNet-101 DeepLabv3+), 'streets' and 'embedded' the "
        "shipped models', 'small' a tiny test network",
    )
    parser.add_argument(
        "--sizes",
        "--size",
        nargs="+",
        type=parse_size,
        default=[(512, 1024)],
        metavar="HxW",
        help="frame sizes, one or more (default: 512x1024)",
    )
    parser.add_argument(
        "--batches",
        "--batch",
        nargs="+",
        type=positive_int,
        default=[1],
        metavar="N",
        help="batch sizes, one or more (default: 1)",
    )
    parser.add_argument(
        "--settings",
        nargs="+",
        default=None,
        help="precision[+graph], e.g. fp32 fp16 fp16+graph (default: fp32, fp16, fp16+graph on a GPU; fp32 on a CPU)",
    )
    parser.add_argument(
        "--backends",
        nargs="+",
        default=["torch"],
        choices=("torch", "onnxruntime", "tensorrt"),
        help="backends to time",
    )
    parser.add_argument("--runs", type=positive_int, default=100, help="timed calls per setting")
    parser.add_argument("--warmup", type=int, default=10, help="untimed calls before them")
    parser.add_argument("--out", type=Path, help="append the table to this Markdown file")


def run(args: argparse.Namespace) -> int:
    import torch

    from derain_seg_ros.runtime.benchmark import append_results, sweep

    settings = args.settings or (["fp32", "fp16", "fp16+graph"] if torch.cuda.is_available() else ["fp32"])
    rows = sweep(args.config, args.sizes, args.batches, settings, args.backends, max(args.warmup, 0), args.runs)
    if args.out and rows:
        ran = dict.fromkeys(row.setting.split()[0] for row in rows)
        append_results(args.out, f"{', '.join(ran)}; {args.config} config", rows)
        print(f"appended to {args.out}")
    return 0 if rows else 1
