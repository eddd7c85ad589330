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


def device_name() -> str:
    if torch.cuda.is_available():
        return torch.cuda.get_device_name()
    return f"CPU {platform.processor() or platform.machine()}, {torch.get_num_threads()} threads"


def append_results(path: Path, title: str, rows: list[tuple[str, Timing]], peak_mem_gib: float | None) -> None:
    """Append a dated table; earlier results are never overwritten."""
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [f"\n## {title}\n", f"{stamp} · {device_name()} · torch {torch.__version__} · "
             f"CUDA {torch.version.cuda or 'none'}" + (f" · peak GPU memory {peak_mem_gib:.2f} GiB" if peak_mem_gib else "") + "\n",
             "| setting | stage | median ms | p99 ms | GFLOP/batch | TFLOP/s | frames/s |", "| --- | --- | --- | --- | --- | --- | --- |"]
    for setting, t in rows:
        batch = int(setting.split("batch ")[1].split(",")[0]) if "batch " in setting else 1
        fps = 1000 * batch / t.median_ms if t.name.startswith("pipeline") else float("nan")
        lines.append(f"| {setting} | {t.name} | {t.median_ms:.2f} | {t.p99_ms:.2f} | {t.gflops:.1f} | {t.tflops_per_s:.2f} | "
                     + (f"{fps:.1f}" if fps == fps else "") + " |")
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as f:
        f.write("\n".join(lines) + "\n")
