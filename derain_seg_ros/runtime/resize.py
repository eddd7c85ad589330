"""Camera frames to the engine's processing size and back, shared by the node and the bag tool.

A car's cameras rarely match the size an engine was compiled for; shrinking with area averaging
keeps thin structures (poles, lane marks) better than bilinear, and labels come back by nearest
neighbour so that classes never blend into ids that mean something else.
"""

from __future__ import annotations

import cv2
import numpy as np


def resize_for_engine(rgb: np.ndarray, size: tuple[int, int] | None) -> np.ndarray:
    if size is None or rgb.shape[:2] == size:
        return rgb
    return cv2.resize(rgb, (size[1], size[0]), interpolation=cv2.INTER_AREA)


def resize_back(derained: np.ndarray, labels: np.ndarray, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Engine outputs back to the camera's size: images bilinear, labels nearest (classes never blend)."""
    if derained.shape[:2] == shape:
        return derained, labels
    size = (shape[1], shape[0])
    return cv2.resize(derained, size, interpolation=cv2.INTER_LINEAR), cv2.resize(
        labels, size, interpolation=cv2.INTER_NEAREST
    )
