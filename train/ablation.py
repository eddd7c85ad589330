"""python train/ablation.py [--config smoke|paper|FILE] [--out DIR] [key=value ...]

Table 1 of the paper from one config: stage 0 once (shared DeepLab), the five trainings, each
evaluated on the test split, plus the rainy input and the clean upper bound; writes REPORT.md,
results.json and figure.png (rainy | A/C | A/C/R+TJT | clean, label maps underneath).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from derain_seg_ros.data.torch_dataset import RaindropCityscapesDataset  # noqa: E402
from derain_seg_ros.fileio import atomic_path, atomic_write_bytes  # noqa: E402
from derain_seg_ros.labels import colorize  # noqa: E402
from derain_seg_ros.runtime.checkpoint import load_pipeline  # noqa: E402
from derain_seg_ros.runtime.torch_engine import TorchEngine  # noqa: E402
from train import distributed  # noqa: E402
from train.config import load_config  # noqa: E402
from train.evaluate import evaluate, markdown, segment  # noqa: E402
from train.run import run_stage, run_variant  # noqa: E402
from train.variants import VARIANTS  # noqa: E402

log = logging.getLogger("train")


def figure(checkpoints: dict[str, Path], data_root: Path, out: Path, index: int = 0) -> Path:
    item = RaindropCityscapesDataset(data_root, "test")[index]
    rainy, clean = item["rainy"].numpy(), item["clean"].numpy()
    columns = [("rainy", rainy, None), ("A/C", None, checkpoints["A/C"]), ("A/C/R+TJT", None, checkpoints["A/C/R+TJT"]),
               ("clean", clean, None)]
    reference, _ = load_pipeline(checkpoints["A/C/R+TJT"])
    fig, axes = plt.subplots(2, 4, figsize=(13, 2 * 13 / 4 * rainy.shape[0] / rainy.shape[1] + 0.8), squeeze=False)
    for col, (title, image, ckpt) in enumerate(columns):
        if ckpt is not None:
            out_ = TorchEngine(load_pipeline(ckpt)[0].eval()).infer([rainy])
            image, labels = out_.derained[0], out_.labels[0]
        else:
            labels = segment(reference.eval(), image)
        axes[0, col].imshow(image)
        axes[0, col].set_title(title)
        axes[1, col].imshow(colorize(labels))
    for ax in axes.ravel():
        ax.axis("off")
    fig.tight_layout()
    path = out / "figure.png"
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=100)
    plt.close(fig)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="smoke")
    parser.add_argument("--out", type=Path, default=None, help="run folder (default: run.out of the config)")
    parser.add_argument("--limit", type=int, default=None, help="evaluate on at most this many test images")
    parser.add_argument("overrides", nargs="*")
    args = parser.parse_intermixed_args(argv)  # overrides may come before or after flags
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    overrides = list(args.overrides) + ([f"run.out={args.out}"] if args.out else [])
    cfg = load_config(args.config, overrides)
    out = Path(cfg.run.out)
    dist = distributed.DistInfo()
    started = time.perf_counter()
    stage0 = run_stage(cfg, 0, dist, resume=True)
    cfg.init.stage0 = str(stage0)
    checkpoints = {name: run_variant(cfg, name, dist, resume=True) for name in VARIANTS}
    trained_s = time.perf_counter() - started
    data, halves = cfg.data.root, cfg.data.eval_halves
    reference, _ = load_pipeline(checkpoints["A/C/R+TJT"])
    results = {"Rainy": evaluate(reference, data, "rainy", halves, args.limit, progress=False)}
    for name, ckpt in checkpoints.items():
        results[name] = evaluate(load_pipeline(ckpt)[0], data, "derained", halves, args.limit, progress=False)
    results["Clean (upper bound)"] = evaluate(reference, data, "clean", halves, args.limit, progress=False)
    table = markdown(results)
    fig = figure(checkpoints, Path(data), out)
    report = (f"# Table 1 on {data} (config {args.config})\n\n{table}\n"
              f"PSNR/SSIM: Y channel of OpenCV YCrCb (the paper's convention) and 8-bit RGB; identical images are "
              f"capped at {results['Rainy']['psnr_cap_db']:.0f} dB. mIoU over the 19 Cityscapes classes present.\n\n"
              f"Training took {trained_s:.0f} s; {results['Rainy']['images']} test images.\n\n![figure]({fig.name})\n")
    atomic_write_bytes(out / "REPORT.md", report.encode())
    atomic_write_bytes(out / "results.json", json.dumps(results, indent=1).encode())
    print(table)
    log.info("report: %s", out / "REPORT.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
