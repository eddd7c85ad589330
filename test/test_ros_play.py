"""Bag replay into the live node: a RobotCar-layout folder -> ``derain-seg tobag`` -> ``derain-seg play`` (its own
process, real rclpy over DDS) -> the running node -> every frame's outputs with its recorded stamp and frame_id."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from ros_harness import InProcessNode, Probe, choice_of, stamp_ns  # noqa: I001 (first: it isolates DDS)
from sensor_msgs.msg import Image

from derain_seg_ros.cli import main as cli
from derain_seg_ros.ros import node as node_module
from derain_seg_ros.ros.outputs import OUTPUT_TOPICS
from derain_seg_ros.runtime.engine import EngineOutput

FRAMES, PERIOD_US, START_US = 5, 250_000, 1_700_000_000_000_000  # 4 Hz per camera, RobotCar's microsecond names


class InvertingEngine:
    name, max_batch = "inverting", 2

    def infer(self, frames):
        batch = np.stack(frames)
        return EngineOutput(255 - batch, batch[..., 0] % 19)

    def close(self) -> None:
        pass


@pytest.fixture
def robotcar_bag(tmp_path: Path) -> Path:
    root = tmp_path / "robotcar"
    rng = np.random.default_rng(0)
    for cam in ("left", "right"):
        (root / cam).mkdir(parents=True)
        for i in range(FRAMES):
            cv2.imwrite(
                str(root / cam / f"{cam}_{START_US + i * PERIOD_US}.png"), rng.integers(0, 256, (24, 32, 3), np.uint8)
            )
    assert cli(["tobag", str(root), str(tmp_path / "bag")]) == 0
    return tmp_path / "bag"


@pytest.fixture
def probe():
    probe = Probe("derain_seg_play_probe")
    yield probe
    probe.close()


def test_a_tobag_bag_played_into_the_running_node_comes_out_frame_by_frame_with_its_stamps(
    robotcar_bag: Path, probe: Probe, monkeypatch
) -> None:
    # Played 2 s apart (rate 0.125): the node keeps one frame per camera, so a late publish that the player
    # catches up on (a loaded CI machine) would otherwise be dropped by design, not lost.
    monkeypatch.setattr(node_module, "build_engine", lambda params, stop=None: choice_of(InvertingEngine()))
    node = InProcessNode({"cameras": ["left", "right"], "input_reliability": "reliable"})
    expected = {START_US * 1000 + i * PERIOD_US * 1000 for i in range(FRAMES)}
    try:
        for cam in ("left", "right"):
            for topic in OUTPUT_TOPICS:
                probe.subscribe(Image, f"/{cam}/{topic}")
        probe.wait_for(
            lambda: all(probe.node.count_publishers(f"/{cam}/{t}") for cam in ("left", "right") for t in OUTPUT_TOPICS),
            what="the node's publishers",
        )
        played = subprocess.run(
            [
                sys.executable,
                "-m",
                "derain_seg_ros.cli",
                "play",
                str(robotcar_bag),
                "--wait-for-subscribers",
                "60",
                "--delay",
                "3.0",  # the node's side of DDS matching: 1 s lost the first frame once on a loaded machine
                "--rate",
                "0.125",
            ],
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert played.returncode == 0, played.stdout + played.stderr
        assert "/left/image_raw: 5" in played.stdout and "/right/image_raw: 5" in played.stdout
        for cam in ("left", "right"):
            for topic in OUTPUT_TOPICS:
                probe.wait_for(
                    lambda c=cam, t=topic: {stamp_ns(m.header) for m in probe.messages(f"/{c}/{t}")} >= expected,
                    timeout=120,
                    what=lambda c=cam, t=topic: (
                        f"every frame on /{c}/{t}, missing stamps "
                        f"{sorted(expected - {stamp_ns(m.header) for m in probe.messages(f'/{c}/{t}')})}"
                    ),
                )
    finally:
        node.close()
    for cam in ("left", "right"):
        derained = probe.messages(f"/{cam}/derained/image")
        assert {stamp_ns(m.header) for m in derained} == expected  # no frame lost, none invented
        assert {m.header.frame_id for m in derained} == {f"{cam}_camera"}
        assert {(m.height, m.width, m.encoding) for m in derained} == {(24, 32, "rgb8")}


def test_play_keeps_the_recorded_pace(robotcar_bag: Path) -> None:
    """5 frames 0.25 s apart: about 1 s at rate 1, about 0.5 s at rate 2 (no subscriber needed)."""
    from derain_seg_ros.bags.play import play_bag

    summary = play_bag(robotcar_bag, rate=2.0)
    assert summary.published == {"/left/image_raw": FRAMES, "/right/image_raw": FRAMES}
    assert 0.45 <= summary.seconds < 5.0


def test_play_waits_until_its_last_messages_are_acknowledged_and_names_the_topics_that_were_not(
    robotcar_bag: Path, probe: Probe, monkeypatch
) -> None:
    """Destroying a reliable publisher ends its resends: the player must wait for the acks after its last
    publish (real acks first, with a subscriber on /left only), and name the topics a subscriber never acked."""
    from rclpy.publisher import Publisher

    from derain_seg_ros.bags.play import play_bag

    probe.subscribe(Image, "/left/image_raw")
    summary = play_bag(robotcar_bag, rate=0, wait_for_subscribers_s=20, topics=["/left/image_raw"])
    assert summary.published == {"/left/image_raw": FRAMES} and summary.unacked == []

    events: list[tuple[str, str]] = []
    real_publish = Publisher.publish

    def publish(self, msg) -> None:
        events.append(("publish", self.topic_name))
        real_publish(self, msg)

    def acked_but_on_right(self, timeout) -> bool:
        events.append(("acked?", self.topic_name))
        return self.topic_name != "/right/image_raw"

    monkeypatch.setattr(Publisher, "publish", publish)
    monkeypatch.setattr(Publisher, "wait_for_all_acked", acked_but_on_right)
    summary = play_bag(robotcar_bag, rate=0, wait_for_acked_s=0.5)
    assert summary.unacked == ["/right/image_raw"]
    for topic in ("/left/image_raw", "/right/image_raw"):
        last_publish = max(i for i, e in enumerate(events) if e == ("publish", topic))
        assert events.index(("acked?", topic)) > last_publish
