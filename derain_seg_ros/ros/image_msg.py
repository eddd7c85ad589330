"""sensor_msgs/Image and CompressedImage <-> numpy, without cv_bridge.

Duck-typed: works on rclpy messages and on ``rosbags`` messages alike (both have the same
fields). Any malformed message raises ``ImageMessageError`` and nothing else, so a caller can
count it, drop it and carry on.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from derain_seg_ros.errors import DerainSegError

U8, U16 = np.dtype(np.uint8), np.dtype(np.uint16)
# encoding -> (channels, dtype): 4:2:2 YUV holds 2 bytes per pixel (as 2 channels), the 4:2:0 planar
# ones (nv12, nv21) a W-byte luma row per pixel row plus half as many rows of interleaved chroma.
ENCODINGS: dict[str, tuple[int, np.dtype]] = {
    **dict.fromkeys(("rgb8", "bgr8"), (3, U8)),
    **dict.fromkeys(("rgba8", "bgra8"), (4, U8)),
    "mono8": (1, U8),
    "mono16": (1, U16),
    **{f"bayer_{p}8": (1, U8) for p in ("rggb", "bggr", "gbrg", "grbg")},
    **{f"bayer_{p}16": (1, U16) for p in ("rggb", "bggr", "gbrg", "grbg")},
    **dict.fromkeys(("yuv422", "uyvy", "yuv422_yuy2", "yuyv"), (2, U8)),
    **dict.fromkeys(("nv12", "nv21"), (1, U8)),
}
# ROS names the 2x2 pattern from the top-left pixel; OpenCV names it from the second row/column.
BAYER_TO_RGB = {
    f"bayer_{ros}{bits}": code
    for bits in (8, 16)
    for ros, code in (
        ("rggb", cv2.COLOR_BayerBG2RGB),
        ("bggr", cv2.COLOR_BayerRG2RGB),
        ("gbrg", cv2.COLOR_BayerGR2RGB),
        ("grbg", cv2.COLOR_BayerGB2RGB),
    )
}
# sensor_msgs' "yuv422" is UYVY byte order (usb_cam, many GMSL drivers); "yuv422_yuy2" is YUYV (v4l2_camera).
TO_RGB = {
    "bgr8": cv2.COLOR_BGR2RGB,
    "rgba8": cv2.COLOR_RGBA2RGB,
    "bgra8": cv2.COLOR_BGRA2RGB,
    "mono8": cv2.COLOR_GRAY2RGB,
    "yuv422": cv2.COLOR_YUV2RGB_UYVY,
    "uyvy": cv2.COLOR_YUV2RGB_UYVY,
    "yuv422_yuy2": cv2.COLOR_YUV2RGB_YUY2,
    "yuyv": cv2.COLOR_YUV2RGB_YUY2,
    "nv12": cv2.COLOR_YUV2RGB_NV12,
    "nv21": cv2.COLOR_YUV2RGB_NV21,
}
# OpenCV >= 4.10 decodes straight to RGB (the same pixels, without a BGR image and a conversion per frame).
IMREAD_RGB: int | None = getattr(cv2, "IMREAD_COLOR_RGB", None)
PLANAR_420 = ("nv12", "nv21")
CHROMA_PAIRS = ("yuv422", "uyvy", "yuv422_yuy2", "yuyv", *PLANAR_420)  # chroma shared by 2 columns: even width


class ImageMessageError(DerainSegError, ValueError):
    """A message that cannot be turned into an image: the one error type of this module."""


def _raw_bytes(data: Any) -> np.ndarray:
    if isinstance(data, np.ndarray):
        return data.view(np.uint8).reshape(-1)
    return np.frombuffer(memoryview(data).cast("B"), np.uint8)


def _layout(msg: Any) -> tuple[np.dtype, int, int, int, int, int]:
    """(dtype, channels, rows, width, step, row_bytes) of a raw Image, its fields checked against its data.

    Reads only the header fields and the length of ``data``: cheap enough for a subscription callback."""
    encoding = str(msg.encoding).lower()
    if encoding not in ENCODINGS:
        raise ImageMessageError(f"unsupported encoding {msg.encoding!r}; supported: {', '.join(ENCODINGS)}")
    channels, dtype = ENCODINGS[encoding]
    height, width, step = int(msg.height), int(msg.width), int(msg.step)
    if height <= 0 or width <= 0:
        raise ImageMessageError(f"empty image ({height}x{width})")
    if encoding in CHROMA_PAIRS and (width % 2 or (encoding in PLANAR_420 and height % 2)):
        raise ImageMessageError(
            f"{encoding} needs an even {'width and height' if encoding in PLANAR_420 else 'width'}, "
            f"got {height}x{width}"
        )
    row_bytes = width * channels * dtype.itemsize
    if step < row_bytes:
        raise ImageMessageError(f"step {step} is shorter than a row of {width} {encoding} pixels ({row_bytes} bytes)")
    if encoding in PLANAR_420:
        height = height * 3 // 2  # the luma rows, then the interleaved chroma rows (same step)
    size = _raw_bytes(msg.data).size
    if size != step * height:
        raise ImageMessageError(f"data holds {size} bytes, step x height = {step * height}")
    return dtype, channels, height, width, step, row_bytes


def image_to_array(msg: Any) -> np.ndarray:
    """The image in its own encoding: H x W (mono, Bayer) or H x W x C, honouring ``step`` and endianness."""
    dtype, channels, height, width, step, row_bytes = _layout(msg)
    rows = _raw_bytes(msg.data).reshape(height, step)[:, :row_bytes]
    order = ">" if msg.is_bigendian else "<"
    array = np.ascontiguousarray(rows).view(dtype.newbyteorder(order) if dtype.itemsize > 1 else dtype)
    array = array.astype(dtype, copy=False).reshape(height, width, channels)
    return array[..., 0] if channels == 1 else array


def image_to_rgb(msg: Any) -> np.ndarray:
    """uint8 H x W x 3 RGB, what the engine takes (mono16 and 16-bit Bayer keep their top 8 bits)."""
    array = image_to_array(msg)
    encoding = str(msg.encoding).lower()
    if encoding == "rgb8":
        return array
    if encoding == "mono16":
        return cv2.cvtColor((array >> 8).astype(np.uint8), cv2.COLOR_GRAY2RGB)
    if encoding in BAYER_TO_RGB:
        rgb = cv2.cvtColor(array, BAYER_TO_RGB[encoding])  # demosaiced at full depth, then the top 8 bits
        return (rgb >> 8).astype(np.uint8) if rgb.dtype == np.uint16 else rgb
    return cv2.cvtColor(array, TO_RGB[encoding])


def _compressed_bytes(msg: Any) -> np.ndarray:
    data = _raw_bytes(msg.data)
    if data.size == 0:
        raise ImageMessageError("compressed image with no data")
    return data


def compressed_to_rgb(msg: Any) -> np.ndarray:
    """Decode a CompressedImage (jpeg or png) into uint8 RGB."""
    data = _compressed_bytes(msg)
    image = cv2.imdecode(data, IMREAD_RGB or cv2.IMREAD_COLOR)
    if image is None:
        raise ImageMessageError(f"cannot decode compressed image (format {msg.format!r}, {data.size} bytes)")
    return image if IMREAD_RGB else cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def _is_compressed(msg: Any) -> bool:
    return hasattr(msg, "format") and not hasattr(msg, "encoding")


def message_to_rgb(msg: Any) -> np.ndarray:
    """Image or CompressedImage, told apart by their fields."""
    return compressed_to_rgb(msg) if _is_compressed(msg) else image_to_rgb(msg)


def check_message(msg: Any) -> None:
    """Raise ``ImageMessageError`` for a message whose fields already show it cannot be decoded, without
    decoding it (a raw Image whose data does not fit its size and encoding, a CompressedImage with no data).

    The node runs it on arrival, so that a malformed frame is rejected at once and never takes the place of
    a good frame waiting for the engine; what only decoding can find (a damaged JPEG) is rejected later."""
    if _is_compressed(msg):
        _compressed_bytes(msg)
    else:
        _layout(msg)


def image_fields(array: np.ndarray, encoding: str) -> dict[str, Any]:
    """Fields of a tightly packed Image (step = width x channels x bytes: rviz ignores padding).

    ``data`` is a flat uint8 numpy array: rosbags takes it as is, rclpy wants ``array('B')``.
    """
    if encoding not in ENCODINGS:
        raise ImageMessageError(f"unsupported encoding {encoding!r}")
    channels, dtype = ENCODINGS[encoding]
    array = np.ascontiguousarray(array, dtype=dtype)
    if array.ndim == 2:
        array = array[..., None]
    if array.shape[2] != channels:
        raise ImageMessageError(f"{encoding} needs {channels} channels, got {array.shape}")
    height, width = array.shape[:2]
    little = array.astype(dtype.newbyteorder("<"), copy=False)
    return {
        "height": height,
        "width": width,
        "encoding": encoding,
        "is_bigendian": 0,
        "step": width * channels * dtype.itemsize,
        "data": little.reshape(-1).view(np.uint8),
    }


def rgb_to_compressed_data(rgb: np.ndarray, fmt: str = "jpeg", quality: int = 90) -> np.ndarray:
    ext = {"jpeg": ".jpg", "jpg": ".jpg", "png": ".png"}.get(fmt)
    if ext is None:
        raise ImageMessageError(f"unsupported compressed format {fmt!r}")
    params = [cv2.IMWRITE_JPEG_QUALITY, quality] if ext == ".jpg" else []
    ok, encoded = cv2.imencode(ext, cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), params)
    if not ok:
        raise ImageMessageError(f"cannot encode {fmt}")
    return encoded.reshape(-1)
