"""Real ROS 2 for the tests: an isolated DDS domain, the node in-process or as its own process, and
a probe node that publishes and subscribes through DDS like any other node on the robot.

Every wait is on a condition with a timeout; nothing sleeps for a fixed time.
"""

from __future__ import annotations

import array
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

REQUIRE_ROS = "DERAIN_SEG_REQUIRE_ROS"  # set by `make test`: a missing rclpy fails instead of skipping


def import_rclpy() -> Any:
    """rclpy, or a skip where ROS is not installed; under ``make test`` (CI) its absence is a failure."""
    try:
        import rclpy
    except ImportError as exc:
        if os.environ.get(REQUIRE_ROS):
            pytest.fail(
                f"{REQUIRE_ROS} is set but rclpy cannot be imported ({exc}): "
                "install the ros extra (pip install -e '.[test,ros]')",
                pytrace=False,
            )
        pytest.skip(
            f"rclpy is not installed ({exc}); `pip install -e '.[ros]'` brings ROS 2 Jazzy's", allow_module_level=True
        )
    return rclpy


def isolate_dds() -> None:
    """A random domain on loopback only, once per test session (this module is imported once): tests never meet another robot's graph
    (or another test session's). Child processes inherit it through the environment."""
    os.environ["ROS_DOMAIN_ID"] = str(random.SystemRandom().randint(1, 100))
    os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
    os.environ.pop("ROS_LOCALHOST_ONLY", None)  # deprecated in Jazzy; it would conflict with the range
    os.environ.pop("ROS_STATIC_PEERS", None)


rclpy = import_rclpy()
isolate_dds()

from rclpy.executors import SingleThreadedExecutor  # noqa: E402
from rclpy.qos import QoSProfile, ReliabilityPolicy, qos_profile_sensor_data  # noqa: E402
from sensor_msgs.msg import CompressedImage, Image  # noqa: E402

from derain_seg_ros.ros.image_msg import image_fields, rgb_to_compressed_data  # noqa: E402

BEST_EFFORT = QoSProfile(depth=5, reliability=ReliabilityPolicy.BEST_EFFORT)
RELIABLE = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)


def image_msg(rgb: np.ndarray, stamp_ns: int, frame_id: str, encoding: str = "rgb8") -> Image:
    fields = image_fields(rgb if encoding == "rgb8" else rgb[..., ::-1], encoding)
    fields["data"] = array.array("B", fields["data"].tobytes())
    msg = Image(**fields)
    msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(stamp_ns, 10**9)
    msg.header.frame_id = frame_id
    return msg


def compressed_msg(rgb: np.ndarray, stamp_ns: int, frame_id: str) -> CompressedImage:
    msg = CompressedImage(format="jpeg", data=array.array("B", rgb_to_compressed_data(rgb, "jpeg").tobytes()))
    msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(stamp_ns, 10**9)
    msg.header.frame_id = frame_id
    return msg


def stamp_ns(header: Any) -> int:
    return header.stamp.sec * 10**9 + header.stamp.nanosec


class Spinning:
    """A context of its own (its own DDS participant) with an executor spinning in a thread."""

    def __init__(self) -> None:
        self.context = rclpy.Context()
        rclpy.init(context=self.context)
        self.executor = SingleThreadedExecutor(context=self.context)
        self._thread: threading.Thread | None = None

    def spin(self, node: Any) -> None:
        self.executor.add_node(node)
        self._thread = threading.Thread(target=self.executor.spin, daemon=True)
        self._thread.start()

    def close(self, node: Any) -> None:
        self.executor.shutdown(timeout_sec=2.0)
        if self._thread is not None:
            self._thread.join(2.0)
        node.destroy_node()
        rclpy.try_shutdown(context=self.context)


class Probe(Spinning):
    """The test's node: subscribes and publishes over DDS; received messages wait under one condition."""

    def __init__(self, name: str = "derain_seg_probe") -> None:
        super().__init__()
        self.node = rclpy.create_node(name, context=self.context)
        self.cond = threading.Condition()
        self.received: dict[str, list[Any]] = defaultdict(list)
        self.spin(self.node)

    def subscribe(self, msg_type: Any, topic: str, qos: QoSProfile = RELIABLE) -> None:
        def keep(msg: Any) -> None:
            with self.cond:
                self.received[topic].append(msg)
                self.cond.notify_all()

        self.node.create_subscription(msg_type, topic, keep, qos)

    def messages(self, topic: str) -> list[Any]:
        with self.cond:
            return list(self.received[topic])

    def wait_for(
        self, predicate: Callable[[], bool], timeout: float = 20.0, what: str | Callable[[], str] = ""
    ) -> None:
        """``what`` names the wait in the failure; a callable is asked at the timeout (e.g. what is missing)."""
        with self.cond:
            if not self.cond.wait_for(predicate, timeout):
                what = what() if callable(what) else what
                raise AssertionError(
                    f"timed out after {timeout:.0f} s waiting for {what or predicate}; "
                    f"received { ({t: len(m) for t, m in self.received.items()}) }"
                )

    def wait_for_count(self, topic: str, n: int, timeout: float = 20.0) -> list[Any]:
        self.wait_for(lambda: len(self.received[topic]) >= n, timeout, f"{n} messages on {topic}")
        return self.messages(topic)

    def stream(
        self,
        msg_type: Any,
        topic: str,
        frames: Iterable[Any] | Callable[[int], Any],
        rate_hz: float,
        qos: QoSProfile = qos_profile_sensor_data,
    ) -> Stream:
        """Publish at camera rate from a timer: a finite sequence of messages, or ``make(i)`` forever."""
        return Stream(self, msg_type, topic, frames, rate_hz, qos)

    def close(self) -> None:  # type: ignore[override]
        super().close(self.node)


class Stream:
    def __init__(
        self,
        probe: Probe,
        msg_type: Any,
        topic: str,
        frames: Iterable[Any] | Callable[[int], Any],
        rate_hz: float,
        qos: QoSProfile,
    ) -> None:
        self.publisher = probe.node.create_publisher(msg_type, topic, qos)
        self.make = frames if callable(frames) else None
        self.pending = None if callable(frames) else list(frames)
        self.sent: list[Any] = []
        self.done = threading.Event()
        self.timer = probe.node.create_timer(1.0 / rate_hz, self._tick)

    def _tick(self) -> None:
        if self.publisher.get_subscription_count() == 0:
            return  # BEST_EFFORT: a frame sent before the node's subscription is matched is simply lost
        if self.pending is not None and not self.pending:
            self.timer.cancel()
            self.done.set()
            return
        msg = self.pending.pop(0) if self.pending is not None else self.make(len(self.sent))
        self.publisher.publish(msg)
        self.sent.append(msg)

    def stop(self) -> None:
        self.timer.cancel()


# For a node process's prelude: ``build_engine`` returning a fake engine the way the real one returns its choice.
FAKE_CHOICE_PRELUDE = """
from derain_seg_ros.nets.config import PipelineConfig
from derain_seg_ros.runtime.engine_spec import EngineSpec
from derain_seg_ros.runtime.factory import EngineChoice
def choice_of(engine):
    spec = EngineSpec("torch", config=PipelineConfig.small(), device="cpu")
    return EngineChoice(engine, spec, spec)
"""


def choice_of(engine: Any) -> Any:
    """A fake engine as ``node.build_engine`` returns the real one: what runs, and what was asked."""
    namespace: dict[str, Any] = {}
    exec(FAKE_CHOICE_PRELUDE, namespace)
    return namespace["choice_of"](engine)


class InProcessNode(Spinning):
    """DerainSegNode (or ``node_class``) in this process, in its own context, with parameters as overrides."""

    def __init__(self, parameters: dict[str, Any], node_class: Any = None, **node_kwargs: Any) -> None:
        from rclpy.parameter import Parameter

        from derain_seg_ros.ros.node import DerainSegNode

        super().__init__()
        try:
            self.node = (node_class or DerainSegNode)(
                context=self.context,
                parameter_overrides=[Parameter(k, value=v) for k, v in parameters.items()],
                **node_kwargs,
            )
        except BaseException:
            rclpy.try_shutdown(context=self.context)
            raise
        self.spin(self.node)

    def close(self) -> None:  # type: ignore[override]
        self.executor.shutdown(timeout_sec=2.0)
        self.node.close()
        super().close(self.node)


def write_params(path: Path, parameters: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump({"/**": {"ros__parameters": parameters}}))
    return path


class NodeProcess:
    """The node as its own process (``python -m derain_seg_ros.ros.node``), as ros2 launch starts it.

    ``prelude``: Python run before ``main`` in that process (a test's slow engine, for one)."""

    def __init__(self, params_file: Path, prelude: str = "", extra_args: tuple[str, ...] = ()) -> None:
        code = f"{prelude}\nimport sys\nfrom derain_seg_ros.ros.node import main\nsys.exit(main())\n"
        self.process = subprocess.Popen(
            [sys.executable, "-c", code, "--ros-args", "--params-file", str(params_file), *extra_args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1", "RCUTILS_COLORIZED_OUTPUT": "0"},
        )
        self.lines: list[str] = []
        self._cond = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.process.stdout:
            with self._cond:
                self.lines.append(line.rstrip("\n"))
                self._cond.notify_all()
        with self._cond:
            self._cond.notify_all()

    def wait_for_line(self, text: str, timeout: float = 60.0) -> str:
        def found() -> str | None:
            return next((line for line in self.lines if text in line), None)

        with self._cond:
            if (
                not self._cond.wait_for(lambda: found() is not None or self.process.poll() is not None, timeout)
                or found() is None
            ):
                raise AssertionError(f"no line with {text!r} from the node; it said:\n" + "\n".join(self.lines))
            return found()

    def stop(self, sig: int = signal.SIGINT, timeout: float = 60.0) -> tuple[int, float]:
        """Send ``sig``; returns the exit code and the seconds the node took to exit."""
        started = time.monotonic()
        self.process.send_signal(sig)
        try:
            code = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise AssertionError(
                f"the node did not exit within {timeout} s of signal {sig}:\n{self.output()}"
            ) from None
        self._reader.join(5)
        return code, time.monotonic() - started

    def output(self) -> str:
        with self._cond:
            return "\n".join(self.lines)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
