"""The engine a command runs (``--checkpoint``, ``--backend``, ``--precision``, ``--cache-dir``), said the
same way by every command that builds one from an EngineSpec, so their help and defaults cannot drift."""

from __future__ import annotations

import argparse
from pathlib import Path

from derain_seg_ros.runtime.engine_spec import PRECISIONS
from derain_seg_ros.runtime.shipped import DEFAULT_MODEL, MODELS


def add_engine_arguments(parser: argparse.ArgumentParser, backend_default: str, backend_help: str) -> None:
    parser.add_argument(
        "--checkpoint",
        type=Path,
        help="pipeline checkpoint (.pt) or exported graph (.onnx) (default: the shipped model --model names)",
    )
    parser.add_argument(
        "--model",
        choices=tuple(MODELS),
        default=DEFAULT_MODEL,
        help="shipped model when no --checkpoint: streets (real photos; CamVid-trained, CC BY-NC 4.0) "
        "or embedded (procedural scenes, no dataset licence)",
    )
    parser.add_argument(
        "--backend", default=backend_default, choices=("auto", "torch", "onnxruntime", "tensorrt"), help=backend_help
    )
    parser.add_argument(
        "--precision",
        default="fp32",
        choices=PRECISIONS,
        help="fp16/bf16 need a GPU; the log says which precision really runs",
    )
    parser.add_argument(
        "--cache-dir", type=Path, help="exported graphs and built engines (default: ~/.cache/derain_seg_ros)"
    )
