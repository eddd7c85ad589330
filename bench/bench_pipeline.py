"""Benchmark the pipeline per stage and end to end; appends to bench/RESULTS.md.

    python bench/bench_pipeline.py                  # paper sizes: 512x1024 and 1024x2048, batch 1 and 2,
                                                    # torch + onnxruntime + TensorRT where they run
    python bench/bench_pipeline.py --config small --sizes 64x128 --runs 20     # a quick CPU look

Any option of ``derain-seg bench`` may be given; these are only the defaults of the paper's setting,
meant for a GPU: on a CPU they take hours, which the command says before it starts (and, after the
first call, how long exactly), with a progress bar per setting.
"""

from __future__ import annotations

import sys
from pathlib import Path

from derain_seg_ros.cli import main

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
DEFAULTS = [
    "--sizes",
    "512x1024",
    "1024x2048",
    "--batches",
    "1",
    "2",
    "--backends",
    "torch",
    "onnxruntime",
    "tensorrt",
    "--out",
    str(RESULTS),
]

if __name__ == "__main__":
    sys.exit(main(["bench", *DEFAULTS, *sys.argv[1:]]))  # later options win
