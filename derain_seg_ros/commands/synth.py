"""``derain-seg synth``: write a Raindrop-Cityscapes set, or a preview contact sheet."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from derain_seg_ros.data.io import parse_size
from derain_seg_ros.validate import NON_NEGATIVE_INT, POSITIVE_INT

PRESETS_HELP = (
    "car: camera-model rain (defocused windscreen drops, faint streaks, veil); paper (= legacy): the paper's "
    "Raindrop-Cityscapes kind, streaks and sharp drops; pane: a wet glass pane cm in front of the lens (RobotCar(R))"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.ArgumentDefaultsHelpFormatter
    parser.add_argument(
        "--source",
        choices=("synthcity", "cityscapes", "folder", "video", "camvid"),
        default="synthcity",
        help="clean scenes: procedural streets, Cityscapes, any folder of images (no labels), video frames, "
        "or labelled photos in CamVid's layout (split and labels kept)",
    )
    parser.add_argument(
        "--root",
        type=Path,
        help="Cityscapes root, image folder (searched recursively), or video file / folder of videos",
    )
    parser.add_argument(
        "--split",
        default="train",
        help="Cityscapes / CamVid split to draw scenes from (train, val, all; CamVid's val items are test items)",
    )
    parser.add_argument(
        "--crop-columns", action="store_true", help="Cityscapes: keep columns 64:1984 (the paper's crop)"
    )
    parser.add_argument("--video-stride", type=POSITIVE_INT, default=1, help="video: take every n-th frame")
    parser.add_argument("--out", type=Path, required=True, help="dataset folder (or the PNG path with --preview)")
    parser.add_argument(
        "--count",
        type=POSITIVE_INT,
        help="number of images, split 3000/479 of 3479 scaled; None: 3479, or one per frame for folder/video",
    )
    parser.add_argument(
        "--size",
        help="HxW; None: 1024x2048 for synthcity (256x512 for its preview), the frames' own size otherwise",
    )
    parser.add_argument("--seed", type=NON_NEGATIVE_INT, default=0, help="the dataset seed (scenes, rain, split)")
    parser.add_argument("--workers", type=POSITIVE_INT, default=1, help="worker processes")
    parser.add_argument(
        "--sequence-length", type=POSITIVE_INT, default=1, help="frames per scene walking through the rain process"
    )
    parser.add_argument("--rain-preset", choices=("car", "paper", "legacy", "pane"), default="car", help=PRESETS_HELP)
    parser.add_argument(
        "--focus",
        choices=("far", "glass"),
        default="far",
        help="car preset: the camera focuses on the road (far) or on the windscreen",
    )
    parser.add_argument(
        "--camera",
        default="car",
        help="car preset: a camera preset (car, wide, cityscapes), hfov=DEG, or k=fx,fy,cx,cy@WxH (sensor_msgs/CameraInfo K)",
    )
    parser.add_argument(
        "--camera-info",
        type=Path,
        help="car preset: a ROS camera calibration YAML (camera_matrix, image_width/height); overrides --camera",
    )
    parser.add_argument(
        "--preview",
        action="store_true",
        help="write a contact sheet and exit (synthcity: densities, the process, both focus modes; other sources: --count frames at every density and focus)",
    )


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    from derain_seg_ros.data.synth_spec import PAPER_TOTAL, SynthSpec
    from derain_seg_ros.errors import DerainSegError

    if (args.count is not None and args.count < 1) or args.sequence_length < 1:
        raise DerainSegError("--count and --sequence-length must be positive")
    if args.source != "synthcity" and args.root is None:
        raise DerainSegError(f"--source {args.source} needs --root")
    from derain_seg_ros.destinations import check_out_dir, check_out_file

    if args.preview and args.out.suffix == ".png":
        check_out_file(args.out)
    else:
        check_out_dir(args.out)
    camera = args.camera
    if args.camera_info is not None:
        from derain_seg_ros.rain.camera import camera_spec_from_info

        camera = camera_spec_from_info(args.camera_info)
    default_size = "1024x2048" if args.source == "synthcity" and not args.preview else None
    size = parse_size(args.size or default_size) if (args.size or default_size) else (None, None)
    count = args.count if args.count is not None else (PAPER_TOTAL if args.source in ("synthcity", "cityscapes") else 0)
    spec = SynthSpec(
        args.source,
        str(args.root) if args.root else None,
        args.split,
        count,
        size[0],
        size[1],
        args.seed,
        args.sequence_length,
        args.crop_columns,
        args.video_stride,
        args.rain_preset,
        args.focus,
        camera,
    )
    if args.preview:
        from derain_seg_ros.data.preview import make_preview, make_source_sheet

        out = args.out if args.out.suffix == ".png" else args.out / "preview.png"
        if args.source == "synthcity":
            h, w = size if size[0] else (256, 512)
            path = make_preview(out, args.seed, h, w, camera=camera)
        else:
            path = make_source_sheet(out, spec, count=args.count or 3)
        logging.info("wrote %s", path)
        return 0
    from derain_seg_ros.data.raindrop_cityscapes import resolve_spec, split_counts, synthesize

    spec = resolve_spec(spec)
    train, test = split_counts(spec.count)
    logging.info(
        "synthesising %d images (about %d train / %d test, rain preset %s) into %s",
        spec.count,
        train,
        test,
        spec.rain_preset,
        args.out,
    )
    logging.info("wrote %s", synthesize(spec, args.out, workers=args.workers))
    return 0


def interrupted_note(args: argparse.Namespace) -> str:
    return f"every finished item in {args.out} is kept; the same command resumes where this one stopped"
