"""python train/ablation.py [--config embedded|smoke|paper|FILE] [--out DIR] [--results FILE] [--baselines] [--robotcar DIR] [key=value ...]

Table 1 of the paper from one config: stage 0 once (one shared, frozen DeepLab), the five
trainings at one budget, and the extra lines (C as the authors wrote it, non-residual), each
evaluated on the test split: PSNR/SSIM (Y and RGB), mIoU, images worse than their input, a
clean frame in, frames per second on this machine, parameters and training wall time; plus the
rainy input and the clean upper bound. ``--baselines`` adds the paper's comparison (AGAN, PReNet,
DuRN, ICSC, each trained on the same budget and data in front of the same DeepLab) and the authors'
DuRN + R + TJT (stage 2's SRRN behind that frozen DuRN) as columns before ours; ``--robotcar DIR``
scores every column again on RobotCar(R)'s rain pairs (pseudo labels). Writes REPORT.md, results.json and figure.png into the run folder, and the same report
to ``--results`` (train/RESULTS.md for the published table).
"""

from __future__ import annotations

import argparse
import copy
import datetime as dt
import json
import logging
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from derain_seg_ros.data.torch_dataset import RaindropCityscapesDataset  # noqa: E402
from derain_seg_ros.errors import DerainSegError  # noqa: E402
from derain_seg_ros.figures import panel_grid  # noqa: E402
from derain_seg_ros.fileio import atomic_write_bytes  # noqa: E402
from derain_seg_ros.runtime.checkpoint import read_checkpoint  # noqa: E402
from derain_seg_ros.runtime.segment_only import segment  # noqa: E402
from derain_seg_ros.runtime.torch_engine import TorchEngine  # noqa: E402
from train import distributed  # noqa: E402
from train.baselines.jobs import ICSC_PERCEPTUAL_LAYERS  # noqa: E402
from train.baselines.pipeline import load_any  # noqa: E402
from train.cli import script_parser  # noqa: E402
from train.config import DEFAULT_PRESET, TrainConfig, apply_overrides, load_config  # noqa: E402
from train.evaluate import Sample, evaluate, markdown, robotcar_samples  # noqa: E402
from train.provenance import machine  # noqa: E402
from train.run import run_stage, run_variant, variant_folders  # noqa: E402
from train.stages import pipeline_config  # noqa: E402
from train.variants import BASELINES, VARIANTS  # noqa: E402

log = logging.getLogger("train")


@dataclass(frozen=True)
class Row:
    """One column of the table: a Table-1 variant or a baseline, trained with ``overrides`` in ``folder``."""

    name: str
    variant: str
    overrides: tuple[str, ...] = ()
    folder: str | None = None  # sub-folder of the run (None: the run folder, sharing stage 1 between variants)


def table_rows(cfg: TrainConfig, baselines: bool = False) -> list[Row]:
    """The five variants, and A/C with the other reading of C than the preset's (residual or the
    authors'); with ``baselines``, the paper's four first, in its order (AGAN, PReNet, DuRN, ICSC), then
    the authors' DuRN + R + TJT (the SRRN trained behind the frozen DuRN of its own row)."""
    residual = pipeline_config(cfg).coarse.residual
    other = (
        Row("A/C, authors' C", "A/C", ("model.coarse.residual=false",), "authors_C")
        if residual
        else Row("A/C, residual C", "A/C", ("model.coarse.residual=true",), "residual_C")
    )
    compared = [*BASELINES, "DuRN+R+TJT"] if baselines else []
    return [Row(name, name) for name in compared] + [Row(name, name) for name in VARIANTS] + [other]


EXTRA_ROWS = (
    ("frames/s (this CPU, batch 1)", "fps", "{:.1f}"),
    ("parameters", "parameters", "{:,}"),
    ("training wall time (min)", "train_minutes", "{:.1f}"),
)


def train_row(cfg: TrainConfig, row: Row, dist: distributed.DistInfo) -> tuple[Path, float]:
    """Train (or resume) one row; returns its checkpoint and the training time of all its stages."""
    row_cfg = load_overrides(cfg, row)
    ckpt = run_variant(row_cfg, row.variant, dist, resume=True)
    seconds = sum(
        float(read_checkpoint(Path(row_cfg.run.out) / folder / "last.pt").get("train_seconds", 0.0))
        for folder in variant_folders(row.variant)
    )
    return ckpt, seconds


def load_overrides(cfg: TrainConfig, row: Row) -> TrainConfig:
    row_cfg = copy.deepcopy(cfg)
    apply_overrides(row_cfg, list(row.overrides), f"row {row.name!r}")
    if row.folder:
        row_cfg.run.out = str(Path(cfg.run.out) / row.folder)
    return row_cfg


def frames_per_second(pipeline: Any, image: np.ndarray, runs: int = 10) -> float:
    engine = TorchEngine(pipeline.eval())
    engine.infer([image])  # warm-up
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        engine.infer([image])
        samples.append(time.perf_counter() - started)
    return float(1 / np.median(samples))


def figure(checkpoints: dict[str, Path], data_root: Path, out: Path, indices: tuple[int, ...] = (0, 1)) -> Path:
    """Per test image: rainy, each row's output and the clean image; their label maps under them."""
    dataset = RaindropCityscapesDataset(data_root, "test")
    models = {name: load_any(path)[0].eval() for name, path in checkpoints.items()}
    reference = next(iter(models.values()))
    rows = []
    for index in indices[: len(dataset)]:
        item = dataset[index]
        rainy, clean, label = item["rainy"].numpy(), item["clean"].numpy(), item["label"].numpy().astype(np.uint8)
        images, labels = [("rainy", rainy)], [("ground truth", label), ("on rainy", segment(reference, rainy))]
        for name, model in models.items():
            result = TorchEngine(model).infer([rainy])
            images.append((name, result.derained[0]))
            labels.append((f"on {name}", result.labels[0]))
        images.append(("clean", clean))
        rows += [images, labels]
    return panel_grid(rows, out / "figure.png", panel_width=2.4)


def baseline_note(cfg: TrainConfig) -> str:
    return (
        f"Baselines ({', '.join(BASELINES)}): each paper's network at this preset's widths, trained with its own losses "
        "in front of the same frozen stage-0 DeepLab, on the same data and the same `optim` budget as ours (the papers' "
        "own optimisers and schedules are not used; DuRN with its step-1 loss only), the GANs' discriminators stepped in "
        "the same loop. Their perceptual terms compare the frozen segmenter's backbone features instead of ImageNet "
        f"VGG's (not loadable here): AGAN the `{cfg.loss.lf_layer}` tap (`loss.lf_layer`, L_H's LF), ICSC the "
        f"{' and '.join(ICSC_PERCEPTUAL_LAYERS)} taps (weights 1/2 and 1). AGAN's attention learns the dataset's M "
        "(grey difference > 5 of 255, the paper's M_gt), not AGAN's own thresholded, smoothed masks. DuRN+R+TJT: "
        "stage 2's SRRN, losses (L_R + w_H L_H), `stage2` budget and selection behind the frozen DuRN of its own column.\n\n"
    )


def score(
    trained: dict[str, tuple[Path, float]], data: str | list[Sample], halves: bool, limit: int | None, probe: Any
) -> dict[str, dict[str, Any]]:
    """Rainy, every trained row and Clean on one test set; with a ``probe`` frame also fps,
    parameters and training minutes. Every row shares stage 0's DeepLab, so any row's serves as
    the segmenter of the rainy and clean columns."""
    reference, _ = load_any(next(iter(trained.values()))[0])
    results: dict[str, dict[str, Any]] = {"Rainy": evaluate(reference, data, "rainy", halves, limit, progress=False)}
    for name, (ckpt, seconds) in trained.items():
        pipeline, _ = load_any(ckpt)
        results[name] = evaluate(pipeline, data, "derained", halves, limit, progress=False)
        if probe is not None:
            results[name].update(
                fps=frames_per_second(pipeline, probe),
                parameters=pipeline.parameter_counts()["total"],
                train_minutes=seconds / 60,
            )
    results["Clean (upper bound)"] = evaluate(reference, data, "clean", halves, limit, progress=False)
    return results


def _robotcar(args: argparse.Namespace) -> list[Sample] | None:
    if args.robotcar is None:
        return None
    try:
        return robotcar_samples(args.robotcar, args.wet_side, args.limit)
    except FileNotFoundError as exc:
        raise DerainSegError(f"--robotcar {args.robotcar}: {exc}") from exc


def main(argv: list[str] | None = None) -> int:
    parser = script_parser(__doc__)
    parser.add_argument("--config", default=DEFAULT_PRESET, help="preset name in train/configs or a YAML file")
    parser.add_argument("--out", type=Path, default=None, help="run folder (default: run.out of the config)")
    parser.add_argument("--results", type=Path, default=None, help="also write the report here (e.g. train/RESULTS.md)")
    parser.add_argument("--limit", type=int, default=None, help="evaluate on at most this many test images")
    parser.add_argument(
        "--rows",
        nargs="*",
        default=None,
        help=f"train and score only these rows (default: all, {list(VARIANTS)} and A/C with the other C, "
        f"and with --baselines {list(BASELINES)})",
    )
    parser.add_argument(
        "--baselines",
        action="store_true",
        help=f"add the paper's comparison {list(BASELINES)}, trained on the same budget and data",
    )
    parser.add_argument(
        "--robotcar",
        type=Path,
        default=None,
        help="also score every row on RobotCar(R) rain pairs in this folder (left/, right/; pseudo labels)",
    )
    parser.add_argument("--wet-side", choices=("left", "right"), default="right", help="--robotcar: the wetted lens")
    parser.add_argument("overrides", nargs="*")
    args = split_rows(parser.parse_intermixed_args(argv))  # overrides may come before or after flags
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        return _run(args)
    except DerainSegError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def split_rows(args: argparse.Namespace) -> argparse.Namespace:
    """``--rows A/C key=value`` : argparse gives every word after ``--rows`` to it, so an override
    written after the rows would be dropped silently. Row names never hold '=': move those back."""
    if args.rows is not None:
        args.overrides = [*args.overrides, *(word for word in args.rows if "=" in word)]
        args.rows = [word for word in args.rows if "=" not in word]
    return args


def overrides_line(overrides: list[str]) -> str:
    """The budget and data a table was made with belong in the table: a reader compares rows, and
    other tables, by it (e.g. ``optim.steps_per_epoch=52`` is a quarter of the preset's budget)."""
    return f"Overrides of the config: `{' '.join(overrides)}`\n\n" if overrides else ""


def _run(args: argparse.Namespace) -> int:
    cfg = load_config(args.config, list(args.overrides) + ([f"run.out={args.out}"] if args.out else []))
    out = Path(cfg.run.out)
    robotcar = _robotcar(args)  # read first: a wrong folder fails before hours of training
    names = [r.name for r in table_rows(cfg, args.baselines)]
    unknown = [name for name in args.rows or () if name not in names]
    if unknown or args.rows == []:
        raise DerainSegError(f"--rows {unknown or args.rows}: no such row; rows: {names}")
    dist = distributed.DistInfo()
    stage0 = run_stage(cfg, 0, dist, resume=True)
    cfg.init.stage0 = str(stage0)
    rows = [r for r in table_rows(cfg, args.baselines) if args.rows is None or r.name in args.rows]
    trained = {row.name: train_row(cfg, row, dist) for row in rows}
    data, halves = cfg.data.root, cfg.data.eval_halves
    probe = RaindropCityscapesDataset(data, "test")[0]["rainy"].numpy()
    results = score(trained, data, halves, args.limit, probe)
    robotcar_results = score(trained, robotcar, False, None, None) if robotcar is not None else None
    stage0_minutes = float(read_checkpoint(stage0).get("train_seconds", 0.0)) / 60
    shown = {n: p for n, (p, _) in trained.items() if n in ("A/C", "A/C/R+TJT")} or {
        n: p for n, (p, _) in trained.items()
    }
    fig = figure(shown, Path(data), out)
    table = markdown(results, EXTRA_ROWS)
    if robotcar_results is not None:
        table += (
            f"\n### RobotCar(R): `{args.robotcar}`, rain pairs: {robotcar_results['Rainy']['images']}, wet lens "
            f"{args.wet_side}\n\n{markdown(robotcar_results)}\n"
            "Labels are pseudo labels, as the paper makes them: the segmenter's own on the dry lens's image, so "
            "the clean column's mIoU is 100 by construction and each row's mIoU is its agreement with them.\n"
        )
    test_images = results["Rainy"]["images"]
    report = (
        f"# Table 1 at CPU scale: config `{args.config}`\n\n"
        f"{dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M UTC} · {machine()} · data `{data}` "
        f"({test_images} test scenes never trained on) · stage 0 (shared DeepLabv3+) {stage0_minutes:.1f} min\n\n"
        f"{overrides_line(args.overrides)}"
        f"{table}\n"
        "PSNR/SSIM: Y channel of OpenCV YCrCb (the paper's convention) and 8-bit RGB; identical images are capped at "
        f"{results['Rainy']['psnr_cap_db']:.0f} dB. mIoU over the Cityscapes classes present. 'Images worse than input': "
        "RGB PSNR of the output below the rainy input's. 'Clean in': the clean frame fed through the model, scored "
        "against itself (a deraining front-end must leave a dry frame alone) and segmented. Training wall time is "
        "the row's own stages (A/C/R+TJT includes the stage 1 it shares with A/C); stage 0 is shared by all.\n\n"
        f"{baseline_note(cfg) if any(name in BASELINES for name in trained) else ''}"
        f"![figure]({fig.name})\n"
    )
    atomic_write_bytes(out / "REPORT.md", report.encode())
    atomic_write_bytes(
        out / "results.json",
        json.dumps(
            results if robotcar_results is None else {**results, "robotcar": robotcar_results}, indent=1
        ).encode(),
    )
    if args.results:  # the published copy, with its figure beside it
        published_fig = f"{args.results.stem.lower()}_figure.png"
        atomic_write_bytes(args.results, report.replace(f"]({fig.name})", f"]({published_fig})").encode())
        atomic_write_bytes(args.results.parent / published_fig, fig.read_bytes())
    print(table)
    log.info("report: %s", out / "REPORT.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
