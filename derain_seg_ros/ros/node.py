"""derain_seg_node: the thin rclpy adapter. Parameters, QoS, topics, camera_info, diagnostics and
shutdown only; the frame logic lives in ``node_core``, the rules in ``params`` and ``diagnostics``."""

from __future__ import annotations

import array
import os
import signal
import threading
import time
from functools import partial

import rclpy
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rcl_interfaces.msg import ParameterDescriptor
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
from rclpy.signals import SignalHandlerOptions
from sensor_msgs.msg import CameraInfo, CompressedImage, Image

from derain_seg_ros.errors import DerainSegError
from derain_seg_ros.ros.diagnostics import COUNTERS, CameraMonitor
from derain_seg_ros.ros.image_msg import compressed_to_rgb, image_fields, image_to_rgb
from derain_seg_ros.ros.node_core import NodeCore, Result
from derain_seg_ros.ros.outputs import CAMERA_INFO_IN, CAMERA_INFO_OUT, ENCODING
from derain_seg_ros.ros.params import SPECS, NodeParams, camera_problems, transport_parameter, validate
from derain_seg_ros.runtime.engine import Engine
from derain_seg_ros.runtime.engine_spec import EngineSpec
from derain_seg_ros.runtime.factory import make_engine
from derain_seg_ros.runtime.shipped import resolve_checkpoint

NAME = "derain_seg_node"
SHUTDOWN_TIMEOUT_S = 2.5  # for an inference in flight; ros2 launch escalates after 5 s, and exiting takes ~1 s more
LOG_PERIOD_S = 5.0  # at most one line per kind of per-frame problem and camera in this time
OUTPUT_QOS = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE)


def build_engine(params: NodeParams) -> Engine:
    """The one place the node builds its engine (no checkpoint: the shipped embedded model)."""
    size = params.process_size
    return make_engine(EngineSpec(params.backend, resolve_checkpoint(params.checkpoint or None), precision=params.precision,
                                  size=size, batch=params.batch, cache_dir=params.engine_cache_dir or None))


def _descriptor(description: str, constraints: str = "") -> ParameterDescriptor:
    # dynamic_typing: a YAML `overlay_alpha: 1` reaches ``validate`` (which takes it as 1.0) instead of
    # an rclpy type error; read_only: parameters are read once, so `ros2 param set` is refused.
    return ParameterDescriptor(description=description, additional_constraints=constraints, read_only=True,
                               dynamic_typing=True)


class DerainSegNode(Node):
    def __init__(self, **node_kwargs) -> None:
        super().__init__(NAME, **node_kwargs)
        try:
            self._setup()
        except BaseException:
            self.destroy_node()
            raise

    def _read_parameters(self) -> NodeParams:
        values = {s.name: self.declare_parameter(s.name, s.default, _descriptor(s.description, s.constraints())).value
                  for s in SPECS}
        if not camera_problems(values["cameras"]):
            for cam in values["cameras"]:
                name = transport_parameter(cam)
                values[name] = self.declare_parameter(name, values["transport"], _descriptor(
                    f"input transport of camera {cam}", "one of raw, compressed")).value
        return validate(values)

    def _setup(self) -> None:
        p = self.params = self._read_parameters()
        started = time.perf_counter()
        engine = build_engine(p)
        self.get_logger().info(f"engine {engine.name} ready in {time.perf_counter() - started:.1f} s")
        self.pubs = {(cam, topic): self.create_publisher(Image, f"{cam}/{topic}", OUTPUT_QOS)
                     for cam in p.cameras for topic in p.outputs}
        self.info_pubs = {cam: self.create_publisher(CameraInfo, f"{cam}/{CAMERA_INFO_OUT}", OUTPUT_QOS) for cam in p.cameras}
        self.camera_info: dict[str, CameraInfo | None] = dict.fromkeys(p.cameras)
        self.published = {key: 0 for key in self.pubs}  # per output: messages sent (lazy outputs send none)
        self.core = NodeCore(engine, list(p.cameras), self._publish, process_size=p.process_size,
                             overlay_alpha=p.overlay_alpha, wanted=self._wanted, logger=self.get_logger(),
                             log_period_s=LOG_PERIOD_S)
        input_qos = qos_profile_sensor_data if p.input_reliability == "best_effort" else \
            QoSProfile(depth=qos_profile_sensor_data.depth, reliability=ReliabilityPolicy.RELIABLE)
        for cam in p.cameras:
            if p.transports[cam] == "compressed":
                self.create_subscription(CompressedImage, f"{cam}/{p.input_topic}/compressed",
                                         partial(self._on_frame, cam, compressed_to_rgb), input_qos)
            else:
                self.create_subscription(Image, f"{cam}/{p.input_topic}", partial(self._on_frame, cam, image_to_rgb), input_qos)
            self.create_subscription(CameraInfo, f"{cam}/{CAMERA_INFO_IN}", partial(self._on_camera_info, cam),
                                     qos_profile_sensor_data)
        now = time.monotonic()
        self.monitors = {cam: CameraMonitor(now, p.diagnostics_window, p.min_rate_hz) for cam in p.cameras}
        self.diagnostics = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self.create_timer(p.diagnostics_period_s, self._publish_diagnostics)
        inputs = ", ".join(f"{cam}/{p.input_topic}{'/compressed' if p.transports[cam] == 'compressed' else ''}"
                           for cam in p.cameras)
        self.get_logger().info(f"listening on {inputs}")

    def _on_frame(self, camera: str, decode, msg) -> None:
        self.core.submit(camera, partial(decode, msg), msg.header)

    def _on_camera_info(self, camera: str, msg: CameraInfo) -> None:
        self.camera_info[camera] = msg

    def _wanted(self, camera: str) -> set[str]:
        """Outputs with a subscriber now: nothing is computed or sent for the others."""
        return {topic for (cam, topic), pub in self.pubs.items() if cam == camera and pub.get_subscription_count() > 0}

    def _publish(self, result: Result) -> None:
        for topic, image in result.images.items():
            fields = image_fields(image, ENCODING[topic])
            data = array.array("B")
            data.frombytes(fields.pop("data"))  # rclpy's fast path for uint8[] is array('B'); one copy
            fields["data"] = data
            self.pubs[(result.camera, topic)].publish(Image(header=result.header, **fields))
            self.published[(result.camera, topic)] += 1
        info, info_pub = self.camera_info[result.camera], self.info_pubs[result.camera]
        if info is not None and info_pub.get_subscription_count() > 0:
            restamped = CameraInfo(**{name: getattr(info, name) for name in info.get_fields_and_field_types()})
            restamped.header.stamp = result.header.stamp
            info_pub.publish(restamped)

    def _publish_diagnostics(self) -> None:
        msg = DiagnosticArray()
        msg.header.stamp = self.get_clock().now().to_msg()
        now = time.monotonic()
        for cam, (counts, latencies) in self.core.snapshot().items():
            status = self.monitors[cam].update(now, counts, latencies)
            msg.status.append(DiagnosticStatus(level=bytes([status.level]), name=f"{NAME}: {cam}", hardware_id=cam,
                                               message=status.message,
                                               values=[KeyValue(key=k, value=v) for k, v in status.values.items()]))
        self.diagnostics.publish(msg)

    def close(self, timeout: float = SHUTDOWN_TIMEOUT_S) -> None:
        """Stop the core (bounded); afterwards nothing is published, so the node can be destroyed."""
        if not hasattr(self, "core"):
            return
        if self.core.shutdown(timeout):
            self.core.engine.close()  # not under an inference still running
        for cam, counts in self.core.summary().items():
            self.get_logger().info(f"{cam}: " + ", ".join(f"{counts[k]} {k}" for k in COUNTERS))


class StopRequest:
    """SIGINT/SIGTERM, or the executor ending, wake the main thread through a pipe.

    CPython writes a byte to the wakeup fd from its C-level handler: no lock is taken inside a
    signal handler (an ``Event.set`` there can deadlock), and a signal that arrives while the engine
    is still being built is kept until the main thread asks.
    """

    def __init__(self) -> None:
        self._read, self._write = os.pipe()
        os.set_blocking(self._write, False)
        self._handlers = {sig: signal.signal(sig, lambda *_: None) for sig in (signal.SIGINT, signal.SIGTERM)}
        self._wakeup = signal.set_wakeup_fd(self._write)

    def set(self) -> None:
        try:
            os.write(self._write, b"x")
        except BlockingIOError:  # the pipe is full of requests already
            pass

    def wait(self) -> None:
        os.read(self._read, 1)

    def close(self) -> None:
        signal.set_wakeup_fd(self._wakeup)
        for sig, handler in self._handlers.items():
            signal.signal(sig, handler)
        os.close(self._read)
        os.close(self._write)


def _spin(executor: SingleThreadedExecutor, stop: StopRequest) -> None:
    try:
        executor.spin()
    except ExternalShutdownException:  # the context was shut down by someone else
        pass
    finally:
        stop.set()


def main(args: list[str] | None = None) -> int:
    """SIGINT and SIGTERM (ros2 launch, systemd, docker) end the node cleanly with exit code 0.

    rclpy's own handlers would shut the context down at once, from their own thread, while the
    inference thread may be publishing; here a signal only wakes the main thread, which stops the
    executor and the inference (bounded) before it destroys the node and the context.
    """
    rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO)
    stop = StopRequest()
    node = executor = spinner = None
    stopping = 0.0
    try:
        try:
            node = DerainSegNode()
        except DerainSegError as exc:  # bad parameters, no model, no backend: one line, no traceback
            rclpy.logging.get_logger(NAME).fatal(str(exc))
            return 1
        executor = SingleThreadedExecutor()
        executor.add_node(node)
        spinner = threading.Thread(target=_spin, args=(executor, stop), name="derain-seg-spin", daemon=True)
        spinner.start()
        stop.wait()
        stopping = time.monotonic()
        node.get_logger().info("shutting down")
        return 0
    finally:
        if executor is not None:
            executor.shutdown(timeout_sec=1.0)
            spinner.join(1.0)
        if node is not None:
            node.close()
            node.destroy_node()
        rclpy.try_shutdown()
        stop.close()
        if stopping:
            rclpy.logging.get_logger(NAME).info(f"stopped in {time.monotonic() - stopping:.2f} s")


if __name__ == "__main__":
    raise SystemExit(main())
