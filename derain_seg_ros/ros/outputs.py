"""What the pipeline publishes per camera, and how an engine result becomes those images.

One table and one function for the node, its ROS-free core and the bag tool, so the topic
suffixes, encodings and the "resize back -> overlay" order cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

import numpy as np

from derain_seg_ros.runtime.postprocess import overlay
from derain_seg_ros.runtime.resize import resize_back


@dataclass(frozen=True)
class Output:
    topic: str  # under the camera's namespace: <cam>/<topic>
    encoding: str  # sensor_msgs/Image encoding
    switch: str  # the node parameter that turns it on or off


DERAINED, LABEL, COLOR = "derained/image", "segmentation/label", "segmentation/color"
OUTPUTS: tuple[Output, ...] = (
    Output(DERAINED, "rgb8", "publish_derained"),
    Output(LABEL, "mono8", "publish_label"),  # Cityscapes trainIds, 255 = void
    Output(COLOR, "rgb8", "publish_color"),  # label colours over the derained image, for rviz
)
OUTPUT_TOPICS: tuple[str, ...] = tuple(o.topic for o in OUTPUTS)
ENCODING: dict[str, str] = {o.topic: o.encoding for o in OUTPUTS}
CAMERA_INFO_IN = "camera_info"  # <cam>/camera_info, republished with each output frame's stamp on:
CAMERA_INFO_OUT = "derained/camera_info"


def finish(derained: np.ndarray, labels: np.ndarray, shape: tuple[int, int], overlay_alpha: float = 0.5,
           wanted: Collection[str] = OUTPUT_TOPICS) -> dict[str, np.ndarray]:
    """Engine outputs (at the processing size) -> the ``wanted`` output images at the camera's ``shape``.

    Nothing is computed for an output that is not wanted: the colour overlay alone costs ~15 ms
    per 1024x2048 frame on a CPU core.
    """
    if not wanted:
        return {}
    derained, labels = resize_back(derained, labels, shape)
    images = {DERAINED: derained, LABEL: labels}
    if COLOR in wanted:
        images[COLOR] = overlay(derained, labels, overlay_alpha)
    return {topic: images[topic] for topic in OUTPUT_TOPICS if topic in wanted}
