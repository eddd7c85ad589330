"""What the pipeline publishes per camera, and how an engine result becomes those images.

One table and one function for the node, its ROS-free core and the bag tool, so the topic
suffixes, encodings and the "resize back -> overlay" order cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

import cv2
import numpy as np

from derain_seg_ros.runtime.postprocess import overlay
from derain_seg_ros.runtime.resize import resize_back


@dataclass(frozen=True)
class Output:
    topic: str  # under the camera's namespace: <cam>/<topic>
    encoding: str  # sensor_msgs/Image encoding
    switch: str  # the node parameter that turns it on or off
    default: bool = True  # the switch's default


DERAINED, LABEL, COLOR = "derained/image", "segmentation/label", "segmentation/color"
LABEL_RAW = "segmentation/label_raw"
OUTPUTS: tuple[Output, ...] = (
    Output(DERAINED, "rgb8", "publish_derained"),
    Output(LABEL, "mono8", "publish_label"),  # Cityscapes trainIds, 255 = void
    Output(COLOR, "rgb8", "publish_color"),  # label colours over the derained image, for rviz
)
# The node only, off by default: the segmenter on the rainy frame itself (the "without deraining"
# view beside LABEL in rviz); it costs a second segmenter pass per frame.
RAW_LABEL_OUTPUT = Output(LABEL_RAW, "mono8", "publish_label_raw", default=False)
NODE_OUTPUTS: tuple[Output, ...] = (*OUTPUTS, RAW_LABEL_OUTPUT)
OUTPUT_TOPICS: tuple[str, ...] = tuple(o.topic for o in OUTPUTS)
ENCODING: dict[str, str] = {o.topic: o.encoding for o in NODE_OUTPUTS}
CAMERA_INFO_IN = "camera_info"  # <cam>/camera_info, republished with each output frame's stamp on:
CAMERA_INFO_OUT = "derained/camera_info"
INPUT_TOPIC = "image_raw"  # the node's default input under each camera namespace
COMPRESSED = "compressed"  # image_transport's suffix for CompressedImage


def input_topic(camera: str, transport: str = "raw", name: str = INPUT_TOPIC) -> str:
    """Where a camera's frames come in: ``front`` -> ``front/image_raw`` (``.../compressed``)."""
    return f"{camera}/{name}/{COMPRESSED}" if transport == COMPRESSED else f"{camera}/{name}"


def camera_of(topic: str, name: str = INPUT_TOPIC) -> str:
    """The inverse of ``input_topic``, for the bag tool: ``/front/image_raw[/compressed]`` -> ``/front``.

    An image topic that does not follow the rule is its own namespace (``/cam`` -> ``/cam/derained/image``),
    so an output never lands on another camera's topics."""
    for suffix in (f"/{name}/{COMPRESSED}", f"/{name}"):
        if topic.endswith(suffix) and len(topic) > len(suffix):
            return topic[: -len(suffix)]
    return topic


def output_topic(camera: str, topic: str) -> str:
    """``front`` + ``derained/image`` -> ``front/derained/image`` (node and bag tool alike)."""
    return f"{camera}/{topic}"


def finish(
    derained: np.ndarray,
    labels: np.ndarray,
    shape: tuple[int, int],
    overlay_alpha: float = 0.5,
    wanted: Collection[str] = OUTPUT_TOPICS,
    raw_labels: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
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
    if LABEL_RAW in wanted and raw_labels is not None:
        images[LABEL_RAW] = (
            raw_labels
            if raw_labels.shape[:2] == shape
            else cv2.resize(raw_labels, (shape[1], shape[0]), interpolation=cv2.INTER_NEAREST)
        )  # as resize_back does labels
    return {o.topic: images[o.topic] for o in NODE_OUTPUTS if o.topic in wanted and o.topic in images}
