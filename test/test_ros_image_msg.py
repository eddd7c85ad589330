"""sensor_msgs/Image and CompressedImage conversions, on a duck-typed stand-in and on rosbags messages."""

from __future__ import annotations

import array
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
import pytest
from rosbags.typesys import Stores, get_typestore

from derain_seg_ros.ros.image_msg import (
    ImageMessageError,
    check_message,
    compressed_to_rgb,
    image_fields,
    image_to_array,
    image_to_rgb,
    message_to_rgb,
    rgb_to_compressed_data,
)

TYPES = get_typestore(Stores.ROS2_HUMBLE).types


@dataclass
class FakeImage:
    height: int
    width: int
    encoding: str
    is_bigendian: int
    step: int
    data: Any


@dataclass
class FakeCompressed:
    format: str
    data: Any


def rgb(h: int = 6, w: int = 10) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (h, w, 3), dtype=np.uint8)


def padded(array: np.ndarray, encoding: str, pad: int, big_endian: bool = False) -> FakeImage:
    """A message whose rows carry ``pad`` extra bytes, as some drivers send."""
    h, w = array.shape[:2]
    raw = array.astype(array.dtype.newbyteorder(">" if big_endian else "<")).reshape(h, -1).view(np.uint8)
    rows = np.concatenate([raw, np.full((h, pad), 77, np.uint8)], axis=1)
    return FakeImage(h, w, encoding, int(big_endian), rows.shape[1], bytes(rows.reshape(-1)))


@pytest.mark.parametrize(
    "encoding,convert",
    [
        ("rgb8", None),
        ("bgr8", cv2.COLOR_RGB2BGR),
        ("rgba8", cv2.COLOR_RGB2RGBA),
        ("bgra8", cv2.COLOR_RGB2BGRA),
    ],
)
@pytest.mark.parametrize("pad", [0, 5])
def test_colour_encodings_round_trip_with_row_padding(encoding: str, convert: int | None, pad: int) -> None:
    image = rgb()
    native = image if convert is None else cv2.cvtColor(image, convert)
    msg = padded(native, encoding, pad)
    assert np.array_equal(image_to_array(msg), native)
    assert np.array_equal(image_to_rgb(msg), image)
    fields = image_fields(native, encoding)
    assert fields["step"] == native.shape[1] * native.shape[2]
    assert np.array_equal(image_to_array(FakeImage(**fields)), native)


@pytest.mark.parametrize("big_endian", [False, True])
def test_mono_encodings_round_trip(big_endian: bool) -> None:
    mono16 = np.random.default_rng(1).integers(0, 65536, (5, 7), dtype=np.uint16)
    msg = padded(mono16, "mono16", 3, big_endian)
    assert np.array_equal(image_to_array(msg), mono16)
    assert np.array_equal(image_to_rgb(msg)[..., 0], (mono16 >> 8).astype(np.uint8))
    mono8 = mono16.astype(np.uint8)
    assert np.array_equal(image_to_rgb(padded(mono8, "mono8", 2)), np.stack([mono8] * 3, -1))
    fields = image_fields(mono16, "mono16")
    assert fields["is_bigendian"] == 0 and np.array_equal(image_to_array(FakeImage(**fields)), mono16)


def mosaic(image: np.ndarray, pattern: str) -> np.ndarray:
    """Sample an RGB image through a Bayer filter named the ROS way (top-left 2x2 block)."""
    channel = {"r": 0, "g": 1, "b": 2}
    out = np.zeros(image.shape[:2], np.uint8)
    for k, letter in enumerate(pattern):
        dy, dx = divmod(k, 2)
        out[dy::2, dx::2] = image[dy::2, dx::2, channel[letter]]
    return out


@pytest.mark.parametrize("pattern", ["rggb", "bggr", "gbrg", "grbg"])
def test_bayer_patterns_demosaic_to_the_right_colours(pattern: str) -> None:
    flat = np.zeros((16, 16, 3), np.uint8)
    flat[...] = (200, 120, 40)  # a uniform colour survives demosaicking exactly in the interior
    out = image_to_rgb(FakeImage(16, 16, f"bayer_{pattern}8", 0, 16, bytes(mosaic(flat, pattern))))
    assert np.abs(out[4:-4, 4:-4].astype(int) - np.array([200, 120, 40])).max() <= 2


def test_compressed_round_trip_png_exact_jpeg_close() -> None:
    image = cv2.GaussianBlur(rgb(32, 48), (5, 5), 2)
    assert np.array_equal(compressed_to_rgb(FakeCompressed("png", bytes(rgb_to_compressed_data(image, "png")))), image)
    jpeg = compressed_to_rgb(FakeCompressed("rgb8; jpeg compressed bgr8", rgb_to_compressed_data(image, "jpeg", 95)))
    assert np.abs(jpeg.astype(int) - image.astype(int)).mean() < 6  # chroma subsampling; a channel swap gives ~40


@pytest.mark.parametrize(
    "msg,match",
    [
        (FakeImage(4, 4, "rgb8", 0, 12, bytes(47)), "48"),  # one byte short
        (FakeImage(4, 4, "rgb8", 0, 10, bytes(40)), "shorter than a row"),
        (FakeImage(4, 4, "yuv444", 0, 12, bytes(48)), "unsupported encoding"),
        (FakeImage(0, 4, "rgb8", 0, 12, b""), "empty"),
        (FakeCompressed("jpeg", b"\xff\xd8 not really a jpeg"), "cannot decode"),
        (FakeCompressed("png", b""), "no data"),
    ],
)
def test_bad_messages_raise_one_error_type(msg: Any, match: str) -> None:
    with pytest.raises(ImageMessageError, match=match):
        message_to_rgb(msg)
    if match != "cannot decode":  # the one fault its fields cannot show: the node's check on arrival finds the rest
        with pytest.raises(ImageMessageError, match=match):
            check_message(msg)
    else:
        check_message(msg)


def test_the_check_on_arrival_passes_good_messages_with_padding_and_planar_chroma() -> None:
    image = rgb(6, 8)
    check_message(FakeImage(6, 8, "rgb8", 0, 24, image.tobytes()))
    check_message(FakeImage(6, 8, "mono16", 1, 20, bytes(120)))  # step padded past the row's 16 bytes
    check_message(FakeImage(6, 8, "nv12", 0, 8, bytes(72)))  # 6 luma rows + 3 chroma rows
    check_message(FakeCompressed("png", bytes(rgb_to_compressed_data(image, "png"))))


def test_the_same_conversions_on_rosbags_messages() -> None:
    image = rgb(8, 12)
    header = TYPES["std_msgs/msg/Header"](stamp=TYPES["builtin_interfaces/msg/Time"](sec=1, nanosec=2), frame_id="cam")
    msg = TYPES["sensor_msgs/msg/Image"](header=header, **image_fields(cv2.cvtColor(image, cv2.COLOR_RGB2BGR), "bgr8"))
    assert np.array_equal(message_to_rgb(msg), image)
    comp = TYPES["sensor_msgs/msg/CompressedImage"](
        header=header, format="png", data=rgb_to_compressed_data(image, "png")
    )
    assert np.array_equal(message_to_rgb(comp), image)
    bad = TYPES["sensor_msgs/msg/Image"](
        header=header, height=8, width=12, encoding="rgb8", is_bigendian=0, step=36, data=np.zeros(10, np.uint8)
    )
    with pytest.raises(ImageMessageError):
        message_to_rgb(bad)


def bt601_yuv(colour: tuple[int, int, int]) -> tuple[int, int, int]:
    """Video-range BT.601 (Y 16..235), as cameras send it and OpenCV's YUV2RGB codes read it: Y, U, V."""
    r, g, b = colour
    return (
        round(16 + 0.257 * r + 0.504 * g + 0.098 * b),
        round(128 - 0.148 * r - 0.291 * g + 0.439 * b),
        round(128 + 0.439 * r - 0.368 * g - 0.071 * b),
    )


FLAT = (200, 120, 40)  # a flat orange: chroma subsampling loses nothing on it


def packed_422(h: int, w: int, order: str) -> np.ndarray:
    """2 bytes per pixel, macro-pixels of two: UYVY or YUYV byte order."""
    y, u, v = bt601_yuv(FLAT)
    macro = {"uyvy": [u, y, v, y], "yuyv": [y, u, y, v]}[order]
    return np.tile(np.array(macro, np.uint8), (h, w // 2))


def planar_420(h: int, w: int, order: str) -> np.ndarray:
    """H rows of luma, then H/2 rows of interleaved chroma: UV (nv12) or VU (nv21)."""
    y, u, v = bt601_yuv(FLAT)
    chroma = [u, v] if order == "nv12" else [v, u]
    return np.concatenate([np.full((h, w), y, np.uint8), np.tile(np.array(chroma, np.uint8), (h // 2, w // 2))])


@pytest.mark.parametrize(
    "encoding, data",
    [
        ("yuv422", lambda h, w: packed_422(h, w, "uyvy")),
        ("uyvy", lambda h, w: packed_422(h, w, "uyvy")),
        ("yuv422_yuy2", lambda h, w: packed_422(h, w, "yuyv")),
        ("yuyv", lambda h, w: packed_422(h, w, "yuyv")),
        ("nv12", lambda h, w: planar_420(h, w, "nv12")),
        ("nv21", lambda h, w: planar_420(h, w, "nv21")),
    ],
)
@pytest.mark.parametrize("pad", [0, 4])
def test_yuv_cameras_as_usb_cam_and_v4l2_camera_send_them_decode_to_rgb(encoding: str, data, pad: int) -> None:
    h, w = 6, 10
    rows = data(h, w)
    rows = np.concatenate([rows, np.full((rows.shape[0], pad), 9, np.uint8)], axis=1)
    msg = FakeImage(h, w, encoding, 0, rows.shape[1], bytes(rows.reshape(-1)))
    out = image_to_rgb(msg)
    assert out.shape == (h, w, 3) and out.dtype == np.uint8
    assert np.abs(out.astype(int) - np.array(FLAT)).max() <= 3


def test_yuv_with_an_odd_width_or_short_data_is_rejected() -> None:
    with pytest.raises(ImageMessageError, match="even width"):
        image_to_rgb(FakeImage(4, 5, "yuv422", 0, 10, bytes(40)))
    with pytest.raises(ImageMessageError, match="even width and height"):
        image_to_rgb(FakeImage(5, 4, "nv12", 0, 4, bytes(30)))
    with pytest.raises(ImageMessageError, match="data holds"):
        image_to_rgb(FakeImage(4, 4, "nv21", 0, 4, bytes(16)))  # luma only, chroma missing


@pytest.mark.parametrize("pattern", ["rggb", "bggr", "gbrg", "grbg"])
def test_16_bit_bayer_decodes_like_its_top_8_bits(pattern: str) -> None:
    mosaic8 = np.random.default_rng(1).integers(0, 256, (6, 10), dtype=np.uint8)
    mosaic16 = mosaic8.astype(np.uint16) * 256 + 77  # the low byte is noise below 8 bits
    msg16 = padded(mosaic16, f"bayer_{pattern}16", pad=0, big_endian=True)
    msg8 = padded(mosaic8, f"bayer_{pattern}8", pad=0)
    out16, out8 = image_to_rgb(msg16), image_to_rgb(msg8)
    assert out16.dtype == np.uint8 and np.abs(out16.astype(int) - out8.astype(int)).max() <= 1


@pytest.mark.parametrize(
    "encoded",
    [
        pytest.param(lambda im: cv2.imencode(".jpg", im)[1], id="jpeg"),
        pytest.param(lambda im: cv2.imencode(".png", im)[1], id="png"),
        pytest.param(lambda im: cv2.imencode(".jpg", im[..., 0])[1], id="gray-jpeg"),
        pytest.param(lambda im: cv2.imencode(".png", np.dstack([im, im[..., :1]]))[1], id="bgra-png"),
        pytest.param(lambda im: cv2.imencode(".png", im.astype(np.uint16) * 257)[1], id="png16"),
    ],
)
def test_compressed_frames_decode_to_the_pixels_of_a_bgr_decode_swapped(encoded) -> None:
    """Decoded straight to RGB where OpenCV can: exactly what a BGR decode and a channel swap give."""
    image = cv2.resize(rgb(12, 16), (48, 36), interpolation=cv2.INTER_LINEAR)
    data = encoded(image)
    expected = cv2.cvtColor(cv2.imdecode(data, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    out = compressed_to_rgb(FakeCompressed("jpeg", array.array("B", data.tobytes())))
    assert out.dtype == np.uint8 and out.flags.c_contiguous and np.array_equal(out, expected)


def test_message_bytes_are_read_in_place_not_copied() -> None:
    """rclpy hands uint8[] fields over as array('B'); a frame's bytes are viewed, never copied, before decoding."""
    from derain_seg_ros.ros.image_msg import _raw_bytes

    data = array.array("B", bytes(range(256)) * 4)
    assert np.shares_memory(_raw_bytes(data), np.frombuffer(data, np.uint8))
    image = rgb(4, 6)
    msg = FakeImage(4, 6, "rgb8", 0, 18, array.array("B", image.tobytes()))
    out = image_to_rgb(msg)
    assert np.array_equal(out, image) and np.shares_memory(out, np.frombuffer(msg.data, np.uint8))
