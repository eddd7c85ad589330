"""``derain-seg demo``: the shipped model (or a checkpoint) on fresh rainy street scenes it never saw.

Scenes come from the procedural generator on a seed stream of their own (no dataset draws from
it), the rain from the rain process. For each scene: rainy | derained | clean above, ground-truth
labels | labels on the derained image | labels on the rainy image below, with the classes'
legend, plus every output as a PNG and the scores in ``scores.json``.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

import numpy as np

from derain_seg_ros.data.io import parse_size

log = logging.getLogger(__name__)
DEMO_STREAM = 0xDE30  # scene seeds of the demo: a SeedSequence stream that no dataset uses


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint", type=Path, help="pipeline checkpoint (default: the shipped model)")
    parser.add_argument("--scenes", type=int, default=3, help="how many scenes")
    parser.add_argument("--size", type=parse_size, default=(128, 256), metavar="HxW", help="scene size")
    parser.add_argument("--seed", type=int, default=0, help="which fresh scenes")
    parser.add_argument("--time-step", type=int, default=None, help="rain process step (default: the last, most drops on the glass)")
    parser.add_argument("--out", type=Path, default=None, help="output folder (default outputs/scene_demo/seed<SEED>)")


def demo_scene_seed(seed: int, index: int) -> int:
    return int(np.random.SeedSequence([DEMO_STREAM, seed, index]).generate_state(1)[0])


def run(args: argparse.Namespace) -> int:
    from derain_seg_ros.data.io import write_png
    from derain_seg_ros.data.synthcity import generate_scene
    from derain_seg_ros.figures import panel_grid
    from derain_seg_ros.metrics import psnr
    from derain_seg_ros.rain.renderers import make_renderer
    from derain_seg_ros.runtime.checkpoint import load_pipeline
    from derain_seg_ros.runtime.segment_only import segment
    from derain_seg_ros.runtime.shipped import resolve_checkpoint
    from derain_seg_ros.runtime.torch_engine import TorchEngine

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.scenes < 1:
        raise SystemExit("error: --scenes must be at least 1")
    height, width = args.size
    checkpoint = resolve_checkpoint(args.checkpoint)
    pipeline, _ = load_pipeline(checkpoint)
    engine = TorchEngine(pipeline.eval())
    out = args.out or Path("outputs/scene_demo") / f"seed{args.seed}"
    renderer = make_renderer("car")
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
        scores[name] = {"scene_seed": scene_seed, "psnr_rgb_rainy": psnr(rainy, scene.image, "rgb"),
                        "psnr_rgb_derained": psnr(images["derained"], scene.image, "rgb")}
        rows.append([(f"rainy ({scores[name]['psnr_rgb_rainy']:.1f} dB)", rainy),
                     (f"derained ({scores[name]['psnr_rgb_derained']:.1f} dB)", images["derained"]),
                     ("clean (ground truth)", scene.image)])
        rows.append([("ground-truth labels", scene.label), ("labels on derained", labels["labels_derained"]),
                     ("labels on rainy (no deraining)", rainy_labels)])
    from derain_seg_ros.fileio import atomic_write_bytes

    sheet = panel_grid(rows, out / "sheet.png", title=f"{checkpoint.name} on {args.scenes} scenes it never saw (RGB PSNR vs clean)")
    atomic_write_bytes(out / "scores.json", json.dumps(scores, indent=1).encode())
    log.info("wrote %s and %d images to %s", sheet.name, 6 * args.scenes, out)
    return 0

