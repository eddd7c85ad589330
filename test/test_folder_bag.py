"""`derain-seg tobag`: image folders (RobotCar(R)'s layout, or any folder at a rate) -> a rosbag2
that the bag tool reads end to end. Fixtures are written in the real layouts by the tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml
from rosbags.rosbag2 import Reader
from rosbags.typesys import Stores, get_typestore

from derain_seg_ros.bags.from_folder import write_folder_bag
from derain_seg_ros.bags.replay import BagError, process_bag
from derain_seg_ros.cli import main
from derain_seg_ros.data.io import write_png
from derain_seg_ros.nets.config import PipelineConfig
from derain_seg_ros.runtime.engine_spec import EngineSpec
from derain_seg_ros.runtime.factory import make_engine

TS = get_typestore(Stores.ROS2_HUMBLE)
STAMPS_US = (1418381798076165, 1418381798138660, 1418381798201150)  # RobotCar-style UNIX microseconds


def image(seed: int, shape: tuple[int, int] = (24, 32)) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (*shape, 3), dtype=np.uint8)


def robotcar_fixture(root: Path, names: tuple[str, ...] = tuple(map(str, STAMPS_US))) -> Path:
    """left/left_<ts>.png, right/right_<ts>.png, mask/mask_<ts>.png, as the RobotCar(R) set ships."""
    for i, name in enumerate(names):
        for j, side in enumerate(("left", "right")):
            write_png(root / side / f"{side}_{name}.png", image(10 * i + j))
        write_png(root / "mask" / f"mask_{name}.png", np.zeros((24, 32), np.uint8))
    return root


def read_bag(path: Path) -> dict[str, list[tuple[int, object]]]:
    out: dict[str, list[tuple[int, object]]] = {}
    with Reader(path) as reader:
        for conn, t, raw in reader.messages():
            out.setdefault(conn.topic, []).append((t, TS.deserialize_cdr(raw, conn.msgtype)))
    return out


@pytest.fixture(scope="module")
def engine():
    return make_engine(EngineSpec("torch", config=PipelineConfig.small()))


def test_robotcar_folders_become_two_cameras_stamped_from_the_file_names(tmp_path: Path, engine) -> None:
    src = robotcar_fixture(tmp_path / "robotcar")
    summary = write_folder_bag(src, tmp_path / "bag", progress=False)
    assert summary.frames == {"left": 3, "right": 3} and summary.stamps_from == "file names (microseconds)"
    info = yaml.safe_load((tmp_path / "bag" / "metadata.yaml").read_text())["rosbag2_bagfile_information"]
    assert info["version"] == 5  # plays on Humble and Jazzy
    messages = read_bag(tmp_path / "bag")
    assert sorted(messages) == ["/left/image_raw", "/right/image_raw"]
    for side in ("left", "right"):
        stamps = [t for t, _ in messages[f"/{side}/image_raw"]]
        assert stamps == [us * 1000 for us in STAMPS_US]
        first = messages[f"/{side}/image_raw"][0][1]
        assert first.header.stamp.sec * 10**9 + first.header.stamp.nanosec == STAMPS_US[0] * 1000
        assert first.header.frame_id == f"{side}_camera" and first.encoding == "rgb8"
        assert np.array_equal(first.data.reshape(24, 32, 3), image(0 if side == "left" else 1))

    replay = process_bag(tmp_path / "bag", tmp_path / "derained", engine, progress=False)  # the bag tool reads it
    assert replay.frames == 6 and not replay.skipped
    derained = read_bag(tmp_path / "derained")
    assert [t for t, _ in derained["/right/segmentation/label"]] == [us * 1000 for us in STAMPS_US]


def test_robotcar_names_that_are_not_times_are_spaced_at_the_rate_and_pairs_share_a_stamp(tmp_path: Path) -> None:
    src = robotcar_fixture(tmp_path / "robotcar", names=("2", "10", "1"))
    summary = write_folder_bag(src, tmp_path / "bag", rate_hz=4.0, start_ns=5 * 10**9, progress=False)
    assert summary.stamps_from == "4 Hz"
    messages = read_bag(tmp_path / "bag")
    expected = [5 * 10**9, 5 * 10**9 + 250_000_000, 5 * 10**9 + 500_000_000]  # names 1, 2, 10 in number order
    assert [t for t, _ in messages["/left/image_raw"]] == [t for t, _ in messages["/right/image_raw"]] == expected
    assert np.array_equal(messages["/left/image_raw"][2][1].data.reshape(24, 32, 3), image(10))  # name "10"


def test_any_folder_becomes_one_compressed_camera_at_the_rate_in_mcap(tmp_path: Path, engine) -> None:
    folder = tmp_path / "dashcam"
    for i in (1, 2, 10):
        write_png(folder / f"frame_{i}.png", image(i))
    (folder / "notes.txt").write_text("not an image")
    summary = write_folder_bag(
        folder,
        tmp_path / "bag",
        rate_hz=5.0,
        start_ns=100 * 10**9,
        transport="compressed",
        storage="mcap",
        progress=False,
    )
    assert summary.frames == {"dashcam": 3}
    assert sorted(p.name for p in (tmp_path / "bag").iterdir()) == ["bag.mcap", "metadata.yaml"]
    messages = read_bag(tmp_path / "bag")["/dashcam/image_raw/compressed"]
    assert [t for t, _ in messages] == [100 * 10**9, 100_200_000_000, 100_400_000_000]
    assert messages[2][1].format == "png" and bytes(messages[2][1].data) == (folder / "frame_10.png").read_bytes()
    assert process_bag(tmp_path / "bag", tmp_path / "derained", engine, progress=False).frames == 3


def test_an_unreadable_image_is_skipped_and_reported_the_rest_is_written(tmp_path: Path) -> None:
    folder = tmp_path / "cam"
    write_png(folder / "a.png", image(0))
    (folder / "b.png").write_bytes(b"\x89PNG truncated")
    summary = write_folder_bag(folder, tmp_path / "bag", rate_hz=10.0, start_ns=0, progress=False)
    assert summary.frames == {"cam": 1} and len(summary.skipped) == 1 and summary.skipped[0][0].endswith("b.png")


def test_bad_inputs_are_one_line_errors(tmp_path: Path) -> None:
    with pytest.raises(BagError, match="does not exist"):
        write_folder_bag(tmp_path / "nope", tmp_path / "bag", progress=False)
    (tmp_path / "empty").mkdir()
    with pytest.raises(BagError, match="no images"):
        write_folder_bag(tmp_path / "empty", tmp_path / "bag", progress=False)
    with pytest.raises(BagError, match="RobotCar"):
        write_folder_bag(tmp_path / "empty", tmp_path / "bag", layout="robotcar", progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty"]  # nothing half-written


def test_tobag_cli(tmp_path: Path, capsys) -> None:
    src = robotcar_fixture(tmp_path / "robotcar")
    assert main(["tobag", str(src), str(tmp_path / "bag"), "--storage", "mcap"]) == 0
    assert "/left: 3, /right: 3 frames, stamped from file names (microseconds), 0 skipped" in capsys.readouterr().out
    with pytest.raises(SystemExit, match="^error: image folder .* does not exist$"):
        main(["tobag", str(tmp_path / "missing"), str(tmp_path / "bag2")])
