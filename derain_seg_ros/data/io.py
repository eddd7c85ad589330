"""Image files: RGB at the edges (OpenCV reads BGR), atomic writes, clear errors."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import cv2
import numpy as np

from derain_seg_ros.errors import DerainSegError
from derain_seg_ros.fileio import atomic_write_bytes


class DatasetNotFoundError(DerainSegError, FileNotFoundError):
    """A dataset folder (or one of its parts) that is not where the user said."""


class ImageFileError(DerainSegError, OSError):
    """An image file that is missing or cannot be decoded."""


PHOTO_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp"})  # what the photo-folder tools (infer, evaluate) pick up


def _check_regular(path: str | os.PathLike) -> None:
    """Only regular files are opened: a FIFO or a device named like an image would block or never end."""
    if not os.path.isfile(path):
        reason = "no such file" if not os.path.lexists(path) else "not a regular file"
        raise ImageFileError(f"cannot read image {path}: {reason}")


def read_rgb(path: str | os.PathLike) -> np.ndarray:
    _check_regular(path)
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise ImageFileError(f"cannot read image {path}")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def read_gray(path: str | os.PathLike) -> np.ndarray:
    _check_regular(path)
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if image is None:
        raise ImageFileError(f"cannot read image {path}")
    if image.ndim != 2:
        raise ImageFileError(f"{path} should be single-channel, has shape {image.shape}")
    return image


def write_png(path: str | os.PathLike, image: np.ndarray) -> Path:
    """Write atomically (temp file + rename), so a killed run never leaves half an image."""
    data = cv2.cvtColor(image, cv2.COLOR_RGB2BGR) if image.ndim == 3 else image
    ok, encoded = cv2.imencode(".png", data)
    if not ok:
        raise ImageFileError(f"cannot encode {path}")
    return atomic_write_bytes(path, encoded.tobytes())


class SizeError(DerainSegError, argparse.ArgumentTypeError, ValueError):
    """A size that is not HxW: one line for the CLI, argparse's own message as a ``type=``."""


def parse_size(text: str) -> tuple[int, int]:
    """'256x512' -> (256, 512). Usable as an argparse ``type``: a bad value gives one line that
    shows the expected form (argparse prints an ArgumentTypeError's message as it is)."""
    parts = text.strip().lower().split("x")
    if len(parts) != 2 or not all(p.strip().isdigit() for p in parts):
        raise SizeError(f"expected a size as HEIGHTxWIDTH in pixels, e.g. 256x512; got {text!r}")
    height, width = (int(p) for p in parts)
    if height <= 0 or width <= 0:
        raise SizeError(f"a size must be positive, e.g. 256x512; got {text!r}")
    return height, width
