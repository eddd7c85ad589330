"""python train/streets_report.py [--checkpoint CKPT] --data KIND=DIR [KIND=DIR ...] [--dry NAME=DIR[@HxW] ...] --out DIR

The real-streets report: a model on held-out real frames (a synthesised set's test split, e.g.
CamVid's val under each rain kind), with the segmenter alone on the rainy frame and on the clean
frame beside it, and real dry photos through the model (do no harm). Writes ``report.md`` (the
tables: PSNR/SSIM, frames worse, clean-in / rainy-in / derained mIoU, the share of the rain's cost
recovered, per-class IoU, dry photos), ``report.json`` and ``figure.png`` (per rain kind: rainy,
derained, clean; labels on rainy, on derained, ground truth; a class legend).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from derain_seg_ros.data.io import parse_size  # noqa: E402
from derain_seg_ros.errors import DerainSegError  # noqa: E402
from derain_seg_ros.fileio import atomic_write_bytes  # noqa: E402
from derain_seg_ros.nets.pipeline import DerainSegPipeline, with_bypass  # noqa: E402
from derain_seg_ros.runtime.checkpoint import load_pipeline  # noqa: E402
from derain_seg_ros.runtime.shipped import resolve_checkpoint  # noqa: E402
from train.cli import script_parser  # noqa: E402
from train.evaluate import do_no_harm, evaluate, synthetic_samples  # noqa: E402


def kind_scores(pipeline: DerainSegPipeline, root: Path, limit: int | None, no_refine: bool) -> dict[str, Any]:
    """One rain kind: the model ('derained', with its clean-in pass), the rainy input, and optionally
    the same pipeline with the SRRN bypassed."""
    scores = {
        "rainy": evaluate(pipeline, root, "rainy", limit=limit),
        "derained": evaluate(pipeline, root, "derained", limit=limit),
    }
    if no_refine:
        scores["no_refine"] = evaluate(with_bypass(pipeline, "refine"), root, "derained", limit=limit)
        with_bypass(pipeline, "none")
    return scores


def summary_row(kind: str, s: dict[str, Any]) -> str:
    r, d = s["rainy"], s["derained"]
    cost = d["clean_in_miou"] - r["miou"]
    recovered = f"{100 * (d['miou'] - r['miou']) / cost:.0f} %" if cost > 0 else "– (rain costs nothing)"
    share = f"{100 * d['miou'] / d['clean_in_miou']:.1f} %" if d["clean_in_miou"] > 0 else "–"
    return (
        f"| {kind} | {d['images']} | {r['psnr_rgb']:.2f} | {d['psnr_rgb']:.2f} ({d['psnr_rgb'] - r['psnr_rgb']:+.2f}) | "
        f"{r['ssim_rgb']:.4f} / {d['ssim_rgb']:.4f} | {d['worse_than_input']} ({d['psnr_gain_rgb_min']:+.2f}) | "
        f"{d['clean_in_miou']:.2f} | {r['miou']:.2f} | {d['miou']:.2f} ({share}) | "
        f"{recovered} |"
    )


def report(results: dict[str, dict[str, Any]], dry: dict[str, dict[str, Any]], checkpoint: Path) -> str:
    lines = [
        f"# Real streets: `{checkpoint}`",
        "",
        "Held-out real frames (never trained on) under each rain kind. PSNR/SSIM against the clean photo (RGB); "
        "mIoU over the dataset's classes; 'worse' counts frames whose derained PSNR is below the rainy input's "
        "(in brackets: the smallest gain); 'recovered' = (derained − rainy-in) / (clean-in − rainy-in) mIoU.",
        "",
        "| rain | frames | rainy PSNR (dB) | derained PSNR (dB) | SSIM rainy / derained | worse (min gain, dB) | "
        "clean-in mIoU (%) | rainy-in mIoU (%) | derained mIoU (% of clean-in) | recovered |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    lines += [summary_row(kind, s) for kind, s in results.items()]
    if any("no_refine" in s for s in results.values()):
        lines += [
            "",
            "With the SRRN bypassed (A → C → DeepLab, the same weights):",
            "",
            "| rain | PSNR with SRRN / without (dB) | mIoU with SRRN / without (%) |",
            "| --- | --- | --- |",
        ]
        for kind, s in results.items():
            if "no_refine" in s:
                d, n = s["derained"], s["no_refine"]
                lines.append(
                    f"| {kind} | {d['psnr_rgb']:.2f} / {n['psnr_rgb']:.2f} | {d['miou']:.2f} / {n['miou']:.2f} |"
                )
    first = next(iter(results.values()))["derained"]
    lines += [
        "",
        "Do no harm on the held-out clean frames (each clean frame through the model, against itself): "
        + "; ".join(
            f"{k} set {s['derained']['clean_in_psnr_rgb']:.2f} dB mean / {s['derained']['clean_in_psnr_rgb_min']:.2f} worst"
            for k, s in results.items()
        )
        + ".",
    ]
    if dry:
        lines += [
            "",
            "| dry real photos | count | size | mean PSNR out vs in (dB) | worst |",
            "| --- | --- | --- | --- | --- |",
        ]
        lines += [
            f"| {name} | {d['images']} | {d['size'] or 'own'} | {d['psnr_rgb_mean']:.2f} | {d['psnr_rgb_min']:.2f} ({d['worst']}) |"
            for name, d in dry.items()
        ]
    classes = list(first["per_class_iou"])
    lines += [
        "",
        "Per-class IoU (%):",
        "",
        "| class | clean in | " + " | ".join(f"{k} rainy | {k} derained" for k in results) + " |",
        "| --- | --- |" + " --- | --- |" * len(results),
    ]
    for name in classes:
        cells = [_pct(first.get("clean_in_per_class_iou", {}).get(name))]
        for s in results.values():
            cells += [_pct(s["rainy"]["per_class_iou"].get(name)), _pct(s["derained"]["per_class_iou"].get(name))]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f}"


def figure(pipeline: DerainSegPipeline, data: dict[str, Path], out: Path, frames: int) -> Path:
    """Per rain kind and frame: rainy / derained / clean, then labels on rainy / on derained / ground truth."""
    from derain_seg_ros.figures import panel_grid
    from derain_seg_ros.runtime.segment_only import segment
    from derain_seg_ros.runtime.torch_engine import TorchEngine

    engine = TorchEngine(pipeline.eval())
    rows: list[list[tuple[str, Any]]] = []
    for kind, root in data.items():
        for rainy, clean, label in synthetic_samples(root, limit=frames):
            result = engine.infer([rainy])
            rows.append([(f"{kind}: rainy", rainy), ("derained", result.derained[0]), ("clean", clean)])
            rows.append(
                [
                    ("labels on rainy (no deraining)", segment(pipeline, rainy)),
                    ("labels on derained", result.labels[0]),
                    ("ground truth", label),
                ]
            )
    return panel_grid(rows, out, title="Held-out real frames under each rain kind")


def name_path_pairs(values: list[str], what: str) -> dict[str, str]:
    """NAME=PATH arguments as a dict (a user error names the option)."""
    pairs = {}
    for value in values:
        name, sep, path = value.partition("=")
        if not sep or not name or not path:
            raise DerainSegError(f"{what} takes NAME=PATH, got {value!r}")
        pairs[name] = path
    return pairs


def main(argv: list[str] | None = None) -> int:
    parser = script_parser(__doc__)
    parser.add_argument(
        "--checkpoint", type=Path, default=None, help="pipeline checkpoint (default: the shipped streets model)"
    )
    parser.add_argument(
        "--data", nargs="+", required=True, metavar="KIND=DIR", help="synthesised sets; their test split is scored"
    )
    parser.add_argument("--dry", nargs="*", default=[], metavar="NAME=DIR[@HxW]", help="real dry photos (no labels)")
    parser.add_argument("--limit", type=int, default=None, help="score the first N test frames of each set")
    parser.add_argument("--no-refine", action="store_true", help="also score the pipeline with the SRRN bypassed")
    parser.add_argument("--figure-frames", type=int, default=2)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    try:
        data = {k: Path(v) for k, v in name_path_pairs(args.data, "--data").items()}
        dry_specs = name_path_pairs(args.dry, "--dry")
        checkpoint = resolve_checkpoint(args.checkpoint)
        pipeline, _ = load_pipeline(checkpoint)
        args.out.mkdir(parents=True, exist_ok=True)
        results = {kind: kind_scores(pipeline, root, args.limit, args.no_refine) for kind, root in data.items()}
        dry = {}
        for name, spec in dry_specs.items():
            folder, _, size = spec.partition("@")
            dry[name] = do_no_harm(pipeline, folder, parse_size(size) if size else None)
        figure(pipeline, data, args.out / "figure.png", args.figure_frames)
    except (DerainSegError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    text = report(results, dry, checkpoint)
    atomic_write_bytes(args.out / "report.md", text.encode())
    atomic_write_bytes(
        args.out / "report.json",
        json.dumps({"checkpoint": str(checkpoint), "rain": results, "dry": dry}, indent=1, default=str).encode(),
    )
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
