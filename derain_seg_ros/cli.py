"""``derain-seg``: one entry point, one small module per subcommand.

Each module in ``derain_seg_ros.commands`` provides ``add_arguments(parser)`` and
``run(args) -> int``; its docstring is the subcommand's ``--help`` description. Modules are
imported only when their subcommand runs, so ``derain-seg bag`` does not pay for what
``derain-seg synth`` needs. Errors about the user's input or machine (``DerainSegError``, an
``OSError`` such as a missing file or a full disk) end the command with one line instead of a
traceback; Ctrl-C says what was kept and exits 130; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from derain_seg_ros.errors import DerainSegError

SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "synth": ("derain_seg_ros.commands.synth", "synthesise a Raindrop-Cityscapes dataset on disk"),
    "infer": ("derain_seg_ros.commands.infer", "derain and segment images or a folder"),
    "export": ("derain_seg_ros.commands.export", "export the pipeline to ONNX (and build a TensorRT engine)"),
    "bag": ("derain_seg_ros.commands.bag", "process a rosbag2 offline, or write a demo bag"),
    "tobag": ("derain_seg_ros.commands.tobag", "turn image folders (RobotCar(R) or any) into a rosbag2"),
    "play": (
        "derain_seg_ros.commands.play",
        "publish a bag's camera topics live through rclpy (ros2 bag play without rosbag2)",
    ),
    "bench": ("derain_seg_ros.commands.bench", "time the pipeline per stage and end to end"),
    "demo": ("derain_seg_ros.commands.demo", "run the pipeline on a generated rainy street scene"),
}
DESCRIPTION = """Segmentation-aware deraining for vehicle cameras (A -> C -> SRRN -> DeepLabv3+).

Without --checkpoint, infer, bag and export use the embedded model shipped in the package.
Run `derain-seg COMMAND --help` for a command's options and their defaults."""


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Keeps the docstrings' paragraphs and shows each option's default where it has one."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if "%(default)" in text or "(default" in text or action.default in (None, False, argparse.SUPPRESS):
            return text
        if action.option_strings or action.nargs in ("?", "*"):
            text += " (default: %(default)s)"
        return text


def _description(module_name: str, summary: str) -> str:
    doc = importlib.import_module(module_name).__doc__
    return doc.strip() if doc else summary


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(prog="derain-seg", description=DESCRIPTION, formatter_class=HelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (module_name, help_text) in SUBCOMMANDS.items():
        selected = argv[:1] == [name]
        sub_parser = sub.add_parser(
            name,
            help=help_text,
            formatter_class=HelpFormatter,
            description=_description(module_name, help_text) if selected else help_text,
        )
        if selected:
            importlib.import_module(module_name).add_arguments(sub_parser)
    args = parser.parse_args(argv)
    module = importlib.import_module(SUBCOMMANDS[args.command][0])
    try:
        return int(module.run(args) or 0)
    except KeyboardInterrupt:  # Ctrl-C: what was kept, not a traceback (130: the shell's code for SIGINT)
        note = getattr(module, "interrupted_note", None)
        print(f"\ninterrupted{': ' + note(args) if note else ''}", file=sys.stderr)
        return 130
    except (DerainSegError, OSError) as exc:  # the user's input or machine (a full disk too): one line, no traceback
        raise SystemExit(f"error: {one_line(exc)}") from None


def one_line(exc: BaseException) -> str:
    """An error's message on one line (an OSError's as ``reason: path``); other exceptions are bugs and keep their traceback."""
    if isinstance(exc, OSError) and not isinstance(exc, DerainSegError) and exc.strerror:
        text = f"{exc.strerror}: {exc.filename}" if exc.filename else exc.strerror
    else:
        text = str(exc) or type(exc).__name__
    return " ".join(line.strip() for line in text.splitlines() if line.strip())


if __name__ == "__main__":
    sys.exit(main())
