"""The one argparse set-up of the train/ scripts (run, evaluate, ship, ablation, reports)."""

from __future__ import annotations

import argparse


def script_parser(doc: str, usage: str | None = None) -> argparse.ArgumentParser:
    """A parser whose description is the script docstring's second paragraph, with defaults in the help."""
    return argparse.ArgumentParser(
        description=doc.split("\n\n")[1].replace("\n", " "),
        usage=usage,
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
