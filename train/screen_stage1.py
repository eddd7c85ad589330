"""python train/screen_stage1.py --candidate STAGE1_CKPT [--checkpoint CKPT | --model NAME] [--config streets] [KEY=VALUE ...]

A stage-1 candidate's A and C, put behind a finished model's trust head, SRRN and segmenter, scored on stage 2's
held-out items set by set (each rain kind, then the dry frames): mean RGB PSNR (each frame capped as stage 2's guard
counts it) and mIoU. It answers in half a minute whether a candidate is worth a stage 2 (25 minutes at the streets
preset on 2 cores, most of it the trust head's fit): A and C are what stage 1 changes, and the finished rest is a fair
stand-in for the one a new stage 2 would give. Without ``--candidate`` it scores the finished model itself, the
baseline to write a screening rule against before the candidate trains. The held-out items are those of the run
the overrides describe (``data.root``, ``data.extra_roots``, ``data.val_count``): never trained on by any stage.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from derain_seg_ros.errors import DerainSegError  # noqa: E402
from derain_seg_ros.nets.pipeline import DerainSegPipeline  # noqa: E402
from derain_seg_ros.runtime.checkpoint import load_pipeline  # noqa: E402
from derain_seg_ros.runtime.shipped import resolve_checkpoint  # noqa: E402
from train.cli import script_parser  # noqa: E402
from train.config import load_config  # noqa: E402
from train.datasets import held_out_sets  # noqa: E402
from train.evaluate import scored_classes  # noqa: E402
from train.stages import load_submodules  # noqa: E402
from train.validation import Triple, held_out_scores  # noqa: E402


def with_stage1(pipeline: DerainSegPipeline, candidate: str | Path) -> DerainSegPipeline:
    """``pipeline`` with A and C from the stage-1 checkpoint ``candidate``, C's trust head kept as ``pipeline``
    has it (stage 1 leaves the head unfitted; stage 2 fits it). A candidate of other networks is refused."""
    trust = pipeline.coarse.trust
    kept = {} if trust is None else {k: v.clone() for k, v in trust.state_dict().items()}
    load_submodules(pipeline, str(candidate), ("attention", "coarse"), "stage1")
    if trust is not None:
        trust.load_state_dict(kept)
    return pipeline


def screen(
    pipeline: DerainSegPipeline, sets: list[tuple[str, list[Triple]]], classes: tuple[int, ...] | None
) -> list[dict[str, Any]]:
    """One row per non-empty set: its name, frame count, mean capped PSNR and mIoU (None: unlabelled)."""
    rows = []
    for name, triples in sets:
        if triples:
            miou, mean_psnr = held_out_scores(pipeline, triples, classes)
            rows.append({"set": name, "frames": len(triples), "psnr_db": mean_psnr, "miou": miou})
    return rows


def markdown(rows: list[dict[str, Any]]) -> str:
    lines = ["| held-out set | frames | PSNR dB (capped) | mIoU % |", "| --- | --- | --- | --- |"]
    for r in rows:
        miou = "-" if r["miou"] is None else f"{r['miou']:.2f}"
        lines.append(f"| {r['set']} | {r['frames']} | {r['psnr_db']:.3f} | {miou} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = script_parser(__doc__)
    parser.add_argument("--candidate", help="a stage-1 checkpoint (runs/.../stage1/last.pt); none: the model as is")
    parser.add_argument("--checkpoint", help="the finished model whose trust head, SRRN and segmenter stay")
    parser.add_argument("--model", help="a shipped model instead of --checkpoint (default: streets)")
    parser.add_argument("--config", default="streets", help="training preset whose held-out items are scored")
    parser.add_argument("--json", type=Path, help="also write the rows here")
    parser.add_argument(
        "overrides", nargs="*", help="KEY=VALUE config overrides (data.root=..., data.extra_roots=[...])"
    )
    args = parser.parse_args(argv)
    try:
        pipeline = load_pipeline(resolve_checkpoint(args.checkpoint, args.model))[0]
        if args.candidate:
            with_stage1(pipeline, args.candidate)
        cfg = load_config(args.config, args.overrides)
        rows = screen(pipeline, held_out_sets(cfg), scored_classes(cfg.data.root))
    except (DerainSegError, OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(markdown(rows))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
