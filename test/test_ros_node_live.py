"""The real node on real ROS 2 (rclpy, Fast DDS on loopback, a random domain per session): a probe
node publishes camera streams at camera rate with BEST_EFFORT publishers and checks what comes back.

One node process serves most tests (started once: a small random pipeline saved by the test); the
drop policy and lazy outputs run the node in-process with a fake engine; the signal tests start
their own processes. Every wait is on a condition with a timeout.
"""

from __future__ import annotations

import re
import signal
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from ros_harness import (
    BEST_EFFORT,
    FAKE_CHOICE_PRELUDE,
    InProcessNode,
    NodeProcess,
    Probe,
    choice_of,
    compressed_msg,
    image_msg,
    stamp_ns,
    write_params,
)

# isort: split
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus  # after ros_harness: it isolates DDS first
from rcl_interfaces.msg import Log, Parameter, ParameterType, ParameterValue
from rcl_interfaces.srv import DescribeParameters, GetParameters, SetParameters
from rclpy.lifecycle import TransitionCallbackReturn
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, CompressedImage, Image

from derain_seg_ros.nets.config import PipelineConfig
from derain_seg_ros.nets.pipeline import DerainSegPipeline
from derain_seg_ros.ros import node as node_module
from derain_seg_ros.ros import outputs
from derain_seg_ros.ros.outputs import COLOR, DERAINED, LABEL, OUTPUT_TOPICS
from derain_seg_ros.ros.params import ParameterError, validate
from derain_seg_ros.runtime.checkpoint import CheckpointError, save_checkpoint
from derain_seg_ros.runtime.engine import EngineOutput

RATE_HZ = 10.0
FRONT, REAR = (32, 48), (24, 40)  # the two cameras' frame sizes (H, W)
BASE_NS = 1_700_000_000_000_000_000
ROSOUT_QOS = 100


def stamp_of(i: int) -> int:
    return BASE_NS + i * 100_000_000


def scene(i: int, shape: tuple[int, int]) -> np.ndarray:
    rng = np.random.default_rng(i)
    return rng.integers(0, 256, (*shape, 3), dtype=np.uint8)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_checkpoint(
        tmp_path_factory.mktemp("ckpt") / "small.pt", DerainSegPipeline.from_config(PipelineConfig.small())
    )


@pytest.fixture(scope="module")
def probe():
    probe = Probe()
    yield probe
    probe.close()


@pytest.fixture(scope="module")
def live(checkpoint: Path, probe: Probe, tmp_path_factory: pytest.TempPathFactory):
    """The node as its own process: front raw, rear compressed (rear.transport), silent never sends."""
    params = write_params(
        tmp_path_factory.mktemp("params") / "node.yaml",
        {
            "cameras": ["front", "rear", "silent"],
            "transport": "raw",
            "rear": {"transport": "compressed"},
            "checkpoint": str(checkpoint),
            "backend": "torch",
            "precision": "fp32",
            "batch": 2,
            "diagnostics_period_s": 0.25,
            "diagnostics_window": 4,
        },
    )
    for cam in ("front", "rear"):
        for topic in OUTPUT_TOPICS:
            probe.subscribe(Image, f"/{cam}/{topic}")
    probe.subscribe(CameraInfo, "/front/derained/camera_info")
    probe.subscribe(DiagnosticArray, "/diagnostics")
    probe.subscribe(Log, "/rosout", ROSOUT_QOS)
    node = NodeProcess(params)
    try:
        node.wait_for_line("listening on", timeout=120)
        streams = {
            "front": probe.stream(
                Image,
                "/front/image_raw",
                lambda i: image_msg(scene(i, FRONT), stamp_of(i), "front_optical", "bgr8"),
                RATE_HZ,
                BEST_EFFORT,
            ),
            "rear": probe.stream(
                CompressedImage,
                "/rear/image_raw/compressed",
                lambda i: compressed_msg(scene(i, REAR), stamp_of(i), "rear_optical"),
                RATE_HZ,
                BEST_EFFORT,
            ),
        }
        yield node, streams
    finally:
        node.kill()


def sent_stamps(stream) -> set[int]:
    return {stamp_ns(m.header) for m in list(stream.sent)}


def statuses(probe: Probe, name: str) -> list[DiagnosticStatus]:
    return [
        s for array_ in probe.messages("/diagnostics") for s in array_.status if s.name == f"derain_seg_node: {name}"
    ]


def test_raw_and_compressed_cameras_come_out_with_their_stamps_and_frame_ids(live, probe: Probe) -> None:
    _, streams = live
    for cam, shape, frame_id in (("front", FRONT, "front_optical"), ("rear", REAR, "rear_optical")):
        for topic in OUTPUT_TOPICS:
            messages = probe.wait_for_count(f"/{cam}/{topic}", 5)
            assert {m.header.frame_id for m in messages} == {frame_id}
            assert {stamp_ns(m.header) for m in messages} <= sent_stamps(streams[cam])
            assert {(m.height, m.width, m.encoding, m.step) for m in messages} == {
                (*shape, outputs.ENCODING[topic], shape[1] * (1 if topic == LABEL else 3))
            }
    labels = probe.messages("/front/segmentation/label")[0]
    assert max(labels.data) < 19  # trainIds


def test_camera_info_is_republished_with_each_output_stamp(live, probe: Probe) -> None:
    info = CameraInfo(
        height=FRONT[0], width=FRONT[1], distortion_model="plumb_bob", k=[40.0, 0, 24, 0, 40, 16, 0, 0, 1]
    )
    info.header.frame_id = "front_optical"
    stream = probe.stream(CameraInfo, "/front/camera_info", [info] * 20, 5.0)
    try:
        restamped = probe.wait_for_count("/front/derained/camera_info", 3)
    finally:
        stream.stop()
    derained_stamps = {stamp_ns(m.header) for m in probe.messages("/front/derained/image")}
    assert all(stamp_ns(m.header) in derained_stamps for m in restamped)
    assert all(
        m.header.frame_id == "front_optical" and list(m.k) == list(info.k) and m.width == FRONT[1] for m in restamped
    )


def test_a_truncated_frame_is_rejected_counted_and_logged_once(live, probe: Probe) -> None:
    node, _ = live
    bad = image_msg(scene(0, FRONT), stamp_of(0), "front_optical")
    bad.data = bad.data[: len(bad.data) // 3]
    stream = probe.stream(Image, "/front/image_raw", [bad] * 5, 20.0, BEST_EFFORT)
    assert stream.done.wait(10)

    def rejected() -> int:
        return max(
            (int(dict((v.key, v.value) for v in s.values)["rejected since start"]) for s in statuses(probe, "front")),
            default=0,
        )

    # (the good front stream goes on beside them: under load DDS may drop a frame or two, hence ">= 2")
    probe.wait_for(lambda: rejected() >= 2, what="rejected frames counted in /diagnostics")

    def rosout_lines() -> list[Log]:
        return [m for m in probe.messages("/rosout") if m.name == "derain_seg_node" and "rejected a bad frame" in m.msg]

    probe.wait_for(lambda: rosout_lines(), what="the warning on /rosout")
    warned = [s for s in statuses(probe, "front") if s.level == DiagnosticStatus.WARN]
    assert warned and "bad frame(s) rejected" in warned[-1].message
    lines = rosout_lines()
    assert (
        len(lines) == 1 and "data holds" in lines[0].msg and lines[0].level == Log.WARN
    )  # throttled: one line for all
    probe.wait_for(lambda: statuses(probe, "front")[-1].level == DiagnosticStatus.OK, what="the warning to age out")
    assert node.process.poll() is None


def test_diagnostics_show_rates_latency_and_a_silent_camera_as_stale(live, probe: Probe) -> None:
    probe.wait_for(lambda: any(s.level == DiagnosticStatus.OK for s in statuses(probe, "rear")), what="rear OK")
    rear = [s for s in statuses(probe, "rear") if s.level == DiagnosticStatus.OK][-1]
    values = {v.key: v.value for v in rear.values}
    assert float(values["input rate (Hz)"]) > 2.0 and float(values["output rate (Hz)"]) > 0.3  # 10 Hz in; a loaded CPU
    assert float(values["latency p50 (ms)"]) > 0.0 and float(values["window (s)"]) == pytest.approx(1.0, abs=0.3)
    silent = statuses(probe, "silent")[-1]
    assert (silent.level, silent.message) == (DiagnosticStatus.STALE, "no input yet")


def _call(probe: Probe, srv_type, name: str, request):
    client = probe.node.create_client(srv_type, name)
    assert client.wait_for_service(timeout_sec=20), f"no service {name}"
    future = client.call_async(request)
    done = threading.Event()
    future.add_done_callback(lambda _: done.set())
    assert done.wait(20), f"{name} did not answer"
    return future.result()


def test_parameters_are_read_only_so_a_param_set_is_refused(live, probe: Probe) -> None:
    """What `ros2 param set /derain_seg_node overlay_alpha 0.9` does: the SetParameters service."""
    value = ParameterValue(type=ParameterType.PARAMETER_DOUBLE, double_value=0.9)
    result = _call(
        probe,
        SetParameters,
        "/derain_seg_node/set_parameters",
        SetParameters.Request(parameters=[Parameter(name="overlay_alpha", value=value)]),
    ).results[0]
    assert not result.successful and "read-only" in result.reason
    got = _call(probe, GetParameters, "/derain_seg_node/get_parameters", GetParameters.Request(names=["overlay_alpha"]))
    assert got.values[0].double_value == 0.5
    described = _call(
        probe,
        DescribeParameters,
        "/derain_seg_node/describe_parameters",
        DescribeParameters.Request(names=["overlay_alpha", "rear.transport"]),
    ).descriptors
    assert all(d.read_only for d in described) and "<= 1" in described[0].additional_constraints


class GatedEngine:
    """Inverts frames; ``gate`` holds every call (a slow GPU)."""

    name, max_batch = "gated", 1

    def __init__(self) -> None:
        self.gate, self.entered = threading.Event(), threading.Event()
        self.gate.set()

    def infer(self, frames):
        self.entered.set()
        assert self.gate.wait(30)
        batch = np.stack(frames)
        return EngineOutput(255 - batch, batch[..., 0].copy())

    def close(self) -> None:
        pass


@pytest.fixture
def gated(monkeypatch):
    engine = GatedEngine()
    monkeypatch.setattr(node_module, "build_engine", lambda params, stop=None: choice_of(engine))
    return engine


def test_under_a_slow_engine_the_newest_frame_wins_and_the_rest_are_counted_dropped(gated, probe: Probe) -> None:
    node = InProcessNode({"cameras": ["slow"]})
    core = node.node.core
    arrived: list[int] = []  # stamps as the node's subscription delivered them (DDS may lose a BEST_EFFORT frame)
    submit = core.submit

    def recording_submit(camera, decode, header, check=None):
        arrived.append(stamp_ns(header))
        return submit(camera, decode, header, check)

    core.submit = recording_submit
    try:
        probe.subscribe(Image, "/slow/derained/image")
        # no frame is inferred while no output has a subscriber: wait until the node sees the probe's
        assert core.wait_for(lambda: node.node.pubs[("slow", DERAINED)].get_subscription_count() > 0, 20)
        gated.gate.clear()
        frames = [image_msg(scene(i, (16, 24)), stamp_of(i), "slow_optical") for i in range(12)]
        stream = probe.stream(Image, "/slow/image_raw", frames, 20.0, BEST_EFFORT)
        assert stream.done.wait(30) and gated.entered.wait(10)
        # keep-last history never loses the newest frame: wait for it, then let the engine go
        assert core.wait_for(lambda: stamp_of(11) in arrived, 10), arrived
        gated.gate.set()
        out = probe.wait_for_count("/slow/derained/image", 2)
        assert core.wait_for(lambda: core.stats["slow"].counts["processed"] == 2, 10)
    finally:
        node.close()
    counts = core.summary()["slow"]
    assert [stamp_ns(m.header) for m in out] == [
        arrived[0],
        stamp_of(11),
    ]  # the first, then the newest, not the oldest waiting
    assert len(arrived) >= 3 and (counts["received"], counts["processed"], counts["dropped"]) == (
        len(arrived),
        2,
        len(arrived) - 2,
    )


def test_outputs_nobody_subscribes_to_are_neither_computed_nor_published(gated, probe: Probe, monkeypatch) -> None:
    overlays = []
    real_overlay = outputs.overlay
    monkeypatch.setattr(outputs, "overlay", lambda *a, **k: overlays.append(1) or real_overlay(*a, **k))
    node = InProcessNode({"cameras": ["lazy"]})
    try:
        probe.subscribe(Image, "/lazy/derained/image")
        stream = probe.stream(
            Image, "/lazy/image_raw", lambda i: image_msg(scene(i, (16, 24)), stamp_of(i), "lazy"), RATE_HZ, BEST_EFFORT
        )
        probe.wait_for_count("/lazy/derained/image", 3)
        published = dict(node.node.published)
        overlays_before = len(overlays)
        probe.subscribe(Image, "/lazy/segmentation/color")
        probe.wait_for_count("/lazy/segmentation/color", 2)
        stream.stop()
    finally:
        node.close()
    assert published[("lazy", DERAINED)] >= 3 and published[("lazy", LABEL)] == published[("lazy", COLOR)] == 0
    assert overlays_before == 0 and len(overlays) >= 2


@pytest.mark.parametrize("sig, infer_s", [(signal.SIGINT, 1.0), (signal.SIGTERM, 60.0)], ids=["SIGINT", "SIGTERM"])
def test_a_signal_ends_the_node_cleanly_within_launch_timeout(
    sig: int, infer_s: float, probe: Probe, tmp_path: Path
) -> None:
    """SIGINT with an inference that ends in time (its result goes out), SIGTERM (ros2 launch, systemd,
    docker) with one that never would: both exit 0 well inside launch's 5 s, with no traceback and no
    publish on a dead context."""
    prelude = (
        FAKE_CHOICE_PRELUDE
        + f"""
import time, numpy as np
from derain_seg_ros.ros import node as node_module
from derain_seg_ros.runtime.engine import EngineOutput
class SlowEngine:
    name, max_batch = "slow", 1
    def infer(self, frames):
        print("inference started", flush=True)
        time.sleep({infer_s})  # the GPU at work
        return EngineOutput(np.stack(frames), np.stack(frames)[..., 0].copy())
    def close(self):
        pass
node_module.build_engine = lambda params, stop=None: choice_of(SlowEngine())
"""
    )
    cam = f"sig{sig}"
    probe.subscribe(Image, f"/{cam}/derained/image")
    node = NodeProcess(write_params(tmp_path / "p.yaml", {"cameras": [cam]}), prelude)
    try:
        node.wait_for_line("listening on")
        stream = probe.stream(
            Image, f"/{cam}/image_raw", lambda i: image_msg(scene(i, (16, 24)), stamp_of(i), cam), RATE_HZ, BEST_EFFORT
        )
        node.wait_for_line("inference started")
        code, seconds = node.stop(sig)
        stream.stop()
    finally:
        node.kill()
    log = node.output()
    assert code == 0, log
    stopped_in = float(re.search(r"stopped in ([0-9.]+) s", log).group(1))
    assert stopped_in < 3.5, log  # the node's own part (2.5 s bound); exiting the interpreter adds ~1 s on an idle core
    assert seconds < 60, f"took {seconds:.1f} s to exit"  # the whole process: generous, as shared CI cores are slow
    for bad in ("Traceback", "context is invalid", "publishing failed", "ExternalShutdownException"):
        assert bad not in log, log
    assert "shutting down" in log
    processed = int(re.search(rf"{cam}: \d+ received, (\d+) processed", log).group(1))
    if infer_s < 2.5:  # ended within the bound: its result went out while the node was still there
        assert processed >= 1 and "still running" not in log, log
    else:  # abandoned: never published, and the process did not wait for it
        assert processed == 0 and "an inference was still running" in log, log


def test_invalid_parameters_stop_the_node_with_one_clear_line(tmp_path: Path, capfd) -> None:
    params = write_params(
        tmp_path / "p.yaml",
        {"overlay_alpha": 2.0, "input_reliability": "best-effort", "process_height": 512, "process_width": 0},
    )
    assert node_module.main(["derain_seg_node", "--ros-args", "--params-file", str(params)]) == 1
    log = capfd.readouterr().err
    assert "Traceback" not in log
    (line,) = [line for line in log.splitlines() if "invalid parameters" in line]
    assert "FATAL" in line and "overlay_alpha" in line and "input_reliability" in line and "process_width" in line


def test_an_integer_overlay_alpha_is_taken_as_a_float(gated) -> None:
    node = InProcessNode({"cameras": ["cam"], "overlay_alpha": 1})
    try:
        assert node.node.params.overlay_alpha == 1.0
    finally:
        node.close()


def test_without_a_checkpoint_the_node_runs_the_shipped_model(checkpoint: Path, monkeypatch, tmp_path: Path) -> None:
    from derain_seg_ros.runtime import shipped

    monkeypatch.setattr(shipped, "MODELS_DIR", tmp_path)
    with pytest.raises(CheckpointError, match="shipped model"):
        node_module.build_engine(validate({"backend": "torch", "precision": "fp32"}))
    (tmp_path / shipped.SHIPPED_NAME).write_bytes(checkpoint.read_bytes())
    engine = node_module.build_engine(validate({"backend": "torch", "precision": "fp32"})).engine
    out = engine.infer([scene(0, (16, 24))])
    assert out.derained.shape == (1, 16, 24, 3)


def test_bad_parameters_raise_before_any_engine_is_built(monkeypatch) -> None:
    built = []
    monkeypatch.setattr(node_module, "build_engine", lambda params, stop=None: built.append(params))
    with pytest.raises(ParameterError, match="rear.transport must be one of raw, compressed"):
        InProcessNode({"cameras": ["front", "rear"], "rear.transport": "h264"})
    assert built == []


# -- the node as a car would run it ---------------------------------------------------------------------


def fresh_stamp(offset_s: float = 0.0) -> int:
    return time.time_ns() + int(offset_s * 1e9)


def values_of(status: DiagnosticStatus) -> dict[str, str]:
    return {v.key: v.value for v in status.values}


def test_a_callback_that_raises_ends_the_node_with_exit_code_1_and_one_line(probe: Probe, tmp_path: Path) -> None:
    """launch's respawn and systemd's Restart=on-failure only fire on a non-zero exit."""
    prelude = (
        FAKE_CHOICE_PRELUDE
        + """
from derain_seg_ros.ros import node as node_module
class Idle:
    name, max_batch = "idle", 1
    def infer(self, frames): raise AssertionError("not reached")
    def close(self): pass
def broken(self, camera, msg):
    raise RuntimeError("camera_info handler broke")
node_module.build_engine = lambda params, stop=None: choice_of(Idle())
node_module.DerainSegStages._on_camera_info = broken
"""
    )
    node = NodeProcess(write_params(tmp_path / "p.yaml", {"cameras": ["crashy"]}), prelude)
    try:
        node.wait_for_line("listening on", timeout=180)  # a process start on a busy shared core can take a minute
        stream = probe.stream(CameraInfo, "/crashy/camera_info", lambda i: CameraInfo(), RATE_HZ)
        code = node.process.wait(60)
        stream.stop()
    finally:
        node.kill()
    log = node.output()
    assert code == 1, log
    fatal = [line for line in log.splitlines() if "FATAL" in line]
    assert len(fatal) == 1 and "RuntimeError: camera_info handler broke at " in fatal[0], log
    assert "Traceback" not in log


def test_a_named_backend_that_cannot_run_stops_the_node_at_start_in_one_line(
    checkpoint: Path, tmp_path: Path, capfd
) -> None:
    for backend, extra, expected in (
        ("tensorrt", {}, "backend tensorrt cannot run here"),
        ("torch", {"precision": "fp16"}, "backend torch cannot run here (fp16 needs a CUDA"),
        ("torch", {"precision": "fp32", "device": "cuda"}, "device cuda asked for"),
    ):
        if extra.get("device") == "cuda" or extra.get("precision") == "fp16" or backend == "tensorrt":
            import torch

            if torch.cuda.is_available():
                pytest.skip("a GPU is present: these backends can run")
        params = write_params(
            tmp_path / "p.yaml", {"cameras": ["cam"], "checkpoint": str(checkpoint), "backend": backend, **extra}
        )
        assert node_module.main(["derain_seg_node", "--ros-args", "--params-file", str(params)]) == 1
        log = capfd.readouterr().err
        (line,) = [line for line in log.splitlines() if "FATAL" in line]
        assert expected in line and "Traceback" not in log, log


def test_auto_falls_back_and_says_so_in_diagnostics_and_rosout(checkpoint: Path, probe: Probe) -> None:
    probe.subscribe(
        Log,
        "/rosout",
        QoSProfile(depth=1000, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL),
    )
    probe.subscribe(DiagnosticArray, "/diagnostics")
    node = InProcessNode(
        {"cameras": ["auto"], "checkpoint": str(checkpoint), "backend": "auto", "diagnostics_period_s": 0.2},
        node_name="auto_node",
    )
    try:

        def engine_statuses() -> list[DiagnosticStatus]:
            return [s for a in probe.messages("/diagnostics") for s in a.status if s.name == "auto_node: engine"]

        probe.wait_for(lambda: engine_statuses(), what="the engine status")
        probe.wait_for(
            lambda: any(
                m.name == "auto_node" and "backend auto asked; running" in m.msg for m in probe.messages("/rosout")
            ),
            what="the fallback on /rosout",
        )
    finally:
        node.close()
    status = engine_statuses()[-1]
    values = values_of(status)
    assert status.level == DiagnosticStatus.WARN and "not as asked" in status.message
    assert values["backend"] in ("onnxruntime", "torch")
    assert values["backend asked"] == "auto" and "tensorrt:" in values["skipped"]
    assert values["precision asked"] == "fp16" and values["precision"] == "fp32" and values["device"] == "cpu"
    assert values["engine cache"].startswith("not used") and values["CUDA graph"] == "false"


def test_no_inference_while_no_output_has_a_subscriber(gated, probe: Probe) -> None:
    node = InProcessNode({"cameras": ["nobody"]})
    core = node.node.core
    try:
        stream = probe.stream(
            Image, "/nobody/image_raw", lambda i: image_msg(scene(i, (16, 24)), stamp_of(i), "n"), RATE_HZ, BEST_EFFORT
        )
        assert core.wait_for(lambda: core.stats["nobody"].counts["received"] >= 4, 20)
        assert not gated.entered.is_set()
        counts = dict(core.stats["nobody"].counts)
        assert counts["idle"] == counts["received"] and counts["processed"] == 0
        probe.subscribe(Image, "/nobody/segmentation/label")
        probe.wait_for_count("/nobody/segmentation/label", 2)
        stream.stop()
    finally:
        node.close()
    assert gated.entered.is_set()


def test_lost_frames_and_stamp_to_publish_latency_show_in_diagnostics(gated, probe: Probe) -> None:
    """Every fourth stamp never arrives (a driver or DDS lost it); stamps are ~3 s old when they come."""
    base = fresh_stamp(-3.0)
    node = InProcessNode({"cameras": ["gappy"], "diagnostics_period_s": 0.25, "diagnostics_window": 40})
    try:
        probe.subscribe(Image, "/gappy/derained/image")
        probe.subscribe(DiagnosticArray, "/diagnostics")
        stream = probe.stream(
            Image,
            "/gappy/image_raw",
            lambda i: image_msg(scene(i, (16, 24)), base + (i + i // 3) * 50_000_000, "g"),
            20.0,
            BEST_EFFORT,
        )

        def latest() -> dict[str, str]:
            found = statuses(probe, "gappy")
            return values_of(found[-1]) if found else {}

        probe.wait_for(
            lambda: int(latest().get("lost since start", 0)) >= 3 and "stamp to publish p50 (ms)" in latest(),
            timeout=30,
            what="lost frames and the stamp-to-publish latency",
        )
        stream.stop()
    finally:
        node.close()
    values = latest()
    assert 1000 < float(values["stamp to publish p50 (ms)"]) < 60_000
    assert int(values["lost since start"]) >= 3


def test_two_nodes_with_their_own_names_publish_their_own_diagnostic_statuses(gated, probe: Probe) -> None:
    probe.subscribe(DiagnosticArray, "/diagnostics")
    node = InProcessNode({"cameras": ["named"], "diagnostics_period_s": 0.2}, node_name="left_derain", namespace="car1")
    try:
        probe.wait_for(
            lambda: (
                {"car1/left_derain: named", "car1/left_derain: engine"}
                <= {s.name for a in probe.messages("/diagnostics") for s in a.status}
            ),
            what="statuses under the node's own name",
        )
    finally:
        node.close()


def test_parameters_are_typed_with_ranges_for_ros2_param_describe(live, probe: Probe) -> None:
    described = _call(
        probe,
        DescribeParameters,
        "/derain_seg_node/describe_parameters",
        DescribeParameters.Request(names=["overlay_alpha", "batch", "cameras", "rear.transport"]),
    ).descriptors
    alpha, batch, cameras, transport = described
    assert (alpha.type, alpha.dynamic_typing) == (ParameterType.PARAMETER_DOUBLE, False)
    assert (alpha.floating_point_range[0].from_value, alpha.floating_point_range[0].to_value) == (0.0, 1.0)
    assert batch.type == ParameterType.PARAMETER_INTEGER and batch.integer_range[0].from_value == 1
    assert cameras.type == ParameterType.PARAMETER_STRING_ARRAY and transport.type == ParameterType.PARAMETER_STRING


def test_label_raw_is_the_pipelines_segmenter_on_the_rainy_frame(checkpoint: Path, probe: Probe) -> None:
    from derain_seg_ros.runtime.checkpoint import load_pipeline
    from derain_seg_ros.runtime.segment_only import segment

    node = InProcessNode(
        {
            "cameras": ["rawseg"],
            "checkpoint": str(checkpoint),
            "backend": "torch",
            "precision": "fp32",
            "publish_label_raw": True,
        }
    )
    try:
        probe.subscribe(Image, "/rawseg/segmentation/label_raw")
        frames = {stamp_of(i): scene(i, (24, 32)) for i in range(100)}
        stream = probe.stream(
            Image, "/rawseg/image_raw", lambda i: image_msg(frames[stamp_of(i)], stamp_of(i), "r"), RATE_HZ, BEST_EFFORT
        )
        msg = probe.wait_for_count("/rawseg/segmentation/label_raw", 1)[0]
        stream.stop()
    finally:
        node.close()
    pipeline = load_pipeline(checkpoint)[0].eval()
    expected = segment(pipeline, frames[stamp_ns(msg.header)])
    got = np.frombuffer(bytes(msg.data), np.uint8).reshape(msg.height, msg.width)
    assert (msg.encoding, got.shape) == ("mono8", (24, 32)) and np.array_equal(got, expected)


def test_label_raw_on_an_engine_that_cannot_segment_alone_is_refused_at_start(gated) -> None:
    with pytest.raises(ParameterError, match="only the torch backend"):
        InProcessNode({"cameras": ["cam"], "publish_label_raw": True})


def test_sigint_while_the_engine_builds_stops_the_build_and_exits_0(tmp_path: Path) -> None:
    """A TensorRT build takes minutes inside one C++ call; the build polls the stop request (faked here)."""
    prelude = """
import time
from derain_seg_ros.ros import node as node_module
from derain_seg_ros.runtime.trt_engine import BuildCancelled
def slow_build(params, stop=None):
    print("building the engine", flush=True)
    while not stop():
        time.sleep(0.05)  # one build step
    raise BuildCancelled("stopped on request after a step")
node_module.build_engine = slow_build
"""
    node = NodeProcess(write_params(tmp_path / "p.yaml", {"cameras": ["building"]}), prelude)
    try:
        node.wait_for_line("building the engine", timeout=180)
        code, seconds = node.stop(signal.SIGINT)
    finally:
        node.kill()
    log = node.output()
    assert code == 0 and "stopped while building the engine" in log and "Traceback" not in log, log
    assert seconds < 30, f"took {seconds:.1f} s"


def test_the_lifecycle_node_builds_on_configure_works_only_when_active_and_frees_on_cleanup(
    gated, probe: Probe, monkeypatch
) -> None:
    from derain_seg_ros.ros.node import DerainSegLifecycleNode

    closed: list[int] = []
    monkeypatch.setattr(gated, "close", lambda: closed.append(1))
    node = InProcessNode({"cameras": ["managed"]}, node_class=DerainSegLifecycleNode)
    lc = node.node
    try:
        probe.subscribe(Image, "/managed/derained/image")
        stream = probe.stream(
            Image, "/managed/image_raw", lambda i: image_msg(scene(i, (16, 24)), stamp_of(i), "m"), RATE_HZ, BEST_EFFORT
        )
        assert lc.core is None and lc.choice is None
        assert lc.trigger_configure() == TransitionCallbackReturn.SUCCESS
        assert lc.choice is not None and lc.core is None  # engine loaded, nothing subscribed yet
        assert probe.node.count_subscribers("/managed/image_raw") == 0
        assert lc.trigger_activate() == TransitionCallbackReturn.SUCCESS
        probe.wait_for_count("/managed/derained/image", 2)
        assert lc.trigger_deactivate() == TransitionCallbackReturn.SUCCESS
        assert lc.core is None and lc.choice is not None and closed == []  # stopped, engine kept
        probe.wait_for(lambda: probe.node.count_subscribers("/managed/image_raw") == 0, what="the input unsubscribed")
        assert lc.trigger_cleanup() == TransitionCallbackReturn.SUCCESS
        assert lc.choice is None and closed == [1]
        stream.stop()
    finally:
        node.close()


def test_the_lifecycle_node_fails_configure_with_the_reason_on_bad_parameters(gated) -> None:
    from derain_seg_ros.ros.node import DerainSegLifecycleNode

    node = InProcessNode({"cameras": ["managed2"], "overlay_alpha": 3.0}, node_class=DerainSegLifecycleNode)
    try:
        assert node.node.trigger_configure() == TransitionCallbackReturn.FAILURE
    finally:
        node.close()


def test_the_lifecycle_flag_starts_the_managed_node(monkeypatch) -> None:
    from derain_seg_ros.ros.node import DerainSegLifecycleNode, DerainSegNode

    picked = []
    monkeypatch.setattr(node_module, "run", lambda node_class, args: picked.append(node_class) or 0)
    node_module.main(["derain_seg_node", "--lifecycle", "--ros-args", "-p", "batch:=2"])
    node_module.main(["derain_seg_node", "--ros-args", "-r", "__node:=lifecycle"])
    assert picked == [DerainSegLifecycleNode, DerainSegNode]


def test_the_nodes_publishers_add_no_qos_event_handlers_to_every_executor_wake_up(gated) -> None:
    """rclpy's default QoS event handlers (two per publisher) sit in the wait set the executor rebuilds for every
    camera message; the node's own publishers go without them, its input subscriptions keep theirs."""
    node = InProcessNode({"cameras": ["front", "rear"], "transport": "compressed"})
    try:
        n = node.node
        publishers = [*n.pubs.values(), *n.info_pubs.values(), n.diagnostics]
        assert len(publishers) == 9 and all(p.event_handlers == [] for p in publishers)
        assert all(s.event_handlers for s in n.subs)  # an input with an incompatible QoS is still logged here
    finally:
        node.close()
