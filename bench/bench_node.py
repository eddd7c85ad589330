"""Benchmark the live node: cameras at camera rate through real DDS on loopback, raw and compressed.

    python bench/bench_node.py                                  # 2 cameras, 30 Hz, 1080x1920, the shipped model
    python bench/bench_node.py --size 240x320 --process 120x160 --config small --seconds 5   # a quick look

A helper process (its own DDS participant) publishes the cameras with fresh stamps and subscribes to
every output, as rviz or a perception stack would; the node runs in this process, so this process's
CPU time is the node's. Per transport it reports the processed rate per camera, frames dropped in the
latest-frame slot, lost before arrival (stamp gaps) and idle, the CPU time per processed frame spent
outside the networks (process CPU minus the engine calls' CPU, where what the node's executor and
post-processing threads do during a call is the node's, and a call that straddles the window counts only
its part inside) beside the engine's own time per frame, and the end-to-end latency (stamp to publish). The node's overhead should stay under 5 % of
the pipeline's time per frame. Results are printed; ``--out FILE`` appends them as a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

HELPER = r"""
import array, json, sys, time
import cv2, numpy as np, rclpy
from rclpy.executors import SingleThreadedExecutor
from rclpy.qos import QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
from sensor_msgs.msg import CompressedImage, Image

cams, rate, h, w, transport, seconds = json.loads(sys.argv[1])
rclpy.init()
node = rclpy.create_node("bench_cameras")
rng = np.random.default_rng(0)
base = rng.integers(0, 256, (h // 8 + 1, w // 8 + 1, 3), np.uint8)
frames = [cv2.resize(np.roll(base, k, axis=1), (w, h), interpolation=cv2.INTER_LINEAR) for k in range(4)]
if transport == "compressed":
    payloads = [array.array("B", cv2.imencode(".jpg", f[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 90])[1].tobytes()) for f in frames]
else:
    payloads = [array.array("B", f.tobytes()) for f in frames]
received = {cam: 0 for cam in cams}
def count(cam):
    def keep(msg):
        received[cam] += 1
    return keep
reliable = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE)
for cam in cams:
    for topic in ("derained/image", "segmentation/label", "segmentation/color"):
        node.create_subscription(Image, f"{cam}/{topic}", count(cam) if topic == "derained/image" else (lambda m: None), reliable)
pubs = {cam: node.create_publisher(CompressedImage if transport == "compressed" else Image,
                                   f"{cam}/image_raw" + ("/compressed" if transport == "compressed" else ""),
                                   qos_profile_sensor_data) for cam in cams}
sent = {cam: 0 for cam in cams}
def tick():
    stamp = node.get_clock().now().to_msg()
    for i, cam in enumerate(cams):
        k = (sent[cam] + i) % len(payloads)
        if transport == "compressed":
            msg = CompressedImage(format="jpeg", data=payloads[k])
        else:
            msg = Image(height=h, width=w, encoding="rgb8", step=w * 3, data=payloads[k])
        msg.header.stamp, msg.header.frame_id = stamp, f"{cam}_optical"
        pubs[cam].publish(msg)
        sent[cam] += 1
while not all(p.get_subscription_count() for p in pubs.values()):
    rclpy.spin_once(node, timeout_sec=0.05)
print("ready", flush=True)
node.create_timer(1.0 / rate, tick)
executor = SingleThreadedExecutor()
executor.add_node(node)
end = time.monotonic() + seconds
while time.monotonic() < end:
    executor.spin_once(timeout_sec=0.1)
print(json.dumps({"sent": sent, "received": received}), flush=True)
executor.shutdown()
node.destroy_node()
rclpy.try_shutdown()
"""


def parse_size(text: str) -> tuple[int, int]:
    h, w = text.lower().split("x")
    return int(h), int(w)


def thread_cpu(thread: threading.Thread) -> float:
    """CPU seconds one thread has used (0 once it has ended)."""
    try:
        return time.clock_gettime(time.pthread_getcpuclockid(thread.ident))
    except (OSError, TypeError):
        return 0.0


class TimedEngine:
    """The engine, with the CPU time its calls take counted (the rest of the process's CPU is the node's)."""

    def __init__(self, engine) -> None:
        self.engine, self.name, self.max_batch = engine, engine.name, engine.max_batch
        self.cpu_s = self.wall_s = 0.0
        self.frames = 0
        self.node_threads: list[threading.Thread] = []  # executor and post-processing: their CPU is the node's
        # (process CPU, node threads' CPU) when the call now running began
        self._running: tuple[float, float] | None = None
        self._lock = threading.Lock()

    def _node_threads_cpu(self) -> float:
        return sum(thread_cpu(t) for t in self.node_threads)

    def _engine_cpu_since(self, start: tuple[float, float]) -> float:
        return (time.process_time() - start[0]) - (self._node_threads_cpu() - start[1])

    def infer(self, frames):
        # Process CPU, not the calling thread's: a CPU engine spends most of its time in torch's or onnxruntime's
        # own worker threads, which thread_time() would book as node overhead. What the node's executor and
        # post-processing threads do meanwhile (callbacks for the frames that keep arriving, publishing the
        # previous batch) is theirs, not the engine's; DDS's own threads are still booked to the engine.
        start, wall = (time.process_time(), self._node_threads_cpu()), time.perf_counter()
        with self._lock:
            self._running = start
        try:
            return self.engine.infer(frames)
        finally:
            with self._lock:
                self.cpu_s += self._engine_cpu_since(start)
                self.wall_s += time.perf_counter() - wall
                self.frames += len(frames)
                self._running = None

    def snapshot(self) -> tuple[float, float, int]:
        """(engine CPU, wall, frames) so far; the CPU counts the part of a call still running, so that the
        difference of two snapshots is the engine's CPU inside that window, not whole calls that straddle it
        (a CPU engine's call is ~1 s at two cores: whole calls moved the node's figure by tens of ms a frame)."""
        with self._lock:
            cpu = self.cpu_s + (self._engine_cpu_since(self._running) if self._running is not None else 0.0)
            return cpu, self.wall_s, self.frames

    def close(self) -> None:
        self.engine.close()


def run_transport(args: argparse.Namespace, transport: str, checkpoint: str) -> dict:
    import rclpy
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.parameter import Parameter

    from derain_seg_ros.ros.node import DerainSegNode

    cams = [f"cam{i}" for i in range(args.cameras)]
    params = {
        "cameras": cams,
        "transport": transport,
        "checkpoint": checkpoint,
        "backend": args.backend,
        "precision": args.precision,
        "batch": args.cameras,
        "diagnostics_period_s": 1.0,
    }
    if args.process:
        params.update(process_height=args.process[0], process_width=args.process[1])
    context = rclpy.Context()
    rclpy.init(context=context)
    node = DerainSegNode(context=context, parameter_overrides=[Parameter(k, value=v) for k, v in params.items()])
    timed = TimedEngine(node.choice.engine)
    node.core.engine = timed
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(node)
    spinner = threading.Thread(target=executor.spin, daemon=True)
    spinner.start()
    timed.node_threads = [spinner, node.core._post_thread]
    helper = subprocess.Popen(
        [
            sys.executable,
            "-c",
            HELPER,
            json.dumps([cams, args.rate, *args.size, transport, args.seconds + args.warmup]),
        ],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    try:
        assert helper.stdout.readline().strip() == "ready", "the camera helper did not start"
        time.sleep(args.warmup)  # first frames: engine warm-up, DDS matching
        counts0 = {cam: dict(c) for cam, (c, _, _) in node.core.snapshot().items()}
        cpu0, (engine_cpu0, engine_wall0, frames0) = time.process_time(), timed.snapshot()
        time.sleep(args.seconds)
        snapshot = node.core.snapshot()
        cpu1, (engine_cpu1, engine_wall1, frames1) = time.process_time(), timed.snapshot()
        result = json.loads(helper.stdout.readline())
        try:
            helper.wait(30)
        except subprocess.TimeoutExpired:
            pass  # its numbers are in; the finally below ends it
    finally:
        helper.kill()
        executor.shutdown(timeout_sec=2.0)
        node.close()
        node.destroy_node()
        rclpy.try_shutdown(context=context)
    window = {k: sum(snapshot[c][0][k] - counts0[c][k] for c in cams) for k in counts0[cams[0]]}
    ages = np.array([a for c in cams for _, a in snapshot[c][2]], dtype=np.float64) * 1000
    processed = max(window["processed"], 1)
    engine_ms = (engine_wall1 - engine_wall0) / max(frames1 - frames0, 1) * 1000
    node_ms = ((cpu1 - cpu0) - (engine_cpu1 - engine_cpu0)) / processed * 1000
    return {
        "transport": transport,
        "rate_in_hz": args.rate,
        "processed_hz_per_camera": window["processed"] / args.seconds / len(cams),
        "dropped": window["dropped"],
        "lost": window["lost"],
        "idle": window["idle"],
        "rejected": window["rejected"],
        "node_cpu_ms_per_frame": node_ms,
        "engine_ms_per_frame": engine_ms,
        "overhead_pct": 100 * node_ms / max(engine_ms, 1e-9),
        "latency_p50_ms": float(np.percentile(ages, 50)) if ages.size else float("nan"),
        "latency_p99_ms": float(np.percentile(ages, 99)) if ages.size else float("nan"),
        "outputs_received": sum(result["received"].values()),
        "engine": timed.name,
    }


def markdown(rows: list[dict], args: argparse.Namespace) -> str:
    head = (
        f"\n### Node benchmark, {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, {platform.node()} "
        f"({platform.processor() or platform.machine()}, {os.cpu_count()} cores)\n\n"
        f"{args.cameras} cameras at {args.rate:g} Hz, {args.size[0]}x{args.size[1]}, processed at "
        f"{'x'.join(map(str, args.process)) if args.process else 'camera size'}, {args.seconds:g} s measured\n\n"
        "| transport | engine | processed Hz/camera | dropped | lost | node CPU ms/frame | engine ms/frame | "
        "overhead | stamp→publish p50 / p99 ms |\n|---|---|---|---|---|---|---|---|---|\n"
    )
    return head + "".join(
        f"| {r['transport']} | {r['engine']} | {r['processed_hz_per_camera']:.1f} | {r['dropped']} | {r['lost']} | "
        f"{r['node_cpu_ms_per_frame']:.2f} | {r['engine_ms_per_frame']:.1f} | {r['overhead_pct']:.1f} % | "
        f"{r['latency_p50_ms']:.0f} / {r['latency_p99_ms']:.0f} |\n"
        for r in rows
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cameras", type=int, default=2)
    parser.add_argument("--rate", type=float, default=30.0, help="Hz per camera")
    parser.add_argument("--size", type=parse_size, default=(1080, 1920), help="camera frames HxW")
    parser.add_argument(
        "--process", type=parse_size, default=(512, 1024), help="processing size HxW (0x0: camera size)"
    )
    parser.add_argument("--transports", nargs="+", default=["raw", "compressed"], choices=("raw", "compressed"))
    parser.add_argument("--seconds", type=float, default=20.0, help="measured time per transport")
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--checkpoint", help="pipeline checkpoint (default: the shipped model)")
    parser.add_argument("--config", choices=("small",), help="random weights of a small config instead of a checkpoint")
    parser.add_argument("--backend", default="auto", choices=("auto", "torch", "onnxruntime", "tensorrt"))
    parser.add_argument("--precision", default="fp16", choices=("fp32", "fp16", "bf16"))
    parser.add_argument("--out", type=Path, help="append the results to this Markdown file (e.g. bench/RESULTS.md)")
    args = parser.parse_args(argv)
    args.process = None if args.process == (0, 0) else args.process
    with tempfile.TemporaryDirectory(prefix="derain_seg_bench_node.") as tmp:
        checkpoint = args.checkpoint or ""
        if args.config:
            from derain_seg_ros.nets.config import PipelineConfig
            from derain_seg_ros.nets.pipeline import DerainSegPipeline
            from derain_seg_ros.runtime.checkpoint import save_checkpoint

            checkpoint = str(
                save_checkpoint(Path(tmp) / "small.pt", DerainSegPipeline.from_config(PipelineConfig.small()))
            )
        rows = []
        for transport in args.transports:
            row = run_transport(args, transport, checkpoint)
            print(json.dumps(row), flush=True)
            rows.append(row)
    table = markdown(rows, args)
    print(table)
    if args.out:
        with open(args.out, "a") as f:
            f.write(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
