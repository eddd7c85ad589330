"""python train/evaluate.py --checkpoint CKPT --data ROOT [--input derained|rainy|clean] [--out DIR]

PSNR and SSIM (Y channel of OpenCV YCrCb, the paper's convention, and RGB, both named) between
the output and the clean image, and mIoU of DeepLab on it, over the test split. ``rainy`` scores
the rainy input itself (the "Rainy" column); ``clean`` segments the clean image (the upper bound).
The network runs through the torch engine: the same graph and conversions as deployment.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from tqdm import tqdm  # noqa: E402

from derain_seg_ros.data.torch_dataset import RaindropCityscapesDataset  # noqa: E402
from derain_seg_ros.fileio import atomic_write_bytes  # noqa: E402
from derain_seg_ros.metrics import ConfusionMatrix, psnr, ssim_metric  # noqa: E402
from derain_seg_ros.nets.pipeline import DerainSegPipeline  # noqa: E402
from derain_seg_ros.runtime.checkpoint import load_pipeline  # noqa: E402
from derain_seg_ros.runtime.preprocess import to_float_nchw  # noqa: E402
from derain_seg_ros.runtime.torch_engine import TorchEngine  # noqa: E402

PSNR_CAP_DB = 100.0  # identical images have infinite PSNR; averages use this cap and say so
METRICS = ("psnr_y", "psnr_rgb", "ssim_y", "ssim_rgb", "miou")


def segment(pipeline: DerainSegPipeline, image: np.ndarray) -> np.ndarray:
    with torch.inference_mode():
        return pipeline.deeplab(to_float_nchw(image)).logits.argmax(1)[0].numpy().astype(np.uint8)


def evaluate(pipeline: DerainSegPipeline, data_root: str | os.PathLike, mode: str = "derained", halves: bool = False,
             limit: int | None = None, progress: bool = True) -> dict[str, Any]:
    if mode not in ("derained", "rainy", "clean"):
        raise ValueError(f"mode must be derained, rainy or clean, got {mode!r}")
    pipeline.eval()
    dataset = RaindropCityscapesDataset(data_root, "test", halves=halves)
    engine = TorchEngine(pipeline) if mode == "derained" else None
    confusion = ConfusionMatrix()
    scores: dict[str, list[float]] = {k: [] for k in METRICS if k != "miou"}
    count = len(dataset) if limit is None else min(limit, len(dataset))
    for i in tqdm(range(count), desc=f"evaluate {mode}", disable=not progress):
        item = dataset[i]
        rainy, clean, label = item["rainy"].numpy(), item["clean"].numpy(), item["label"].numpy()
        if mode == "derained":
            out = engine.infer([rainy])
            image, labels = out.derained[0], out.labels[0]
        else:
            image = rainy if mode == "rainy" else clean
            labels = segment(pipeline, image)
        for channel in ("y", "rgb"):
            scores[f"psnr_{channel}"].append(psnr(image, clean, channel, max_db=PSNR_CAP_DB))
            scores[f"ssim_{channel}"].append(ssim_metric(image, clean, channel))
        confusion.update(labels, label)
    result = {k: float(np.mean(v)) for k, v in scores.items()}
    result["miou"] = 100 * confusion.miou()
    result.update(mode=mode, images=count, halves=halves, psnr_cap_db=PSNR_CAP_DB,
                  per_class_iou={name: (None if math.isnan(v) else 100 * v) for name, v in confusion.table()})
    return result


def markdown(results: dict[str, dict[str, Any]]) -> str:
    """Rows: metrics; columns: the named results (the paper's Table 1 layout)."""
    names = list(results)
    rows = [("PSNR (Y, dB)", "psnr_y", "{:.2f}"), ("PSNR (RGB, dB)", "psnr_rgb", "{:.2f}"), ("SSIM (Y)", "ssim_y", "{:.4f}"),
            ("SSIM (RGB)", "ssim_rgb", "{:.4f}"), ("mIoU (%)", "miou", "{:.2f}")]
    lines = ["| | " + " | ".join(names) + " |", "| --- |" + " --- |" * len(names)]
    for title, key, fmt in rows:
        lines.append(f"| {title} | " + " | ".join(fmt.format(results[n][key]) for n in names) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, required=True)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--input", choices=("derained", "rainy", "clean"), default="derained")
    parser.add_argument("--halves", action="store_true", help="score the two halves of each frame (the paper's test)")
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--out", type=Path, default=None, help="folder for metrics.json and metrics.md")
    args = parser.parse_args(argv)
    pipeline, _ = load_pipeline(args.checkpoint)
    result = evaluate(pipeline, args.data, args.input, args.halves, args.limit)
    table = markdown({args.input: result})
    print(table)
    if args.out:
        atomic_write_bytes(args.out / "metrics.json", json.dumps(result, indent=1).encode())
        atomic_write_bytes(args.out / "metrics.md", table.encode())
    return 0


if __name__ == "__main__":
    sys.exit(main())
