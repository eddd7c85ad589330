"""The Cityscapes label table, embedded.

``cityscapesscripts`` would drag obsolete dependencies into a vehicle's runtime, so the table is
kept here; a test checks it against the official package when that is installed.
"""

from __future__ import annotations

from typing import NamedTuple

import cv2
import numpy as np

NUM_CLASSES = 19
IGNORE_ID = 255


class CityscapesClass(NamedTuple):
    name: str
    id: int
    train_id: int
    category: str
    has_instances: bool
    ignore_in_eval: bool
    color: tuple[int, int, int]


CLASSES: tuple[CityscapesClass, ...] = (
    CityscapesClass("unlabeled", 0, 255, "void", False, True, (0, 0, 0)),
    CityscapesClass("ego vehicle", 1, 255, "void", False, True, (0, 0, 0)),
    CityscapesClass("rectification border", 2, 255, "void", False, True, (0, 0, 0)),
    CityscapesClass("out of roi", 3, 255, "void", False, True, (0, 0, 0)),
    CityscapesClass("static", 4, 255, "void", False, True, (0, 0, 0)),
    CityscapesClass("dynamic", 5, 255, "void", False, True, (111, 74, 0)),
    CityscapesClass("ground", 6, 255, "void", False, True, (81, 0, 81)),
    CityscapesClass("road", 7, 0, "flat", False, False, (128, 64, 128)),
    CityscapesClass("sidewalk", 8, 1, "flat", False, False, (244, 35, 232)),
    CityscapesClass("parking", 9, 255, "flat", False, True, (250, 170, 160)),
    CityscapesClass("rail track", 10, 255, "flat", False, True, (230, 150, 140)),
    CityscapesClass("building", 11, 2, "construction", False, False, (70, 70, 70)),
    CityscapesClass("wall", 12, 3, "construction", False, False, (102, 102, 156)),
    CityscapesClass("fence", 13, 4, "construction", False, False, (190, 153, 153)),
    CityscapesClass("guard rail", 14, 255, "construction", False, True, (180, 165, 180)),
    CityscapesClass("bridge", 15, 255, "construction", False, True, (150, 100, 100)),
    CityscapesClass("tunnel", 16, 255, "construction", False, True, (150, 120, 90)),
    CityscapesClass("pole", 17, 5, "object", False, False, (153, 153, 153)),
    CityscapesClass("polegroup", 18, 255, "object", False, True, (153, 153, 153)),
    CityscapesClass("traffic light", 19, 6, "object", False, False, (250, 170, 30)),
    CityscapesClass("traffic sign", 20, 7, "object", False, False, (220, 220, 0)),
    CityscapesClass("vegetation", 21, 8, "nature", False, False, (107, 142, 35)),
    CityscapesClass("terrain", 22, 9, "nature", False, False, (152, 251, 152)),
    CityscapesClass("sky", 23, 10, "sky", False, False, (70, 130, 180)),
    CityscapesClass("person", 24, 11, "human", True, False, (220, 20, 60)),
    CityscapesClass("rider", 25, 12, "human", True, False, (255, 0, 0)),
    CityscapesClass("car", 26, 13, "vehicle", True, False, (0, 0, 142)),
    CityscapesClass("truck", 27, 14, "vehicle", True, False, (0, 0, 70)),
    CityscapesClass("bus", 28, 15, "vehicle", True, False, (0, 60, 100)),
    CityscapesClass("caravan", 29, 255, "vehicle", True, True, (0, 0, 90)),
    CityscapesClass("trailer", 30, 255, "vehicle", True, True, (0, 0, 110)),
    CityscapesClass("train", 31, 16, "vehicle", True, False, (0, 80, 100)),
    CityscapesClass("motorcycle", 32, 17, "vehicle", True, False, (0, 0, 230)),
    CityscapesClass("bicycle", 33, 18, "vehicle", True, False, (119, 11, 32)),
    CityscapesClass("license plate", -1, -1, "vehicle", False, True, (0, 0, 142)),
)

TRAIN_CLASSES: tuple[CityscapesClass, ...] = tuple(
    sorted((c for c in CLASSES if 0 <= c.train_id < NUM_CLASSES), key=lambda c: c.train_id)
)
TRAIN_NAMES: tuple[str, ...] = tuple(c.name for c in TRAIN_CLASSES)
TRAIN_ID_BY_NAME: dict[str, int] = {c.name: c.train_id for c in TRAIN_CLASSES}


def _id_to_train_id() -> np.ndarray:
    lut = np.full(256, IGNORE_ID, dtype=np.uint8)
    for c in CLASSES:
        if c.id >= 0:
            lut[c.id] = c.train_id if 0 <= c.train_id < NUM_CLASSES else IGNORE_ID
    return lut


def _train_id_to_color() -> np.ndarray:
    lut = np.zeros((256, 3), dtype=np.uint8)
    for c in TRAIN_CLASSES:
        lut[c.train_id] = c.color
    return lut


ID_TO_TRAIN_ID: np.ndarray = _id_to_train_id()
"""uint8[256]: labelId -> trainId, 255 for void and unknown ids."""

TRAIN_ID_TO_COLOR: np.ndarray = _train_id_to_color()
"""uint8[256, 3]: trainId -> RGB colour, black for 255."""


def label_ids_to_train_ids(label_ids: np.ndarray) -> np.ndarray:
    """Map a gtFine ``*_labelIds.png`` array to trainIds (uint8, 255 = ignore)."""
    return ID_TO_TRAIN_ID[np.asarray(label_ids, dtype=np.uint8)]


def colorize(train_ids: np.ndarray) -> np.ndarray:
    """RGB uint8 image of a trainId map in the official Cityscapes colours.

    2-D maps go through OpenCV: one single-channel LUT per colour channel, then a merge, is ~10x
    faster than numpy's fancy indexing and ~2x faster than a 3-channel LUT of the map merged three
    times, which matters on the node's hot path.
    """
    ids = np.asarray(train_ids, dtype=np.uint8)
    if ids.ndim == 2:
        return cv2.merge([cv2.LUT(ids, channel) for channel in _COLOR_CHANNELS])
    return TRAIN_ID_TO_COLOR[ids]


_COLOR_CHANNELS = tuple(np.ascontiguousarray(TRAIN_ID_TO_COLOR[:, c]) for c in range(3))  # uint8[256] each, for cv2.LUT
