"""``derain-seg demo``: the shipped model (or a checkpoint) on fresh rainy street scenes it never saw,
or (``--photos DIR``) on real photos under every rain kind.

Scenes come from the procedural generator on a seed stream of their own (no dataset draws from
it), the rain from the rain process. For each scene: rainy | derained | clean above, ground-truth
labels | labels on the derained image | labels on the rainy image below, with the classes'
legend, plus every output as a PNG and the scores in ``scores.json``.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
from pathlib import Path

import numpy as np

from derain_seg_ros.data.io import parse_size
from derain_seg_ros.validate import NON_NEGATIVE_INT, POSITIVE_INT, in_range

log = logging.getLogger(__name__)
MIN_SCENE_SIDE = 16  # the scene generator's smallest size
DEMO_STREAM = 0xDE30  # scene seeds of the demo: a SeedSequence stream that no dataset uses


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint", type=Path, help="pipeline checkpoint (default: the shipped model)")
    parser.add_argument("--scenes", type=POSITIVE_INT, default=3, help="how many scenes")
    parser.add_argument(
        "--size", type=parse_size, default=None, metavar="HxW", help="scene size (default 128x256; --photos: their own)"
    )
    parser.add_argument("--seed", type=NON_NEGATIVE_INT, default=0, help="which fresh scenes")
    parser.add_argument(
        "--time-step",
        type=NON_NEGATIVE_INT,
        help="rain process step, from 0 (default: the last, most drops on the glass)",
    )
    parser.add_argument("--out", type=Path, default=None, help="output folder (default outputs/scene_demo/seed<SEED>)")
    parser.add_argument("--photos", type=Path, help="real photos instead of scenes, under car, paper and pane rain")
    from derain_seg_ros.runtime.shipped import DEFAULT_MODEL, MODELS

    parser.add_argument(
        "--model", choices=tuple(MODELS), help=f"shipped model when no --checkpoint (default: {DEFAULT_MODEL})"
    )


def _finite(value):
    """JSON has no Infinity: a PSNR of identical images (inf) is written as null."""
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    return None if isinstance(value, float) and not math.isfinite(value) else value


def demo_scene_seed(seed: int, index: int) -> int:
    return int(np.random.SeedSequence([DEMO_STREAM, seed, index]).generate_state(1)[0])


def run(args: argparse.Namespace) -> int:
    from derain_seg_ros.data.io import write_png
    from derain_seg_ros.data.synthcity import generate_scene
    from derain_seg_ros.destinations import check_out_dir
    from derain_seg_ros.figures import panel_grid
    from derain_seg_ros.metrics import psnr
    from derain_seg_ros.rain.renderers import make_renderer
    from derain_seg_ros.runtime.checkpoint import load_pipeline
    from derain_seg_ros.runtime.segment_only import segment
    from derain_seg_ros.runtime.shipped import resolve_checkpoint
    from derain_seg_ros.runtime.small_frames import SmallFrameEngine, smallest_side
    from derain_seg_ros.runtime.torch_engine import TorchEngine

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.scenes < 1:
        raise SystemExit("error: --scenes must be at least 1")
    args.size_given = args.size is not None
    args.size = args.size or (128, 256)
    height, width = args.size
    in_range(min(height, width), MIN_SCENE_SIDE, None, f"--size {height}x{width}: each side", integer=True)
    out = check_out_dir(args.out or Path("outputs/scene_demo") / f"seed{args.seed}")
    renderer = make_renderer("car")
    if args.time_step is not None:
        in_range(args.time_step, 0, renderer.num_steps - 1, "--time-step", integer=True)
    checkpoint = resolve_checkpoint(args.checkpoint, getattr(args, "model", None))
    pipeline, _ = load_pipeline(checkpoint)
    engine = SmallFrameEngine(TorchEngine(pipeline.eval()), smallest_side(pipeline))  # --size 16x16 too
    if args.photos is not None:
        from derain_seg_ros.commands.photo_demo import photo_demo

        sheet = photo_demo(engine, pipeline, args.photos, out, args.seed, args.size if args.size_given else None)
        log.info("wrote %s and its images to %s", sheet.name, out)
        return 0
    step = renderer.num_steps - 1 if args.time_step is None else args.time_step
    rows, scores = [], {}
    for i in range(args.scenes):
        scene_seed = demo_scene_seed(args.seed, i)
        scene = generate_scene(scene_seed, height, width)
        rainy = renderer.render(scene.image, scene_seed, step, layers=False).rainy
        derained = engine.infer([rainy])
        rainy_labels = segment(pipeline, rainy)  # what a car without deraining would see
        name = f"scene{i}"
        images = {"clean": scene.image, "rainy": rainy, "derained": derained.derained[0]}
        labels = {"labels_gt": scene.label, "labels_derained": derained.labels[0], "labels_rainy": rainy_labels}
        for key, image in images.items():
            write_png(out / f"{name}_{key}.png", image)
        for key, label in labels.items():
            write_png(out / f"{name}_{key}.png", label)
        scores[name] = {
            "scene_seed": scene_seed,
            "psnr_rgb_rainy": psnr(rainy, scene.image, "rgb"),
            "psnr_rgb_derained": psnr(images["derained"], scene.image, "rgb"),
        }
        rows.append(
            [
                (f"rainy ({scores[name]['psnr_rgb_rainy']:.1f} dB)", rainy),
                (f"derained ({scores[name]['psnr_rgb_derained']:.1f} dB)", images["derained"]),
                ("clean (ground truth)", scene.image),
            ]
        )
        rows.append(
            [
                ("ground-truth labels", scene.label),
                ("labels on derained", labels["labels_derained"]),
                ("labels on rainy (no deraining)", rainy_labels),
            ]
        )
    from derain_seg_ros.fileio import atomic_write_bytes

    sheet = panel_grid(
        rows, out / "sheet.png", title=f"{checkpoint.name} on {args.scenes} scenes it never saw (RGB PSNR vs clean)"
    )
    atomic_write_bytes(out / "scores.json", json.dumps(_finite(scores), indent=1, allow_nan=False).encode())
    log.info("wrote %s and %d images to %s", sheet.name, 6 * args.scenes, out)
    return 0
