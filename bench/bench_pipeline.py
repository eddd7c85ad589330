"""Benchmark the pipeline per stage and end to end; appends to bench/RESULTS.md.

    python bench/bench_pipeline.py                       # GPU: paper sizes, fp32/fp16/fp16+graphs
    python bench/bench_pipeline.py --config small --sizes 64x128 --runs 20   # a quick CPU look
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from derain_seg_ros.data.io import parse_size
from derain_seg_ros.nets.config import PipelineConfig
from derain_seg_ros.nets.pipeline import DerainSegPipeline
from derain_seg_ros.runtime.benchmark import append_results, benchmark

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", choices=("default", "small"), default="default")
    parser.add_argument("--sizes", nargs="+", default=["512x1024", "1024x2048"])
    parser.add_argument("--batches", nargs="+", type=int, default=[1, 2])
    parser.add_argument("--settings", nargs="+", default=None,
                        help="precision[+graph] list, e.g. fp32 fp16 fp16+graph (default: all that run here)")
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    cuda = torch.cuda.is_available()
    settings = args.settings or (["fp32", "fp16", "fp16+graph"] if cuda else ["fp32"])
    torch.manual_seed(0)
    config = PipelineConfig() if args.config == "default" else PipelineConfig.small()
    pipeline = DerainSegPipeline(config).eval()
    rows = []
    for size in args.sizes:
        height, width = parse_size(size)
        for batch in args.batches:
            for setting in settings:
                precision, _, graph = setting.partition("+")
                if cuda:
                    torch.cuda.reset_peak_memory_stats()
                for timing in benchmark(pipeline, height, width, batch, precision, graph == "graph", args.warmup, args.runs):
                    label = f"torch {setting}, {height}x{width}, batch {batch}, {args.config}"
                    rows.append((label, timing))
                    print(f"{label:55s} {timing.name:22s} {timing.median_ms:9.2f} ms  p99 {timing.p99_ms:9.2f}  "
                          f"{timing.gflops:9.1f} GFLOP  {timing.tflops_per_s:6.2f} TFLOP/s", flush=True)
    peak = torch.cuda.max_memory_allocated() / 2**30 if cuda else None
    append_results(args.out, f"torch backend, {args.config} config", rows, peak)
    print(f"appended to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
