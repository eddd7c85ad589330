"""derain_seg_node: the thin rclpy adapter. Parameters, QoS, topics, camera_info, diagnostics, lifecycle
and shutdown only; the frame logic lives in ``node_core``, the rules in ``params`` and ``diagnostics``.

Two node classes share one set of stages (``DerainSegStages``): ``DerainSegNode`` runs them all at
construction (the simple use: start and go), ``DerainSegLifecycleNode`` runs them from the lifecycle
transitions, so a supervisor can bring a camera stack up in order: configure loads or builds the
engine, activate subscribes and publishes, deactivate stops work (the engine stays loaded), cleanup
frees the engine (and the GPU memory it holds).
"""

from __future__ import annotations

import array
import os
import select
import signal
import sys
import threading
import time
from functools import partial

import rclpy
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor, ParameterType
from rclpy.event_handler import PublisherEventCallbacks
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
from rclpy.signals import SignalHandlerOptions
from sensor_msgs.msg import CameraInfo, CompressedImage, Image

from derain_seg_ros.errors import DerainSegError
from derain_seg_ros.ros.diagnostics import COUNTERS, CameraMonitor, engine_status
from derain_seg_ros.ros.image_msg import check_message, compressed_to_rgb, image_fields, image_to_rgb
from derain_seg_ros.ros.node_core import NodeCore, Result, describe_exception
from derain_seg_ros.ros.outputs import (
    CAMERA_INFO_IN,
    CAMERA_INFO_OUT,
    COMPRESSED,
    ENCODING,
    LABEL_RAW,
    input_topic,
    output_topic,
)
from derain_seg_ros.ros.params import (
    SPECS,
    TRANSPORTS,
    NodeParams,
    ParameterError,
    Spec,
    camera_problems,
    transport_parameter,
    typed_values,
    validate,
)
from derain_seg_ros.runtime.engine_spec import EngineSpec
from derain_seg_ros.runtime.factory import EngineChoice, choose_engine
from derain_seg_ros.runtime.raw_labels import rainy_segmenter
from derain_seg_ros.runtime.shipped import resolve_checkpoint
from derain_seg_ros.runtime.trt_engine import BuildCancelled

NAME = "derain_seg_node"
SHUTDOWN_TIMEOUT_S = 2.5  # for an inference in flight; ros2 launch escalates after 5 s, and exiting takes ~1 s more
LOG_PERIOD_S = 5.0  # at most one line per kind of per-frame problem and camera in this time
OUTPUT_QOS = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE)


def output_events() -> PublisherEventCallbacks:
    """No QoS event handlers on the node's own publishers (outputs, camera_info, /diagnostics).

    rclpy gives every publisher two by default (incompatible QoS, incompatible type), and the
    SingleThreadedExecutor puts each one in the wait set it rebuilds on every wake-up, i.e. for every
    camera message: for the 9 publishers of two cameras that was ~80 us of the executor thread per
    message, four times the frame callback itself. A subscriber that asks for an incompatible QoS or
    type still says so on its own side (rclcpp, rclpy and rviz subscriptions warn by default); the
    input subscriptions keep rclpy's handlers, so a camera the node cannot hear is still logged here.
    """
    return PublisherEventCallbacks(use_default_callbacks=False)


PARAMETER_TYPES = {
    "bool": ParameterType.PARAMETER_BOOL,
    "integer": ParameterType.PARAMETER_INTEGER,
    "double": ParameterType.PARAMETER_DOUBLE,
    "string": ParameterType.PARAMETER_STRING,
    "string_array": ParameterType.PARAMETER_STRING_ARRAY,
}


def engine_spec(params: NodeParams, stop=None) -> EngineSpec:
    """What the node asks for: a named backend runs as asked or not at all unless ``fallback``; ``auto`` falls back."""
    return EngineSpec(
        params.backend,
        resolve_checkpoint(params.checkpoint or None),
        precision=params.precision,
        size=params.process_size,
        batch=params.batch,
        device=params.device or None,
        cuda_graph=params.cuda_graph,
        cache_dir=params.engine_cache_dir or None,
        fallback=params.backend == "auto" or params.fallback,
        stop=stop,
    )


def build_engine(params: NodeParams, stop=None) -> EngineChoice:
    """The one place the node builds its engine (no checkpoint: the shipped embedded model); ``stop()``
    turning True cancels a long build (``BuildCancelled``)."""
    return choose_engine(engine_spec(params, stop))


def descriptor(spec: Spec, description: str | None = None) -> ParameterDescriptor:
    """Statically typed (``ros2 param describe`` shows the type), with the spec's range as a range;
    read-only: parameters are read once, so a ``ros2 param set`` that changed nothing is refused."""
    d = ParameterDescriptor(
        description=description or spec.description,
        additional_constraints=spec.constraints(),
        read_only=True,
        type=PARAMETER_TYPES[spec.kind],
    )
    if spec.kind == "integer":
        d.integer_range = [IntegerRange(from_value=int(spec.low), to_value=int(spec.high), step=0)]
    elif spec.kind == "double":
        d.floating_point_range = [FloatingPointRange(from_value=float(spec.low), to_value=float(spec.high), step=0.0)]
    return d


TRANSPORT_SPEC = Spec("<cam>.transport", "raw", "input transport of one camera", TRANSPORTS)


class DerainSegStages:
    """What both node classes do, stage by stage; mixed into an rclpy ``Node`` (or ``LifecycleNode``)."""

    should_stop = None  # () -> bool: a signal arrived (polled during a long engine build)
    on_fatal = None  # (str) -> None: a worker thread died; the process must end non-zero
    choice: EngineChoice | None = None
    core: NodeCore | None = None

    def diagnostic_name(self) -> str:
        """The node's own name with its namespace: two instances, or a renamed one, never share a status."""
        return self.get_fully_qualified_name().lstrip("/")

    # -- configure -----------------------------------------------------------------------------------
    def _read_parameters(self) -> NodeParams:
        """Validate what the params file and the command line gave (every problem in one message), then
        declare each parameter typed, with the value it was validated as (``overlay_alpha: 1`` -> 1.0)."""
        if self.has_parameter("cameras"):  # configured before (a lifecycle cleanup and configure again)
            return validate({name: self.get_parameter(name).value for name in self._declared})
        given = {name: p.value for name, p in self._parameter_overrides.items()}  # rclpy keeps no public copy
        values = {s.name: given.get(s.name, s.default) for s in SPECS}
        cameras = [] if camera_problems(values["cameras"]) else list(values["cameras"])
        for cam in cameras:
            values[transport_parameter(cam)] = given.get(transport_parameter(cam), values["transport"])
        params = validate(values)
        typed = typed_values(values)
        for s in SPECS:
            self.declare_parameter(s.name, typed[s.name], descriptor(s), ignore_override=True)
        for cam in cameras:
            name = transport_parameter(cam)
            self.declare_parameter(
                name, values[name], descriptor(TRANSPORT_SPEC, f"input transport of camera {cam}"), ignore_override=True
            )
        self._declared = [s.name for s in SPECS] + [transport_parameter(cam) for cam in cameras]
        return params

    def configure(self) -> None:
        """Read the parameters and load or build the engine; raises DerainSegError with one line."""
        p = self.params = self._read_parameters()
        started = time.perf_counter()
        choice = build_engine(p, self.should_stop)
        self.segment_rainy = rainy_segmenter(choice.engine) if LABEL_RAW in p.outputs else None
        if LABEL_RAW in p.outputs and self.segment_rainy is None:
            choice.engine.close()
            raise ParameterError(
                f"publish_label_raw runs the segmenter on the rainy frame, which only the torch backend "
                f"can do (the {choice.engine.name} engine is one compiled graph); set backend: torch "
                "or publish_label_raw: false"
            )
        self.choice = choice
        summary = choice.summary() if choice.spec is not None else choice.engine.name
        self.get_logger().info(f"engine {choice.engine.name} ready in {time.perf_counter() - started:.1f} s: {summary}")
        if choice.changed:  # to /rosout, beside /diagnostics: what runs is not what was asked first
            self.get_logger().warning(f"backend {p.backend} asked; running {summary}")
        self.camera_info: dict[str, CameraInfo | None] = dict.fromkeys(p.cameras)
        self.monitors: dict[str, CameraMonitor] = {}
        self.diagnostics = self.create_publisher(DiagnosticArray, "/diagnostics", 10, event_callbacks=output_events())
        self.diagnostics_timer = self.create_timer(p.diagnostics_period_s, self._publish_diagnostics)

    # -- activate / deactivate -----------------------------------------------------------------------
    def activate(self) -> None:
        p = self.params
        self.pubs = {
            (cam, topic): self.create_publisher(
                Image, output_topic(cam, topic), OUTPUT_QOS, event_callbacks=output_events()
            )
            for cam in p.cameras
            for topic in p.outputs
        }
        self.info_pubs = {
            cam: self.create_publisher(
                CameraInfo, output_topic(cam, CAMERA_INFO_OUT), OUTPUT_QOS, event_callbacks=output_events()
            )
            for cam in p.cameras
        }
        self.published = {key: 0 for key in self.pubs}  # per output: messages sent (lazy outputs send none)
        self.core = NodeCore(
            self.choice.engine,
            list(p.cameras),
            self._publish,
            process_size=p.process_size,
            overlay_alpha=p.overlay_alpha,
            wanted=self._wanted,
            logger=self.get_logger(),
            log_period_s=LOG_PERIOD_S,
            stamp_ns=stamp_ns,
            age=self._age,
            segment_rainy=self.segment_rainy,
            on_crash=self._crash,
        )
        input_qos = (
            qos_profile_sensor_data
            if p.input_reliability == "best_effort"
            else QoSProfile(depth=qos_profile_sensor_data.depth, reliability=ReliabilityPolicy.RELIABLE)
        )
        self.subs = []
        for cam in p.cameras:
            compressed = p.transports[cam] == COMPRESSED
            topic = input_topic(cam, p.transports[cam], p.input_topic)
            self.subs.append(
                self.create_subscription(
                    CompressedImage if compressed else Image,
                    topic,
                    partial(self._on_frame, cam, compressed_to_rgb if compressed else image_to_rgb),
                    input_qos,
                )
            )
            self.subs.append(
                self.create_subscription(
                    CameraInfo, f"{cam}/{CAMERA_INFO_IN}", partial(self._on_camera_info, cam), qos_profile_sensor_data
                )
            )
        now = time.monotonic()
        self.monitors = {cam: CameraMonitor(now, p.diagnostics_window, p.min_rate_hz) for cam in p.cameras}
        inputs = ", ".join(input_topic(cam, p.transports[cam], p.input_topic) for cam in p.cameras)
        self.get_logger().info(f"listening on {inputs}")

    def deactivate(self, timeout: float = SHUTDOWN_TIMEOUT_S) -> bool:
        """Stop taking frames and stop the core (bounded); the engine stays loaded. True if the core ended in time."""
        for sub in getattr(self, "subs", []):
            self.destroy_subscription(sub)
        self.subs = []
        core, self.core = self.core, None
        if core is None:
            return True
        done = core.shutdown(timeout)
        for cam, counts in core.summary().items():
            self.get_logger().info(f"{cam}: " + ", ".join(f"{counts[k]} {k}" for k in COUNTERS))
        for pub in [*self.pubs.values(), *self.info_pubs.values()]:
            self.destroy_publisher(pub)
        self.pubs, self.info_pubs = {}, {}
        return done

    def cleanup(self, engine_idle: bool = True) -> None:
        """Free the engine (not under an inference still running: ``engine_idle`` False leaves it to exit)."""
        choice, self.choice = self.choice, None
        if choice is not None and engine_idle:
            choice.engine.close()
        if getattr(self, "diagnostics_timer", None) is not None:
            self.destroy_timer(self.diagnostics_timer)
            self.destroy_publisher(self.diagnostics)
            self.diagnostics_timer = None

    def close(self, timeout: float = SHUTDOWN_TIMEOUT_S) -> None:
        """Stop everything (bounded); afterwards nothing is published, so the node can be destroyed."""
        done = self.deactivate(timeout)
        self.cleanup(engine_idle=done)

    # -- callbacks -----------------------------------------------------------------------------------
    def _on_frame(self, camera: str, decode, msg) -> None:
        core = self.core
        if core is not None:
            # checked now (its fields), decoded later, in the inference thread, if kept
            core.submit(camera, partial(decode, msg), msg.header, partial(check_message, msg))

    def _on_camera_info(self, camera: str, msg: CameraInfo) -> None:
        self.camera_info[camera] = msg

    def _wanted(self, camera: str) -> set[str]:
        """Outputs with a subscriber now: nothing is computed or sent for the others."""
        return {
            topic for (cam, topic), pub in list(self.pubs.items()) if cam == camera and pub.get_subscription_count() > 0
        }

    def _age(self, header) -> float | None:
        """Seconds from the frame's stamp to now on the node's clock (sim time when use_sim_time): end to end."""
        stamp = stamp_ns(header)
        return (self.get_clock().now().nanoseconds - stamp) / 1e9 if stamp > 0 else None

    def _crash(self, message: str) -> None:
        if self.on_fatal is not None:
            self.on_fatal(message)
        else:
            self.get_logger().fatal(message)

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
        name = self.diagnostic_name()
        if self.choice is not None:
            status = engine_status(self.choice, self.params.backend)
            msg.status.append(diagnostic(f"{name}: engine", self.choice.engine.name, status))
        core = self.core
        now = time.monotonic()
        for cam, (counts, latencies, ages) in core.snapshot().items() if core is not None else ():
            status = self.monitors[cam].update(now, counts, latencies, ages)
            msg.status.append(diagnostic(f"{name}: {cam}", cam, status))
        self.diagnostics.publish(msg)


def diagnostic(name: str, hardware_id: str, status) -> DiagnosticStatus:
    return DiagnosticStatus(
        level=bytes([status.level]),
        name=name,
        hardware_id=hardware_id,
        message=status.message,
        values=[KeyValue(key=k, value=v) for k, v in status.values.items()],
    )


def stamp_ns(header) -> int:
    return header.stamp.sec * 10**9 + header.stamp.nanosec


class DerainSegNode(DerainSegStages, Node):
    """The plain node: configured and active from construction until ``close``."""

    def __init__(self, should_stop=None, on_fatal=None, node_name: str = NAME, **node_kwargs) -> None:
        super().__init__(node_name, **node_kwargs)
        self.should_stop, self.on_fatal = should_stop, on_fatal
        try:
            self.configure()
            self.activate()
        except BaseException:
            self.close()
            self.destroy_node()
            raise


class DerainSegLifecycleNode(DerainSegStages, LifecycleNode):
    """The managed node: each transition returns SUCCESS, or FAILURE with the reason logged in one line."""

    def __init__(self, should_stop=None, on_fatal=None, node_name: str = NAME, **node_kwargs) -> None:
        super().__init__(node_name, **node_kwargs)
        self.should_stop, self.on_fatal = should_stop, on_fatal

    def _transition(self, what: str, step) -> TransitionCallbackReturn:
        try:
            step()
        except DerainSegError as exc:  # bad parameters, no model, no backend, a build stopped
            self.get_logger().error(f"{what} failed: {exc}")
            return TransitionCallbackReturn.FAILURE
        return TransitionCallbackReturn.SUCCESS

    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        return self._transition("configure", self.configure)

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        return self._transition("activate", self.activate)

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        return self._transition("deactivate", self.deactivate)

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        return self._transition("cleanup", self.cleanup)

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        return self._transition("shutdown", self.close)


class StopRequest:
    """SIGINT/SIGTERM, or the executor ending, wake the main thread through a pipe.

    CPython writes a byte to the wakeup fd from its C-level handler: no lock is taken inside a
    signal handler (an ``Event.set`` there can deadlock), and a signal that arrives while the engine
    is still being built is kept until the main thread asks (``requested`` looks without taking it).
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

    def requested(self) -> bool:
        return bool(select.select([self._read], [], [], 0)[0])

    def wait(self) -> None:
        os.read(self._read, 1)

    def close(self) -> None:
        signal.set_wakeup_fd(self._wakeup)
        for sig, handler in self._handlers.items():
            signal.signal(sig, handler)
        os.close(self._read)
        os.close(self._write)


class Fatal:
    """The first fatal error of any thread; recording it wakes the main thread."""

    def __init__(self, stop: StopRequest) -> None:
        self.stop, self.message = stop, None
        self._lock = threading.Lock()

    def __call__(self, message: str) -> None:
        with self._lock:
            self.message = self.message or message
        self.stop.set()


def _spin(executor: SingleThreadedExecutor, stop: StopRequest, fatal: Fatal) -> None:
    try:
        executor.spin()
    except ExternalShutdownException:  # the context was shut down by someone else
        pass
    except BaseException as exc:  # a callback raised: the node is broken, and must say so in its exit code
        fatal(f"a callback raised {describe_exception(exc)}")
    finally:
        stop.set()


def run(node_class: type, args: list[str] | None = None, prepare=None) -> int:
    """SIGINT and SIGTERM (ros2 launch, systemd, docker) end the node cleanly with exit code 0, also
    while the engine builds; a worker thread or callback that dies ends it with code 1 and one line.

    rclpy's own handlers would shut the context down at once, from their own thread, while the
    inference thread may be publishing; here a signal only wakes the main thread, which stops the
    executor and the inference (bounded) before it destroys the node and the context.
    """
    rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO)
    stop = StopRequest()
    fatal = Fatal(stop)
    node = executor = spinner = None
    stopping = 0.0
    log = rclpy.logging.get_logger(NAME)
    try:
        try:
            node = node_class(should_stop=stop.requested, on_fatal=fatal)
            if prepare is not None:
                prepare(node)
        except BuildCancelled as exc:  # a signal during a long engine build: a clean stop
            log.info(f"stopped while building the engine: {exc}")
            return 0
        except DerainSegError as exc:  # bad parameters, no model, no backend: one line, no traceback
            log.fatal(str(exc))
            return 1
        executor = SingleThreadedExecutor()
        executor.add_node(node)
        spinner = threading.Thread(target=_spin, args=(executor, stop, fatal), name="derain-seg-spin", daemon=True)
        spinner.start()
        stop.wait()
        stopping = time.monotonic()
        if fatal.message:
            node.get_logger().fatal(f"stopping: {fatal.message}")
            return 1
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
            log.info(f"stopped in {time.monotonic() - stopping:.2f} s")


def main(args: list[str] | None = None) -> int:
    """``derain_seg_node [--lifecycle] [--ros-args ...]``: ``--lifecycle`` starts the managed node."""
    argv = sys.argv if args is None else args
    lifecycle = "--lifecycle" in rclpy.utilities.remove_ros_args(argv)[1:]
    return run(DerainSegLifecycleNode if lifecycle else DerainSegNode, args)


def main_lifecycle(args: list[str] | None = None) -> int:
    """``derain_seg_lifecycle_node``: starts unconfigured; a supervisor (or ``ros2 lifecycle set``) drives it."""
    return run(DerainSegLifecycleNode, args)


if __name__ == "__main__":
    raise SystemExit(main())
