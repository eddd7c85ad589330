"""python train/evaluate.py --checkpoint CKPT (--data ROOT | --robotcar ROOT | --dry-folder DIR) [--input MODE] [--out DIR]

PSNR and SSIM (Y channel of OpenCV YCrCb, the paper's convention, and RGB, both named) between
the output and the clean image, and mIoU of DeepLab on it, over the test split of a synthesised
set (``--data``) or the rain pairs of RobotCar(R) (``--robotcar``: labels are pseudo labels, the
segmenter's own on the dry lens, as the paper makes them). Modes: ``derained`` (the model on the
rainy image; also counts images that come out worse than their input and feeds the clean image
through to check that a dry frame is left alone), ``rainy`` (the input itself: the "Rainy"
column), ``clean`` (the segmenter on the clean image: the upper bound). ``--dry-folder`` scores
"do no harm" on real dry photos without labels: PSNR of the output against its own input.
The network runs through the torch engine: the same graph and conversions as deployment.
"""

from __future__ import annotations

import json
import math
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import cv2  # noqa: E402
import numpy as np  # noqa: E402
from tqdm import tqdm  # noqa: E402

from derain_seg_ros.data.io import PHOTO_SUFFIXES, parse_size, read_rgb  # noqa: E402
from derain_seg_ros.data.torch_dataset import RaindropCityscapesDataset  # noqa: E402
from derain_seg_ros.destinations import check_out_dir  # noqa: E402
from derain_seg_ros.errors import DerainSegError  # noqa: E402
from derain_seg_ros.fileio import atomic_write_bytes  # noqa: E402
from derain_seg_ros.metrics import PSNR_CAP_DB, ConfusionMatrix, psnr, ssim_metric  # noqa: E402
from derain_seg_ros.nets.pipeline import DerainSegPipeline  # noqa: E402
from derain_seg_ros.runtime.segment_only import segment  # noqa: E402
from derain_seg_ros.runtime.shipped import resolve_checkpoint  # noqa: E402
from derain_seg_ros.runtime.torch_engine import TorchEngine  # noqa: E402
from derain_seg_ros.validate import POSITIVE_INT  # noqa: E402
from train.baselines.pipeline import load_any  # noqa: E402
from train.cli import script_parser  # noqa: E402

MODES = ("derained", "rainy", "clean")
Sample = tuple[np.ndarray, np.ndarray, np.ndarray | None]  # rainy, clean, trainIds (None: pseudo labels)


def synthetic_samples(
    data_root: str | os.PathLike, halves: bool = False, limit: int | None = None, split: str = "test"
) -> list[Sample]:
    dataset = RaindropCityscapesDataset(data_root, split, halves=halves)
    count = len(dataset) if limit is None else min(limit, len(dataset))
    return [_as_sample(dataset[i]) for i in range(count)]


def _as_sample(item: dict[str, Any]) -> Sample:
    return item["rainy"].numpy(), item["clean"].numpy(), item["label"].numpy()


def robotcar_samples(root: str | os.PathLike, wet_side: str = "right", limit: int | None = None) -> list[Sample]:
    """RobotCar(R) pairs; labels None, so ``evaluate`` segments the dry image for pseudo labels."""
    from derain_seg_ros.data.robotcar import RobotCarRainSource

    source = RobotCarRainSource(root, wet_side=wet_side)
    if len(source) == 0:
        raise DerainSegError(
            f"no RobotCar rain pairs under {root} (expected left/left_<ts>.png and right/right_<ts>.png)"
        )
    count = len(source) if limit is None else min(limit, len(source))
    return [(s.rainy, s.clean, s.label) for s in (source[i] for i in range(count))]


def scored_classes(data_root: str | os.PathLike) -> tuple[int, ...] | None:
    """The trainIds a synthesised set is scored over: its source's classes (CamVid's 11), or None (all that occur)."""
    from derain_seg_ros.data.labelled_folder import CAMVID_CLASSES
    from derain_seg_ros.data.raindrop_cityscapes import load_manifest

    return CAMVID_CLASSES if load_manifest(data_root)["spec"].get("source") == "camvid" else None


def evaluate(
    pipeline: DerainSegPipeline,
    data: str | os.PathLike | Sequence[Sample],
    mode: str = "derained",
    halves: bool = False,
    limit: int | None = None,
    progress: bool = True,
    split: str = "test",
    classes: Sequence[int] | None = None,
) -> dict[str, Any]:
    """Means over the samples (a dataset root's ``split``, or given samples). Missing labels are the
    segmenter's labels of the clean image (pseudo labels), as the paper does for RobotCar(R). mIoU is
    over ``classes`` (default: a dataset root's own, see ``scored_classes``; else every class that occurs)."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    if classes is None and isinstance(data, (str, os.PathLike)):
        classes = scored_classes(data)
    pipeline.eval()
    samples = (
        synthetic_samples(data, halves, limit, split) if isinstance(data, (str, os.PathLike)) else list(data)[:limit]
    )
    engine = TorchEngine(pipeline) if mode == "derained" else None
    confusion, clean_in_confusion = ConfusionMatrix(), ConfusionMatrix()
    scores: dict[str, list[float]] = {}
    pseudo = False
    for rainy, clean, label in tqdm(samples, desc=f"evaluate {mode}", disable=not progress):
        if label is None:
            label, pseudo = segment(pipeline, clean), True
        if engine is not None:
            out = engine.infer([rainy])
            image, labels = out.derained[0], out.labels[0]
            dry = engine.infer([clean])  # do no harm: a dry frame must come out as it went in
            _add(scores, "clean_in_psnr_rgb", psnr(dry.derained[0], clean, "rgb", max_db=PSNR_CAP_DB))
            clean_in_confusion.update(dry.labels[0], label)
            before, after = psnr(rainy, clean, "rgb"), psnr(image, clean, "rgb")
            _add(scores, "worse_than_input", float(after < before))
            _add(scores, "rainy_psnr_rgb", min(before, PSNR_CAP_DB))
        else:
            image = rainy if mode == "rainy" else clean
            labels = segment(pipeline, image)
        for channel in ("y", "rgb"):
            _add(scores, f"psnr_{channel}", psnr(image, clean, channel, max_db=PSNR_CAP_DB))
            _add(scores, f"ssim_{channel}", ssim_metric(image, clean, channel))
        confusion.update(labels, label)
    if not samples:
        raise DerainSegError("nothing to evaluate: no test images")
    result: dict[str, Any] = {k: float(np.mean(v)) for k, v in scores.items()}
    result["miou"] = 100 * confusion.miou(classes)
    if engine is not None:
        result["worse_than_input"] = int(sum(scores["worse_than_input"]))
        result["psnr_gain_rgb_min"] = float(
            np.min(np.asarray(scores["psnr_rgb"]) - np.asarray(scores["rainy_psnr_rgb"]))
        )
        result["clean_in_psnr_rgb_min"] = float(np.min(scores["clean_in_psnr_rgb"]))
        result["clean_in_miou"] = 100 * clean_in_confusion.miou(classes)
        result["clean_in_per_class_iou"] = _per_class(clean_in_confusion, classes)
    result.update(
        mode=mode,
        images=len(samples),
        halves=halves,
        psnr_cap_db=PSNR_CAP_DB,
        pseudo_labels=pseudo,
        classes=None if classes is None else list(classes),
        per_class_iou=_per_class(confusion, classes),
    )
    return result


def _per_class(confusion: ConfusionMatrix, classes: Sequence[int] | None) -> dict[str, float | None]:
    return {
        name: (None if math.isnan(v) else 100 * v)
        for i, (name, v) in enumerate(confusion.table())
        if classes is None or i in classes
    }


def _add(scores: dict[str, list[float]], key: str, value: float) -> None:
    scores.setdefault(key, []).append(value)


def dry_frames(folder: str | os.PathLike, size: tuple[int, int] | None) -> Iterator[tuple[str, np.ndarray]]:
    """Every image under ``folder`` (sorted), area-resized to ``size`` (H, W) when given."""
    paths = sorted(p for p in Path(folder).rglob("*") if p.suffix.lower() in PHOTO_SUFFIXES)
    if not paths:
        raise DerainSegError(f"no images under {folder}")
    for path in paths:
        image = read_rgb(path)
        if size is not None:
            image = cv2.resize(image, (size[1], size[0]), interpolation=cv2.INTER_AREA)
        yield path.name, image


def do_no_harm(
    pipeline: DerainSegPipeline, folder: str | os.PathLike, size: tuple[int, int] | None = None
) -> dict[str, Any]:
    """Real dry photos through the model: RGB PSNR of each output against its own input (no labels)."""
    engine = TorchEngine(pipeline.eval())
    per_image = {
        name: psnr(engine.infer([image]).derained[0], image, "rgb", max_db=PSNR_CAP_DB)
        for name, image in dry_frames(folder, size)
    }
    values = list(per_image.values())
    return {
        "mode": "dry",
        "images": len(values),
        "psnr_rgb_mean": float(np.mean(values)),
        "psnr_rgb_min": float(np.min(values)),
        "worst": min(per_image, key=per_image.get),
        "size": list(size) if size else None,
        "per_image": per_image,
    }


ROWS = (
    ("PSNR (Y, dB)", "psnr_y", "{:.2f}"),
    ("PSNR (RGB, dB)", "psnr_rgb", "{:.2f}"),
    ("SSIM (Y)", "ssim_y", "{:.4f}"),
    ("SSIM (RGB)", "ssim_rgb", "{:.4f}"),
    ("mIoU (%)", "miou", "{:.2f}"),
    ("images worse than input (RGB PSNR)", "worse_than_input", "{:d}"),
    ("clean in: PSNR (RGB, dB) mean", "clean_in_psnr_rgb", "{:.2f}"),
    ("clean in: PSNR (RGB, dB) worst", "clean_in_psnr_rgb_min", "{:.2f}"),
    ("clean in: mIoU (%)", "clean_in_miou", "{:.2f}"),
)


def markdown(results: dict[str, dict[str, Any]], extra_rows: Sequence[tuple[str, str, str]] = ()) -> str:
    """Rows: metrics; columns: the named results (the paper's Table 1 layout); '–' where a row does not apply."""
    names = list(results)
    lines = ["| | " + " | ".join(names) + " |", "| --- |" + " --- |" * len(names)]
    for title, key, fmt in (*ROWS, *extra_rows):
        if any(key in results[n] for n in names):
            cells = (fmt.format(results[n][key]) if results[n].get(key) is not None else "–" for n in names)
            lines.append(f"| {title} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = script_parser(__doc__)
    parser.add_argument(
        "--checkpoint", type=Path, default=None, help="pipeline checkpoint (default: the shipped model)"
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--data", type=Path, help="a synthesised set (its test split)")
    source.add_argument("--robotcar", type=Path, help="RobotCar(R) rain pairs: left/, right/")
    source.add_argument("--dry-folder", type=Path, help="real dry photos: do-no-harm PSNR of output vs input")
    parser.add_argument("--wet-side", choices=("left", "right"), default="right", help="RobotCar(R): the wetted lens")
    parser.add_argument(
        "--size", type=parse_size, default=None, metavar="HxW", help="--dry-folder: resize to HxW first"
    )
    parser.add_argument("--input", choices=MODES, default="derained")
    parser.add_argument("--halves", action="store_true", help="score the two halves of each frame (the paper's test)")
    parser.add_argument("--limit", type=POSITIVE_INT, default=None, help="score the first N images (N >= 1)")
    parser.add_argument("--split", choices=("test", "train", "all"), default="test", help="--data: which items")
    parser.add_argument("--out", type=Path, default=None, help="folder for metrics.json and metrics.md")
    args = parser.parse_args(argv)
    try:
        if args.out is not None:
            check_out_dir(args.out)  # before minutes of scoring, not after
        pipeline, _ = load_any(resolve_checkpoint(args.checkpoint))
        if args.dry_folder:
            result = do_no_harm(pipeline, args.dry_folder, args.size)
            table = (
                f"| dry photos | mean PSNR (RGB, dB) | worst |\n| --- | --- | --- |\n"
                f"| {result['images']} | {result['psnr_rgb_mean']:.2f} | {result['psnr_rgb_min']:.2f} ({result['worst']}) |\n"
            )
        else:
            data = robotcar_samples(args.robotcar, args.wet_side, args.limit) if args.robotcar else args.data
            result = evaluate(pipeline, data, args.input, args.halves, args.limit, split=args.split)
            table = markdown({args.input: result})
    except (DerainSegError, OSError) as exc:  # the user's data or machine: one line; a bug keeps its traceback
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: nothing was written", file=sys.stderr)
        return 130
    print(table)
    if args.out:
        atomic_write_bytes(args.out / "metrics.json", json.dumps(result, indent=1).encode())
        atomic_write_bytes(args.out / "metrics.md", table.encode())
    return 0


if __name__ == "__main__":
    sys.exit(main())
