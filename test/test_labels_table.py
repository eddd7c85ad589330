"""The embedded Cityscapes label table."""

from __future__ import annotations

import numpy as np

from derain_seg_ros.labels import (
    CLASSES,
    ID_TO_TRAIN_ID,
    TRAIN_ID_TO_COLOR,
    TRAIN_NAMES,
    colorize,
    label_ids_to_train_ids,
)


def test_nineteen_train_classes_in_official_order() -> None:
    assert TRAIN_NAMES == (
        "road",
        "sidewalk",
        "building",
        "wall",
        "fence",
        "pole",
        "traffic light",
        "traffic sign",
        "vegetation",
        "terrain",
        "sky",
        "person",
        "rider",
        "car",
        "truck",
        "bus",
        "train",
        "motorcycle",
        "bicycle",
    )


def test_label_ids_map_to_train_ids_with_void_as_255() -> None:
    ids = np.array([[7, 26, 33, 0, 1, 9], [14, 29, 30, 23, 24, 250]], dtype=np.uint8)
    assert label_ids_to_train_ids(ids).tolist() == [[0, 13, 18, 255, 255, 255], [255, 255, 255, 10, 11, 255]]
    assert ID_TO_TRAIN_ID.shape == (256,) and ID_TO_TRAIN_ID.dtype == np.uint8


def test_colours_are_the_official_palette() -> None:
    assert TRAIN_ID_TO_COLOR.shape == (256, 3)
    assert colorize(np.array([[0, 10, 13, 255]], np.uint8)).tolist() == [
        [[128, 64, 128], [70, 130, 180], [0, 0, 142], [0, 0, 0]]
    ]


def test_table_matches_cityscapesscripts() -> None:
    from cityscapesscripts.helpers import labels as official  # a test dependency only

    ours = {(c.name, c.id, c.train_id, c.color) for c in CLASSES}
    theirs = {(c.name, c.id, c.trainId, tuple(c.color)) for c in official.labels}
    assert ours == theirs
