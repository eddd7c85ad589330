"""python train/baselines/export.py --checkpoint BASELINE.pt --height H --width W [--batch N --dynamic] [--out FILE]

A baseline run's checkpoint as the same ONNX graph ``derain-seg export`` writes for ours (uint8 frames
in, uint8 derained frames and trainIds out), so ``derain-seg infer``, ``derain-seg bag`` and the node
run it (``--checkpoint FILE.onnx``) without the package carrying the baselines' code.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `train` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent.parent))

from derain_seg_ros.commands import export  # noqa: E402
from train.baselines.pipeline import load_any  # noqa: E402
from train.cli import script_parser  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = script_parser(__doc__, __doc__.split("\n")[0])
    export.add_arguments(parser)  # the flags of `derain-seg export`
    args = parser.parse_args(argv)
    if args.checkpoint is None:
        parser.error("--checkpoint is needed: a baseline run's last.pt")
    if args.build_engine:
        parser.error("--build-engine is for the package's own checkpoints: export the ONNX graph here")
    return export.run(args, load=load_any)


if __name__ == "__main__":
    sys.exit(main())
