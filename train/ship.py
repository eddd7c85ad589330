"""python train/ship.py [--model streets|embedded] --run RUN_DIR --eval-data ... [--dry ...] [--out FILE]

Packs a finished training (RUN_DIR/stage2: what it hands on) into the file the package ships
(fp16 storage, no optimizer state), measures it on scenes it never saw, and writes the model card
beside it: the command that reproduces it, data seeds, wall time per stage, machine, metrics and
the file's sha256. ``make weights`` runs the whole recipe and ends here. The first evaluation set
is the card's; more sets (other unseen seeds) are scored beside it, so that a target met on one
draw of scenes is seen against others.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from derain_seg_ros.data.io import parse_size  # noqa: E402
from derain_seg_ros.data.raindrop_cityscapes import load_manifest  # noqa: E402
from derain_seg_ros.fileio import atomic_write_bytes  # noqa: E402
from derain_seg_ros.runtime.checkpoint import load_pipeline, read_checkpoint  # noqa: E402
from derain_seg_ros.runtime.shipped import MODELS, MODELS_DIR, model_card_name, pack_for_shipping, sha256_of  # noqa: E402
from train.cli import script_parser  # noqa: E402
from train.evaluate import do_no_harm, evaluate, markdown  # noqa: E402
from train.loop import stage_result  # noqa: E402
from train.provenance import machine, reproduce_section  # noqa: E402

RECIPE = "make weights-embedded  # = bash scripts/make_weights_embedded.sh"


def stage_times(run: Path) -> dict[str, float]:
    return {
        stage: float(read_checkpoint(run / stage / "last.pt").get("train_seconds", float("nan")))
        for stage in ("stage0", "stage1", "stage2")
    }


def more_seeds(others: dict[Path, dict[str, dict[str, Any]]]) -> list[str]:
    """The card's lines for the other unseen sets: one row per set, the same scores as the targets."""
    if not others:
        return []
    lines = [
        "",
        "## More unseen seeds",
        "",
        "The same model and scores on other draws of scenes it never saw (nothing was chosen on them):",
        "",
        "| seed | scenes | rainy RGB (dB) | derained RGB (dB) | worse than input | clean in mean / worst (dB) | mIoU rainy / derained / clean in (%) |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for data, m in others.items():
        d, r = m["derained"], m["rainy"]
        lines.append(
            f"| {load_manifest(data)['spec']['seed']} | {d['images']} | {r['psnr_rgb']:.2f} | {d['psnr_rgb']:.2f} "
            f"({d['psnr_rgb'] - r['psnr_rgb']:+.2f}) | {d['worse_than_input']} | {d['clean_in_psnr_rgb']:.2f} / "
            f"{d['clean_in_psnr_rgb_min']:.2f} | {r['miou']:.2f} / {d['miou']:.2f} / {d['clean_in_miou']:.2f} |"
        )
    return lines


def card(
    out: Path,
    run: Path,
    metrics: dict[str, dict[str, Any]],
    dry: dict[str, Any] | None,
    eval_data: Path,
    others: dict[Path, dict[str, dict[str, Any]]] | None = None,
) -> str:
    pipeline, state = load_pipeline(out)
    counts = pipeline.parameter_counts()
    cfg = read_checkpoint(run / "stage2" / "last.pt")["train_config"]
    train_manifest = load_manifest(cfg["data"]["root"])
    eval_spec = load_manifest(eval_data)["spec"]
    times = stage_times(run)
    d, r, c = metrics["derained"], metrics["rainy"], metrics["clean"]
    lines = [
        "# Model card: the shipped embedded model",
        "",
        f"`derain_seg_ros/models/{MODELS['embedded']}`: the procedural-scene model, free of any dataset licence "
        "(`--model embedded`); the default is the streets model (`MODEL_CARD.md`).",
        "",
        "| | |",
        "| --- | --- |",
        f"| sha256 | `{sha256_of(out)}` |",
        f"| size | {out.stat().st_size / 2**20:.2f} MiB (fp16 storage, loaded as fp32) |",
        f"| networks | `PipelineConfig.embedded()`: A {counts['attention']:,}, C {counts['coarse']:,} (residual), "
        f"SRRN {counts['srrn']:,}, DeepLabv3+ MobileNetV2 {counts['deeplab']:,}; total {counts['total']:,} parameters |",
        f"| trained | {dt.date.today().isoformat()} on {machine()} |",
        f"| wall time | stage 0 {times['stage0'] / 60:.1f} min, stage 1 {times['stage1'] / 60:.1f} min, stage 2 "
        f"{times['stage2'] / 60:.1f} min; total {sum(times.values()) / 60:.1f} min |",
        f"| training data | {train_manifest['spec']} ({train_manifest['splits']}) + extra sets {cfg['data']['extra_roots']} |",
        f"| evaluation data | scenes it never saw: {eval_spec}, all {d['images']} items |",
        *reproduce_section(RECIPE),
        "The script trains stage 0, 1 and 2 with `train/configs/embedded.yaml` from scratch, then runs "
        "`train/ship.py`, which writes this file. Configuration as trained:",
        "",
        "```json",
        json.dumps(cfg, indent=1),
        "```",
        "",
        "## Metrics (128x256, unseen seed)",
        "",
        markdown({"Rainy": r, "Derained": d, "Clean (upper bound)": c}),
        f"- Derained RGB PSNR {d['psnr_rgb'] - r['psnr_rgb']:+.2f} dB over the rainy input; "
        f"{d['worse_than_input']} of {d['images']} images worse than their input.",
        f"- Do no harm: a clean frame in comes out at {d['clean_in_psnr_rgb']:.2f} dB RGB PSNR on average, "
        f"{d['clean_in_psnr_rgb_min']:.2f} dB at worst.",
        f"- mIoU: clean in {d['clean_in_miou']:.2f} %, derained rainy in {d['miou']:.2f} % "
        f"({100 * d['miou'] / d['clean_in_miou']:.1f} % of clean-in), rainy without deraining {r['miou']:.2f} %.",
    ]
    lines += more_seeds(others or {})
    if dry is not None:
        lines += [
            "",
            "## Real dry photos (do no harm)",
            "",
            f"{dry['images']} photos resized to {dry['size']}: output against input {dry['psnr_rgb_mean']:.2f} dB "
            f"RGB PSNR on average, {dry['psnr_rgb_min']:.2f} dB at worst ({dry['worst']}).",
        ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = script_parser(__doc__)
    parser.add_argument(
        "--model", choices=tuple(MODELS), default="streets", help="which shipped model this run becomes"
    )
    parser.add_argument(
        "--run", type=Path, default=None, help="the training run (stage0..2 inside; default runs/MODEL)"
    )
    parser.add_argument(
        "--eval-data",
        nargs="+",
        required=True,
        help="embedded: synthesised sets of unseen scenes (all items scored), the first is the card's; "
        "streets: KIND=DIR sets whose test split (never trained on) is scored",
    )
    parser.add_argument(
        "--dry", nargs="*", default=[], metavar="NAME=DIR[@HxW]", help="streets: real dry photos (do no harm)"
    )
    parser.add_argument(
        "--dry-folder", type=Path, default=None, help="embedded: real dry photos for the do-no-harm line"
    )
    parser.add_argument("--dry-size", type=parse_size, default=None, metavar="HxW")
    parser.add_argument("--out", type=Path, default=None, help="default: the package's models/ file of --model")
    args = parser.parse_args(argv)
    run = args.run or Path("runs") / args.model
    out = args.out or MODELS_DIR / MODELS[args.model]
    card_path = out.parent / model_card_name(args.model)
    if args.model == "streets":
        from train.streets_card import ship_streets

        ship_streets(run, out, card_path, args.eval_data, args.dry)
        print(card_path.read_text())
        return 0
    out = pack_for_shipping(stage_result(run / "stage2"), out, recipe=RECIPE, date=dt.date.today().isoformat())
    pipeline, _ = load_pipeline(out)
    main_set, *more = (Path(p) for p in args.eval_data)
    metrics = {mode: evaluate(pipeline, main_set, mode, split="all") for mode in ("rainy", "derained", "clean")}
    others = {
        data: {mode: evaluate(pipeline, data, mode, split="all") for mode in ("rainy", "derained")} for data in more
    }
    dry = do_no_harm(pipeline, args.dry_folder, args.dry_size) if args.dry_folder else None
    atomic_write_bytes(card_path, card(out, run, metrics, dry, main_set, others).encode())
    print(card_path.read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
