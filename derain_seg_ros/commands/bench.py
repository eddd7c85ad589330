"""``derain-seg bench``: latency per stage and end to end, for each backend and precision that runs
here; appends a dated table (device, versions) to ``--out``. ``bench/bench_pipeline.py`` runs it
with the paper's sizes into bench/RESULTS.md."""

from __future__ import annotations

import argparse
from pathlib import Path

from derain_seg_ros.data.io import parse_size


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", choices=("default", "small"), default="default", help="network sizes (default: the paper's)")
    parser.add_argument("--sizes", "--size", nargs="+", default=["512x1024"], help="HxW, one or more")
    parser.add_argument("--batches", "--batch", nargs="+", type=int, default=[1])
    parser.add_argument("--settings", nargs="+", default=None,
                        help="precision[+graph], e.g. fp32 fp16 fp16+graph (default: fp32, fp16, fp16+graph on a GPU; fp32 on CPU)")
    parser.add_argument("--backends", nargs="+", default=["torch"], choices=("torch", "onnxruntime", "tensorrt"))
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--out", type=Path, default=None, help="append the table to this Markdown file")


def run(args: argparse.Namespace) -> int:
    import torch

    from derain_seg_ros.runtime.benchmark import append_results, sweep

    settings = args.settings or (["fp32", "fp16", "fp16+graph"] if torch.cuda.is_available() else ["fp32"])
    rows = sweep(args.config, [parse_size(s) for s in args.sizes], args.batches, settings, args.backends, args.warmup, args.runs)
    if args.out and rows:
        ran = dict.fromkeys(row.setting.split()[0] for row in rows)
        append_results(args.out, f"{', '.join(ran)}; {args.config} config", rows)
        print(f"appended to {args.out}")
    return 0 if rows else 1
