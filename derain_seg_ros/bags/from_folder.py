"""Image folders -> rosbag2 (sqlite3 or mcap), to replay recorded frames through the node
(``ros2 bag play``) or the bag tool (``derain-seg bag``).

Two layouts: RobotCar(R) (Porav et al.), ``left/left_<ts>.png`` and ``right/right_<ts>.png`` as
two cameras ``/left`` and ``/right``; or any folder of images as one camera. Where every file
name's number is a UNIX time in microseconds (RobotCar's timestamps), those are the stamps and a
stereo pair shares one; otherwise frames are spaced at ``rate_hz`` in name order, and files with
the same name in both RobotCar folders still share a stamp. Metadata is format 5 by default, as the
bag tool writes it, so Humble and Jazzy both play the bag.
"""

from __future__ import annotations

import logging
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from rosbags.rosbag2 import StoragePlugin, Writer
from rosbags.typesys import Stores, get_typestore

from derain_seg_ros.bags.replay import BagError, downgrade_metadata, staged_bag
from derain_seg_ros.data.io import read_rgb
from derain_seg_ros.data.robotcar import files_by_stamp as robotcar_stamps
from derain_seg_ros.errors import DerainSegError
from derain_seg_ros.progress import progress as tqdm
from derain_seg_ros.ros.image_msg import image_fields

log = logging.getLogger(__name__)
IMAGE_SUFFIXES = {".png": "png", ".jpg": "jpeg", ".jpeg": "jpeg"}
EPOCH_US_FROM = 10**15  # 2001-09-09 in microseconds: smaller numbers are frame indices, not times
ROBOTCAR_CAMERAS = ("left", "right")


@dataclass
class FolderBagSummary:
    frames: dict[str, int] = field(default_factory=dict)  # camera -> frames written
    skipped: list[tuple[str, str]] = field(default_factory=list)  # file, reason
    stamps_from: str = ""  # "file names (microseconds)" or "<rate> Hz"


def is_robotcar(root: Path) -> bool:
    return all((root / cam).is_dir() and robotcar_stamps(root / cam, cam) for cam in ROBOTCAR_CAMERAS)


def robotcar_cameras(root: Path) -> dict[str, dict[str, Path]]:
    """camera -> {name part after '<cam>_': file}; the mask/ folder is not a camera."""
    cameras = {cam: robotcar_stamps(root / cam, cam) for cam in ROBOTCAR_CAMERAS if (root / cam).is_dir()}
    if not all(cameras.get(cam) for cam in ROBOTCAR_CAMERAS):
        raise BagError(f"{root} is not in RobotCar(R)'s layout: expected left/left_<ts>.png and right/right_<ts>.png")
    return cameras


def folder_camera(root: Path, camera: str) -> dict[str, dict[str, Path]]:
    files = {p.stem: p for p in root.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES}
    if not files:
        raise BagError(f"no images ({', '.join(IMAGE_SUFFIXES)}) in {root}")
    return {camera: files}


def _order(name: str) -> tuple:
    """Numbers in names compare as numbers: frame_2 before frame_10."""
    return tuple(int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name))


def frame_stamps(names: set[str], rate_hz: float, start_ns: int) -> tuple[dict[str, int], str]:
    """name -> stamp (ns): microseconds from the names where all are epoch microseconds, else ``rate_hz``."""
    if names and all(n.isdigit() and int(n) >= EPOCH_US_FROM for n in names):
        return {n: int(n) * 1000 for n in names}, "file names (microseconds)"
    if not 0 < rate_hz < float("inf"):  # nan too
        raise BagError(f"the file names carry no microsecond timestamps, so a positive rate is needed, got {rate_hz}")
    return {n: start_ns + round(i * 1e9 / rate_hz) for i, n in enumerate(sorted(names, key=_order))}, f"{rate_hz:g} Hz"


def write_folder_bag(
    src: str | os.PathLike,
    dst: str | os.PathLike,
    *,
    layout: str = "auto",
    camera: str | None = None,
    rate_hz: float = 10.0,
    start_ns: int | None = None,
    transport: str = "raw",
    storage: str = "sqlite3",
    metadata_version: int = 5,
    progress: bool = True,
) -> FolderBagSummary:
    """``layout``: auto | robotcar | folder; ``transport``: raw (rgb8 Image) or compressed (the file's
    own PNG/JPEG bytes in a CompressedImage, nothing re-encoded). An unreadable image is skipped and
    reported; the rest is written."""
    src, dst = Path(src), Path(dst)
    if not src.is_dir():
        raise BagError(f"image folder {src} does not exist" if not src.exists() else f"{src} is not a folder of images")
    if transport not in ("raw", "compressed"):
        raise BagError(f"transport must be raw or compressed, got {transport!r}")
    if layout not in ("auto", "robotcar", "folder"):
        raise BagError(f"layout must be auto, robotcar or folder, got {layout!r}")
    robotcar = layout == "robotcar" or (layout == "auto" and is_robotcar(src))
    cameras = robotcar_cameras(src) if robotcar else folder_camera(src, camera or _camera_name(src))
    stamps, summary = _plan(cameras, rate_hz, time.time_ns() if start_ns is None else start_ns)
    typestore = get_typestore(Stores.ROS2_HUMBLE)
    msgtype = "sensor_msgs/msg/Image" if transport == "raw" else "sensor_msgs/msg/CompressedImage"
    suffix = "image_raw" if transport == "raw" else "image_raw/compressed"
    plugin = StoragePlugin.MCAP if storage == "mcap" else StoragePlugin.SQLITE3
    with staged_bag(dst) as tmp:
        with Writer(tmp, version=8, storage_plugin=plugin) as writer:
            conns = {cam: writer.add_connection(f"/{cam}/{suffix}", msgtype, typestore=typestore) for cam in cameras}
            for stamp, cam, path in tqdm(stamps, desc="tobag", unit="frame", disable=not progress):
                try:
                    msg = _message(typestore, path, cam, stamp, transport)
                except DerainSegError as exc:
                    summary.skipped.append((str(path), str(exc)))
                    log.warning("skipped %s: %s", path, exc)
                    continue
                writer.write(conns[cam], stamp, typestore.serialize_cdr(msg, msgtype))
                summary.frames[cam] += 1
        if metadata_version < 8:
            downgrade_metadata(tmp, metadata_version)
    return summary


def _camera_name(folder: Path) -> str:
    name = re.sub(r"[^A-Za-z0-9_]", "_", folder.resolve().name)
    return name if name[:1].isalpha() else f"camera_{name}"


def _plan(
    cameras: dict[str, dict[str, Path]], rate_hz: float, start_ns: int
) -> tuple[list[tuple[int, str, Path]], FolderBagSummary]:
    """Every frame with its stamp, in time order (cameras interleaved, as a recording has them)."""
    by_name, stamps_from = frame_stamps({n for files in cameras.values() for n in files}, rate_hz, start_ns)
    frames = sorted((by_name[n], cam, path) for cam, files in cameras.items() for n, path in files.items())
    return frames, FolderBagSummary(frames=dict.fromkeys(cameras, 0), stamps_from=stamps_from)


def _message(typestore, path: Path, camera: str, stamp_ns: int, transport: str):
    T = typestore.types
    header = T["std_msgs/msg/Header"](
        stamp=T["builtin_interfaces/msg/Time"](sec=stamp_ns // 10**9, nanosec=stamp_ns % 10**9),
        frame_id=f"{camera}_camera",
    )
    rgb = read_rgb(path)  # also checks that a compressed frame decodes
    if transport == "raw":
        return T["sensor_msgs/msg/Image"](header=header, **image_fields(rgb, "rgb8"))
    return T["sensor_msgs/msg/CompressedImage"](
        header=header, format=IMAGE_SUFFIXES[path.suffix.lower()], data=np.frombuffer(path.read_bytes(), np.uint8)
    )
