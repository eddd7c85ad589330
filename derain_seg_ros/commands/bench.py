"""``derain-seg bench``: the pipeline benchmark (bench/bench_pipeline.py's options) from an install."""

from __future__ import annotations

import argparse
from pathlib import Path

from derain_seg_ros.data.io import parse_size


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", choices=("default", "small"), default="default")
    parser.add_argument("--size", default="512x1024")
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--precision", default="fp32", choices=("fp32", "fp16", "bf16"))
    parser.add_argument("--cuda-graph", action="store_true")
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--out", type=Path, default=None, help="append the table to this Markdown file")


def run(args: argparse.Namespace) -> int:
    import torch

    from derain_seg_ros.nets.config import PipelineConfig
    from derain_seg_ros.nets.pipeline import DerainSegPipeline
    from derain_seg_ros.runtime.benchmark import append_results, benchmark

    torch.manual_seed(0)
    pipeline = DerainSegPipeline(PipelineConfig() if args.config == "default" else PipelineConfig.small()).eval()
    height, width = parse_size(args.size)
    timings = benchmark(pipeline, height, width, args.batch, args.precision, args.cuda_graph, args.warmup, args.runs)
    label = f"torch {args.precision}{'+graph' if args.cuda_graph else ''}, {height}x{width}, batch {args.batch}, {args.config}"
    for t in timings:
        print(f"{t.name:22s} median {t.median_ms:9.2f} ms  p99 {t.p99_ms:9.2f} ms  {t.gflops:9.1f} GFLOP  {t.tflops_per_s:6.2f} TFLOP/s")
    if args.out:
        append_results(args.out, f"derain-seg bench, {args.config} config", [(label, t) for t in timings], None)
    return 0
