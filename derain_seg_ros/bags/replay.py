"""Offline replay: run the engine over a rosbag2 (sqlite3 or mcap) and write a bag with the
original messages plus, per camera, the three output topics at the input's timestamps.

Metadata: the ``rosbags`` writer produces rosbag2 format 8. Humble's ``ros2 bag play`` writes
and reads format 5 and fails on newer metadata; Jazzy reads every older format. So by default
the output's metadata.yaml is written as format 5 (the fields Humble knows; formats 6-8 only
add optional ones), which both distributions play. ``metadata_version=8`` keeps rosbags' own.
"""

from __future__ import annotations

import dataclasses
import glob
import logging
import os
import re
import shutil
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from rosbags.interfaces import Connection
from rosbags.rosbag2 import Reader, StoragePlugin, Writer
from rosbags.typesys import Stores, get_typestore
from rosbags.typesys.store import Typestore

from derain_seg_ros.bags.mcap_chunks import drop_damaged_chunks
from derain_seg_ros.errors import DerainSegError
from derain_seg_ros.fileio import atomic_write_bytes, follow_umask, fresh_dir
from derain_seg_ros.progress import progress as tqdm
from derain_seg_ros.ros.image_msg import image_fields, message_to_rgb
from derain_seg_ros.ros.outputs import (
    CAMERA_INFO_IN,
    CAMERA_INFO_OUT,
    ENCODING,
    OUTPUTS,
    camera_of,
    finish,
    output_topic,
)
from derain_seg_ros.runtime.checkpoint import CheckpointError
from derain_seg_ros.runtime.engine import BackendUnavailable, Engine
from derain_seg_ros.runtime.resize import resize_for_engine

log = logging.getLogger(__name__)
IMAGE_TYPES = ("sensor_msgs/msg/Image", "sensor_msgs/msg/CompressedImage")
OWNER = "owner.pid"  # in a staging folder: the process writing it, so a rerun can tell a killed run's leftovers
NO_HASH = (
    "RIHS01_" + "0" * 64
)  # for a type neither the typestore nor the source bag describes (Humble bags keep no hash)


class BagError(DerainSegError, RuntimeError):
    """A bag that cannot be opened or written."""


@dataclass
class BagSummary:
    messages: int = 0
    frames: int = 0
    outputs: int = 0
    skipped: list[tuple[str, int, str]] = field(default_factory=list)  # topic, timestamp, reason
    unreadable: str | None = None  # why reading stopped early (a damaged storage file); None: read to the end
    damaged: list[str] = field(default_factory=list)  # MCAP chunks that failed their CRC, and the messages they held


def camera_namespace(topic: str) -> str:
    """'/front/image_raw/compressed' -> '/front' (where the outputs go): the node's own rule, ``outputs.camera_of``."""
    return camera_of(topic)


def _storage(path: Path) -> StoragePlugin:
    return StoragePlugin.MCAP if any(path.glob("*.mcap")) else StoragePlugin.SQLITE3


def open_reader(src: Path) -> Reader:
    """An open reader, or one clear error: a missing path is not a damaged bag."""
    if not src.exists():
        raise BagError(f"input bag {src} does not exist")
    if src.is_dir() and not (src / "metadata.yaml").is_file():
        raise BagError(
            f"{src} is not a rosbag2 folder (no metadata.yaml); a recording cut short can often be "
            "repaired: `ros2 bag reindex` for sqlite3, `mcap recover` for mcap"
        )
    if not src.is_dir() and (not src.is_file() or src.suffix not in (".mcap", ".db3")):
        raise BagError(f"{src} is not a rosbag2 folder (nor a .mcap or .db3 storage file)")
    try:
        reader = Reader(src)
        reader.open()
    except Exception as exc:
        raise BagError(
            f"cannot open bag {src}: {exc} (a recording cut short can often be repaired: "
            f"`ros2 bag reindex` for sqlite3, `mcap recover` for mcap)"
        ) from exc
    return reader


def copy_connection(writer: Writer, conn: Connection, typestore: Typestore) -> Connection:
    """The same topic in the output: described by the typestore where it knows the type, otherwise
    by the source bag's own definition and hash (custom messages, Jazzy's service events)."""
    kwargs = {
        "serialization_format": conn.ext.serialization_format,
        "offered_qos_profiles": conn.ext.offered_qos_profiles,
    }
    if conn.msgtype in typestore.fielddefs:
        return writer.add_connection(conn.topic, conn.msgtype, typestore=typestore, **kwargs)
    return writer.add_connection(
        conn.topic, conn.msgtype, msgdef=conn.msgdef.data, rihs01=conn.digest or NO_HASH, **kwargs
    )


@contextmanager
def staged_bag(dst: Path) -> Iterator[Path]:
    """A path to write a bag at, moved to ``dst`` only when complete: a killed run leaves no half bag.

    The staging folder sits beside ``dst`` (same file system) and the path inside it has ``dst``'s
    name, so the storage file is still called <dst>.db3 / .mcap."""
    if dst.exists():
        raise BagError(f"output {dst} exists; rosbag2 writers do not overwrite")
    remove_stale_staging(dst)
    staging = fresh_dir(dst.parent, f".{dst.name}.")
    try:
        (staging / OWNER).write_text(str(os.getpid()))
        yield staging / dst.name
        follow_umask(staging / dst.name)
        (staging / dst.name).rename(dst)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def remove_stale_staging(dst: Path) -> None:
    """Staging folders of ``dst`` left by a killed run (SIGKILL runs no ``finally``): their owner is
    gone, or, from before owners were written, they are over an hour old. A live run's are kept."""
    for folder in dst.parent.glob(f".{glob.escape(dst.name)}.*"):
        if (
            not folder.is_dir()
            or folder.is_symlink()
            or not re.fullmatch(r"[0-9a-f]{8}", folder.name.rsplit(".", 1)[-1])
        ):
            continue
        try:
            owner = int((folder / OWNER).read_text())
        except (OSError, ValueError):
            owner = None
        stale = not _alive(owner) if owner is not None else time.time() - folder.stat().st_mtime > 3600
        if stale:
            log.info("removing %s, left by a run that was killed", folder)
            shutil.rmtree(folder, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def _readable(messages: Iterator[tuple], summary: BagSummary) -> Iterator[tuple]:
    """The bag's messages up to the first one the storage cannot return (a damaged sqlite page):
    everything before it is still processed and written, and the reason is kept in ``summary``."""
    while True:
        try:
            item = next(messages)
        except StopIteration:
            return
        except Exception as exc:  # sqlite3 and rosbags raise several types for damaged storage
            summary.unreadable = f"{type(exc).__name__}: {exc} (after {summary.messages} messages)"
            log.error("bag unreadable from here on, keeping what was read: %s", summary.unreadable)
            return
        yield item


def downgrade_metadata(bag: Path, version: int = 5) -> None:
    """Rewrite metadata.yaml as an older rosbag2 format (drops fields that format lacks)."""
    path = bag / "metadata.yaml"
    meta = yaml.safe_load(path.read_text())
    info = meta["rosbag2_bagfile_information"]
    info["version"] = version
    for key in ("custom_data", "ros_distro"):
        info.pop(key, None)
    for topic in info.get("topics_with_message_count", []):
        topic["topic_metadata"].pop("type_description_hash", None)
    atomic_write_bytes(path, yaml.safe_dump(meta, sort_keys=False).encode())


def process_bag(
    src: str | os.PathLike,
    dst: str | os.PathLike,
    engine: Engine,
    topics: Sequence[str] | None = None,
    overlay_alpha: float = 0.5,
    metadata_version: int = 5,
    progress: bool = True,
    process_size: tuple[int, int] | None = None,
) -> BagSummary:
    """``process_size`` (H, W): run the engine at that size and bring outputs back to each camera's
    size, as the node does; ``None`` runs every frame at its own size."""
    src, dst = Path(src), Path(dst)
    typestore = get_typestore(Stores.ROS2_HUMBLE)
    summary = BagSummary()
    reader = open_reader(src)
    try:
        summary.damaged = [chunk.describe() for chunk in drop_damaged_chunks(reader)]
        with staged_bag(dst) as tmp:
            with Writer(tmp, version=8, storage_plugin=_storage(src)) as writer:
                out_conns = {c.id: copy_connection(writer, c, typestore) for c in reader.connections}
                image_conns = [
                    c for c in reader.connections if c.msgtype in IMAGE_TYPES and (not topics or c.topic in topics)
                ]
                if topics and (missing := set(topics) - {c.topic for c in image_conns}):
                    raise BagError(
                        f"no image topic(s) {sorted(missing)} in {src}; it has {sorted(c.topic for c in reader.connections)}"
                    )
                result_conns = {
                    (c.id, o.topic): writer.add_connection(
                        output_topic(camera_namespace(c.topic), o.topic), "sensor_msgs/msg/Image", typestore=typestore
                    )
                    for c in image_conns
                    for o in OUTPUTS
                }
                # <cam>/camera_info in, <cam>/derained/camera_info out: the last one, restamped per output frame, as the node does
                info_in = {
                    c.id: c.topic[: -len(CAMERA_INFO_IN) - 1]
                    for c in reader.connections
                    if c.msgtype == "sensor_msgs/msg/CameraInfo" and c.topic.endswith(f"/{CAMERA_INFO_IN}")
                }
                info_out = {
                    ns: writer.add_connection(
                        output_topic(ns, CAMERA_INFO_OUT), "sensor_msgs/msg/CameraInfo", typestore=typestore
                    )
                    for ns in {camera_namespace(c.topic) for c in image_conns} & set(info_in.values())
                }
                last_info: dict[str, object] = {}
                wanted = {c.id for c in image_conns}
                bar = tqdm(total=reader.message_count, desc="bag", unit="msg", disable=not progress)
                Image = typestore.types["sensor_msgs/msg/Image"]
                for conn, timestamp, raw in _readable(reader.messages(), summary):
                    writer.write(out_conns[conn.id], timestamp, raw)
                    summary.messages += 1
                    bar.update()
                    if conn.id in info_in:
                        try:
                            last_info[info_in[conn.id]] = typestore.deserialize_cdr(raw, conn.msgtype)
                        except Exception as exc:  # a damaged camera_info: the previous one stands
                            log.warning("skipped %s @ %d: %s", conn.topic, timestamp, exc)
                    if conn.id not in wanted:
                        continue
                    try:
                        msg = typestore.deserialize_cdr(raw, conn.msgtype)
                        rgb = message_to_rgb(msg)
                        out = engine.infer([resize_for_engine(rgb, process_size)])
                    except (CheckpointError, BackendUnavailable):
                        raise  # the engine cannot be built at all: every frame would fail alike, so stop here
                    except Exception as exc:  # a bad message, a CDR decode error or an engine failure: count it, go on
                        summary.skipped.append((conn.topic, timestamp, f"{type(exc).__name__}: {exc}"))
                        log.warning("skipped %s @ %d: %s", conn.topic, timestamp, exc)
                        continue
                    images = finish(out.derained[0], out.labels[0], rgb.shape[:2], overlay_alpha)
                    for topic, image in images.items():
                        result = Image(header=msg.header, **image_fields(image, ENCODING[topic]))
                        writer.write(
                            result_conns[(conn.id, topic)],
                            timestamp,
                            typestore.serialize_cdr(result, "sensor_msgs/msg/Image"),
                        )
                        summary.outputs += 1
                    if (info := last_info.get(camera_namespace(conn.topic))) is not None:
                        restamped = dataclasses.replace(
                            info, header=dataclasses.replace(info.header, stamp=msg.header.stamp)
                        )
                        writer.write(
                            info_out[camera_namespace(conn.topic)],
                            timestamp,
                            typestore.serialize_cdr(restamped, "sensor_msgs/msg/CameraInfo"),
                        )
                    summary.frames += 1
                bar.close()
                if summary.skipped and not summary.frames:  # nothing to show for it: no bag, and say why
                    raise BagError(
                        f"every one of the {len(summary.skipped)} camera frames failed, so no bag was "
                        f"written; the first: {summary.skipped[0][2]}"
                    )
            if metadata_version < 8:
                downgrade_metadata(tmp, metadata_version)
    finally:
        reader.close()
    log.info(
        "%d messages, %d frames processed, %d outputs, %d skipped",
        summary.messages,
        summary.frames,
        summary.outputs,
        len(summary.skipped),
    )
    return summary
