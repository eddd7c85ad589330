"""Readers for real layouts: Cityscapes, RobotCar's rain pairs, paired folders (tiny generated trees)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from derain_seg_ros.data.cityscapes import CityscapesSource, crop_paper_columns
from derain_seg_ros.data.robotcar import RobotCarRainSource


def _write(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), array)


def make_cityscapes(root: Path) -> np.ndarray:
    """One frame per split in the official naming; returns the labelIds written for val."""
    label_ids = (
        np.array(
            [[7, 8, 11, 12, 13, 17], [19, 20, 21, 22, 23, 24], [25, 26, 27, 28, 31, 32], [33, 0, 4, 9, 14, 29]],
            np.uint8,
        )
        .repeat(3, 0)
        .repeat(3, 1)
    )
    for split, city in (("train", "aachen"), ("val", "frankfurt")):
        stem = f"{city}_000000_000019"
        bgr = np.zeros((*label_ids.shape, 3), np.uint8)
        bgr[..., 2] = 200  # red in RGB
        _write(root / "leftImg8bit" / split / city / f"{stem}_leftImg8bit.png", bgr)
        _write(root / "gtFine" / split / city / f"{stem}_gtFine_labelIds.png", label_ids)
    return label_ids


def test_cityscapes_reader_maps_label_ids_to_train_ids(tmp_path: Path) -> None:
    make_cityscapes(tmp_path)
    source = CityscapesSource(tmp_path, "val")
    assert len(source) == 1
    item = source[0]
    assert item.name == "frankfurt_000000_000019"
    assert item.image[0, 0].tolist() == [200, 0, 0]  # RGB, not OpenCV's BGR
    expected = (
        np.array(
            [[0, 1, 2, 3, 4, 5], [6, 7, 8, 9, 10, 11], [12, 13, 14, 15, 16, 17], [18, 255, 255, 255, 255, 255]],
            np.uint8,
        )
        .repeat(3, 0)
        .repeat(3, 1)
    )
    assert np.array_equal(item.label, expected)
    assert len(CityscapesSource(tmp_path, "all")) == 2


def test_cityscapes_reader_errors_are_clear(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="leftImg8bit"):
        CityscapesSource(tmp_path / "nowhere")
    make_cityscapes(tmp_path)
    with pytest.raises(FileNotFoundError, match="'test'"):
        CityscapesSource(tmp_path, "test")
    (tmp_path / "gtFine" / "val" / "frankfurt" / "frankfurt_000000_000019_gtFine_labelIds.png").unlink()
    with pytest.raises(FileNotFoundError, match="label file missing"):
        CityscapesSource(tmp_path, "val")[0]
    assert CityscapesSource(tmp_path, "val", require_labels=False)[0].label is None


def test_paper_column_crop() -> None:
    frame = np.arange(2048)[None].repeat(4, 0)
    cropped = crop_paper_columns(frame)
    assert cropped.shape == (4, 1920) and cropped[0, 0] == 64 and cropped[0, -1] == 1983
    assert crop_paper_columns(np.zeros((2, 1024))).shape == (2, 960)


def test_robotcar_pairs_by_timestamp_and_reports_unmatched(tmp_path: Path) -> None:
    for side, value in (("left", 10), ("right", 200)):
        for ts in ("1400000000", "1400000001"):
            _write(tmp_path / side / f"{side}_{ts}.png", np.full((23, 31, 3), value, np.uint8))
    _write(tmp_path / "right" / "right_1400000002.png", np.zeros((23, 31, 3), np.uint8))
    _write(tmp_path / "mask" / "mask_1400000000.png", np.full((23, 31), 255, np.uint8))
    source = RobotCarRainSource(tmp_path, wet_side="right")
    assert len(source) == 2 and source.unmatched == ["1400000002"]
    first = source[0]
    assert first.rainy[0, 0, 0] == 200 and first.clean[0, 0, 0] == 10 and first.mask is not None
    swapped = RobotCarRainSource(tmp_path, wet_side="left")[1]
    assert swapped.rainy[0, 0, 0] == 10 and swapped.mask is None
    with pytest.raises(ValueError, match="wet_side"):
        RobotCarRainSource(tmp_path, wet_side="top")
