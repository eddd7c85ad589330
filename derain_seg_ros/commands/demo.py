"""``derain-seg demo``: one generated rainy street scene through the whole pipeline, as PNGs.

It needs nothing but the package: the scene comes from the procedural generator, the rain from the
rain process, and without ``--checkpoint`` the weights are a seeded random initialisation (the
outputs then show the wiring, not deraining).
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import numpy as np
import torch

from derain_seg_ros.data.io import parse_size, write_png
from derain_seg_ros.labels import colorize
from derain_seg_ros.nets.config import PipelineConfig
from derain_seg_ros.nets.pipeline import DerainSegPipeline

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint", type=Path, help="pipeline checkpoint (default: random weights)")
    parser.add_argument("--config", choices=("small", "default"), default="small",
                        help="network sizes when no checkpoint is given")
    parser.add_argument("--size", default="256x512", help="HxW of the generated scene")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--time-step", type=int, default=None, help="rain process step (default: late)")
    parser.add_argument("--out", type=Path, default=Path("outputs/demo/scene"))


def run(args: argparse.Namespace) -> int:
    from derain_seg_ros.data.synthcity import generate_scene
    from derain_seg_ros.rain.process import RainProcessParams, render_rainy
    from derain_seg_ros.runtime.checkpoint import load_pipeline
    from derain_seg_ros.runtime.postprocess import overlay
    from derain_seg_ros.runtime.preprocess import to_float_nchw, to_uint8_hwc

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    height, width = parse_size(args.size)
    if args.checkpoint is not None:
        pipeline, _ = load_pipeline(args.checkpoint)
    else:
        torch.manual_seed(args.seed)
        config = PipelineConfig.small() if args.config == "small" else PipelineConfig()
        pipeline = DerainSegPipeline(config)
        log.info("no --checkpoint: random %s weights (outputs show the wiring only)", args.config)
    pipeline.eval()

    scene = generate_scene(args.seed, height, width)
    params = RainProcessParams()
    step = params.num_steps - 1 if args.time_step is None else args.time_step
    frame = render_rainy(scene.image, seed=args.seed, time_step=step, params=params)
    with torch.inference_mode():
        out = pipeline(to_float_nchw(frame.rainy))

    derained = to_uint8_hwc(out["derained"])[0]
    labels = out["labels"][0].to(torch.uint8).numpy()
    images = {
        "clean": scene.image,
        "rainy": frame.rainy,
        "attention": to_uint8_hwc(out["attention"].expand(-1, 3, -1, -1))[0],
        "coarse": to_uint8_hwc(out["coarse"])[0],
        "derained": derained,
        "labels_color": colorize(labels),
        "labels_gt_color": colorize(scene.label),
        "overlay": overlay(derained, labels),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    for name, image in images.items():
        write_png(args.out / f"{name}.png", image)
    sheet = np.concatenate([np.concatenate([images[a], images[b]], axis=1) for a, b in
                            (("rainy", "derained"), ("attention", "coarse"), ("labels_gt_color", "labels_color"))])
    write_png(args.out / "sheet.png", sheet)
    log.info("wrote %d images to %s", len(images) + 1, args.out)
    return 0
