"""Labelled real photos in CamVid's layout: values mapped to trainIds, the dataset's split kept, scored over its classes."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from derain_seg_ros.data.io import DatasetNotFoundError
from derain_seg_ros.data.labelled_folder import CAMVID_CLASSES, CAMVID_TO_TRAIN_ID, LabelledFolderSource
from derain_seg_ros.data.raindrop_cityscapes import SynthSpec, load_manifest, synthesize
from derain_seg_ros.metrics import ConfusionMatrix


def make_camvid(root: Path, train: int = 3, val: int = 2, h: int = 24, w: int = 32) -> None:
    rng = np.random.default_rng(0)
    for split, count in (("train", train), ("val", val)):
        (root / split).mkdir(parents=True)
        (root / f"{split}annot").mkdir()
        for i in range(count):
            image = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
            label = np.full((h, w), 11, np.uint8)  # void
            label[: h // 2] = 0  # sky
            label[h // 2 :, : w // 2] = 3  # road
            label[h // 2 :, w // 2 :] = 8  # car
            assert cv2.imwrite(str(root / split / f"{split}_{i:03d}.png"), image)
            assert cv2.imwrite(str(root / f"{split}annot" / f"{split}_{i:03d}.png"), label)


def test_values_map_to_train_ids_and_void_to_ignore(tmp_path: Path) -> None:
    make_camvid(tmp_path)
    scene = LabelledFolderSource(tmp_path).scene(0)
    assert scene.label[0, 0] == CAMVID_TO_TRAIN_ID[0] == 10  # sky
    assert scene.label[-1, 0] == 0 and scene.label[-1, -1] == 13  # road, car
    assert len(CAMVID_CLASSES) == 11 and 255 not in CAMVID_CLASSES


def test_void_pixels_are_ignored(tmp_path: Path) -> None:
    make_camvid(tmp_path)
    label_path = tmp_path / "trainannot" / "train_000.png"
    label = cv2.imread(str(label_path), cv2.IMREAD_GRAYSCALE)
    label[0, 0] = 11
    cv2.imwrite(str(label_path), label)
    assert LabelledFolderSource(tmp_path).scene(0).label[0, 0] == 255


def test_dataset_split_is_kept_through_synthesis(tmp_path: Path) -> None:
    """CamVid's val frames become test items, under any rain and any seed: a held-out photo never trains."""
    make_camvid(tmp_path / "camvid")
    for preset, seed in (("car", 0), ("pane", 5)):
        out = tmp_path / preset
        synthesize(
            SynthSpec(
                source="camvid",
                root=str(tmp_path / "camvid"),
                split="all",
                count=0,
                height=None,
                width=None,
                seed=seed,
                rain_preset=preset,
            ),
            out,
            progress=False,
        )
        items = load_manifest(out)["items"]
        assert {it["scene"]: it["split"] for it in items} == {
            "train_000": "train",
            "train_001": "train",
            "train_002": "train",
            "val_000": "test",
            "val_001": "test",
        }
        assert all(it["labels"] for it in items)


def test_missing_label_or_split_is_a_clear_error(tmp_path: Path) -> None:
    make_camvid(tmp_path)
    (tmp_path / "valannot" / "val_001.png").unlink()
    with pytest.raises(DatasetNotFoundError, match="label file missing"):
        LabelledFolderSource(tmp_path)
    with pytest.raises(DatasetNotFoundError, match="no labelled split 'test'"):
        LabelledFolderSource(tmp_path, ("test",))


def test_miou_over_the_dataset_classes_ignores_classes_it_never_labels() -> None:
    """A prediction of a class the dataset has no label for costs the true class, but is not averaged in as 0."""
    target = np.array([[0, 0, 13, 13]])
    pred = np.array([[0, 0, 13, 14]])  # one car pixel called truck (14): CamVid has no truck
    cm = ConfusionMatrix()
    cm.update(pred, target)
    assert cm.miou() == pytest.approx((1 + 0.5 + 0) / 3)  # every class that occurs: truck counts as 0
    assert cm.miou(CAMVID_CLASSES) == pytest.approx((1 + 0.5) / 2)


def test_class_weights_favour_rare_classes_and_skip_held_out_scenes(tmp_path: Path) -> None:
    from train.config import load_config
    from train.datasets import class_weights

    make_camvid(tmp_path / "camvid", train=4, val=1)
    synthesize(
        SynthSpec(source="camvid", root=str(tmp_path / "camvid"), split="all", count=0, height=None, width=None),
        tmp_path / "set",
        progress=False,
    )
    cfg = load_config("smoke", [f"data.root={tmp_path / 'set'}", "data.val_count=1"])
    w = class_weights(cfg, 19, 1.0)
    # sky covers half of every frame, road and car a quarter each: median frequency is a quarter
    assert w[10] == pytest.approx(0.5) and w[0] == pytest.approx(1.0) and w[13] == pytest.approx(1.0)
    assert w[5] == 1.0  # pole never occurs: no pixels to weigh
    assert torch_equal_ones(class_weights(cfg, 19, 0.0))


def torch_equal_ones(t) -> bool:
    return bool((t == 1).all())
