"""Latency per stage (A, C, SRRN, DeepLabv3+) and end to end, FLOPs, achieved TFLOP/s, peak memory.

Median and p99 over ``runs`` timed runs after ``warmup``; CUDA events on a GPU, perf_counter on
the CPU. Results are appended to a Markdown file with date, device and versions.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

from derain_seg_ros.nets.pipeline import DerainSegPipeline
from derain_seg_ros.runtime.torch_engine import AUTOCAST_DTYPES, TorchEngine


@dataclass
class Timing:
    name: str
    median_ms: float
    p99_ms: float
    gflops: float  # per batch

    @property
    def tflops_per_s(self) -> float:
        return self.gflops / self.median_ms if self.median_ms else float("nan")


def _time(fn: Callable[[], object], device: torch.device, warmup: int, runs: int) -> tuple[float, float]:
    for _ in range(warmup):
        fn()
    samples = []
    if device.type == "cuda":
        torch.cuda.synchronize()
        for _ in range(runs):
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            fn()
            end.record()
            end.synchronize()
            samples.append(start.elapsed_time(end))
    else:
        for _ in range(runs):
            t0 = time.perf_counter()
            fn()
            samples.append((time.perf_counter() - t0) * 1000)
    return float(np.median(samples)), float(np.percentile(samples, 99))


def _flops(fn: Callable[[], object]) -> float:
    counter = FlopCounterMode(display=False)
    with counter:
        fn()
    return counter.get_total_flops() / 1e9


def benchmark(pipeline: DerainSegPipeline, height: int, width: int, batch: int = 1, precision: str = "fp32",
              cuda_graph: bool = False, warmup: int = 10, runs: int = 100, device: str | None = None) -> list[Timing]:
    engine = TorchEngine(pipeline, precision, device, cuda_graph)
    dev, model = engine.device, engine.model.pipeline
    x = torch.rand(batch, 3, height, width, device=dev)
    frames = torch.randint(0, 256, (batch, height, width, 3), dtype=torch.uint8, device=dev)
    autocast = torch.autocast(dev.type, dtype=AUTOCAST_DTYPES[precision]) if precision != "fp32" else contextlib.nullcontext()
    with torch.inference_mode(), autocast:
        m = model.attention(x)
        ic = model.coarse(x, m)
        stages = {
            "A (attention)": lambda: model.attention(x),
            "C (coarse)": lambda: model.coarse(x, m),
            "SRRN": lambda: model.srrn(ic),
            "DeepLabv3+": lambda: model.deeplab(ic),
        }
        results = [Timing(name, *_time(fn, dev, warmup, runs), _flops(fn)) for name, fn in stages.items()]
        full_flops = _flops(lambda: engine.model(frames))
    results.append(Timing("pipeline" + (" (CUDA graph)" if cuda_graph else ""),
                          *_time(lambda: engine.run_tensor(frames), dev, warmup, runs), full_flops))
    return results


def time_engine(engine, height: int, width: int, batch: int, warmup: int = 10, runs: int = 100) -> tuple[float, float]:
    """End to end through ``Engine.infer`` (host frames in, host maps out), wall clock: what a node sees."""
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 256, (height, width, 3), dtype=np.uint8) for _ in range(batch)]
    return _time(lambda: engine.infer(frames), torch.device("cpu"), warmup, runs)


@dataclass
class Row:
    setting: str  # backend, precision, size, batch, config
    batch: int
    timing: Timing
    peak_gib: float | None = None  # torch's allocator peak for this setting (GPU only)


def sweep(config_name: str, sizes: list[tuple[int, int]], batches: list[int], settings: list[str], backends: list[str],
          warmup: int = 10, runs: int = 100, report: Callable[[str], None] = print) -> list[Row]:
    """Every (size, batch, backend, setting) that can run here; the rest are reported and skipped.

    torch rows time each stage and the whole graph; ONNX-based backends run the whole exported
    graph, timed end to end through ``Engine.infer`` (host transfers included).
    """
    import tempfile

    from derain_seg_ros.nets.config import PipelineConfig
    from derain_seg_ros.runtime.engine import BackendUnavailable, make_engine

    config = PipelineConfig() if config_name == "default" else PipelineConfig.small()
    torch.manual_seed(0)
    pipeline = DerainSegPipeline(config).eval()
    cuda = torch.cuda.is_available()
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="derain-seg-bench-") as cache:
        for height, width in sizes:
            for batch in batches:
                for backend in backends:
                    for setting in settings if backend == "torch" else dict.fromkeys(s.partition("+")[0] for s in settings):
                        precision, _, graph = setting.partition("+")
                        label = f"{backend} {setting}, {height}x{width}, batch {batch}, {config_name}"
                        if cuda:
                            torch.cuda.reset_peak_memory_stats()
                        try:
                            if backend == "torch":
                                timings = benchmark(pipeline, height, width, batch, precision, graph == "graph", warmup, runs)
                            else:
                                engine = make_engine(backend, config=config, precision=precision, height=height, width=width,
                                                     batch=batch, cache_dir=cache, fallback=False)
                                whole = _flops(lambda: pipeline(torch.rand(batch, 3, height, width)))
                                timings = [Timing("pipeline (end to end)", *time_engine(engine, height, width, batch, warmup, runs), whole)]
                                engine.close()
                        except BackendUnavailable as exc:
                            report(f"skipped {label}: {exc}")
                            continue
                        peak = torch.cuda.max_memory_allocated() / 2**30 if cuda and backend == "torch" else None
                        for t in timings:
                            rows.append(Row(label, batch, t, peak))
                            report(f"{label:55s} {t.name:22s} {t.median_ms:9.2f} ms  p99 {t.p99_ms:9.2f}  "
                                   f"{t.gflops:9.1f} GFLOP  {t.tflops_per_s:6.2f} TFLOP/s")
    return rows


def device_name() -> str:
    if torch.cuda.is_available():
        return torch.cuda.get_device_name()
    return f"CPU {platform.processor() or platform.machine()}, {torch.get_num_threads()} threads"


def append_results(path: Path, title: str, rows: list[Row]) -> None:
    """Append a dated table; earlier results are never overwritten."""
    import onnxruntime

    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [f"\n## {title}\n", f"{stamp} · {device_name()} · torch {torch.__version__} · CUDA {torch.version.cuda or 'none'}"
             f" · onnxruntime {onnxruntime.__version__}{_trt_version()}\n",
             "| setting | stage | median ms | p99 ms | GFLOP/batch | TFLOP/s | frames/s | peak GPU GiB |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for row in rows:
        t = row.timing
        fps = f"{1000 * row.batch / t.median_ms:.1f}" if t.name.startswith("pipeline") else ""
        peak = f"{row.peak_gib:.2f}" if row.peak_gib is not None and t.name.startswith("pipeline") else ""
        lines.append(f"| {row.setting} | {t.name} | {t.median_ms:.2f} | {t.p99_ms:.2f} | {t.gflops:.1f} | {t.tflops_per_s:.2f} | {fps} | {peak} |")
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as f:
        f.write("\n".join(lines) + "\n")


def _trt_version() -> str:
    try:
        import tensorrt
    except ImportError:
        return ""
    return f" · TensorRT {tensorrt.__version__}"
